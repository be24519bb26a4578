"""Theorem 2 (4.2): RP(θ) = −1 + η ∫₀¹ τ L(θ; ητ∇f(θ)) dτ, its τ-profiles (Experiment 5) and the
approximation (4.3), for a loss ``f`` of a flat θ, on θ's device and dtype.

The same along any update u is in :mod:`eos_support.diagnostics.along`; along a recorded GD run, in
:mod:`eos_support.readings.theorem2`.
"""

import numpy as np
import torch
from torch.func import grad, vmap

from ..checks import check_eta, check_finite, check_gradient, check_step, check_theta, positive_int, scalar


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
