"""eos_support.stationary: Newton, saddle-free Newton and GD's linearisation, against closed forms."""

import pytest
import torch
from torch.func import grad, hessian

from eos_support.stationary import Stability, newton, saddle_free_newton, stability, stability_table
from eos_support.toy import TwoWells

F64 = torch.float64


def double_well(theta):
    """x⁴/4 − x²/2 + y²/2: a saddle at (0, 0), minima at (±1, 0) with Hessian diag(2, 1), f = −1/4."""
    x, y = theta[0], theta[1]
    return x**4 / 4 - x**2 / 2 + y**2 / 2


def rosenbrock(theta):
    return (1 - theta[0]) ** 2 + 100 * (theta[1] - theta[0] ** 2) ** 2


@pytest.mark.parametrize("start, expected", [((0.1, 0.3), (0.0, 0.0)), ((0.9, -0.2), (1.0, 0.0)),
                                             ((-1.3, 0.5), (-1.0, 0.0))])
def test_newton_finds_the_nearest_stationary_point_of_any_kind(start, expected):
    p = newton(double_well, torch.tensor(start, dtype=F64))
    torch.testing.assert_close(p, torch.tensor(expected, dtype=F64), rtol=0, atol=1e-15)


def test_newton_reproduces_two_wells_stationary_points():
    f = TwoWells()
    points = f.stationary_points()
    for name, x0 in (("sharp minimum", -1.0), ("saddle", -0.4), ("flat minimum", 1.0)):
        assert torch.equal(newton(f, torch.tensor([x0, 0.0], dtype=F64)), points[name])


def test_saddle_free_newton_leaves_a_saddle_for_a_minimum():
    """Started exactly at the saddle, plain Newton stays; the saddle-free variant finds a minimum."""
    at_saddle = torch.zeros(2, dtype=F64)
    assert torch.equal(newton(double_well, at_saddle), at_saddle)
    p = saddle_free_newton(double_well, at_saddle)
    assert abs(abs(p[0].item()) - 1) < 1e-9 and abs(p[1].item()) < 1e-9  # stops at ‖∇f‖ < 1e-10
    assert double_well(p).item() == pytest.approx(-0.25, abs=1e-15)
    assert (torch.linalg.eigvalsh(hessian(double_well)(p)) > 0).all()


def test_saddle_free_newton_descends_to_the_rosenbrock_minimum():
    p = saddle_free_newton(rosenbrock, torch.tensor([-1.2, 1.0], dtype=F64))
    torch.testing.assert_close(p, torch.ones(2, dtype=F64), rtol=0, atol=1e-8)
    assert grad(rosenbrock)(p).norm() < 1e-10


def test_stability_of_a_quadratic_is_its_closed_form():
    """f = ½θᵀPθ, P = diag(3, −1): DF = I − ηP has eigenvalues 1 − 3η and 1 + η."""
    P = torch.diag(torch.tensor([3.0, -1.0], dtype=F64))
    s = stability(lambda th: 0.5 * th @ P @ th, {"origin": torch.zeros(2, dtype=F64)})["origin"]
    assert isinstance(s, Stability) and s.grad_norm == 0.0
    torch.testing.assert_close(s.eigenvalues, torch.tensor([-1.0, 3.0], dtype=F64))
    torch.testing.assert_close(s.multipliers(0.5), torch.tensor([1.5, -0.5], dtype=F64))
    assert s.spectral_radius(0.5) == pytest.approx(1.5)
    assert s.spectral_radius(0.9) == pytest.approx(1.9)  # |1 − 2.7| = 1.7 < 1 + 0.9


def test_stability_at_two_wells_follows_theorem1():
    f = TwoWells()
    linear = stability(f, f.stationary_points())
    assert list(linear) == ["sharp minimum", "saddle", "flat minimum"]
    assert all(s.grad_norm < 1e-12 for s in linear.values())
    assert linear["sharp minimum"].spectral_radius(0.1) < 1 < linear["sharp minimum"].spectral_radius(0.25)
    assert linear["saddle"].spectral_radius(0.1) > 1
    assert linear["flat minimum"].spectral_radius(0.5) < 1


def test_stability_table_has_a_row_per_point_and_a_verdict_per_eta():
    f = TwoWells()
    table = stability_table(stability(f, f.stationary_points()), (0.1, 0.25))
    lines = table.splitlines()
    assert len(lines) == 2 + 3
    assert lines[0].count("|") == 4 + 2 + 1
    sharp = next(line for line in lines if line.startswith("| sharp minimum"))
    assert "(attracts)" in sharp and "(**repels**)" in sharp
