"""eos_support.examples.toy: the paper's small costs, plain GD and basin maps, against closed forms."""

import mpmath
import pytest
import torch
from torch.func import grad, hessian, vmap

from eos_support.book.criteria.rounding import with_perturbed
from eos_support.examples.toy import (
    DIVERGED,
    ELSEWHERE,
    TwoWells,
    arrivals,
    basins,
    eta_sweep,
    example1,
    example2,
    example3_linear,
    example3_tanh,
    gd,
    gd_batch,
    quadratic,
    random_quadratic,
    smoothness_along_gd,
    smoothness_at_end,
    sublevel_escape,
    threshold_sweep,
    threshold_sweeps,
)

F64 = torch.float64


@pytest.mark.parametrize("k", [39, 40, 41])
def test_example1_theta1_multiplied_by_one_minus_40_eta(k):
    """GD on 20θ1² + θ2² multiplies θ1 by (1 − 40η) and θ2 by (1 − 2η) at every step."""
    eta, steps = 2 / k, 50
    theta0 = torch.tensor([0.7, -1.3], dtype=F64)
    run = gd(example1, theta0, eta, steps)
    t = torch.arange(steps + 1, dtype=F64)
    torch.testing.assert_close(run[:, 0], theta0[0] * (1 - 40 * eta) ** t, rtol=1e-12, atol=0)
    torch.testing.assert_close(run[:, 1], theta0[1] * (1 - 2 * eta) ** t, rtol=1e-12, atol=0)


def test_quadratic_matches_example1_and_its_gradient():
    theta = torch.tensor([0.3, -2.0], dtype=F64)
    f = quadratic(torch.diag(torch.tensor([40.0, 2.0], dtype=F64)))
    assert f(theta).item() == pytest.approx(example1(theta).item(), rel=1e-15)
    q = torch.tensor([1.0, -1.0], dtype=F64)
    g = grad(quadratic(torch.eye(2, dtype=F64), q=q, r=3.0))(theta)
    torch.testing.assert_close(g, theta + q)


def test_quadratic_rejects_non_square_matrix():
    with pytest.raises(ValueError, match="square"):
        quadratic(torch.ones(2, 3))


def test_examples_2_and_3_values():
    theta = torch.tensor([0.5, 0.25], dtype=F64)
    assert example2(theta).item() == pytest.approx(torch.tanh(torch.tensor(5.0625)).item())
    assert example3_linear(theta).item() == pytest.approx(0.125**2)
    assert example3_tanh(theta).item() == pytest.approx((0.5 * torch.tanh(torch.tensor(0.25)).item()) ** 2)


def test_example3_valley_sharpness_is_two_theta1_squared():
    """At (θ1, 0) both one-neuron costs have Hessian diag(0, 2θ1²)."""
    for f in (example3_linear, example3_tanh):
        H = hessian(f)(torch.tensor([13.0, 0.0], dtype=F64))
        torch.testing.assert_close(H, torch.diag(torch.tensor([0.0, 338.0], dtype=F64)))


def test_two_wells_stationary_points_are_stationary_and_classified():
    f = TwoWells()
    points = f.stationary_points()
    assert list(points) == ["sharp minimum", "saddle", "flat minimum"]
    for p in points.values():
        assert grad(f)(p).norm().item() < 1e-12
    eig = {name: torch.linalg.eigvalsh(hessian(f)(p)) for name, p in points.items()}
    assert (eig["sharp minimum"] > 0).all() and (eig["flat minimum"] > 0).all()
    assert eig["saddle"][0] < 0 < eig["saddle"][1]
    # the docstring's claim: the well near x = -1 is sharp, the one near x = +1 flat
    assert eig["sharp minimum"][-1] > 5 * eig["flat minimum"][-1]
    assert points["sharp minimum"][0] < points["saddle"][0] < points["flat minimum"][0]


@pytest.mark.parametrize("point", [(-1.2, 0.7), (-0.3, -1.5), (0.9, 0.2), (2.5, -0.4)])
def test_two_wells_mpmath_derivatives_are_torchs_in_float64(point):
    """The analytic gradient and Hessian in mpmath (Theorem 1's saddle claim) agree with autograd's."""
    f, theta = TwoWells(), torch.tensor(point, dtype=F64)
    with mpmath.workdps(30):
        p = [mpmath.mpf(v) for v in point]
        g, H = f.gradient_mp(p), f.hessian_mp(p)
        g = torch.tensor([float(v) for v in g], dtype=F64)
        H = torch.tensor([[float(v) for v in row] for row in H], dtype=F64)
    torch.testing.assert_close(g, grad(f)(theta), rtol=1e-13, atol=1e-15)
    torch.testing.assert_close(H, hessian(f)(theta), rtol=1e-13, atol=1e-15)


