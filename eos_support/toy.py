"""The paper's two-dimensional costs (Examples 1–3, Theorem 1) and plain gradient descent."""

from dataclasses import dataclass

import torch
from torch.func import grad, hessian, vmap

from .checks import check_eta, check_theta, scalar


def quadratic(P, q=None, r=0.0):
    """f(θ) = ½ θᵀPθ + qᵀθ + r  (Fact 1)."""
    P = torch.as_tensor(P)
    if P.dim() != 2 or P.shape[0] != P.shape[1]:
        raise ValueError(f"P must be a square matrix, got shape {tuple(P.shape)}")

    def f(theta):
        Pt = P.to(theta)
        out = 0.5 * theta @ Pt @ theta + r
        return out if q is None else out + torch.as_tensor(q).to(theta) @ theta

    return f


def example1(theta):
    """f(θ) = 20θ₁² + θ₂², so L = 40 (Example 1; the extracted text misprints 20 as 2)."""
    return 20 * theta[0] ** 2 + theta[1] ** 2


def example2(theta):
    """The "flattened" quadratic tanh(20θ₁² + θ₂²) (Example 2)."""
    return torch.tanh(example1(theta))


def example3_linear(theta):
    """A one-neuron linear network fitting the data (1, 0): (θ₁·θ₂)² (Example 3)."""
    return (theta[0] * theta[1]) ** 2


def example3_tanh(theta):
    """A one-neuron tanh network fitting the data (1, 0): (θ₁·tanh θ₂)² (Example 3)."""
    return (theta[0] * torch.tanh(theta[1])) ** 2


@dataclass(frozen=True)
class TwoWells:
    """A 2-D cost with a sharp minimum, a flat minimum and a saddle between them (Theorem 1).

    f(x, y) = −a·exp(−(x+1)²/(2s²)) − b·exp(−(x−1)²/(2w²)) + c·x² + ½k·y²: the well at x ≈ −1 has
    curvature ≈ a/s² (sharp), the one at x ≈ +1 ≈ b/w² (flat), and the ridge between is a saddle.
    """

    a: float = 1.0
    s: float = 0.3
    b: float = 1.0
    w: float = 1.0
    c: float = 0.01
    k: float = 1.0

    def __call__(self, theta):
        x, y = theta[0], theta[1]
        return (
            -self.a * torch.exp(-((x + 1) ** 2) / (2 * self.s**2))
            - self.b * torch.exp(-((x - 1) ** 2) / (2 * self.w**2))
            + self.c * x**2
            + 0.5 * self.k * y**2
        )

    def stationary_points(self, dtype=torch.float64):
        """The three stationary points {"sharp minimum", "saddle", "flat minimum"}, by Newton's method."""
        df, d2f = grad(self), hessian(self)
        points = {}
        for name, x0 in (("sharp minimum", -1.0), ("saddle", -0.4), ("flat minimum", 1.0)):
            p = torch.tensor([x0, 0.0], dtype=dtype)
            for _ in range(100):
                step = torch.linalg.solve(d2f(p), df(p))
                p = p - step
                if float(step.abs().max()) <= 4 * torch.finfo(dtype).eps:  # converged (quadratically)
                    break
            points[name] = p
        return points


def gd(f, theta0, eta, steps, bound=1e12):
    """Run GD θᵗ⁺¹ = θᵗ − η∇f(θᵗ) for ``steps`` steps; returns the (steps+1, d) trajectory.

    A diverging run is a result: the trajectory stops at the first iterate that is not finite or
    exceeds ``bound`` in norm, and keeps it as its last row.
    """
    theta, eta = check_theta(theta0).detach().clone(), check_eta(eta)
    if int(steps) < 0:
        raise ValueError(f"steps must be >= 0, got {steps}")
    df = grad(scalar(f))
    rows = [theta]
    for _ in range(int(steps)):
        theta = theta - eta * df(theta)
        rows.append(theta)
        if not bool(torch.isfinite(theta).all()) or float(theta.norm()) > bound:
            break
    return torch.stack(rows)


DIVERGED = -2
"""Label of :func:`basins` for a start whose run left every bounded region (non-finite or huge)."""
ELSEWHERE = -1
"""Label of :func:`basins` for a start whose run stayed bounded but is near none of the points."""


def basins(f, points, grid, eta, steps, tol=1e-6, bound=1e12):
    """Where GD from each start of ``grid`` ends: a basin map (Theorem 1).

    ``points`` are the candidate limits, a ``(k, d)`` tensor or a dict of name → point (its values,
    in order); ``grid`` is an ``(n, d)`` tensor of starts. All n runs of ``steps`` GD steps advance
    together, one batched gradient (``torch.func.vmap``) per step. Returns a ``LongTensor`` of n
    labels: ``i`` if the last iterate is within ``tol`` of ``points[i]`` (Euclidean norm),
    :data:`ELSEWHERE` (−1) if it is near none of them but finite, :data:`DIVERGED` (−2) if the run
    became non-finite or left the ball of radius ``bound``.
    """
    eta = check_eta(eta)
    if isinstance(points, dict):
        points = list(points.values())
    if isinstance(points, (list, tuple)):
        points = torch.stack([torch.as_tensor(p) for p in points])
    if not isinstance(grid, torch.Tensor) or grid.dim() != 2 or not grid.is_floating_point():
        raise ValueError("grid must be a floating-point (n, d) tensor of starts, e.g. torch.cartesian_prod(xs, ys)")
    points = torch.as_tensor(points).to(grid)
    if points.dim() != 2 or points.shape[1] != grid.shape[1]:
        raise ValueError(f"points must be (k, {grid.shape[1]}) to match the grid, got shape {tuple(points.shape)}")
    if int(steps) < 0:
        raise ValueError(f"steps must be >= 0, got {steps}")
    f = scalar(f)
    # the runs are independent, so the gradient of the summed losses is every run's own gradient
    # (one backward pass for all rows: several times faster than vmap(grad(f)))
    df = grad(lambda thetas: vmap(f)(thetas).sum())
    theta = grid.detach().clone()
    gone = torch.zeros(grid.shape[0], dtype=torch.bool, device=grid.device)
    for _ in range(int(steps)):
        theta = theta - eta * df(theta)
        gone |= ~torch.isfinite(theta).all(dim=1) | (torch.linalg.vector_norm(theta, dim=1) > bound)
        # park diverged runs at a harmless finite point so they cannot spread NaNs or overflow
        theta = torch.where(gone[:, None], grid, theta)
    dist = torch.cdist(theta, points)
    near, which = dist.min(dim=1)
    labels = torch.where(near <= tol, which, torch.full_like(which, ELSEWHERE))
    return torch.where(gone, torch.full_like(labels, DIVERGED), labels)
