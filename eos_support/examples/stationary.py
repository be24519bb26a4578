"""Stationary points and how GD behaves near them (Theorem 1, Proposition 1).

:func:`newton` finds a stationary point of any kind (minimum or saddle) near a start;
:func:`saddle_free_newton` finds a local minimum; :func:`stability` linearises the GD map
F(θ) = θ − η∇f(θ) at stationary points, DF(p) = I − η∇²f(p), the matrix whose eigenvalues decide
whether p attracts GD (proof of Theorem 1). :func:`saddle_manifold` follows GD on and off a saddle's
stable manifold in high-precision arithmetic (mpmath), where float64
cannot stay on it.
"""

import math
from dataclasses import dataclass, field

import mpmath
import numpy as np
import torch
from torch.func import grad
from torch.func import hessian as dense_hessian

from ..diagnostics.curvature import hessian
from ..readings.tables import markdown_table


def newton(f, p0, max_iter=100):
    """A stationary point ∇f(p) = 0 near ``p0`` by Newton's method, p ← p − ∇²f(p)⁻¹∇f(p).

    Newton's method does not tell minima from saddles: it converges (quadratically) to the
    stationary point of whatever kind is nearest. It stops once a step is at most 4 ulp.
    """
    df, d2f = grad(f), dense_hessian(f)
    p = p0
    for _ in range(int(max_iter)):
        step = torch.linalg.solve(d2f(p), df(p))
        p = p - step
        if float(step.abs().max()) <= 4 * torch.finfo(p.dtype).eps:  # converged (quadratically)
            break
    return p


def saddle_free_newton(loss, theta, tol=1e-10, max_iter=300):
    """A local minimiser of ``loss`` near ``theta`` by saddle-free Newton steps with Armijo backtracking.

    The step is −abs(∇²ℓ)⁻¹∇ℓ, the Newton step with the Hessian's eigenvalues replaced by their absolute
    values (floored at 1e-6), so that it descends; a backtracking line search halves it until
    ℓ decreases by the Armijo fraction 1e-4 of the predicted decrease. At a stationary point
    (‖∇ℓ‖ < ``tol``) that is a saddle, it steps 1e-2 along a direction of negative curvature. Dense
    Hessians: for small problems (the stationary points of Proposition 1's network with ε > 0).
    """
    d_loss, d2_loss = grad(loss), dense_hessian(loss)
    for _ in range(int(max_iter)):
        g = d_loss(theta)
        lam, vecs = torch.linalg.eigh(d2_loss(theta))
        if g.norm() < tol:
            if lam[0] >= 0:
                break  # a minimum
            step = 1e-2 * vecs[:, 0]  # a saddle: leave it along a direction of negative curvature
        else:
            step = -vecs @ ((vecs.T @ g) / lam.abs().clamp_min(1e-6))
        t, value = 1.0, loss(theta)
        while loss(theta + t * step) > value + 1e-4 * t * (g @ step) and t > 1e-12:
            t /= 2
        theta = theta + t * step
    return theta


@dataclass(frozen=True)
class Stability:
    """GD near a stationary point p: F(θ) ≈ p + (I − η∇²f(p))(θ − p) (proof of Theorem 1).

    ``eigenvalues`` are those of ∇²f(p), ascending; ``grad_norm`` is ‖∇f(p)‖ (how stationary p is).
    """

    point: torch.Tensor
    grad_norm: float
    eigenvalues: torch.Tensor

    def multipliers(self, eta):
        """The eigenvalues 1 − ηλ of DF(p) = I − η∇²f(p)."""
        return 1 - eta * self.eigenvalues

    def spectral_radius(self, eta):
        """The largest abs(1 − ηλ): p attracts GD if it is < 1 and repels it (along some direction) if > 1."""
        return self.multipliers(eta).abs().max().item()


def stability(f, points):
    """:class:`Stability` of GD at each of ``points`` (a dict name → point), in the same order."""
    return {
        name: Stability(p, grad(f)(p).norm().item(), torch.linalg.eigvalsh(hessian(f, p))) for name, p in points.items()
    }