def test_gd_stops_on_divergence_and_keeps_the_last_iterate():
    run = gd(example1, torch.tensor([1.0, 0.0], dtype=F64), 2 / 39, 10_000, bound=1e6)
    assert len(run) < 10_001
    assert run[-1].norm().item() > 1e6
    assert (run[:-1].norm(dim=1) <= 1e6).all()
    overflow = gd(lambda th: torch.exp(th[0] ** 2), torch.tensor([3.0, 0.0], dtype=F64), 1.0, 100)
    assert len(overflow) < 101 and not torch.isfinite(overflow[-1]).all()
    assert torch.isfinite(overflow[:-1]).all()  # it stops at the first non-finite iterate


def test_gd_zero_steps_and_bad_input():
    theta0 = torch.tensor([1.0, 2.0], dtype=F64)
    assert torch.equal(gd(example1, theta0, 0.01, 0), theta0[None])
    with pytest.raises(ValueError, match="eta"):
        gd(example1, theta0, -0.1, 5)
    with pytest.raises(ValueError, match="1-D"):
        gd(example1, theta0[None], 0.1, 5)
    with pytest.raises(ValueError, match="steps"):
        gd(example1, theta0, 0.1, -1)


def _slow_label(f, points, start, eta, steps, tol):
    run = gd(f, start, eta, steps)
    if len(run) < steps + 1:
        return DIVERGED
    dist = torch.stack([(run[-1] - p).norm() for p in points])
    return int(dist.argmin()) if dist.min() <= tol else ELSEWHERE


@pytest.mark.parametrize("eta", [0.1, 0.25, 0.5])
def test_basins_agree_with_a_loop_of_gd_runs(eta):
    f = TwoWells()
    points = list(f.stationary_points().values())
    starts = torch.tensor([[-1.2, 0.5], [-0.8, -1.0], [0.3, 1.5], [2.5, -0.4], [-2.8, 1.9]], dtype=F64)
    labels = basins(f, points, starts, eta, 300, tol=1e-6)
    expected = [_slow_label(f, points, s, eta, 300, 1e-6) for s in starts]
    assert labels.tolist() == expected
    assert labels.dtype == torch.long


def test_basins_labels_each_outcome():
    """Converged (index into a dict's values), bounded elsewhere, and diverged."""
    points = {"origin": torch.zeros(2, dtype=F64)}
    starts = torch.tensor([[0.5, 0.5], [1.0, 0.0]], dtype=F64)
    # Example 1 at η = 2/41 converges; at η = 2/40 θ1 oscillates forever; at 2/39 it diverges
    assert basins(example1, points, starts, 2 / 41, 2000).tolist() == [0, 0]
    assert basins(example1, points, starts, 2 / 40, 2000).tolist() == [ELSEWHERE, ELSEWHERE]
    assert basins(example1, points, starts, 2 / 39, 2000, bound=1e8).tolist() == [DIVERGED, DIVERGED]


def test_basins_rejects_bad_shapes():
    with pytest.raises(ValueError, match="grid"):
        basins(example1, torch.zeros(1, 2), torch.zeros(2), 0.1, 3)
    with pytest.raises(ValueError, match="points"):
        basins(example1, torch.zeros(1, 3), torch.zeros(4, 2), 0.1, 3)


def test_random_quadratic_has_the_given_spectrum_and_the_chapters_eigenvectors():
    lams = torch.linspace(0.5, 10.0, 10, dtype=F64)
    P = random_quadratic(lams, seed=0)
    torch.testing.assert_close(P, P.T)
    torch.testing.assert_close(torch.linalg.eigvalsh(P), lams, rtol=0, atol=1e-12)
    # the chapter's former code, with float64 as its default dtype
    gen = torch.Generator().manual_seed(0)
    Q, _ = torch.linalg.qr(torch.randn(10, 10, generator=gen, dtype=F64))
    assert torch.equal(P, Q @ torch.diag(lams) @ Q.T)


