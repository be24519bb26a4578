"""Sharpness λ_max(∇²f(θ)) (footnote 1) by Lanczos on Hessian-vector products, on θ's device."""

import dataclasses
import warnings
from dataclasses import dataclass

import torch
from torch.func import grad, vjp
from torch.func import hessian as _hessian

from ..checks import check_finite, check_theta, positive_int, scalar


class NonFiniteHessian(ValueError):
    """A Hessian-vector product ∇²f(θ)v that is not finite: the loss or its derivatives overflow at θ."""


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

    ``residual`` bounds ‖∇²f v − λv‖ / max(abs(λ), √ε‖T‖), and so the relative distance from λ to the
    nearest eigenvalue (see :func:`top_eigen`); ε is the dtype's machine epsilon and ‖T‖ the largest
    absolute Ritz value (a lower bound on ‖∇²f(θ)‖), a floor that keeps it meaningful when λ ≈ 0 (a zero
    Hessian has residual 0). ``converged`` says whether ``residual`` fell below the requested tolerance,
    not counting the rounding a breakdown drops (at most 100 ε‖T‖ each), or the Krylov space is the whole
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


class _Krylov:
    """A Lanczos recurrence with full reorthogonalisation, extended on demand.

    Holds the orthonormal basis Q (rows), the tridiagonal coefficients α and β, ‖T‖'s running lower
    bound ``scale`` and ``coverage`` (‖Qᵀeₖ‖², for :func:`_fresh_direction`). A breakdown (the Krylov
    space is invariant: A a multiple of the identity, rank one, zero, or d = 2) sets β = 0 and continues
    from a fresh direction orthogonal to the basis, which keeps T block-diagonal and exact up to the β
    it set to 0 (at most 100 ε‖T‖), kept in ``lost`` for :func:`_residual`. ``host_reads``
    False: free of host reads, so a fresh direction is drawn at every product and kept at a breakdown
    only; True: the breakdown test reads β (one read a product) and draws a fresh direction only at a
    breakdown, which saves two thirds of the reorthogonalisation (the same numbers unless one occurs).
    """

    def __init__(self, matvec, v0, steps, generator, host_reads=False):
        d = v0.numel()
        self.matvec, self.generator, self.steps, self.j = matvec, generator, min(int(steps), d), 0
        self.host_reads = host_reads
        like = dict(dtype=v0.dtype, device=v0.device)
        self.Q = torch.zeros(self.steps + 1, d, **like)
        self.alpha, self.beta = torch.zeros(self.steps, **like), torch.zeros(self.steps, **like)
        self.lost = torch.zeros(self.steps, **like)
        self.coverage = torch.zeros(d, **like)
        self.Q[0] = v0 / torch.linalg.vector_norm(v0)
        self.breakdown = 100 * torch.finfo(v0.dtype).eps  # relative size of a residual that is rounding error
        self.scale = torch.zeros((), **like)

    def extend(self, k):
        """``k`` more Lanczos steps (at most up to ``steps``), one Hessian-vector product each."""
        Q, alpha, beta = self.Q, self.alpha, self.beta
        for j in range(self.j, min(self.j + int(k), self.steps)):
            w = self.matvec(Q[j])
            alpha[j] = torch.dot(Q[j], w)
            basis = Q[: j + 1]
            self.coverage = self.coverage + Q[j] * Q[j]
            w = _orthogonalise(basis, w)  # full reorthogonalisation
            b = torch.linalg.vector_norm(w)
            self.scale = torch.maximum(self.scale, alpha[j].abs() + b)
            broke = b <= self.breakdown * self.scale  # an invariant subspace (0 <= 0 for a zero operator)
            beta[j] = torch.where(broke, torch.zeros_like(b), b)
            self.lost[j] = torch.where(broke, b, torch.zeros_like(b))
            if not self.host_reads:
                fresh = _fresh_direction(basis, self.coverage, self.generator)
                Q[j + 1] = torch.where(broke, fresh, w / b.clamp_min(torch.finfo(b.dtype).tiny))
            elif bool(broke):
                Q[j + 1] = _fresh_direction(basis, self.coverage, self.generator)
            else:
                Q[j + 1] = w / b
            self.j = j + 1
        return self

    def ritz_vector(self, s):
        """The unit vector Qᵀs of the basis so far, for coefficients ``s`` (j entries)."""
        vector = s.to(self.Q) @ self.Q[: self.j]
        return vector / torch.linalg.vector_norm(vector)