def spectral_radii(f, points, etas, draws=4, relative=2.0**-52):
    """Per η of ``etas`` and point of ``points`` (name → p): the spectral radius of I − η∇²f at p, then
    at ``draws`` copies of p perturbed by relative ``relative``
    (:func:`eos_support.readings.uncertainty.perturbed`): how far rounding of p moves it.
    """
    from ..readings.uncertainty import perturbed

    copies = {name: [p, *perturbed(p, draws, relative)] for name, p in points.items()}
    radius = {name: [stability(f, {name: q})[name] for q in qs] for name, qs in copies.items()}
    return {eta: {name: [s.spectral_radius(eta) for s in ss] for name, ss in radius.items()} for eta in etas}


def stability_table(stabilities, etas):
    """A Markdown table of :func:`stability` at each η of ``etas`` (Theorem 1).

    One row per stationary point: ‖∇f‖, the eigenvalues of ∇²f, and for each η those of I − η∇²f
    with whether p attracts or repels GD.
    """
    head = ["point", "θ", "‖∇f‖", "eigenvalues of ∇²f"]
    head += [f"of I − η∇²f, η = {eta}" for eta in etas]
    rows = []
    for name, s in stabilities.items():
        cells = [
            name,
            f"({s.point[0]:.4f}, {s.point[1]:.4f})",
            f"{s.grad_norm:.1e}",
            ", ".join(f"{v:.3f}" for v in s.eigenvalues),
        ]
        for eta in etas:
            verdict = "attracts" if s.spectral_radius(eta) < 1 else "**repels**"
            cells.append(", ".join(f"{v:+.3f}" for v in s.multipliers(eta)) + f" ({verdict})")
        rows.append(cells)
    return markdown_table(head, rows)


def newton_mp(gradient, hessian, p0, max_iter=200):
    """A stationary point near ``p0`` by Newton's method in mpmath at its working precision.

    ``gradient(p)`` returns ∇f(p) as a list and ``hessian(p)`` ∇²f(p) as rows, both in mpmath numbers;
    it stops once a step is at most 4 units of the working precision (relative to ‖p‖, or absolute near 0).
    """
    p = mpmath.matrix([mpmath.mpf(v) for v in p0])
    for _ in range(int(max_iter)):
        step = mpmath.lu_solve(mpmath.matrix(hessian(list(p))), mpmath.matrix(gradient(list(p))))
        p -= step
        if mpmath.norm(step) <= 4 * mpmath.eps * max(1, mpmath.norm(p)):
            break
    return list(p)


def gd_mp(gradient, p0, eta, steps):
    """The last iterate of ``steps`` GD steps θ ← θ − η∇f(θ) from ``p0``, in mpmath at its working precision."""
    eta, p = mpmath.mpf(eta), [mpmath.mpf(v) for v in p0]
    for _ in range(int(steps)):
        p = [v - eta * g for v, g in zip(p, gradient(p))]
    return p


@dataclass(frozen=True)
class SaddleManifold:
    """GD near a saddle with one unstable direction, in ``digits``-digit arithmetic (Theorem 1).

    ``eigenvalues`` of ∇²f at the saddle, ascending (the first negative); per η, ``on`` is the largest
    distance to the saddle after GD from the starts on its stable manifold, ``off`` the smallest from the
    same starts moved off it along the unstable eigenvector. ``on_rounding`` and ``off_rounding`` hold,
    per η, the same two statistics recomputed with the start that decides each (the farthest on, the
    nearest off) perturbed by relative 2^(−precision) of the arithmetic, one value per draw.
    """

    saddle: tuple
    eigenvalues: tuple
    digits: int
    steps: int
    on: dict
    off: dict
    on_rounding: dict = field(default_factory=dict)
    off_rounding: dict = field(default_factory=dict)

    def holds(self, near, far):
        """Every start on the manifold ends within ``near`` of the saddle, every start off it farther than ``far``."""
        return all(self.on[eta] < near and self.off[eta] > far for eta in self.on)

    def escape_steps(self, eta, near):
        """The GD steps it takes the arithmetic's rounding to leave the manifold by more than ``near``.

        An error of 10^-digits off the manifold, multiplied by 1 − ηλ_min > 1 at every step.
        """
        return (self.digits + math.log10(near)) / math.log10(1 - eta * self.eigenvalues[0])

    def reading(self):
        """The distances per η, as a claim's measured value."""
        return {
            f"η = {eta:g}": {"on: max distance": self.on[eta], "off: min distance": self.off[eta]} for eta in self.on
        }


