import math

import pytest
import torch
from hypothesis import example, given, settings
from hypothesis import strategies as st

from cases import random_spd, smooth_cost
from eos_support.diagnostics import (
    directional_smoothness,
    gd_step,
    relative_progress,
    rp_approximation,
    smoothness_profile,
    theorem2_rp,
)
from eos_support.diagnostics.sgd import expected_relative_progress
from eos_support.examples.toy import quadratic

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
@example(seed=1061, eta=1.0, d=1)
def test_theorem2_is_an_identity_in_float64(seed, eta, d):
    f, theta = smooth_cost(d, seed), _point(d, seed)
    step = gd_step(f, theta, eta)
    # Definition 1 subtracts two losses: rounding leaves RP an absolute error of a few ulps of the
    # losses over η‖∇f‖², large where the gradient is tiny (seed 1061, d = 1: ‖∇f‖ = 5e-5).
    rounding = 8 * 2**-52 * (abs(step.loss) + abs(step.next_loss)) / (eta * step.grad_norm_sq)
    assert theorem2_rp(f, theta, eta, nodes=64) == pytest.approx(step.rp, rel=1e-10, abs=1e-12 + rounding)


def test_profile_matches_definition_pointwise():
    f, theta, eta = smooth_cost(5, 3), _point(5, 3), 0.2
    taus = torch.linspace(0.05, 1, 7, dtype=torch.float64)
    g = torch.func.grad(f)(theta)
    slow = [directional_smoothness(f, theta, eta * float(t) * g) for t in taus]
    assert torch.allclose(smoothness_profile(f, theta, eta, taus), torch.tensor(slow, dtype=torch.float64))
    assert torch.allclose(
        smoothness_profile(f, theta, eta, taus, chunk_size=2), torch.tensor(slow, dtype=torch.float64)
    )


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
    with pytest.raises(ValueError, match=r"v must have theta's shape, dtype.*got \(\(2,\), torch.float64"):
        directional_smoothness(f, torch.ones(2), torch.ones(2, dtype=torch.float64))  # was torch's dot error
    with pytest.raises(ValueError, match="taus"):
        smoothness_profile(f, torch.ones(2), 0.1, [0.0, 0.5])


# -- non-finite points and steps (issue 10, item 3): say what is wrong, never "stationary point" ---


def _sgd_samples(theta):
    g = theta.clone()  # the gradient of ½‖θ‖²
    return torch.stack([g + 0.1, g - 0.1, g + 0.2, g - 0.2])


RP_LIKE = {
    "relative_progress": lambda f, theta, eta: relative_progress(f, theta, eta),
    "gd_step": lambda f, theta, eta: gd_step(f, theta, eta),
    "smoothness_profile": lambda f, theta, eta: smoothness_profile(f, theta, eta, [0.5, 1.0]),
    "theorem2_rp": lambda f, theta, eta: theorem2_rp(f, theta, eta, nodes=8),
    "expected_relative_progress": lambda f, theta, eta: expected_relative_progress(f, theta, eta, _sgd_samples),
    "directional_smoothness": lambda f, theta, eta: directional_smoothness(f, theta, eta * theta),
}


@pytest.mark.parametrize("name", sorted(RP_LIKE))
def test_non_finite_theta_is_named(name):
    theta = torch.tensor([1.0, math.nan], dtype=torch.float64)
    with pytest.raises(ValueError, match="theta is not finite \\(1 of its 2 entries are NaN or inf\\)"):
        RP_LIKE[name](quadratic(torch.eye(2)), theta, 0.1)


@pytest.mark.parametrize("name", sorted(set(RP_LIKE) - {"directional_smoothness"}))
def test_non_finite_loss_is_named(name):
    def f(theta):
        return 0.5 * (theta @ theta) * torch.tensor(math.nan, dtype=theta.dtype)

    # RP and E[RP] read f(θ) and name it; the profile and (4.2) only use ∇f(θ), NaN as well
    with pytest.raises(ValueError, match="loss f\\(θ\\) = nan is not finite|gradient ∇f\\(θ\\) is not finite"):
        RP_LIKE[name](f, torch.ones(2, dtype=torch.float64), 0.1)


@pytest.mark.parametrize("name", sorted(RP_LIKE))
def test_non_finite_gradient_is_named(name):
    # f(θ) = Σ √θᵢ is finite at θ = (0, 1) but its gradient is not.
    with pytest.raises(ValueError, match="gradient ∇f\\(θ\\) is not finite at this θ \\(1 of its 2"):
        RP_LIKE[name](lambda t: torch.sqrt(t).sum(), torch.tensor([0.0, 1.0], dtype=torch.float64), 0.1)


@pytest.mark.parametrize("name", sorted(set(RP_LIKE) - {"directional_smoothness"}))
def test_too_large_a_step_is_named(name):
    # f = Σ θᵢ⁴ in float32: f and ∇f at θ − 1e20·∇f(θ) overflow, and used to give inf or NaN.
    with pytest.raises(ValueError, match="step θ − η.* with eta=1e\\+20 is too large for this θ"):
        RP_LIKE[name](lambda t: (t**4).sum(), torch.ones(2), 1e20)


def test_the_issues_overflowing_step():
    # The issue's case: RP of ½‖θ‖² in float32 at η = 1e38 came back NaN (f(θ⁺) = inf).
    with pytest.raises(ValueError, match="eta=1e\\+38 is too large for this θ.*float64"):
        relative_progress(quadratic(torch.eye(2)), torch.ones(2), 1e38)


def test_too_long_a_direction_is_named():
    f = lambda t: torch.exp(t).sum()  # noqa: E731
    theta = torch.zeros(2, dtype=torch.float64)
    with pytest.raises(ValueError, match="step θ − v is too large"):
        directional_smoothness(f, theta, torch.full((2,), -1000.0, dtype=torch.float64))
    with pytest.raises(ValueError, match="v is not finite"):
        directional_smoothness(f, theta, torch.tensor([math.inf, 1.0], dtype=torch.float64))


def test_a_huge_finite_step_is_still_a_result():
    # The same η in float64 stays finite: RP is the closed form −1 + (η/2) gᵀPg/‖g‖², no error.
    P = torch.diag(torch.tensor([1.0, 3.0], dtype=torch.float64))
    theta = torch.ones(2, dtype=torch.float64)
    g = P @ theta
    expected = -1 + 1e38 / 2 * float(g @ P @ g / (g @ g))
    assert relative_progress(quadratic(P), theta, 1e38) == pytest.approx(expected, rel=1e-12)


def test_directional_smoothness_at_a_stationary_point_is_defined():
    # L(θ; v) divides by ‖v‖², not ‖∇f(θ)‖²: a minimum is a fine place to evaluate it.
    P = torch.diag(torch.tensor([1.0, 3.0], dtype=torch.float64))
    v = torch.tensor([0.0, 1.0], dtype=torch.float64)
    assert directional_smoothness(quadratic(P), torch.zeros(2, dtype=torch.float64), v) == pytest.approx(3.0)