def _residual(s, beta, lost):
    """An upper bound on ‖AQᵀs − λQᵀs‖ for T's eigenpair (λ, s): β_j·abs(s_j) plus what breakdowns dropped.

    AQᵀ = QᵀT + β_j q_{j+1}e_jᵀ + Σ (dropped residual)ₖ eₖᵀ, each dropped one of norm ``lost``ₖ; ``beta``
    and ``lost`` are a :class:`_Krylov`'s first j entries (on the host, or on the device).
    """
    return (beta[-1] * s[-1]).abs() + (lost * s).abs().sum()


def _lanczos(matvec, v0, steps, generator):
    """:func:`lanczos`, also returning ‖T‖, the largest absolute Ritz value (a lower bound on ‖A‖)."""
    K = _Krylov(matvec, v0, steps, generator).extend(steps)
    beta = K.beta
    T = torch.diag(K.alpha) + torch.diag(beta[:-1], 1) + torch.diag(beta[:-1], -1)
    evals, evecs = torch.linalg.eigh(T)
    s = evecs[:, -1]
    return evals[-1], K.ritz_vector(s), _residual(s, beta, K.lost), evals.abs().max()


def lanczos(matvec, v0, steps, generator=None):
    """``steps`` Lanczos iterations with full reorthogonalisation, free of host synchronisation.

    Returns the top Ritz value, its unit Ritz vector and a bound on the residual ‖Av − λv‖ (β_j·abs(s_j)
    plus what breakdowns dropped) as device tensors.
    A breakdown (the Krylov space is invariant: A a multiple of the identity, rank one, zero, or d = 2)
    continues the recurrence from a fresh direction orthogonal to the basis (drawn from ``generator``,
    by default one seeded apart from :func:`top_eigen`'s start), which keeps the tridiagonal matrix
    block-diagonal and exact; ``steps`` = d spans the whole space, and the answer is exact.
    """
    if generator is None:
        generator = torch.Generator(device=v0.device).manual_seed(_FRESH_SEED)
    return _lanczos(matvec, _precise(v0), steps, generator)[:3]


_FRESH_SEED = 0x5EED
"""Seed of :func:`lanczos`'s restart directions when no generator is passed (not 0, top_eigen's)."""


def _precise(x):
    """``x``, if its dtype is float32 or finer: Lanczos's breakdown test (100 ε‖T‖) would otherwise take
    residuals of 10 % (float16) or 78 % (bfloat16) for rounding and stop, "converged", at a wrong eigenvalue.
    """
    if torch.finfo(x.dtype).eps > torch.finfo(torch.float32).eps:
        raise ValueError(
            f"the sharpness needs float32 or float64, got {x.dtype}: at its precision Lanczos cannot tell a "
            "residual from rounding. Evaluate the loss in float32 (e.g. model.float(), inputs.float(), "
            "theta.float())"
        )
    return x


def _flat(theta, v, name):
    """``v`` flattened on θ's dtype and device, with θ's number of entries (else a ValueError naming ``name``)."""
    v = v.detach().reshape(-1).to(dtype=theta.dtype, device=theta.device)
    if v.numel() != theta.numel():
        raise ValueError(f"{name} must have {theta.numel()} entries, got {v.numel()}")
    return v


