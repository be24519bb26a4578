"""eos_support.book.criteria.causes: each criterion of chapter causes holds, fails and is inconclusive on
constructed stationary points, recomputations and run histories."""

import math

import numpy as np
import pytest

from eos_support.book.criteria import causes
from eos_support.examples.proposition1 import NormalizedMinimum
from histories import recorded_run

EPS = [1e-1, 1e-2, 1e-3, 1e-4]


def minima(power, ratio=1.0, grow=1.0, wobble=0.0):
    """Stationary points with λ_max = ε^power·(1 + wobble·(−1)^k) and min_i ‖a_i‖/ε = ratio·grow^k."""
    return [
        NormalizedMinimum(
            eps=e,
            grad_norm=1e-12,
            sharpness=e**power * (1 + wobble * (-1) ** k),
            lambda_min=1e-3,
            zeta_norm=1.0,
            a_min_over_eps=ratio * grow**k,
        )  # fmt: skip
        for k, e in enumerate(EPS)
    ]


def seeds(points, again):
    """``found`` and ``restarts`` of two seeds with the same points and one restart each."""
    return {0: points, 1: points}, {0: [again], 1: [again]}


UNBOUNDED = {"seeds": 2, "factor": 10}


@pytest.mark.parametrize(
    "points, again, holds",
    [
        (minima(-1.0), minima(-1.0), True),  # 1,000× over the grid, at every step
        (minima(-0.2), minima(-0.2), False),  # grows, but by 10^0.6 < 10
        (minima(-1 / 3), minima(-0.31), None),  # 10^1 at the threshold, restart 10^0.93
        (minima(0.1), minima(0.1), False),  # falls
    ],
)
def test_prop1_sharpness_unbounded(points, again, holds):
    found, restarts = seeds(points, again)
    assert causes.prop1_sharpness_unbounded(found, restarts, UNBOUNDED).holds is holds


def test_prop1_sharpness_unbounded_reads_the_registrys_number_of_seeds():
    found, restarts = seeds(minima(-1.0), minima(-1.0))
    with pytest.raises(ValueError, match="reads 5 seeds"):
        causes.prop1_sharpness_unbounded(found, restarts, {"seeds": 5, "factor": 10})


EXPONENT = {"low": -2.0, "high": -0.6667}


@pytest.mark.parametrize(
    "points, again, holds, larger",
    [
        (minima(-1.2), minima(-1.2), True, None),  # an exact power law: both uncertainties at rounding level
        (minima(-0.3), minima(-0.3), False, None),  # shallower than −2/3
        (minima(-2.5), minima(-2.5), False, None),  # steeper than −2
        (minima(-0.7), minima(-0.6), None, "restart spread"),  # −0.7 ± 0.1 straddles −2/3
        (minima(-0.7, wobble=0.3), minima(-0.7, wobble=0.3), None, "2 SE"),  # far from a power law
    ],
)
def test_prop1_sharpness_exponent(points, again, holds, larger):
    found, restarts = seeds(points, again)
    verdict = causes.prop1_sharpness_exponent(found, restarts, EXPONENT)
    assert verdict.holds is holds and "regression" in verdict.method
    if larger:
        assert verdict.uncertainty == verdict.detail[verdict.case][larger] > 0.05


@pytest.mark.parametrize(
    "points, again, holds",
    [
        (minima(-1, ratio=1.0), minima(-1, ratio=1.2), True),
        (minima(-1, ratio=1.0, grow=4.0), minima(-1, ratio=1.0, grow=2.0), False),  # 64 ± 56 > 2
        (minima(-1, ratio=1.5), minima(-1, ratio=3.0), None),  # the restart lands at 3 > 2
    ],
)
def test_prop1_where(points, again, holds):
    found, restarts = seeds(points, again)
    verdict = causes.prop1_where(found, restarts, {"factor": 2.0})
    assert verdict.holds is holds and verdict.method == causes.RESTARTS + " (1)"


def test_prop1_stationary_points_exist_and_no_stationary_point_checks():
    found, _ = seeds(minima(-1), minima(-1))
    assert causes.prop1_stationary_points_exist(found, {"residual": 1e-8}).holds is True
    assert causes.prop1_stationary_points_exist(found, {"residual": 1e-13}).holds is False
    saddle = {0: [NormalizedMinimum(1e-1, 1e-12, 1.0, -1e-3, 1.0, 1.0)]}
    assert causes.prop1_stationary_points_exist(saddle, {"residual": 1e-8}).holds is False
    t = {"rounding": 1e-12}
    assert causes.prop1_no_stationary_point(np.array([3.0, 1.0]), np.array([1.0, 1.0]), t).holds is True
    assert causes.prop1_no_stationary_point(np.array([3.0, 0.99]), np.array([1.0, 1.0]), t).holds is False
    assert causes.prop1_no_stationary_point(np.array([3.0, 1.0]), np.array([1.0, 0.0]), t).holds is False


