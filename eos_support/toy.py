"""The paper's two-dimensional costs (Examples 1–3, Theorem 1) and plain gradient descent."""

from dataclasses import dataclass

import torch
from torch.func import grad, hessian

from ._checks import check_eta, check_theta, scalar


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
                p = p - torch.linalg.solve(d2f(p), df(p))
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
