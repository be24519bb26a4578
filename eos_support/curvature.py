"""Sharpness λ_max(∇²f(θ)) (footnote 1) by Lanczos on Hessian-vector products, on θ's device."""

import math
from dataclasses import dataclass

import torch
from torch.func import grad, vjp
from torch.func import hessian as _hessian

from .checks import check_finite, check_theta, scalar


def hessian_operator(f, theta):
    """V ↦ ∇²f(θ) v, by reverse-over-reverse differentiation (no Hessian is formed).

    The graph of ∇f at θ is built once; each product is then one backward pass through it (on 2 CPU
    cores 2.7 × faster than forward-over-reverse ``jvp`` products that rebuild it every time).
    """
    _, vjp_fn = vjp(grad(scalar(f)), check_theta(theta))
    return lambda v: vjp_fn(v)[0]


def hvp(f, theta, v):
    """∇²f(θ) v (see :func:`hessian_operator`)."""
    return hessian_operator(f, theta)(v)


def hessian(f, theta):
    """The dense Hessian ∇²f(θ), d × d: a reference for small problems only."""
    return _hessian(scalar(f))(check_theta(theta))


@dataclass(frozen=True)
class Eigen:
    """The top Ritz pair of ∇²f(θ) and how sure it is.

    ``residual`` is ‖∇²f v − λv‖ / max(abs(λ), √ε‖T‖), an upper bound on λ's relative error times the
    spectral gap; ε is the dtype's machine epsilon and ‖T‖ the largest absolute Ritz value (a lower bound on
    ‖∇²f(θ)‖), a floor that keeps it meaningful when λ ≈ 0 (a zero Hessian has residual 0).
    ``converged`` says whether it fell below the requested tolerance or the Krylov space is the whole
    space (then λ is exact up to rounding); ``hvps`` counts the Hessian-vector products spent.
    """

    value: float
    vector: torch.Tensor
    residual: float
    converged: bool
    hvps: int


def _orthogonalise(basis, w):
    """W minus its projection on the orthonormal rows of ``basis``; twice is enough (Kahan–Parlett)."""
    for _ in range(2):
        w = w - basis.T @ (basis @ w)
    return w


def _fresh_direction(basis, coverage, generator):
    """A unit vector orthogonal to the rows of ``basis``, to continue Lanczos after a breakdown.

    A Gaussian draw from ``generator`` (whose stream never re-draws the start vector) has, with
    probability one, a component along every eigenvector the basis lacks. Should it fall almost inside
    span(basis), the coordinate vector eₖ farthest from that span is used instead (``coverage`` holds
    ‖basisᵀeₖ‖²; with j < d rows, some eₖ keeps a residual² ≥ (d − j)/d). No host synchronisation.
    """
    d = basis.shape[1]
    r = torch.randn(d, generator=generator, dtype=basis.dtype, device=basis.device)
    r = _orthogonalise(basis, r / torch.linalg.vector_norm(r))
    e = _orthogonalise(basis, (torch.arange(d, device=basis.device) == torch.argmin(coverage)).to(basis.dtype))
    nr, ne = torch.linalg.vector_norm(r), torch.linalg.vector_norm(e)
    use_r = nr >= ne / 4
    pick, norm = torch.where(use_r, r, e), torch.where(use_r, nr, ne)
    return pick / norm.clamp_min(torch.finfo(basis.dtype).tiny)  # 0, not NaN, once the space is spent