@pytest.mark.parametrize(
    "values, holds", [([2e12, 2e12 + 1], True), ([5e11, 5e11], False), ([1e12 + 1, 1e12 - 1], None)]
)
def test_divergence_of_the_toys(values, holds):
    assert causes.example2_quadratic_diverges(values, {"bound": 1e12}).holds is holds
    assert causes.example3_linear_diverges(values, {"bound": 1e12}).holds is holds


@pytest.mark.parametrize("values, holds", [([0.8, 0.8], True), ([1.2, 1.2], False), ([1.0, 1.0 + 1e-15], None)])
def test_example2_tanh_bounded(values, holds):
    assert causes.example2_tanh_bounded(values, {"ratio": 1.0}).holds is holds


@pytest.mark.parametrize(
    "tanh, quadratic, holds",
    [([0.94, 0.93], [1.10, 1.11], True), ([1.02, 1.01], [1.10, 1.11], False), ([0.99, 1.01], [1.1, 1.1], None)],
)
def test_example2_forward_invariant(tanh, quadratic, holds):
    verdict = causes.example2_forward_invariant({"tanh": tanh, "quadratic": quadratic}, {"ratio": 1.0})
    assert verdict.holds is holds and verdict.method == causes.SAMPLING


def test_example3_tanh_converges_and_sharpness():
    t = {"gradient": 1e-10, "loss": 1e-20}
    assert causes.example3_tanh_converges([1e-25, 1e-25], [1e-50, 1e-50], t).holds is True
    assert causes.example3_tanh_converges([1e-25, 1e-25], [1e-10, 1e-10], t).holds is False
    assert causes.example3_tanh_converges([1e-10, 0.9e-10], [1e-50, 1e-50], t).holds is None
    band = {"low": 0.95, "high": 1.0}
    assert causes.example3_sharpness([0.99, 0.99], band).holds is True
    assert causes.example3_sharpness([1.01, 1.01], band).holds is False
    assert causes.example3_sharpness([1.0, 1.0 + 1e-12], band).holds is None
    with pytest.raises(ValueError, match="at least one recomputation"):
        causes.example3_sharpness([0.99], band)


