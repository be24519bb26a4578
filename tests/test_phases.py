"""eos_support.readings.phases: the unstable-phase rule that the relative-progress, directional-smoothness and
sharpness chapters' claims rely on, on hand-made histories with known answers."""

from types import SimpleNamespace

import numpy as np
import pytest

from eos_support.readings.phases import (
    divergence,
    eta_name,
    for_each_step_size,
    phase_table,
    sharpness_converged,
    sharpness_crossing,
    stable_phase,
    unstable_onset,
    unstable_phase,
    unstable_rp,
    unstable_sharpness,
)


def run(rp, sharpness, sharpness_step, eta=0.5):
    """A stand-in for a Run: the history keys the rules read."""
    history = dict(
        rp=np.asarray(rp, float), sharpness=np.asarray(sharpness, float), sharpness_step=np.asarray(sharpness_step)
    )
    return SimpleNamespace(eta=eta, history=history)


def test_crossing_is_the_first_measurement_above_two_over_eta():
    r = run(rp=[-1] * 10, sharpness=[1.0, 3.9, 4.1, 3.0], sharpness_step=[0, 3, 6, 9])  # 2/η = 4
    assert sharpness_crossing(r) == 6


def test_equal_to_the_threshold_is_not_above_it():
    assert sharpness_crossing(run(rp=[-1] * 4, sharpness=[4.0, 4.0], sharpness_step=[0, 2])) is None


def test_onset_is_the_first_loss_increase_after_the_crossing():
    rp = [-1, 0.5, -1, -1, -1, -1, -0.9, -0.2, 0.3, -0.1, 0.4]  # an increase before the crossing does not count
    r = run(rp, sharpness=[1.0, 4.5, 4.2], sharpness_step=[0, 5, 10])
    assert sharpness_crossing(r) == 5
    assert unstable_onset(r) == 8


def test_no_onset_without_a_crossing_or_without_an_increase():
    assert unstable_onset(run([-1, 0.5, 0.5], sharpness=[1.0], sharpness_step=[0])) is None
    assert unstable_onset(run([-1, -1, -0.5], sharpness=[5.0], sharpness_step=[0])) is None


def test_nan_sharpness_rows_are_not_crossings():
    r = run([-1, 1.0, 1.0], sharpness=[np.nan, 5.0], sharpness_step=[0, 1])
    assert sharpness_crossing(r) == 1 and unstable_onset(r) == 1


@pytest.mark.parametrize("eta, name", [(2 / 30, "2/30"), (2 / 10, "2/10"), (0.3, "2/6.67"), (100.0, "2/0.02")])
def test_eta_name(eta, name):
    assert eta_name(eta) == name


# -- readers of the unstable phase, on a history whose phase starts at a known step ------------------


def test_unstable_phase_and_its_sharpness():
    from histories import recorded_run

    r = recorded_run(eta=0.5, steps=40, onset=20, every=5)
    assert sharpness_crossing(r) == 15 and unstable_onset(r) == 20
    np.testing.assert_array_equal(unstable_phase(r, "rp"), r.history["rp"][20:])
    np.testing.assert_array_equal(unstable_phase(r, "ds"), r.history["ds"][20:])
    np.testing.assert_array_equal(stable_phase(r, "rp"), r.history["rp"][:20])
    steps, ratio, converged = unstable_sharpness(r)
    np.testing.assert_array_equal(steps, [20, 25, 30, 35, 40])
    np.testing.assert_allclose(ratio, 1.2, rtol=1e-6)  # λ_max = 1.2 · 2/η
    assert converged.all()


def test_no_unstable_phase_gives_empty_readings():
    r = run(rp=[-1, -1, -1], sharpness=[1.0, 2.0], sharpness_step=[0, 2], eta=0.5)  # 2/η = 4: never crossed
    r.history["sharpness_residual"] = np.zeros(2)
    r.options = SimpleNamespace(sharpness_tol=1e-4)
    assert len(unstable_phase(r)) == 0 and len(stable_phase(r)) == 3  # every step is stable
    steps, ratio, converged = unstable_sharpness(r)
    assert len(steps) == 0 and len(ratio) == 0 and len(converged) == 0
    u = unstable_rp(r)
    assert u.onset is None and u.steps == 0 and np.isnan(u.median) and u.positive == 0
    assert not u.reached(1, 0.0)


def test_unstable_rp_reads_length_median_and_share_of_increases():
    from histories import recorded_run

    u = unstable_rp(recorded_run(steps=41, onset=20))  # RP alternates +0.2, −0.2 from step 20: 11 up, 10 down
    assert (u.onset, u.steps) == (20, 21)
    assert u.median == pytest.approx(0.2) and u.positive == pytest.approx(11 / 21)
    assert u.reached(21, 0.5) and not u.reached(22, 0.5) and not u.reached(21, 0.6)
    assert u.reading() == {"from step": 20, "steps": 21, "median RP": u.median, "RP > 0": u.positive}


def test_sharpness_converged_compares_the_residual_with_the_run_tolerance():
    r = run(rp=[-1] * 4, sharpness=[1.0, 2.0, 3.0, 4.0], sharpness_step=[0, 1, 2, 3])
    r.history["sharpness_residual"] = np.array([1e-5, 1e-3, 1e-4, np.nan])
    r.options = SimpleNamespace(sharpness_tol=1e-4)
    np.testing.assert_array_equal(sharpness_converged(r), [True, False, True, False])  # NaN: not converged


def test_for_each_step_size_needs_every_run_and_at_least_one():
    runs = {2 / 30: 1, 2 / 10: 3}
    measured, holds = for_each_step_size(runs, lambda x: (x * 10, x > 0))
    assert measured == {"2/30": 10, "2/10": 30} and holds is True
    assert for_each_step_size(runs, lambda x: (x, x > 1)) == ({"2/30": 1, "2/10": 3}, False)
    assert for_each_step_size({}, lambda x: (x, True)) == ({}, False)


def loss_run(loss):
    return SimpleNamespace(history={"loss": np.asarray(loss, float)})


def test_divergence_needs_the_continued_run_to_stay_above_the_bound():
    stopped = loss_run([1.0, 5.0, 2e3])  # stopped at the first loss above 10³ f(θ⁰)
    assert divergence(stopped, loss_run([1.0, 5.0, 2e3, np.inf, np.nan]), 1e3) == (2, True)
    assert divergence(stopped, loss_run([1.0, 5.0, 2e3, 3e3, 10.0]), 1e3) == (2, False)  # came back down
    assert divergence(loss_run([1.0, np.nan]), loss_run([1.0, np.nan, np.nan]), 1e3) == (1, True)
    assert divergence(loss_run([1.0, 0.5]), loss_run([1.0, 0.5, 0.2]), 1e3) == (None, False)


def test_phase_table_has_a_line_per_run_with_its_phase_steps():
    from histories import recorded_run, table_rows

    unstable = recorded_run(eta=0.5, onset=20)
    unmeasured = recorded_run(eta=2 / 30, onset=20)
    unmeasured.history = {k: v for k, v in unmeasured.history.items() if not k.startswith("sharpness")}
    rows = table_rows(phase_table({"3": {0.5: unstable}, "2": {2 / 30: unmeasured}}))
    assert len(rows) == 3 and "unstable from" in rows[0]
    assert rows[1] == ["3", "2/4", "acc_goal", "40", "39", "15", "20", "1 s", "stored"]
    assert rows[2][1] == "2/30" and rows[2][5:7] == ["None", "None"]