def test_eta_sweep_against_the_closed_form_of_fact1():
    """‖θᵀ‖ = ‖(I − ηP)ᵀθ⁰‖: diverged iff λ_max(P) > 2/η on a convex quadratic; any η on a non-convex one."""
    lams = torch.tensor([0.5, 2.0, 4.0], dtype=F64)
    P = random_quadratic(lams, seed=3)
    theta0 = torch.tensor([1.0, -0.5, 0.25], dtype=F64)
    etas = torch.tensor([0.3, 0.4, 0.45, 0.55, 0.6], dtype=F64)
    diverged, converged = eta_sweep(P, theta0, etas, 200)
    assert diverged.tolist() == [False, False, False, True, True]
    assert converged.tolist() == [True, True, True, False, False]
    for eta, d in zip(etas, diverged):
        exact = torch.linalg.matrix_power(torch.eye(3, dtype=F64) - eta * P, 200) @ theta0
        assert bool(d) == bool(exact.norm() / theta0.norm() > 1e3)
    negative = random_quadratic(torch.tensor([-0.5, 2.0, 4.0], dtype=F64), seed=3)
    assert eta_sweep(negative, theta0, etas[:3], 200)[0].all()


def test_threshold_sweep_reads_fact1_off_the_sweep():
    """The step sizes are s·2/λ_max; agreement and divergence below the threshold are shares of them."""
    lams = torch.tensor([0.5, 2.0, 4.0], dtype=F64)
    theta0 = torch.tensor([1.0, -0.5, 0.25], dtype=F64)
    scales = torch.tensor([0.8, 0.9, 1.1, 1.2], dtype=F64)
    convex = threshold_sweep(random_quadratic(lams, seed=3), theta0, scales, 300)
    torch.testing.assert_close(convex.etas, scales * 2 / 4.0)
    assert convex.above.tolist() == [False, False, True, True] and convex.diverged.tolist() == convex.above.tolist()
    assert convex.agreement() == 1.0 and convex.diverged_below() == 0.0
    negative = threshold_sweep(random_quadratic(torch.tensor([-0.5, 2.0, 4.0], dtype=F64), seed=3), theta0, scales, 300)
    assert negative.diverged_below() == 1.0 and negative.agreement() == 0.5  # diverged below the threshold too
    short = threshold_sweep(random_quadratic(lams, seed=3), theta0, scales, 3)  # too few steps to converge
    assert short.agreement() < 1.0


def test_smoothness_along_gd_is_the_rayleigh_quotient_on_a_quadratic():
    """On ½θᵀPθ, L(θ; η∇f) = gᵀPg/‖g‖² with g = Pθ (Example 4)."""
    P = random_quadratic(torch.tensor([1.0, 3.0, 5.0], dtype=F64), seed=1)
    theta0 = torch.tensor([0.3, -1.0, 2.0], dtype=F64)
    ds = smoothness_along_gd(quadratic(P), theta0, 0.4, 6)
    run = gd(quadratic(P), theta0, 0.4, 6)
    g = run @ P
    torch.testing.assert_close(ds, ((g @ P) * g).sum(1) / (g * g).sum(1), rtol=1e-12, atol=0)
    assert ds.dtype == F64 and len(ds) == 7


def test_sublevel_escape_against_the_quadratics_closed_form():
    """One GD step on 20θ1² + θ2² scales θ1 by 1 − 40η and θ2 by 1 − 2η: q(F(θ))/q(θ) is at most the
    larger square, and the sample comes close to it; the tanh cost maps the set into itself."""
    eta, R = 2 / 39, 1.2
    bound = max((1 - 40 * eta) ** 2, (1 - 2 * eta) ** 2)
    escape = sublevel_escape(example1, eta, R, samples=20_000, dtype=F64)
    assert 0.98 * bound < escape <= bound * (1 + 1e-12)
    assert sublevel_escape(example2, eta, R, samples=20_000, dtype=F64) <= 1


def test_sublevel_escape_is_the_chapters_former_code():
    eta, R = 2 / 39, 1.2
    gen = torch.Generator().manual_seed(2)
    radius = torch.rand(5000, generator=gen, dtype=F64).sqrt()
    angle = 2 * torch.pi * torch.rand(5000, generator=gen, dtype=F64)
    cloud = torch.stack([radius * angle.cos() * (R / 20) ** 0.5, radius * angle.sin() * R**0.5], dim=1)
    stepped = cloud - eta * vmap(grad(example2))(cloud)
    expected = ((20 * stepped[:, 0] ** 2 + stepped[:, 1] ** 2) / R).max().item()
    assert sublevel_escape(example2, eta, R, samples=5000, dtype=F64) == expected


