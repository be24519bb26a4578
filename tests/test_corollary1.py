"""Corollary 1: (2/η)(RP(θᵗ) + 1) ≤ Lₜ = sup of λ_max(∇²f) on the segment [θᵗ, θᵗ⁺¹].

Lₜ comes from :func:`eos_support.diagnostics.curvature.segment_sharpness` (a grid of warm-started Lanczos calls)
and is checked against a closed form (a quadratic; a 2-D cosine valley whose sup is inside the
segment) or a dense reference (eigenvalues of the dense Hessian at 2,001 points of the segment).
"""

import math

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch.func import hessian as dense_hessian
from torch.func import vmap

from cases import random_spd, smooth_cost
from eos_support.diagnostics import relative_progress
from eos_support.diagnostics.curvature import segment_sharpness
from eos_support.examples.toy import example2, gd, quadratic


def corollary1_lhs(f, theta, eta):
    """(2/η)(RP(θ) + 1), the left side of Corollary 1."""
    return 2 / eta * (relative_progress(f, theta, eta) + 1)


def dense_segment_sup(f, theta, theta_next, points=2001):
    """A dense reference for Lₜ: λ_max of the dense Hessian at ``points`` points of the segment."""
    s = torch.linspace(0, 1, points, dtype=theta.dtype)
    thetas = theta + s[:, None] * (theta_next - theta)
    H = vmap(dense_hessian(f))(thetas)
    return float(torch.linalg.eigvalsh(H)[:, -1].max())


def gd_next(f, theta, eta):
    return theta - eta * torch.func.grad(f)(theta)


# -- a quadratic: Lₜ = λ_max(P) on every segment -------------------------------------------------


@pytest.mark.parametrize("ratio", [0.5, 0.99, 1.0, 1.05])
def test_quadratic_segment_sharpness_is_lambda_max(ratio):
    P = random_spd(6, seed=3)
    lam = float(torch.linalg.eigvalsh(P)[-1])
    f, eta = quadratic(P), ratio * 2 / lam
    path = gd(f, torch.linspace(1.0, -0.5, 6, dtype=torch.float64), eta, 30)
    for theta in path[:-1]:
        seg = segment_sharpness(f, theta, gd_next(f, theta, eta), points=3, tol=1e-10)
        assert seg.value == pytest.approx(lam, rel=1e-8)
        assert seg.converged
        # for a quadratic the left side is the Rayleigh quotient of P at ∇f: at most λ_max
        assert corollary1_lhs(f, theta, eta) <= seg.value * (1 + 1e-10)


def test_quadratic_equality_along_the_top_eigenvector():
    P = random_spd(5, seed=7)
    evals, evecs = torch.linalg.eigh(P)
    f, eta = quadratic(P), 2 / float(evals[-1])
    theta = evecs[:, -1].clone()  # ∇f = λ_max θ: GD oscillates, RP = 0, equality in Corollary 1
    seg = segment_sharpness(f, theta, gd_next(f, theta, eta), points=2, tol=1e-12)
    assert corollary1_lhs(f, theta, eta) == pytest.approx(seg.value, rel=1e-9)


# -- a 2-D non-quadratic cost whose Lₜ has a closed form ----------------------------------------

A, B, PHI = 10.0, 1.0, 0.4
U = torch.tensor([math.cos(PHI), math.sin(PHI)], dtype=torch.float64)
W = torch.tensor([-math.sin(PHI), math.cos(PHI)], dtype=torch.float64)


def cosine_valley(theta):
    """−A cos(uᵀθ) + (B/2)(wᵀθ)², u ⟂ w: ∇²f = A cos(uᵀθ) uuᵀ + B wwᵀ, λ_max = max(A cos(uᵀθ), B)."""
    return -A * torch.cos(U @ theta) + 0.5 * B * (W @ theta) ** 2


def cosine_valley_segment_sup(theta, theta_next):
    """Closed form of Lₜ for :func:`cosine_valley` while |uᵀθ| < π on the segment."""
    x0, x1 = float(U @ theta), float(U @ theta_next)
    assert max(abs(x0), abs(x1)) < math.pi
    top = 1.0 if min(x0, x1) <= 0.0 <= max(x0, x1) else max(math.cos(x0), math.cos(x1))
    return max(A * top, B)


def test_cosine_valley_closed_form_and_dense_reference_agree():
    theta = 0.9 * U + 0.3 * W
    nxt = -1.1 * U + 0.2 * W
    assert dense_segment_sup(cosine_valley, theta, nxt) == pytest.approx(
        cosine_valley_segment_sup(theta, nxt), rel=1e-6
    )


