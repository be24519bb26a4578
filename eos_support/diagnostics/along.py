"""Relative progress and Theorem 2 along any update u, the step an optimizer actually took.

With u = θᵗ − θᵗ⁺¹ and g = ∇f(θᵗ), the relative progress along u is ::

    RP_u(θ) = [f(θ − u) − f(θ)] / ⟨g, u⟩,

which is Definition 1 when u = η∇f(θ) and tends to −1 for a small descent step. Directional
smoothness L(θ; u) is Definition 2 unchanged (:func:`eos_support.diagnostics.gd.directional_smoothness`).
The effective step η_u = ‖u‖²/⟨g, u⟩ is η for u = η∇f(θ); it is the factor that Theorem 2 along u
puts in front of its integral, so "RP_u ≈ 0" reads "L(θ; u) ≈ 2/η_u", not 2/η.
When ⟨g, u⟩ < 0 (u is not a descent direction, e.g. a momentum overshoot) RP_u is still defined but
its sign reads the other way: RP_u > 0 then means the loss fell.
"""

import torch
from torch.func import grad, grad_and_value, vmap

from ..checks import check_theta, scalar
from .theorem2 import gauss_legendre


def progress_along(loss, g, next_loss, next_g, u):
    """RP_u, L(θ; u) and the effective step η_u as 0-dim tensors from f(θ), ∇f(θ), f(θ − u), ∇f(θ − u)
    (no checks, no host reads).

    η_u = ‖u‖²/⟨g, u⟩ is the factor of Theorem 2 along u (η for u = η∇f), so RP_u ≈ −1 + (η_u/2)·L(θ; u)
    when L is constant along u. Each is NaN where it is undefined: RP_u and η_u where ⟨g, u⟩ = 0, L
    where u = 0.
    """
    gu, uu = torch.dot(g, u), torch.dot(u, u)
    nan = torch.full_like(gu, float("nan"))
    safe_gu = torch.where(gu != 0, gu, 1)
    rp = torch.where(gu != 0, (next_loss - loss) / safe_gu, nan)
    ds = torch.where(uu > 0, torch.dot(u, g - next_g) / torch.where(uu > 0, uu, 1), nan)
    eta_u = torch.where(gu != 0, uu / safe_gu, nan)
    return rp, ds, eta_u


def _check_update(theta, u):
    theta = check_theta(theta)
    if not isinstance(u, torch.Tensor) or u.shape != theta.shape:
        shape = tuple(u.shape) if isinstance(u, torch.Tensor) else type(u).__name__
        raise ValueError(f"u must be a tensor of theta's shape {tuple(theta.shape)}, got {shape}")
    return theta, u.to(theta)


def _gu(g, u):
    gu = torch.dot(g, u)
    if not float(gu) != 0:
        raise ValueError("RP_u is undefined when <grad f(theta), u> = 0 (u = 0, or u orthogonal to the gradient)")
    return gu


def relative_progress_along(f, theta, u):
    """RP_u(θ) = [f(θ − u) − f(θ)] / ⟨∇f(θ), u⟩: Definition 1 for the update θ → θ − u."""
    theta, u = _check_update(theta, u)
    g, loss = grad_and_value(scalar(f))(theta)
    return float((f(theta - u) - loss) / _gu(g, u))


def theorem2_rp_along(f, theta, u, nodes=64, chunk_size=None):
    """RP_u(θ) = −1 + (‖u‖² / ⟨g, u⟩) ∫₀¹ τ L(θ; τu) dτ, Theorem 2 for any u, by Gauss–Legendre quadrature.

    Proof: f(θ − u) − f(θ) = −∫₀¹ ⟨u, ∇f(θ − τu)⟩ dτ = −⟨g, u⟩ + ∫₀¹ ⟨u, g − ∇f(θ − τu)⟩ dτ, and
    ⟨u, g − ∇f(θ − τu)⟩ = τ‖u‖² L(θ; τu) by Definition 2; divide by ⟨g, u⟩. The integrand is
    evaluated as ⟨u, g − ∇f(θ − τu)⟩ / ‖u‖², at ``nodes`` points τ in one ``vmap`` (``chunk_size`` at a time).
    """
    theta, u = _check_update(theta, u)
    df = grad(scalar(f))
    g = df(theta)
    gu = _gu(g, u)
    tau, w = gauss_legendre(nodes, theta.dtype, theta.device)
    grads = vmap(df, chunk_size=chunk_size)(theta - tau[:, None] * u)
    return float(-1 + torch.sum(w * ((g - grads) @ u)) / gu)