def run_with(loss=None, sharpness=None, residual=None, steps=40):
    """:func:`recorded_run` (η = 0.5, ``steps`` steps, sharpness every 5 steps) with the given series replaced."""
    run = recorded_run(steps=steps, onset=steps // 2)
    for key, value in (("loss", loss), ("sharpness", sharpness), ("sharpness_residual", residual)):
        if value is not None:
            run.history[key] = np.asarray(value)
    return run


def test_exp1_divergence_and_convergence():
    cut = {"log_cut": 3}
    stable, diverged = run_with(), run_with(loss=np.r_[np.full(30, 1.0), 1e5])
    blown = run_with(loss=np.r_[np.full(30, 1.0), np.inf])
    assert causes.exp1_linear_diverges([diverged, blown], cut).holds is True
    verdict = causes.exp1_linear_diverges([blown, diverged], cut)  # how far past the cut: capped at 2 × the cut
    assert verdict.statistic == 6 and verdict.uncertainty == 1 and verdict.holds is True
    assert causes.log_loss_ratio(blown) == pytest.approx(math.log10(np.finfo(np.float32).max))
    assert causes.exp1_linear_diverges([stable, stable], cut).holds is False
    verdict = causes.exp1_linear_diverges([diverged, stable], cut)  # the rerun does not diverge
    assert verdict.holds is None and verdict.uncertainty == 5 and verdict.method == causes.RERUNS
    assert causes.exp1_activations_converge({"tanh": stable, "ReLU": stable}, cut).holds is True
    verdict = causes.exp1_activations_converge({"tanh": stable, "ReLU": diverged}, cut)
    assert verdict.holds is False and verdict.case == "ReLU"


def test_exp1_linear_diverges_counts_every_diverged_run_alike():
    """Two runs stopped as diverged, one just past the cut and one far past it: both diverged, no doubt."""
    cut = {"log_cut": 3}
    near, far = run_with(loss=np.r_[np.full(30, 1.0), 10**3.2]), run_with(loss=np.r_[np.full(30, 1.0), 1e9])
    for run in (near, far):
        run.status = "diverged"
    verdict = causes.exp1_linear_diverges([near, far], cut)
    assert verdict.holds is True and verdict.statistic == 6 and verdict.uncertainty == 0
    near.status = "max_steps"  # a spike past the cut that the trainer did not stop at: read off the losses
    assert causes.exp1_linear_diverges([near, far], cut).holds is None


def sharpness_series(pattern, eta=0.5, steps=40):
    """Measurements at steps 0, 5, …, ``steps``: below 2/η at step 0, then ``pattern`` (1: above) repeated."""
    above = np.r_[0, np.resize(pattern, steps // 5)]
    return np.where(above == 1, 1.2, 0.8) * 2 / eta


@pytest.mark.parametrize(
    "pattern, residual, holds",
    [
        ([1], None, True),  # every measurement after the crossing above 2/η
        ([1, 0, 0, 0, 0, 0], None, False),  # 7 of 40 ± the bootstrap < 0.5
        ([1, 1, 1, 0, 0, 1, 0, 0, 0], None, None),  # about half above
        ([1], np.r_[np.full(40, 1e-6), 1.0], False),  # one did not converge
    ],
)
def test_exp1_sharpness_above(pattern, residual, holds):
    run = run_with(sharpness=sharpness_series(pattern, steps=200), residual=residual, steps=200)
    verdict = causes.exp1_sharpness_above({"tanh": run}, {"share": 0.5})
    assert verdict.holds is holds and verdict.detail["tanh"]["from step"] == 5


def oscillating_loss(end, steps=40, cross=5, amplitude=0.05):
    """A loss of 1 until the crossing, then falling geometrically to ``end`` with an up-down oscillation."""
    t = np.arange(steps + 1)
    fall = np.where(t < cross, 1.0, end ** ((t - cross) / (steps - cross)))
    return fall * (1 + amplitude * (t >= cross) * (-1) ** t)


@pytest.mark.parametrize(
    "loss, holds",
    [
        (oscillating_loss(0.1), True),
        (oscillating_loss(0.8), False),  # falls too little
        (oscillating_loss(0.1, amplitude=0.0), False),  # monotone: no rise
    ],
)
def test_exp1_decreases_non_monotonically(loss, holds):
    run, rerun = (run_with(loss=loss, sharpness=sharpness_series([1])) for _ in range(2))
    verdict = causes.exp1_decreases_non_monotonically({"ReLU": [run, rerun]}, {"ratio": 0.5, "rise": 0.001})
    assert verdict.holds is holds


def test_exp1_decreases_non_monotonically_takes_the_ratio_uncertainty_from_the_reruns():
    threshold = {"ratio": 0.5, "rise": 0.001}
    run = run_with(loss=oscillating_loss(0.4), sharpness=sharpness_series([1]))
    close = run_with(loss=oscillating_loss(0.41), sharpness=sharpness_series([1]))
    far = run_with(loss=oscillating_loss(0.6), sharpness=sharpness_series([1]))
    decided = causes.exp1_decreases_non_monotonically({"ReLU": [run, close]}, threshold)
    assert decided.holds is True
    case = decided.detail["ReLU, loss ratio"]
    c = causes.loss_ratio(run)[0]
    ratio = [loss[-1] / loss[c] for loss in (oscillating_loss(0.4), oscillating_loss(0.41))]
    assert case["statistic"] == pytest.approx(ratio[0]) and case["uncertainty"] == pytest.approx(ratio[1] - ratio[0])
    undecided = causes.exp1_decreases_non_monotonically({"ReLU": [run, close, far]}, threshold)
    assert undecided.holds is None and undecided.case == "ReLU, loss ratio"  # 0.42 ± 0.21 against 0.5
    with pytest.raises(ValueError, match="rerun"):
        causes.exp1_decreases_non_monotonically({"ReLU": [run]}, threshold)


def test_exp1_without_a_crossing_nothing_holds():
    run = run_with(sharpness=np.full(9, 0.8 * 2 / 0.5))
    assert causes.exp1_sharpness_above({"tanh": run}, {"share": 0.5}).holds is False
    assert causes.exp1_decreases_non_monotonically({"tanh": [run, run]}, {"ratio": 0.5, "rise": 0.001}).holds is False


def test_after_crossing_reads_the_measurements_from_the_first_above_two_over_eta():
    r = recorded_run(eta=0.5, steps=40, onset=20, every=5)  # above 2/η from the measurement at step 15 on
    cross, above, converged = causes.after_crossing(r)
    assert cross == 15 and above.tolist() == [True] * 6 and converged.all()
    r.history["sharpness"][-1] = 0.9 * 2 / r.eta  # one of the six below 2/η, one not converged
    r.history["sharpness_residual"][-2] = 1e-3
    r.history["sharpness_residual"][0] = 1e-3  # before the crossing: not part of the reading
    cross, above, converged = causes.after_crossing(r)
    assert above.mean() == 5 / 6 and converged.tolist() == [True] * 4 + [False, True]
    r.history["sharpness"] = r.history["sharpness"] * 0 + 1.0  # always below 2/η = 4
    cross, above, converged = causes.after_crossing(r)
    assert cross is None and len(above) == 0 and len(converged) == 0


def test_case_table_lists_every_case_with_its_own_threshold():
    found, restarts = seeds(minima(-1.2), minima(-1.2))
    verdicts = {
        "prop1-sharpness-exponent": causes.prop1_sharpness_exponent(found, restarts, EXPONENT),
        "example2-tanh-bounded": causes.example2_tanh_bounded([0.8, 0.8], {"ratio": 1.0}),
    }
    rows = [line.split(" | ") for line in causes.case_table(verdicts).splitlines()[2:]]
    assert [r[3] for r in rows] == ["≥ -2", "≥ -2", "≤ -0.6667", "≤ -0.6667", "≤ 1"]
    assert rows[-1][1] == "" and rows[-1][4] == "holds |"
