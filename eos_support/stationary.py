"""Stationary points and how GD behaves near them (Theorem 1, Proposition 1).

:func:`newton` finds a stationary point of any kind (minimum or saddle) near a start;
:func:`saddle_free_newton` finds a local minimum; :func:`stability` linearises the GD map
F(θ) = θ − η∇f(θ) at stationary points, DF(p) = I − η∇²f(p), the matrix whose eigenvalues decide
whether p attracts GD (proof of Theorem 1).
"""

from dataclasses import dataclass

import torch
from torch.func import grad
from torch.func import hessian as dense_hessian

from .curvature import hessian


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

    The step is −|∇²ℓ|⁻¹∇ℓ, the Newton step with the Hessian's eigenvalues replaced by their absolute
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
        """The largest |1 − ηλ|: p attracts GD if it is < 1 and repels it (along some direction) if > 1."""
        return self.multipliers(eta).abs().max().item()


def stability(f, points):
    """:class:`Stability` of GD at each of ``points`` (a dict name → point), in the same order."""
    return {
        name: Stability(p, grad(f)(p).norm().item(), torch.linalg.eigvalsh(hessian(f, p)))
        for name, p in points.items()
    }


def stability_table(stabilities, etas):
    """A Markdown table of :func:`stability` at each η of ``etas`` (Theorem 1).

    One row per stationary point: ‖∇f‖, the eigenvalues of ∇²f, and for each η those of I − η∇²f
    with whether p attracts or repels GD.
    """
    head = ["stationary point", "θ", "‖∇f‖", "eigenvalues of ∇²f"]
    head += [f"eigenvalues of I − η∇²f, η = {eta}" for eta in etas]
    rows = ["| " + " | ".join(head) + " |", "|---" * len(head) + "|"]
    for name, s in stabilities.items():
        cells = [name, f"({s.point[0]:.4f}, {s.point[1]:.4f})", f"{s.grad_norm:.1e}",
                 ", ".join(f"{v:.3f}" for v in s.eigenvalues)]
        for eta in etas:
            verdict = "attracts" if s.spectral_radius(eta) < 1 else "**repels**"
            cells.append(", ".join(f"{v:+.3f}" for v in s.multipliers(eta)) + f" ({verdict})")
        rows.append("| " + " | ".join(cells) + " |")
    return "\n".join(rows)
