"""The paper's small costs (Fact 1, Examples 1–4, Theorem 1, Proposition 1) and plain gradient descent."""

from dataclasses import dataclass

import numpy as np
import torch
from torch.func import grad, hessian, vmap

from .checks import check_eta, check_theta, scalar
from .curvature import sharpness
from .diagnostics import directional_smoothness
from .models import normalized_net
from .objective import ModuleLoss
from .stationary import newton, saddle_free_newton


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


def random_quadratic(eigenvalues, seed=0):
    """P = Q diag(λ) Qᵀ with the given eigenvalues and random eigenvectors Q (QR of a seeded Gaussian)."""
    lam = torch.as_tensor(eigenvalues)
    gen = torch.Generator().manual_seed(seed)
    Q, _ = torch.linalg.qr(torch.randn(len(lam), len(lam), generator=gen, dtype=lam.dtype))
    return Q @ torch.diag(lam) @ Q.T


def eta_sweep(P, theta0, etas, steps, diverged_above=1e3, converged_below=1e-6):
    """Fact 1 on f(θ) = ½θᵀPθ: GD from ``theta0`` with every step size of ``etas`` at once.

    One backward pass per step serves all runs (row b of the gradient of their summed losses is
    Pθ_b). Returns ``(diverged, converged)``, boolean tensors over ``etas``: ‖θᵀ‖/‖θ⁰‖ is not finite or
    above ``diverged_above``, or below ``converged_below``. Converging runs underflow into subnormal
    floats, which CPUs process very slowly: they are flushed to 0 during the sweep (torch's
    ``set_flush_denormal``, switched off again at the end, its default).
    """
    thetas = theta0.expand(len(etas), -1).clone()
    torch.set_flush_denormal(True)
    try:
        for _ in range(int(steps)):
            thetas = thetas.detach().requires_grad_(True)
            loss = 0.5 * torch.einsum("bi,ij,bj->", thetas, P, thetas)  # sum of the runs' losses
            (gradients,) = torch.autograd.grad(loss, thetas)  # row b: ∇f(θ_b) = Pθ_b
            thetas = thetas - etas[:, None] * gradients
    finally:
        torch.set_flush_denormal(False)
    size = thetas.detach().norm(dim=1) / theta0.norm()
    return ~torch.isfinite(size) | (size > diverged_above), size < converged_below


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


def sublevel_escape(f, eta, R, samples=200_000, seed=2, dtype=None):
    """How far one GD step F(θ) = θ − η∇f(θ) leaves X_R = {q ≤ R}, q(θ) = 20θ₁² + θ₂² (Example 2).

    Returns max q(F(θ))/R over ``samples`` points θ drawn uniformly from the ellipse X_R (seeded):
    at most 1 when X_R is forward-invariant, F(X_R) ⊆ X_R, up to sampling.
    """
    gen = torch.Generator().manual_seed(seed)
    radius = torch.rand(samples, generator=gen, dtype=dtype).sqrt()
    angle = 2 * torch.pi * torch.rand(samples, generator=gen, dtype=dtype)
    cloud = torch.stack([radius * angle.cos() * (R / 20) ** 0.5, radius * angle.sin() * R**0.5], dim=1)
    stepped = cloud - eta * vmap(grad(f))(cloud)
    return (example1(stepped.T) / R).max().item()


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
        """f(x, y) at θ = (x, y); θ may carry extra trailing dimensions (a grid of points)."""
        x, y = theta[0], theta[1]
        return (
            -self.a * torch.exp(-((x + 1) ** 2) / (2 * self.s**2))
            - self.b * torch.exp(-((x - 1) ** 2) / (2 * self.w**2))
            + self.c * x**2
            + 0.5 * self.k * y**2
        )

    def stationary_points(self, dtype=torch.float64):
        """The three stationary points {"sharp minimum", "saddle", "flat minimum"}, by Newton's method."""
        starts = (("sharp minimum", -1.0), ("saddle", -0.4), ("flat minimum", 1.0))
        return {name: newton(self, torch.tensor([x0, 0.0], dtype=dtype)) for name, x0 in starts}


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


def smoothness_along_gd(f, theta0, eta, steps):
    """L(θᵗ; η∇f(θᵗ)) (Definition 2) at every iterate of :func:`gd`, in θ⁰'s dtype.

    It tends to 2/η when the iterates oscillate, (4.1) and Example 4.
    """
    df = grad(f)
    values = [directional_smoothness(f, th, eta * df(th)) for th in gd(f, theta0, eta, steps)]
    return torch.tensor(values, dtype=theta0.dtype)


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


