"""The paper's diagnostics of one gradient descent step θ⁺ = θ − η∇f(θ) (Section 4).

Relative progress RP (Definition 1) and directional smoothness L (Definition 2); Theorem 2's identity
(4.2) and its approximation (4.3) are in :mod:`eos_support.diagnostics.theorem2`, SGD's counterparts in
:mod:`eos_support.diagnostics.sgd`.
Every function takes a loss ``f`` (any callable from a 1-D tensor θ to a scalar tensor that
``torch.func`` can differentiate), the point θ and the step size η, and works on θ's device and dtype.
"""

from dataclasses import dataclass

import torch
from torch.func import grad, grad_and_value

from ..checks import (
    check_eta,
    check_finite,
    check_gradient,
    check_step,
    check_theta,
    finite_gradient,
    scalar,
)


def relative_progress(f, theta, eta):
    """RP(θ) = [f(θ − η∇f(θ)) − f(θ)] / (η‖∇f(θ)‖²)  (Definition 1)."""
    return gd_step(f, theta, eta).rp


def directional_smoothness(f, theta, v):
    """L(θ; v) = ⟨v, ∇f(θ) − ∇f(θ − v)⟩ / ‖v‖²  (Definition 2)."""
    theta = check_finite(check_theta(theta), "directional smoothness")
    if v.shape != theta.shape or v.dtype != theta.dtype or v.device != theta.device:
        raise ValueError(
            f"v must have theta's shape, dtype and device ({tuple(theta.shape)}, {theta.dtype}, {theta.device}), "
            f"got ({tuple(v.shape)}, {v.dtype}, {v.device}): e.g. v.to(theta)"
        )
    vv = torch.dot(check_finite(v, "directional smoothness", "v"), v)
    if not float(vv) > 0:
        raise ValueError("directional smoothness is undefined for v = 0: pass a non-zero direction")
    g = grad(scalar(f))
    g0 = finite_gradient(g(theta), "directional smoothness")
    out = torch.dot(v, g0 - g(theta - v)) / vv
    check_step([out], "directional smoothness", "θ − v")
    return float(out)


@dataclass(frozen=True)
class GDStep:
    """One GD step θ → θ⁺ and what it reveals about θ at no extra cost.

    ``rp`` is RP(θ) (Def. 1) and ``ds`` is L(θ; η∇f(θ)) (Def. 2), both computed from f(θ⁺) and ∇f(θ⁺),
    which the next step needs anyway.
    """

    loss: float
    next_loss: float
    grad_norm_sq: float
    rp: float
    ds: float
    next_theta: torch.Tensor


def gd_step(f, theta, eta):
    """Take one GD step and return RP(θ) and L(θ; η∇f(θ)) with it (Definitions 1 and 2)."""
    theta, eta = check_finite(check_theta(theta), "relative progress"), check_eta(eta)
    value_and_grad = grad_and_value(scalar(f))
    g, loss = value_and_grad(theta)
    gg = check_gradient(g, "relative progress", loss)
    nxt = theta - eta * g
    g_next, next_loss = value_and_grad(nxt)
    rp, ds = (next_loss - loss) / (eta * gg), torch.dot(g, g - g_next) / (eta * gg)
    check_step([next_loss, eta * gg, rp, ds], "relative progress", f"θ − η∇f(θ) with eta={eta:g}")
    return GDStep(
        loss=float(loss),
        next_loss=float(next_loss),
        grad_norm_sq=float(gg),
        rp=float(rp),
        ds=float(ds),
        next_theta=nxt,
    )