def _start(theta, v0, generator):
    """The Lanczos start: ``v0`` flattened (a warm start), or a Gaussian draw from ``generator``."""
    if v0 is None:
        return torch.randn(theta.numel(), generator=generator, dtype=theta.dtype, device=theta.device)
    v0 = _flat(theta, v0, "warm start v0")
    if not bool(torch.isfinite(v0).all()) or not bool(v0.any()):
        raise ValueError("warm start v0 must be finite and non-zero: pass the previous eigenvector, or None")
    return v0


def _unit(theta, hint):
    """``hint`` flattened to unit length on θ's dtype and device; zeros where it is zero (it adds nothing)."""
    hint = _flat(theta, hint, "hint")
    if not bool(torch.isfinite(hint).all()):
        raise ValueError("hint must be finite: pass a direction such as the gradient ∇f(θ) where it is finite, or None")
    return hint / torch.linalg.vector_norm(hint).clamp_min(torch.finfo(hint.dtype).tiny)


def _cold_start(theta, hint, generator):
    """A Gaussian draw from ``generator``, plus ``hint`` (a unit vector, or None), the draw scaled to unit length."""
    start = _start(theta, None, generator)
    return start if hint is None else start / torch.linalg.vector_norm(start) + hint


def _cycle(matvec, start, steps, tol, generator, warm=False):
    """One Lanczos run from ``start`` of at most ``steps`` products, stopped by the residual test.

    After each product the host reads T's coefficients (j numbers, its one read per product), finds T's
    top eigenpair (λ, s) in float64 and the residual ‖Av − λv‖ = β_j·abs(s_j) of the Ritz vector v = Qᵀs,
    and stops once that residual, relative as in :class:`Eigen`, is at most ``tol``, or the Krylov space
    is the whole space. The residual it reports adds what breakdowns dropped (:func:`_residual`):
    rounding that the test does not count, since no product can resolve it. A ``warm`` run gives up (not
    converged) at a breakdown: an invariant Krylov space of the start vector, e.g. an eigenvector of
    another eigenvalue, says nothing of the top one.
    """
    K, d = _Krylov(matvec, start, steps, generator, host_reads=True), start.numel()
    eps = torch.finfo(start.dtype).eps
    while K.j < K.steps:
        alpha, beta, lost = torch.stack([K.extend(1).alpha[: K.j], K.beta[: K.j], K.lost[: K.j]]).double().cpu()
        if not bool(torch.isfinite(alpha).all() and torch.isfinite(beta).all()):
            raise NonFiniteHessian(
                "the Hessian-vector product ∇²f(θ)v is not finite at this θ (the loss or its derivatives "
                "overflow or are undefined there): evaluate the sharpness at a point where f is smooth"
            )
        evals, evecs = torch.linalg.eigh(torch.diag(alpha) + torch.diag(beta[:-1], 1) + torch.diag(beta[:-1], -1))
        s, value, norm = evecs[:, -1], float(evals[-1]), float(evals.abs().max())
        scale = max(abs(value), eps**0.5 * norm, torch.finfo(start.dtype).tiny)
        kept = float((beta[-1] * s[-1]).abs()) / scale  # the recurrence's residual β_j·abs(s_j), relative
        rel = float(_residual(s, beta, lost)) / scale  # with what breakdowns dropped: ‖Av − λv‖ ≤ rel·scale
        exhausted = K.j == d
        if warm and not exhausted and bool((beta == 0).any()):
            break
        if kept <= tol or exhausted:
            return Eigen(value, K.ritz_vector(s).detach(), rel, True, K.j)
    return Eigen(value, K.ritz_vector(s).detach(), rel, False, K.j)


