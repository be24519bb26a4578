import math

import pytest
import torch
from hypothesis import given, settings, strategies as st

from eos_support.diagnostics import (
    directional_smoothness,
    gd_step,
    relative_progress,
    rp_approximation,
    smoothness_profile,
    theorem2_rp,
)
from eos_support.toy import quadratic

from cases import random_spd, smooth_cost

seeds = st.integers(0, 10_000)
etas = st.floats(1e-3, 1.0)


def _point(d, seed):
    return torch.randn(d, generator=torch.Generator().manual_seed(seed + 1), dtype=torch.float64)


@settings(max_examples=25, deadline=None)
@given(seed=seeds, eta=etas, d=st.integers(1, 8))
def test_quadratic_closed_forms(seed, eta, d):
    P = random_spd(d, seed)
    f, theta = quadratic(P), _point(d, seed)
    g = P @ theta
    ds = float(g @ P @ g / (g @ g))
    assert relative_progress(f, theta, eta) == pytest.approx(-1 + eta / 2 * ds, rel=1e-10, abs=1e-12)
    v = _point(d, seed + 7)
    assert directional_smoothness(f, theta, v) == pytest.approx(float(v @ P @ v / (v @ v)), rel=1e-10)
    taus = torch.tensor([0.01, 0.3, 1.0], dtype=torch.float64)
    assert torch.allclose(smoothness_profile(f, theta, eta, taus), torch.full((3,), ds, dtype=torch.float64))
    step = gd_step(f, theta, eta)
    assert step.ds == pytest.approx(ds, rel=1e-10)
    assert step.rp == pytest.approx(rp_approximation(step.ds, eta), rel=1e-10, abs=1e-12)


@settings(max_examples=25, deadline=None)
@given(seed=seeds, eta=etas, d=st.integers(1, 12))
def test_theorem2_is_an_identity_in_float64(seed, eta, d):
    f, theta = smooth_cost(d, seed), _point(d, seed)
    rp = relative_progress(f, theta, eta)
    assert theorem2_rp(f, theta, eta, nodes=64) == pytest.approx(rp, rel=1e-10, abs=1e-12)


def test_profile_matches_definition_pointwise():
    f, theta, eta = smooth_cost(5, 3), _point(5, 3), 0.2
    taus = torch.linspace(0.05, 1, 7, dtype=torch.float64)
    g = torch.func.grad(f)(theta)
    slow = [directional_smoothness(f, theta, eta * float(t) * g) for t in taus]
    assert torch.allclose(smoothness_profile(f, theta, eta, taus), torch.tensor(slow, dtype=torch.float64))
    assert torch.allclose(smoothness_profile(f, theta, eta, taus, chunk_size=2), torch.tensor(slow, dtype=torch.float64))


def test_gd_step_matches_definitions():
    f, theta, eta = smooth_cost(6, 1), _point(6, 1), 0.1
    step = gd_step(f, theta, eta)
    g = torch.func.grad(f)(theta)
    assert step.rp == pytest.approx(relative_progress(f, theta, eta), rel=1e-12)
    assert step.ds == pytest.approx(directional_smoothness(f, theta, eta * g), rel=1e-10)
    assert torch.allclose(step.next_theta, theta - eta * g)
    assert step.loss == pytest.approx(float(f(theta)))


@pytest.mark.parametrize("eta", [0, -0.1, math.inf, math.nan, "big"])
def test_bad_step_size_is_named(eta):
    with pytest.raises(ValueError, match="step size"):
        relative_progress(quadratic(torch.eye(2)), torch.ones(2), eta)


def test_bad_inputs_are_named():
    f = quadratic(torch.eye(2))
    with pytest.raises(ValueError, match="1-D"):
        relative_progress(f, torch.ones(2, 1), 0.1)
    with pytest.raises(ValueError, match="scalar"):
        relative_progress(lambda t: t * 2, torch.ones(2), 0.1)
    with pytest.raises(ValueError, match="stationary point"):
        relative_progress(f, torch.zeros(2), 0.1)
    with pytest.raises(ValueError, match="stationary point"):
        theorem2_rp(f, torch.zeros(2), 0.1)
    with pytest.raises(ValueError, match="v = 0"):
        directional_smoothness(f, torch.ones(2), torch.zeros(2))
    with pytest.raises(ValueError, match="taus"):
        smoothness_profile(f, torch.ones(2), 0.1, [0.0, 0.5])