@pytest.mark.parametrize("f, eta", [(example1, 2 / 39), (TwoWells(), 0.25)])
def test_gd_batch_is_gd_for_every_row_bit_for_bit(f, eta):
    starts = with_perturbed(torch.tensor([-1.2, 0.7], dtype=F64))
    history = gd_batch(f, starts, eta, 60, history=True)
    assert history.shape == (61, len(starts), 2)
    for i, start in enumerate(starts):
        assert torch.equal(history[:, i], gd(f, start, eta, 60))
    assert torch.equal(gd_batch(f, starts, eta, 60), history[-1])


def test_gd_batch_marks_a_diverged_run_nan_from_then_on():
    starts = torch.tensor([[0.5, 0.5], [1.0, 0.0]], dtype=F64)
    history = gd_batch(example1, starts, 2 / 30, 200, bound=1e6, history=True)
    for run in history.unbind(1):
        first = int(torch.isnan(run[:, 0]).nonzero()[0])
        assert torch.isnan(run[first:]).all() and torch.isfinite(run[:first]).all()
    assert torch.isnan(gd_batch(example1, starts, 2 / 30, 200, bound=1e6)).all()


def test_threshold_sweeps_are_the_sweeps_of_each_start():
    P = random_quadratic(torch.tensor([0.5, 2.0, 4.0], dtype=F64), seed=3)
    starts = torch.tensor([[1.0, -0.5, 0.25], [0.0, 1.0, 0.0]], dtype=F64)
    scales = torch.tensor([0.8, 0.9, 1.1, 1.2], dtype=F64)
    for sweep, start in zip(threshold_sweeps(P, starts, scales, 300), starts):
        alone = threshold_sweep(P, start, scales, 300)
        assert torch.equal(sweep.diverged, alone.diverged) and torch.equal(sweep.converged, alone.converged)
        assert sweep.agreement() == alone.agreement() == 1.0


def test_smoothness_at_end_is_the_last_value_along_gd():
    start = torch.tensor([1e-2, 1.0], dtype=F64)
    values = smoothness_at_end(example1, with_perturbed(start), 2 / 40, 100)
    assert values[0] == smoothness_along_gd(example1, start, 2 / 40, 100)[-1]
    assert values.shape == (5,) and (values - 40).abs().max() < 1e-6


def test_arrivals_counts_the_runs_that_end_at_a_point_and_recounts_the_closest():
    f = TwoWells()
    points = f.stationary_points()
    starts = torch.tensor([[-1.2, 0.5], [-0.8, -1.0], [0.3, 1.5], [2.5, -0.4], [-2.8, 1.9]], dtype=F64)
    for eta, at_sharp in ((0.1, 3), (0.25, 0)):
        ends = gd_batch(f, starts, eta, 300)
        a = arrivals(f, starts, ends, points["sharp minimum"], eta, 300, rerun=2, draws=3)
        assert a.count == at_sharp == int((basins(f, points, starts, eta, 300) == 0).sum())
        assert a.recounts == (at_sharp,) * 3 and a.rerun == 2


def test_basin_labels_keep_the_points_in_the_iterates_dtype():
    """Candidate limits given as Python numbers are compared in the iterates' float64, not rounded to
    torch's default float32 first (1/3 in float32 is 1e-8 away, far beyond a float64 tolerance)."""
    from eos_support.examples.toy import basin_labels

    ends = torch.tensor([[1 / 3, 0.0], [5.0, 5.0]], dtype=F64)
    for points in ([(1 / 3, 0.0)], {"third": (1 / 3, 0.0)}):
        assert basin_labels(ends, points, tol=1e-12).tolist() == [0, ELSEWHERE]


def test_sublevel_escape_draws_in_float64_by_default():
    """Example 2's forward-invariance check is a float64 computation whatever torch's default dtype."""
    assert sublevel_escape(example2, 2 / 39, example1(torch.tensor([0.1, 1.0], dtype=F64)).item(), samples=1000) <= 1
    a = sublevel_escape(example1, 2 / 39, 1.0, samples=1000)
    b = sublevel_escape(example1, 2 / 39, 1.0, samples=1000, dtype=F64)
    assert a == b