@dataclass(frozen=True)
class ScaleInvariantNet:
    """Proposition 1's network with weight decay: ℓ(θ) = f(θ) + γ‖θ‖².

    ζ (bias-free linear) → a/(ε + ‖a‖) → tanh → ξ (linear), with cross-entropy on (``inputs``,
    ``labels``) as the data loss f. With ε = 0 the loss of every example is invariant to the scale
    of ζ, so ⟨∇_ζ f, ζ⟩ = 0. The weights are :func:`~eos_support.models.normalized_net`'s (seed 0),
    in the inputs' dtype; ζ comes first in θ.
    """

    inputs: torch.Tensor
    labels: torch.Tensor
    width: int = 4
    num_classes: int = 3
    gamma: float = 1e-3

    def losses(self, eps=0.0):
        """``(f, ℓ)`` for the normaliser a/(ε + ‖a‖): the data loss (a ModuleLoss) and the regularised loss."""
        net = normalized_net(self.inputs.shape[1], width=self.width, num_classes=self.num_classes, eps=eps,
                             dtype=self.inputs.dtype)
        f = ModuleLoss(net, self.inputs, self.labels, loss="ce")
        return f, (lambda theta: f(theta) + self.gamma * theta.pow(2).sum())

    @property
    def zeta(self):
        """The slice of θ that holds ζ."""
        return slice(0, self.width * self.inputs.shape[1])

    def layer_norms(self, theta):
        """‖a_i‖ = ‖ζ x_i‖ for every example: the input of the normaliser."""
        return (self.inputs @ theta[self.zeta].view(self.width, -1).T).norm(dim=1)


@dataclass(frozen=True)
class WeightDecayRun:
    """GD on ℓ with ε = 0, at every iterate: cos(∇_ζ f, ζ), ‖∇ℓ‖ and the bound 2γ‖ζ‖ (Proposition 1)."""

    cosine: np.ndarray
    grad_norm: np.ndarray
    bound: np.ndarray


def weight_decay_gd(net, eta, steps):
    """GD on ``net``'s ℓ with ε = 0: the :class:`WeightDecayRun` of its ``steps`` + 1 iterates.

    By ⟨∇_ζ f, ζ⟩ = 0, ‖∇ℓ‖ ≥ ‖∇_ζ f + 2γζ‖ ≥ 2γ‖ζ‖ > 0 at every one of them (Proposition 1).
    """
    f, _ = net.losses(eps=0.0)
    df, zeta, gamma = grad(f), net.zeta, net.gamma
    theta = f.theta0
    cosine, grad_ell, bound = [], [], []
    for _ in range(int(steps) + 1):
        g_f = df(theta)
        g_ell = g_f + 2 * gamma * theta
        z = theta[zeta]
        cosine.append((g_f[zeta] @ z / (g_f[zeta].norm() * z.norm())).item())
        grad_ell.append(g_ell.norm().item())
        bound.append(2 * gamma * z.norm().item())
        theta = theta - eta * g_ell
    return WeightDecayRun(*map(np.array, (cosine, grad_ell, bound)))


@dataclass(frozen=True)
class NormalizedMinimum:
    """A stationary point of ℓ for the normaliser a/(ε + ‖a‖), ε > 0, and its curvature."""

    eps: float
    grad_norm: float
    sharpness: float
    lambda_min: float
    zeta_norm: float
    a_min_over_eps: float


def minima_over_eps(net, epsilons):
    """A :class:`NormalizedMinimum` of ℓ for each ε of ``epsilons`` (Proposition 1 with ε > 0).

    Each is found by :func:`~eos_support.stationary.saddle_free_newton`, started from the
    initialisation for the first ε and from the previous minimum for the next ones, and measured:
    ‖∇ℓ‖, λ_max (Lanczos), λ_min (dense), ‖ζ‖ and min_i ‖a_i‖/ε.
    """
    theta, found = net.losses()[0].theta0, []
    for eps in epsilons:
        _, ell = net.losses(eps)
        theta = saddle_free_newton(ell, theta)
        found.append(NormalizedMinimum(
            eps=eps,
            grad_norm=grad(ell)(theta).norm().item(),
            sharpness=sharpness(ell, theta, iters=31),
            lambda_min=torch.linalg.eigvalsh(hessian(ell)(theta))[0].item(),
            zeta_norm=theta[net.zeta].norm().item(),
            a_min_over_eps=(net.layer_norms(theta).min() / eps).item(),
        ))
    return found


def minima_table(minima):
    """The minima of :func:`minima_over_eps` as a Markdown table."""
    rows = ["| ε | ‖∇ℓ‖ | λ_max(∇²ℓ) | λ_min(∇²ℓ) | ‖ζ‖ | min_i ‖a_i‖ / ε | λ_max · ε |", "|---" * 7 + "|"]
    for m in minima:
        rows.append(f"| {m.eps:g} | {m.grad_norm:.1e} | {m.sharpness:.4g} | {m.lambda_min:.2e} | "
                    f"{m.zeta_norm:.3f} | {m.a_min_over_eps:.3g} | {m.sharpness * m.eps:.3g} |")
    return "\n".join(rows)
