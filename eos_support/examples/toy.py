"""The paper's small costs (Fact 1, Examples 1–4, Theorem 1) and plain gradient descent.

Proposition 1's small network lives in :mod:`eos_support.examples.proposition1`.
"""

from dataclasses import dataclass

import mpmath
import torch
from torch.func import grad, vmap

from ..checks import check_eta, check_theta, scalar
from ..diagnostics import directional_smoothness
from .stationary import newton


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

    ``theta0`` is one start (d,) shared by all step sizes, or one start per step size (len(etas), d).
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
    size = thetas.detach().norm(dim=1) / theta0.norm(dim=-1)
    return ~torch.isfinite(size) | (size > diverged_above), size < converged_below


@dataclass(frozen=True)
class ThresholdSweep:
    """Fact 1 at step sizes around the threshold 2/λ_max(P).

    The eigenvalues of P (ascending), the step sizes, and per step size whether GD diverged or converged
    (:func:`eta_sweep`).
    """

    eigenvalues: torch.Tensor
    etas: torch.Tensor
    diverged: torch.Tensor
    converged: torch.Tensor

    @property
    def above(self):
        """Per step size: is λ_max(P) > 2/η (Fact 1's condition for divergence)?"""
        return self.eigenvalues[-1] > 2 / self.etas

    def agreement(self):
        """The share of step sizes at which GD diverged iff λ_max(P) > 2/η, and converged otherwise."""
        return ((self.diverged == self.above) & (self.converged == ~self.above)).double().mean().item()

    def diverged_below(self):
        """The share of the step sizes below the threshold (λ_max(P) < 2/η) at which GD diverged; NaN if none."""
        below = self.eigenvalues[-1] < 2 / self.etas
        return self.diverged[below].double().mean().item()


def threshold_sweeps(P, starts, scales, steps):
    """Fact 1 on f(θ) = ½θᵀPθ at η = s·2/λ_max(P) for each s of ``scales``, from each row of ``starts``
    (k, d): k :class:`ThresholdSweep`, all k·len(scales) runs advancing together (:func:`eta_sweep`).
    """
    eigenvalues = torch.linalg.eigvalsh(P)
    etas = scales * 2 / eigenvalues[-1]
    k, n = starts.shape[0], len(etas)
    diverged, converged = eta_sweep(P, starts.repeat_interleave(n, dim=0), etas.repeat(k), steps)
    return [ThresholdSweep(eigenvalues, etas, d, c) for d, c in zip(diverged.reshape(k, n), converged.reshape(k, n))]


def threshold_sweep(P, theta0, scales, steps):
    """Fact 1 on f(θ) = ½θᵀPθ at η = s·2/λ_max(P) for each s of ``scales``: a :class:`ThresholdSweep`."""
    return threshold_sweeps(P, theta0[None], scales, steps)[0]


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


def sublevel_escape(f, eta, R, samples=200_000, seed=2, dtype=torch.float64):
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

    def _wells_mp(self, x):
        """The two wells' terms a·exp(−(x+1)²/(2s²)), b·exp(−(x−1)²/(2w²)) and (s, w, c, k), in mpmath."""
        a, s, b, w, c, k = map(mpmath.mpf, (self.a, self.s, self.b, self.w, self.c, self.k))
        return a * mpmath.exp(-((x + 1) ** 2) / (2 * s**2)), b * mpmath.exp(-((x - 1) ** 2) / (2 * w**2)), (s, w, c, k)

    def gradient_mp(self, p):
        """∇f at p = (x, y) in mpmath arithmetic at its working precision, written out analytically."""
        sharp, flat, (s, w, c, k) = self._wells_mp(p[0])
        return [sharp * (p[0] + 1) / s**2 + flat * (p[0] - 1) / w**2 + 2 * c * p[0], k * p[1]]

    def hessian_mp(self, p):
        """∇²f at p = (x, y) in mpmath arithmetic, as rows, written out analytically."""
        x = p[0]
        sharp, flat, (s, w, c, k) = self._wells_mp(x)
        xx = sharp * (1 - (x + 1) ** 2 / s**2) / s**2 + flat * (1 - (x - 1) ** 2 / w**2) / w**2 + 2 * c
        return [[xx, mpmath.mpf(0)], [mpmath.mpf(0), k]]

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


def smoothness_at_end(f, starts, eta, steps):
    """L(θᵀ; η∇f(θᵀ)) (Definition 2) at the last iterate of GD from each row of ``starts`` (n, d),
    the runs advancing together (:func:`gd_batch`): the statistic of Example 4 without the whole curve.
    """
    df = grad(f)
    values = [directional_smoothness(f, th, eta * df(th)) for th in gd_batch(f, starts, eta, steps)]
    return torch.tensor(values, dtype=starts.dtype)


DIVERGED = -2
"""Label of :func:`basins` for a start whose run left every bounded region (non-finite or huge)."""
ELSEWHERE = -1
"""Label of :func:`basins` for a start whose run stayed bounded but is near none of the points."""


