import pytest
import torch
from hypothesis import given, settings, strategies as st

from eos_support.curvature import hessian, hvp, sharpness, top_eigen
from eos_support.objective import ModuleLoss
from eos_support.toy import example1, quadratic

from cases import random_spd, small_network, smooth_cost


@settings(max_examples=20, deadline=None)
@given(seed=st.integers(0, 10_000), d=st.integers(1, 30))
def test_sharpness_of_quadratics(seed, d):
    P = random_spd(d, seed)
    theta = torch.ones(d, dtype=torch.float64)
    assert sharpness(quadratic(P), theta, tol=1e-10) == pytest.approx(float(torch.linalg.eigvalsh(P)[-1]), rel=1e-8)


def test_two_dimensions_exhaust_the_krylov_space():
    eig = top_eigen(example1, torch.tensor([1.0, 1.0], dtype=torch.float64), iters=20)
    assert eig.value == pytest.approx(40.0, rel=1e-12)
    assert eig.converged and eig.hvps == 2
    assert abs(float(eig.vector[0])) == pytest.approx(1.0)


def test_invariant_start_vector_breaks_down_cleanly():
    # v0 is an eigenvector of the small eigenvalue: Lanczos must restart, not stop at 2.
    P = torch.diag(torch.tensor([2.0, 5.0, 40.0], dtype=torch.float64))
    eig = top_eigen(quadratic(P), torch.ones(3, dtype=torch.float64), v0=torch.tensor([1.0, 0, 0]))
    assert eig.value == pytest.approx(40.0, rel=1e-12)


def test_negative_definite_hessian():
    P = -random_spd(6, 4)
    assert sharpness(quadratic(P), torch.ones(6, dtype=torch.float64), tol=1e-10) == pytest.approx(
        float(torch.linalg.eigvalsh(P)[-1]), rel=1e-8
    )


def test_network_sharpness_against_dense_hessian():
    model, x, y = small_network()
    f = ModuleLoss(model, x, y, "ce")
    theta = f.theta0
    H = hessian(f, theta)
    assert torch.allclose(H, H.T, atol=1e-12)
    eig = top_eigen(f, theta, iters=30, tol=1e-10)
    assert eig.value == pytest.approx(float(torch.linalg.eigvalsh(H)[-1]), rel=1e-6)
    assert torch.allclose(H @ eig.vector, eig.value * eig.vector, atol=1e-6 * abs(eig.value))


def test_hvp_matches_dense_hessian():
    f = smooth_cost(7, 2)
    theta, v = torch.randn(7, dtype=torch.float64), torch.randn(7, dtype=torch.float64)
    assert torch.allclose(hvp(f, theta, v), hessian(f, theta) @ v)


def test_warm_start_needs_fewer_products():
    model, x, y = small_network(activation=torch.nn.ReLU)
    f = ModuleLoss(model, x, y, "ce")
    theta = f.theta0
    cold = top_eigen(f, theta, iters=8, tol=1e-8)
    nearby = theta + 1e-3 * torch.randn_like(theta)
    warm = top_eigen(f, nearby, iters=8, tol=1e-8, v0=cold.vector)
    assert warm.converged and warm.hvps <= top_eigen(f, nearby, iters=8, tol=1e-8).hvps


def test_bad_warm_start_is_named():
    with pytest.raises(ValueError, match="warm start"):
        top_eigen(example1, torch.ones(2), v0=torch.ones(3))