def top_eigen(f, theta, iters=20, tol=1e-5, v0=None, max_restarts=10, seed=0, hint=None):
    """The largest eigenvalue of ∇²f(θ) and its eigenvector (sharpness, footnote 1).

    Lanczos with full reorthogonalisation, stopped by a residual test after every Hessian-vector
    product. With v the unit Ritz vector, λ = vᵀ∇²f v its Ritz value (a Rayleigh quotient, so λ ≤ λ_max)
    and r = ∇²f v − λv, some eigenvalue μ has abs(μ − λ) ≤ ‖r‖ (Weyl's inequality for the perturbation
    −(rvᵀ + vrᵀ), which makes v an exact eigenvector). It stops once ``residual`` = ‖r‖/s, relative to
    s = max(abs(λ), √ε‖T‖) (see :class:`Eigen`), is at most ``tol``, or the Krylov space is the whole
    space. That the eigenvalue found is the top one rests on the start: a Gaussian start has a component
    along every eigenvector, and a warm start is trusted only while its Krylov space does not break down.
    No tighter bound is read from the Krylov space: a Kato–Temple estimate ‖r‖²/(λ − θ₂ − ‖r₂‖) from the
    second Ritz pair θ₂ takes θ₂ for λ₂, and where the top eigenvalues cluster, as a network's do, it
    stopped with errors over 100 × ``tol`` (tests/test_curvature.py, benchmarks/README.md).

    ``v0`` (a warm start, e.g. the previous eigenvector): one run of at most ``iters`` products from it;
    when it does not meet ``tol`` (or breaks down), a cold start follows and begins where the warm run
    ended (its Ritz vector is the hint, in place of ``hint``). Cold (``v0`` None, or the fallback): runs
    of at most ``iters`` products, each restarted from the last Ritz vector, until the test is met or
    ``max_restarts`` restarts are spent; the first starts from a Gaussian draw of ``seed`` plus the hint,
    each of unit length. ``hint`` is a direction that may lie near the top eigenvector, e.g. the
    gradient ∇f(θ) (the trainer's hint; benchmarks/README.md measures what it saves): the draw it is
    added to keeps a component along every eigenvector, so a poor hint costs products, not the Gaussian
    start's promise.
    ``hvps`` counts every product, the warm attempt's included. The host reads T's coefficients once per
    product (:func:`lanczos` reads nothing); a non-finite Hessian-vector product raises
    :class:`NonFiniteHessian` (a ``ValueError``); θ in float16 or bfloat16, whose rounding the residual
    test cannot tell from a residual, raises a ``ValueError``.
    """
    theta = _precise(check_finite(check_theta(theta), "the sharpness"))
    iters = positive_int("iters", iters)
    matvec, hvps = hessian_operator(f, theta), 0
    hint = None if hint is None else _unit(theta, hint)
    if v0 is not None:
        generator = torch.Generator(device=theta.device).manual_seed(seed)
        eig = _cycle(matvec, _start(theta, v0, generator), iters, tol, generator, warm=True)
        if eig.converged:
            return eig
        hvps, hint = eig.hvps, eig.vector  # the warm run's vector replaces the hint: both would dilute it
    generator = torch.Generator(device=theta.device).manual_seed(seed)
    start = _cold_start(theta, hint, generator)
    for _ in range(int(max_restarts) + 1):
        eig = _cycle(matvec, start, iters, tol, generator)
        hvps += eig.hvps
        if eig.converged:
            break
        start = eig.vector
    return dataclasses.replace(eig, hvps=hvps)


def sharpness(f, theta, **options):
    """λ_max(∇²f(θ)) (footnote 1); ``options`` go to :func:`top_eigen`. Warns where Lanczos did not converge:
    the value is then a lower bound (:func:`top_eigen` returns the residual with it).
    """
    eig = top_eigen(f, theta, **options)
    if not eig.converged:
        warnings.warn(
            f"the sharpness did not converge (relative residual {eig.residual:.1e} > tol after {eig.hvps} "
            "Hessian-vector products): the value is a Ritz value, a lower bound on λ_max. Pass a larger iters or "
            "max_restarts, or a larger tol",
            stacklevel=2,
        )
    return eig.value


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