def _lanczos(matvec, v0, steps, generator):
    """:func:`lanczos`, also returning ‖T‖, the largest absolute Ritz value (a lower bound on ‖A‖)."""
    d = v0.numel()
    steps = min(int(steps), d)
    like = dict(dtype=v0.dtype, device=v0.device)
    Q = torch.zeros(steps + 1, d, **like)
    alpha, beta = torch.zeros(steps, **like), torch.zeros(steps, **like)
    coverage = torch.zeros(d, **like)  # ‖Qᵀeₖ‖² for the rows of Q so far
    Q[0] = v0 / torch.linalg.vector_norm(v0)
    breakdown = 100 * torch.finfo(v0.dtype).eps  # relative size of a residual that is rounding error
    scale = torch.zeros((), **like)
    for j in range(steps):
        w = matvec(Q[j])
        alpha[j] = torch.dot(Q[j], w)
        basis = Q[: j + 1]
        coverage = coverage + Q[j] * Q[j]
        w = _orthogonalise(basis, w)  # full reorthogonalisation
        b = torch.linalg.vector_norm(w)
        scale = torch.maximum(scale, alpha[j].abs() + b)
        broke = b <= breakdown * scale  # an invariant subspace (0 <= 0 for a zero operator)
        beta[j] = torch.where(broke, torch.zeros_like(b), b)
        fresh = _fresh_direction(basis, coverage, generator)
        Q[j + 1] = torch.where(broke, fresh, w / b.clamp_min(torch.finfo(b.dtype).tiny))
    T = torch.diag(alpha) + torch.diag(beta[:-1], 1) + torch.diag(beta[:-1], -1)
    evals, evecs = torch.linalg.eigh(T)
    s = evecs[:, -1]
    vector = s @ Q[:steps]
    residual = (beta[-1] * s[-1]).abs()
    return evals[-1], vector / torch.linalg.vector_norm(vector), residual, evals.abs().max()


def lanczos(matvec, v0, steps, generator=None):
    """``steps`` Lanczos iterations with full reorthogonalisation, free of host synchronisation.

    Returns the top Ritz value, its unit Ritz vector and the residual ‖Av − λv‖ as device tensors.
    A breakdown (the Krylov space is invariant: A a multiple of the identity, rank one, zero, or d = 2)
    continues the recurrence from a fresh direction orthogonal to the basis (drawn from ``generator``,
    by default one seeded apart from :func:`top_eigen`'s start), which keeps the tridiagonal matrix
    block-diagonal and exact; ``steps`` = d spans the whole space, and the answer is exact.
    """
    if generator is None:
        generator = torch.Generator(device=v0.device).manual_seed(_FRESH_SEED)
    return _lanczos(matvec, v0, steps, generator)[:3]


_FRESH_SEED = 0x5EED
"""Seed of :func:`lanczos`'s restart directions when no generator is passed (not 0, top_eigen's)."""


def _start(theta, v0, generator):
    """The Lanczos start: ``v0`` flattened (a warm start), or a Gaussian draw from ``generator``."""
    d = theta.numel()
    if v0 is None:
        return torch.randn(d, generator=generator, dtype=theta.dtype, device=theta.device)
    v0 = v0.detach().reshape(-1).to(dtype=theta.dtype, device=theta.device)
    if v0.numel() != d:
        raise ValueError(f"warm start v0 must have {d} entries, got {v0.numel()}")
    if not bool(torch.isfinite(v0).all()) or not bool(v0.any()):
        raise ValueError("warm start v0 must be finite and non-zero: pass the previous eigenvector, or None")
    return v0


def top_eigen(f, theta, iters=20, tol=1e-5, v0=None, max_restarts=10, seed=0):
    """The largest eigenvalue of ∇²f(θ) and its eigenvector (sharpness, footnote 1).

    Runs ``iters`` Lanczos steps from ``v0`` (a warm start, e.g. the previous eigenvector; random if
    None), and restarts from the Ritz vector until the relative residual (see :class:`Eigen`) is below
    ``tol`` or ``max_restarts`` restarts are spent. The host reads the result once per restart, never
    inside the Lanczos loop; a non-finite Hessian-vector product raises ``ValueError``.
    """
    theta = check_finite(check_theta(theta), "the sharpness")
    if int(iters) < 1:
        raise ValueError(f"iters must be >= 1, got {iters}")
    d, steps = theta.numel(), min(int(iters), theta.numel())
    generator = torch.Generator(device=theta.device).manual_seed(seed)
    v0 = _start(theta, v0, generator)
    matvec = hessian_operator(f, theta)
    eps, hvps = torch.finfo(theta.dtype).eps, 0
    for _ in range(int(max_restarts) + 1):
        value, vector, residual, norm = _lanczos(matvec, v0, steps, generator)
        hvps += steps
        value, residual, norm = torch.stack([value, residual, norm]).tolist()
        if not all(map(math.isfinite, (value, residual, norm))):
            raise ValueError(
                "the Hessian-vector product ∇²f(θ)v is not finite at this θ (the loss or its derivatives "
                "overflow or are undefined there): evaluate the sharpness at a point where f is smooth"
            )
        rel = residual / max(abs(value), eps**0.5 * norm, torch.finfo(theta.dtype).tiny)
        converged = rel <= tol or steps == d
        if converged:
            break
        v0 = vector
    return Eigen(value, vector.detach(), rel, converged, hvps)


