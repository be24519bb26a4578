"""RP_u and Theorem 2 along any update u (eos_support.diagnostics.along)."""

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from cases import random_spd, small_network, smooth_cost
from eos_support.diagnostics import directional_smoothness, relative_progress
from eos_support.diagnostics.along import progress_along, relative_progress_along, theorem2_rp_along
from eos_support.diagnostics.objective import ModuleLoss
from eos_support.examples.toy import quadratic

seeds = st.integers(0, 10_000)


def _vector(d, seed, scale=1.0):
    return scale * torch.randn(d, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)


@settings(max_examples=25, deadline=None)
@given(seed=seeds, d=st.integers(1, 8), scale=st.floats(1e-3, 2.0))
def test_quadratic_closed_forms_for_any_u(seed, d, scale):
    # f = ½θᵀAθ: RP_u = −1 + uᵀAu / (2⟨g, u⟩) and L(θ; u) = uᵀAu/‖u‖², for descent and ascent directions u
    A = random_spd(d, seed)
    f, theta, u = quadratic(A), _vector(d, seed + 1), _vector(d, seed + 2, scale)
    g = A @ theta
    expected = -1 + float(u @ A @ u) / (2 * float(g @ u))
    assert relative_progress_along(f, theta, u) == pytest.approx(expected, rel=1e-9, abs=1e-9)
    assert theorem2_rp_along(f, theta, u) == pytest.approx(expected, rel=1e-9, abs=1e-9)
    rp, ds, eta_u = progress_along(f(theta), g, f(theta - u), A @ (theta - u), u)
    assert float(rp) == pytest.approx(expected, rel=1e-9, abs=1e-9)
    assert float(ds) == pytest.approx(float(u @ A @ u / (u @ u)), rel=1e-10)
    # on a quadratic L is constant along u, so (4.3) along u is exact: RP_u = −1 + (η_u/2)·L(θ; u)
    assert float(eta_u) == pytest.approx(float(u @ u / (g @ u)), rel=1e-12)
    assert float(rp) == pytest.approx(-1 + float(eta_u * ds) / 2, rel=1e-9, abs=1e-9)


@settings(max_examples=25, deadline=None)
@given(seed=seeds, d=st.integers(1, 12), scale=st.floats(1e-2, 1.0))
def test_theorem2_along_any_u_is_an_identity_in_float64(seed, d, scale):
    f, theta, u = smooth_cost(d, seed), _vector(d, seed + 1), _vector(d, seed + 2, scale)
    assert theorem2_rp_along(f, theta, u, nodes=64) == pytest.approx(
        relative_progress_along(f, theta, u), rel=1e-8, abs=1e-10
    )


def test_theorem2_along_a_momentum_update_of_a_network():
    model, x, y = small_network()
    f = ModuleLoss(model, x, y)
    theta = f.theta0
    g = torch.func.grad(f)(theta)
    u = 0.5 * g + 0.4 * _vector(len(theta), 3, 0.1)  # a step plus momentum: not a multiple of ∇f
    rp = relative_progress_along(f, theta, u)
    assert theorem2_rp_along(f, theta, u, chunk_size=16) == pytest.approx(rp, rel=1e-8, abs=1e-10)


def test_definition_1_is_the_special_case_u_equals_eta_grad():
    f, theta, eta = smooth_cost(6, 1), _vector(6, 1), 0.2
    u = eta * torch.func.grad(f)(theta)
    assert relative_progress_along(f, theta, u) == pytest.approx(relative_progress(f, theta, eta), rel=1e-12)
    _, ds, eta_u = progress_along(f(theta), u / eta, f(theta - u), torch.func.grad(f)(theta - u), u)
    assert float(ds) == pytest.approx(directional_smoothness(f, theta, u), rel=1e-12)
    assert float(eta_u) == pytest.approx(eta, rel=1e-12)  # the effective step of GD is its step size


def test_small_descent_step_gives_minus_one():
    f, theta = smooth_cost(5, 2), _vector(5, 2)
    assert relative_progress_along(f, theta, 1e-6 * torch.func.grad(f)(theta)) == pytest.approx(-1, abs=1e-5)


def test_undefined_values_are_nan_or_named_errors():
    A = torch.diag(torch.tensor([1.0, 3.0], dtype=torch.float64))
    f, theta = quadratic(A), torch.tensor([1.0, 0.0], dtype=torch.float64)
    g = A @ theta
    zero, orthogonal = torch.zeros(2, dtype=torch.float64), torch.tensor([0.0, 0.5], dtype=torch.float64)
    rp, ds, eta_u = progress_along(f(theta), g, f(theta), g, zero)
    assert rp.isnan() and ds.isnan() and eta_u.isnan()
    rp, ds, eta_u = progress_along(f(theta), g, f(theta - orthogonal), A @ (theta - orthogonal), orthogonal)
    assert rp.isnan() and eta_u.isnan() and float(ds) == pytest.approx(3.0)
    with pytest.raises(ValueError, match="undefined"):
        relative_progress_along(f, theta, orthogonal)
    with pytest.raises(ValueError, match="undefined"):
        theorem2_rp_along(f, theta, zero)
    with pytest.raises(ValueError, match="shape"):
        relative_progress_along(f, theta, torch.ones(3))