def test_corollary1_on_the_cosine_valley_at_every_iterate():
    # ηA = 2.5 > 2: the minimum at 0 is too sharp, GD settles on the 2-cycle x ↔ −x across it,
    # where RP = 0 and the sharpest point, x = 0, lies strictly inside every segment.
    eta = 2.5 / A
    path = gd(cosine_valley, 0.3 * U + 1.0 * W, eta, 60)
    assert float((U @ path[-1]).abs()) > 1.0  # oscillating, not converged
    crossings = 0
    for t, (theta, nxt) in enumerate(zip(path[:-1], path[1:])):
        exact = cosine_valley_segment_sup(theta, nxt)
        coarse = segment_sharpness(cosine_valley, theta, nxt, points=8, tol=1e-12)
        lhs = corollary1_lhs(cosine_valley, theta, eta)
        assert lhs <= exact * (1 + 1e-12)
        # a grid value never exceeds Lₜ, and a fine grid reaches it
        assert coarse.value <= exact * (1 + 1e-10)
        if t % 10 == 0:
            fine = segment_sharpness(cosine_valley, theta, nxt, points=101, tol=1e-12)
            assert fine.value <= exact * (1 + 1e-10)
            assert fine.value == pytest.approx(exact, rel=1e-3)
        dx = abs(float(U @ (nxt - theta))) / 7  # grid spacing in uᵀθ; cos loses at most dx²/2
        assert coarse.value >= exact * (1 - dx**2 / 2) - 1e-12
        crossings += float(U @ theta) * float(U @ nxt) < 0
    assert crossings > 40
    # on the 2-cycle the bound is (2/η)·1 = 0.8·A, below Lₜ = A: the inequality is strict here
    theta = path[-2]
    assert relative_progress(cosine_valley, theta, eta) == pytest.approx(0.0, abs=1e-6)


# -- dense references: Example 2 and random smooth costs ---------------------------------------


def test_corollary1_on_example2_against_dense_reference():
    eta = 2 / 39  # Example 2: the quadratic would diverge, the flattened cost stays bounded
    path = gd(example2, torch.tensor([0.05, 1.5], dtype=torch.float64), eta, 40)
    for theta, nxt in zip(path[:-1], path[1:]):
        if float(torch.linalg.vector_norm(nxt - theta)) < 1e-12:
            continue
        ref = dense_segment_sup(example2, theta, nxt)
        seg = segment_sharpness(example2, theta, nxt, points=33, tol=1e-12)
        assert seg.value <= ref * (1 + 1e-6) + 1e-9
        assert seg.value == pytest.approx(ref, rel=2e-2, abs=1e-6)
        assert corollary1_lhs(example2, theta, eta) <= ref * (1 + 1e-9) + 1e-9
        assert corollary1_lhs(example2, theta, eta) <= seg.value * (1 + 1e-9) + 1e-9


@settings(max_examples=15, deadline=None)
@given(seed=st.integers(0, 10_000), log_eta=st.floats(-3.0, 0.0))
def test_corollary1_on_random_smooth_costs(seed, log_eta):
    f = smooth_cost(4, seed)
    g = torch.Generator().manual_seed(seed)
    theta = torch.randn(4, generator=g, dtype=torch.float64)
    eta = 10.0**log_eta
    nxt = gd_next(f, theta, eta)
    ref = dense_segment_sup(f, theta, nxt, points=801)
    assert corollary1_lhs(f, theta, eta) <= ref + 1e-6 * max(1.0, abs(ref))
    seg = segment_sharpness(f, theta, nxt, points=17, tol=1e-10)
    assert seg.value <= ref + 1e-6 * max(1.0, abs(ref))


# -- bookkeeping --------------------------------------------------------------------------------


def test_segment_sharpness_reports_its_grid_and_work():
    f = quadratic(torch.diag(torch.tensor([2.0, 5.0, 40.0], dtype=torch.float64)))
    theta = torch.ones(3, dtype=torch.float64)
    seg = segment_sharpness(f, theta, theta - 0.01 * torch.func.grad(f)(theta), points=5)
    assert seg.s.tolist() == [0.0, 0.25, 0.5, 0.75, 1.0]
    assert seg.values.shape == (5,) and 0.0 <= seg.argmax <= 1.0
    assert seg.hvps >= 5 and seg.converged


@pytest.mark.parametrize(
    "bad, match",
    [
        (dict(theta_next=torch.ones(4, dtype=torch.float64)), "shape"),
        (dict(theta_next=torch.ones(3, dtype=torch.float32)), "dtype"),
        (dict(points=1), "points"),
    ],
)
def test_segment_sharpness_rejects_bad_input(bad, match):
    f = quadratic(torch.eye(3, dtype=torch.float64))
    args = dict(theta=torch.ones(3, dtype=torch.float64), theta_next=torch.zeros(3, dtype=torch.float64), points=3)
    args.update(bad)
    with pytest.raises(ValueError, match=match):
        segment_sharpness(f, **args)