def _perturbed_mp(point, draws, seed):
    """``draws`` copies of ``point`` (mpmath numbers), each coordinate multiplied by 1 ± mpmath.eps with
    random signs (seeded): starts that differ at the working precision's rounding level.
    """
    signs = np.random.default_rng(seed).choice((-1, 1), size=(int(draws), len(point)))
    return [[v * (1 + int(s) * mpmath.eps) for v, s in zip(point, row)] for row in signs]


def saddle_manifold(gradient, hessian, p0, etas, steps, offset, digits, points=21, draws=0, seed=0):
    """GD on and off the stable manifold of the saddle near ``p0``, in ``digits``-digit arithmetic (Theorem 1).

    The saddle is found by :func:`newton_mp`; ``points`` starts are spread over the segment
    saddle + s·v, s ∈ [−1, 1], v the eigenvector of ∇²f's largest eigenvalue (stable: 0 < ηλ < 2) —
    the stable manifold where f is separable along the eigenvectors — and the same starts moved by
    ``offset`` along the unstable eigenvector u (λ < 0). Each runs ``steps`` GD steps at each η of
    ``etas`` (:func:`gd_mp`). ``gradient`` and ``hessian`` take a list of mpmath numbers. In float64 a
    start cannot stay on the manifold: the rounding error of ∇f, ~1e-16, is itself a step off it, which
    the unstable direction multiplies by the absolute value of 1 − ηλ_min (> 1) at every step.

    With ``draws`` > 0 the statistic of each side is recomputed ``draws`` times with the start that
    decides it (the farthest on the manifold, the nearest off it) perturbed at the arithmetic's unit
    (``_perturbed_mp``, random signs from ``seed``), the other starts' distances kept: the
    statistics' rounding spread, for the cost of 2·``draws`` runs per η.
    """
    with mpmath.workdps(int(digits)):
        p = newton_mp(gradient, hessian, p0)
        lam, vecs = mpmath.eigsy(mpmath.matrix(hessian(p)))
        u, v = vecs.column(0), vecs.column(vecs.cols - 1)
        on_starts = [[pi + s * vi for pi, vi in zip(p, v)] for s in mpmath.linspace(-1, 1, int(points))]
        off_starts = [[qi + offset * ui for qi, ui in zip(q, u)] for q in on_starts]

        def distance(q, eta):
            return float(mpmath.norm(mpmath.matrix(gd_mp(gradient, q, eta, steps)) - mpmath.matrix(p)))

        def side(starts, eta, pick):
            values = [distance(q, eta) for q in starts]
            i = values.index(pick(values))
            moved = _perturbed_mp(starts[i], draws, seed)
            redone = [pick(values[:i] + [distance(q, eta)] + values[i + 1 :]) for q in moved]
            return pick(values), redone

        on, off, on_rounding, off_rounding = {}, {}, {}, {}
        for eta in etas:
            on[eta], on_rounding[eta] = side(on_starts, eta, max)
            off[eta], off_rounding[eta] = side(off_starts, eta, min)
        return SaddleManifold(
            tuple(float(x) for x in p), tuple(float(x) for x in lam), int(digits), int(steps), on, off,
            on_rounding, off_rounding,
        )  # fmt: skip