def gd_batch(f, starts, eta, steps, bound=1e12, history=False):
    """GD from every row of ``starts`` (an (n, d) tensor) at once: the last iterates (n, d), or with
    ``history`` every iterate (steps + 1, n, d).

    The runs are independent, so one backward pass of their summed losses gives every run's own gradient
    (several times faster than ``vmap(grad(f))``, and faster than ``torch.func.grad`` of the sum for a
    handful of runs; the same numbers bit for bit). A run that becomes non-finite or leaves the ball of
    radius ``bound`` is NaN from then on (it is parked at its start meanwhile, so that it cannot
    overflow).
    """
    eta = check_eta(eta)
    if not isinstance(starts, torch.Tensor) or starts.dim() != 2 or not starts.is_floating_point():
        raise ValueError("the starts (a grid) must be a floating-point (n, d) tensor, e.g. a torch.cartesian_prod")
    if int(steps) < 0:
        raise ValueError(f"steps must be >= 0, got {steps}")
    losses = vmap(scalar(f))

    def df(thetas):
        thetas = thetas.detach().requires_grad_(True)
        return torch.autograd.grad(losses(thetas).sum(), thetas)[0]

    theta = starts.detach().clone()
    gone = torch.zeros(starts.shape[0], dtype=torch.bool, device=starts.device)
    rows = [theta]
    for _ in range(int(steps)):
        theta = theta - eta * df(theta)
        gone |= ~torch.isfinite(theta).all(dim=1) | (torch.linalg.vector_norm(theta, dim=1) > bound)
        theta = torch.where(gone[:, None], starts, theta)
        if history:
            rows.append(torch.where(gone[:, None], torch.nan, theta))
    return torch.stack(rows) if history else torch.where(gone[:, None], torch.nan, theta)


def basin_labels(ends, points, tol=1e-6):
    """Label each last iterate of ``ends`` (n, d) by the point of ``points`` it is within ``tol`` of.

    ``points`` are the candidate limits, a ``(k, d)`` tensor or a dict of name → point (its values, in
    order). Returns a ``LongTensor`` of n labels: ``i`` if the iterate is within ``tol`` of
    ``points[i]`` (Euclidean norm), :data:`ELSEWHERE` (−1) if it is near none of them but finite,
    :data:`DIVERGED` (−2) if it is NaN (:func:`gd_batch`'s mark of a run that blew up).
    """
    if isinstance(points, dict):
        points = list(points.values())
    if isinstance(points, (list, tuple)):
        points = torch.stack([torch.as_tensor(p, dtype=ends.dtype) for p in points])
    points = torch.as_tensor(points, dtype=ends.dtype).to(ends)
    if points.dim() != 2 or points.shape[1] != ends.shape[1]:
        raise ValueError(f"points must be (k, {ends.shape[1]}) to match the grid, got shape {tuple(points.shape)}")
    gone = ~torch.isfinite(ends).all(dim=1)
    near, which = torch.cdist(torch.where(gone[:, None], 0.0, ends), points).min(dim=1)
    labels = torch.where(near <= tol, which, torch.full_like(which, ELSEWHERE))
    return torch.where(gone, torch.full_like(labels, DIVERGED), labels)


def basins(f, points, grid, eta, steps, tol=1e-6, bound=1e12):
    """Where GD from each start of ``grid`` ends: a basin map (Theorem 1).

    ``grid`` is an ``(n, d)`` tensor of starts; all n runs of ``steps`` GD steps advance together
    (:func:`gd_batch`), and each is labelled by the point of ``points`` its last iterate is within
    ``tol`` of (:func:`basin_labels`: :data:`ELSEWHERE` near none, :data:`DIVERGED` blown up).
    """
    return basin_labels(gd_batch(f, grid, eta, steps, bound), points, tol)


@dataclass(frozen=True)
class Arrivals:
    """How many runs of a basin map end within ``tol`` of one point (``count``), and the same count
    recomputed with the runs that decide it restarted from starts perturbed at rounding level
    (``recounts``, one per draw; :func:`arrivals`).
    """

    count: int
    recounts: tuple
    rerun: int


def arrivals(f, starts, ends, point, eta, steps, tol=1e-6, rerun=400, draws=4, relative=2.0**-52):
    """The number of the runs from ``starts`` (their last iterates ``ends``, :func:`gd_batch`) that end
    within ``tol`` of ``point``, with its rounding spread: the ``rerun`` runs that ended closest to
    ``point`` (the only ones that can change the count) rerun from their starts perturbed by relative
    ``relative`` in ``draws`` draws (:func:`eos_support.readings.uncertainty.perturbed`), all at once.
    """
    from ..readings.uncertainty import perturbed

    distance = torch.linalg.vector_norm(ends - point.to(ends), dim=1).nan_to_num(torch.inf)
    count = int((distance <= tol).sum())
    closest = distance.argsort()[: int(rerun)]
    others = count - int((distance[closest] <= tol).sum())
    moved = torch.cat(perturbed(starts[closest], draws, relative))
    again = torch.linalg.vector_norm(gd_batch(f, moved, eta, steps) - point.to(ends), dim=1)
    recounts = tuple(others + int(n) for n in (again.reshape(draws, -1) <= tol).sum(dim=1))
    return Arrivals(count, recounts, len(closest))
