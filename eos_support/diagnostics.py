"""The paper's diagnostics of gradient descent θ⁺ = θ − η∇f(θ) (Section 4).

Relative progress RP (Definition 1), directional smoothness L (Definition 2), the exact identity of
Theorem 2 (4.2) and its approximation (4.3). SGD's counterparts are in :mod:`eos_support.sgd_diagnostics`.
Every function takes a loss ``f`` (any callable from a 1-D tensor θ to a scalar tensor that
``torch.func`` can differentiate), the point θ and the step size η, and works on θ's device and dtype.
"""

from dataclasses import dataclass

import numpy as np
import torch
from torch.func import grad, grad_and_value, vmap

from .checks import (
    check_eta,
    check_finite,
    check_gradient,
    check_step,
    check_theta,
    finite_gradient,
    positive_int,
    scalar,
)


def relative_progress(f, theta, eta):
    """RP(θ) = [f(θ − η∇f(θ)) − f(θ)] / (η‖∇f(θ)‖²)  (Definition 1)."""
    return gd_step(f, theta, eta).rp


def directional_smoothness(f, theta, v):
    """L(θ; v) = ⟨v, ∇f(θ) − ∇f(θ − v)⟩ / ‖v‖²  (Definition 2)."""
    theta = check_finite(check_theta(theta), "directional smoothness")
    if v.shape != theta.shape:
        raise ValueError(f"v must have theta's shape {tuple(theta.shape)}, got {tuple(v.shape)}")
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


def _as_taus(taus, like):
    taus = torch.as_tensor(taus, dtype=like.dtype, device=like.device).reshape(-1)
    if taus.numel() == 0 or not bool(torch.all(taus > 0)):
        raise ValueError("taus must be a non-empty list of numbers > 0 (L(θ; 0) is undefined)")
    return taus


def smoothness_profile(f, theta, eta, taus, chunk_size=None):
    """L(θ; ητ∇f(θ)) for every τ in ``taus``, in one batched evaluation (Experiment 5).

    Uses ⟨ητg, g − ∇f(θ − ητg)⟩ / ‖ητg‖² = ⟨g, g − ∇f(θ − ητg)⟩ / (ητ‖g‖²), with g = ∇f(θ).
    ``chunk_size`` bounds how many τ are evaluated at once (memory).
    """
    theta, eta = check_finite(check_theta(theta), "directional smoothness"), check_eta(eta)
    taus = _as_taus(taus, theta)
    df = grad(scalar(f))
    g = df(theta)
    gg = check_gradient(g, "directional smoothness")
    profile = profile_from_gradient(df, theta, g, eta, taus, chunk_size)
    check_step([eta * taus.max() * gg, profile], "directional smoothness", f"θ − ητ∇f(θ) with eta={eta:g}")
    return profile


def profile_from_gradient(df, theta, g, eta, taus, chunk_size=None):
    """:func:`smoothness_profile` given ∇f (``df``) and g = ∇f(θ), without checks or host reads."""
    grads = vmap(df, chunk_size=chunk_size)(theta - eta * taus[:, None] * g)
    return (g - grads) @ g / (eta * taus * torch.dot(g, g))


def gauss_legendre(nodes, dtype=torch.float64, device=None):
    """Nodes and weights of the ``nodes``-point Gauss–Legendre rule on [0, 1]."""
    x, w = np.polynomial.legendre.leggauss(positive_int("nodes (Gauss–Legendre nodes)", nodes))
    as_t = lambda a: torch.as_tensor(a, dtype=dtype, device=device)  # noqa: E731
    return as_t((x + 1) / 2), as_t(w / 2)


def theorem2_rp(f, theta, eta, nodes=64, chunk_size=None):
    """RP(θ) = −1 + η ∫₀¹ τ L(θ; ητ∇f(θ)) dτ, the right side of (4.2), by Gauss–Legendre quadrature."""
    theta = check_finite(check_theta(theta), "the right side of (4.2)")
    tau, w = gauss_legendre(nodes, theta.dtype, theta.device)
    profile = smoothness_profile(f, theta, eta, tau, chunk_size=chunk_size)
    return float(-1 + check_eta(eta) * torch.sum(w * tau * profile))


def rp_approximation(ds, eta):
    """The approximation (4.3): RP(θ) ≈ −1 + (η/2) L(θ; η∇f(θ))."""
    return -1 + check_eta(eta) / 2 * ds