def sharpness(f, theta, **options):
    """λ_max(∇²f(θ)) (footnote 1); ``options`` go to :func:`top_eigen`."""
    return top_eigen(f, theta, **options).value


@dataclass(frozen=True)
class SegmentSharpness:
    """Lₜ = sup of λ_max(∇²f) on the segment [θᵗ, θᵗ⁺¹] (Corollary 1), estimated on a grid.

    ``value`` is the largest of ``values``, the sharpness at the points θᵗ + s(θᵗ⁺¹ − θᵗ) for s in
    ``s``; ``argmax`` is the s where it is attained. Each entry is a Lanczos Ritz value, which never
    exceeds the true λ_max, and the grid can miss the exact maximiser: ``value`` is a *lower* bound on
    Lₜ. An inequality (2/η)(RP + 1) ≤ ``value`` therefore verifies Corollary 1's (2/η)(RP + 1) ≤ Lₜ.
    ``converged`` says whether every Lanczos call met its tolerance; ``hvps`` counts the work.
    """

    value: float
    argmax: float
    s: torch.Tensor
    values: torch.Tensor
    converged: bool
    hvps: int


def segment_sharpness(f, theta, theta_next, points=9, iters=20, tol=1e-5, v0=None, max_restarts=10):
    """Lₜ = sup_{θ ∈ [θᵗ, θᵗ⁺¹]} λ_max(∇²f(θ)) of Corollary 1, the max over ``points`` equispaced points.

    The grid includes both ends (``points`` >= 2). Lanczos at each point is warm-started at the
    previous point's eigenvector (``v0`` starts the first). For GD, ``theta_next`` is θᵗ − η∇f(θᵗ);
    Corollary 1 then reads (2/η)(RP(θᵗ) + 1) ≤ Lₜ. Returns a :class:`SegmentSharpness`.
    """
    theta, theta_next = check_theta(theta), check_theta(theta_next)
    if theta_next.shape != theta.shape or theta_next.dtype != theta.dtype or theta_next.device != theta.device:
        raise ValueError(
            f"theta_next must match theta's shape, dtype and device ({tuple(theta.shape)}, {theta.dtype}, "
            f"{theta.device}), got ({tuple(theta_next.shape)}, {theta_next.dtype}, {theta_next.device})"
        )
    if int(points) < 2:
        raise ValueError(f"points must be >= 2 (the grid includes both ends of the segment), got {points}")
    s = torch.linspace(0.0, 1.0, int(points), dtype=theta.dtype)
    step = (theta_next - theta).detach()
    values, hvps, converged, vector = [], 0, True, v0
    for si in s.tolist():
        eig = top_eigen(f, theta.detach() + si * step, iters=iters, tol=tol, v0=vector, max_restarts=max_restarts)
        values.append(eig.value)
        hvps += eig.hvps
        converged = converged and eig.converged
        vector = eig.vector
    values = torch.tensor(values, dtype=torch.float64)
    k = int(torch.argmax(values))
    return SegmentSharpness(float(values[k]), float(s[k]), s, values, converged, hvps)
