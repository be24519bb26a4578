"""eos_support.examples.stationary: Newton, saddle-free Newton and GD's linearisation, against closed forms."""

import math

import mpmath
import pytest
import torch
from torch.func import grad, hessian

from eos_support.examples.stationary import (
    SaddleManifold,
    Stability,
    gd_mp,
    newton,
    newton_mp,
    saddle_free_newton,
    saddle_manifold,
    spectral_radii,
    stability,
    stability_table,
)
from eos_support.examples.toy import TwoWells
from histories import table_rows

F64 = torch.float64


def double_well(theta):
    """x⁴/4 − x²/2 + y²/2: a saddle at (0, 0), minima at (±1, 0) with Hessian diag(2, 1), f = −1/4."""
    x, y = theta[0], theta[1]
    return x**4 / 4 - x**2 / 2 + y**2 / 2


def rosenbrock(theta):
    return (1 - theta[0]) ** 2 + 100 * (theta[1] - theta[0] ** 2) ** 2


@pytest.mark.parametrize(
    "start, expected", [((0.1, 0.3), (0.0, 0.0)), ((0.9, -0.2), (1.0, 0.0)), ((-1.3, 0.5), (-1.0, 0.0))]
)
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
    rows = table_rows(table)
    assert len(rows) == 1 + 3 and all(len(row) == 4 + 2 for row in rows)
    sharp = next(row for row in rows if row[0] == "sharp minimum")
    assert "(attracts)" in sharp[4] and "(**repels**)" in sharp[5]


def quadratic_saddle_gradient(p):
    """∇f of the separable saddle f = −x²/2 + y²: unstable along x (λ = −1), stable along y (λ = 2)."""
    return [-p[0], 2 * p[1]]


def quadratic_saddle_hessian(p):
    return [[mpmath.mpf(-1), mpmath.mpf(0)], [mpmath.mpf(0), mpmath.mpf(2)]]


def test_newton_mp_finds_the_saddles_in_working_precision():
    with mpmath.workdps(40):
        assert newton_mp(quadratic_saddle_gradient, quadratic_saddle_hessian, (0.3, -0.2)) == [0, 0]
        f = TwoWells()
        p = newton_mp(f.gradient_mp, f.hessian_mp, (-0.4, 0.0))
        assert max(abs(g) for g in f.gradient_mp(p)) < mpmath.mpf(10) ** -38
    saddle = TwoWells().stationary_points()["saddle"]
    assert abs(float(p[0]) - saddle[0].item()) < 1e-15 and p[1] == 0


def test_gd_mp_is_the_closed_form_on_a_quadratic():
    with mpmath.workdps(30):
        x, y = gd_mp(quadratic_saddle_gradient, (mpmath.mpf("1e-8"), 1), 0.25, 40)
        assert abs(x / (mpmath.mpf("1e-8") * mpmath.mpf(1.25) ** 40) - 1) < mpmath.mpf(10) ** -27
        assert abs(y - mpmath.mpf(0.5) ** 40) < mpmath.mpf(10) ** -40


def test_saddle_manifold_of_a_separable_quadratic_saddle():
    """On the manifold x = 0 GD converges to the saddle (y shrinks by 1 − 2η); 1e-8 off it, x grows by 1 + η."""
    r = saddle_manifold(quadratic_saddle_gradient, quadratic_saddle_hessian, (0.3, 0.1), (0.1, 0.25), 200, 1e-8, 30)
    assert isinstance(r, SaddleManifold) and r.saddle == (0.0, 0.0) and r.eigenvalues == (-1.0, 2.0)
    assert r.on[0.1] == pytest.approx(0.8**200) and r.on[0.25] == pytest.approx(0.5**200)
    assert r.off[0.1] == pytest.approx(1e-8 * 1.1**200, rel=1e-6) and r.off[0.25] > 1e10
    assert r.holds(near=1e-6, far=0.1) and not r.holds(near=1e-30, far=0.1)
    assert r.reading()["η = 0.25"] == {"on: max distance": r.on[0.25], "off: min distance": r.off[0.25]}
    assert r.escape_steps(0.25, 1e-6) == pytest.approx(24 / math.log10(1.25))  # 30 digits − 6 at 1.25 per step


def test_saddle_manifold_of_two_wells_needs_the_digits_that_the_growth_eats():
    """At η = 0.5 the saddle's unstable multiplier is 2.87: 200 steps multiply the rounding error of ∇f
    by 1e91.5, so 50 digits lose the manifold while 120 keep it; the starts 1e-8 off it escape either way."""
    f = TwoWells()
    low, high = (
        saddle_manifold(f.gradient_mp, f.hessian_mp, (-0.4, 0.0), (0.5,), 200, 1e-8, digits) for digits in (50, 120)
    )
    assert high.on[0.5] < 1e-6 < 0.1 < low.on[0.5]
    assert min(low.off[0.5], high.off[0.5]) > 0.1 and high.holds(1e-6, 0.1) and not low.holds(1e-6, 0.1)
    assert high.eigenvalues[0] == pytest.approx(-3.735966, abs=1e-6) and high.digits == 120 and high.steps == 200


def test_saddle_manifold_recomputes_the_deciding_starts_perturbed_at_the_working_precision():
    """Off the manifold x = 1e-8 grows by 1 + η: a relative perturbation of 1e-30 moves it by about 1e-30
    relative; on it y shrinks and x = 0 stays 0, so the statistic keeps its value."""
    r = saddle_manifold(
        quadratic_saddle_gradient, quadratic_saddle_hessian, (0.3, 0.1), (0.1, 0.25), 200, 1e-8, 30, draws=3
    )
    for eta in (0.1, 0.25):
        assert len(r.on_rounding[eta]) == len(r.off_rounding[eta]) == 3
        assert r.on_rounding[eta] == pytest.approx([r.on[eta]] * 3, rel=1e-12)
        assert r.off_rounding[eta] == pytest.approx([r.off[eta]] * 3, rel=1e-25)
    assert saddle_manifold(
        quadratic_saddle_gradient, quadratic_saddle_hessian, (0.3, 0.1), (0.1,), 5, 1e-8, 30
    ).on_rounding == {0.1: []}


def test_spectral_radii_at_the_points_and_their_perturbed_copies():
    f = TwoWells()
    points = f.stationary_points()
    radii = spectral_radii(f, points, (0.25, 0.5), draws=2)
    linear = stability(f, points)
    for eta in (0.25, 0.5):
        for name, values in radii[eta].items():
            assert len(values) == 3 and values[0] == linear[name].spectral_radius(eta)
            assert max(abs(v - values[0]) for v in values) < 1e-12
