"""The criteria of the chapter "Beyond the paper" (eos_support.book.criteria.beyond) on constructed monitor
histories: each criterion holds, fails and is inconclusive where it should."""

import numpy as np
import pytest

from eos_support.book.criteria import beyond

HOVER = dict(reach=0.95, low=0.9, high=1.1, floor=0.7, ceiling=1.3)
RP = dict(band=0.05, positive=0.2)
DS = dict(low=0.9, high=1.1)


def history(rp_phase=None, ratio_after=None, ds_scaled=None, steps=600, every=10, cross=100, seed=0):
    """A monitor history (:data:`eos_support.monitor.edge_monitor.KEYS`) of a run whose sharpness crosses its threshold
    (1.0) at step ``cross``.

    Before: RP_u = −0.99, the sharpness at half the threshold. From ``cross`` on, the measurements'
    ratios are ``ratio_after`` (a function of a random generator and their count; default 1.02) and
    RP_u is ``rp_phase`` (likewise; default +0.1); the loss moves by 0.01·RP_u, so the unstable phase
    begins at ``cross`` when RP_u > 0 there. (η_u/2)·L(θᵗ; u) is RP_u + 1, or ``ds_scaled`` in the phase.
    """
    rng = np.random.default_rng(seed)
    step = np.arange(steps)
    after = step >= cross
    rp = np.full(steps, -0.99)
    rp[after] = rp_phase(rng, after.sum()) if rp_phase else 0.1
    rp[cross] = abs(rp[cross]) + 0.01  # the first step at the threshold raises the loss: the phase begins there
    loss = 10 + np.concatenate([[0.0], np.cumsum(0.01 * rp[:-1])])
    scaled = rp + 1
    if ds_scaled is not None:
        scaled[after] = ds_scaled(rng, after.sum())
    eta_u = np.full(steps, 0.5)
    measured = step % every == 0
    ratio = np.full(steps, np.nan)
    ratio[measured & ~after] = 0.5
    ratio[measured & after] = ratio_after(rng, (measured & after).sum()) if ratio_after else 1.02
    threshold = np.full(steps, 38.0)
    return dict(
        step=step,
        loss=loss,
        rp=rp,
        ds=scaled * 2 / eta_u,
        eta_u=eta_u,
        sharpness=ratio * threshold,
        threshold=threshold,
        ratio=ratio,
    )


def normal(mean, sd):
    return lambda rng, n: rng.normal(mean, sd, n)


# -- the sharpness reaches its threshold --------------------------------------------------------------


def test_reaches_holds_when_the_sharpness_crosses_to_the_threshold():
    v = beyond.reaches(history(ratio_after=normal(1.0, 0.03)), dict(reach=0.95))
    assert v.holds is True and v.statistic >= 1.0 and v.uncertainty > 0 and v.detail["step"] == 100


def test_reaches_fails_when_the_sharpness_stays_below_it():
    v = beyond.reaches(history(ratio_after=normal(0.75, 0.02)), dict(reach=0.95))
    assert v.holds is False and v.detail["step"] is None


def test_reaches_is_inconclusive_when_one_measurement_barely_touches_it():
    def one_touch(rng, n):
        values = rng.normal(0.88, 0.02, n)
        values[n // 2] = 0.96
        return values

    v = beyond.reaches(history(ratio_after=one_touch), dict(reach=0.95))
    assert v.holds is None and v.statistic == pytest.approx(0.96)


def test_a_start_above_the_threshold_does_not_count_as_reaching_it():
    h = history(ratio_after=normal(0.7, 0.01))
    h["ratio"][0] = 50.0  # Adam's first measurement, with v̂ holding one gradient
    assert beyond.reaches(h, dict(reach=0.95)).holds is False


# -- and hovers there ----------------------------------------------------------------------------------


def test_hovers_holds_when_every_measurement_stays_near_the_threshold():
    v = beyond.hovers(history(ratio_after=normal(1.0, 0.03)), HOVER)
    assert v.holds is True and set(v.detail) >= {"median ≥ 0.9", "smallest ≥ 0.7", "start"}


def test_hovers_fails_when_a_measurement_leaves_the_wide_band():
    def a_dip(rng, n):
        values = rng.normal(1.0, 0.02, n)
        values[n // 3 : 2 * n // 3] = 0.5  # a deep fall, for a third of the measurements
        return values

    v = beyond.hovers(history(ratio_after=a_dip), HOVER)
    assert v.holds is False and v.case == "smallest ≥ 0.7"


def test_hovers_is_inconclusive_with_the_median_at_the_band_edge():
    v = beyond.hovers(history(ratio_after=normal(0.9, 0.08)), HOVER)
    assert v.holds is None and v.case == "median ≥ 0.9"


def test_hovers_fails_when_the_threshold_is_never_reached():
    v = beyond.hovers(history(ratio_after=normal(0.6, 0.01)), HOVER)
    assert v.holds is False and v.detail["start"] is None and v.detail["measurements"] == 0


# -- RP_u oscillates around 0 over the unstable phase ---------------------------------------------------


def test_rp_holds_when_it_oscillates_around_zero():
    v = beyond.rp_oscillates(history(rp_phase=normal(0.0, 0.2)), RP)
    assert v.holds is True and v.detail["onset"] == 100 and v.detail["steps"] == 500


def test_rp_fails_when_it_stays_near_minus_one_between_bursts():
    v = beyond.rp_oscillates(history(rp_phase=normal(-0.5, 0.3)), RP)
    assert v.holds is False and v.case == "|median RP_u| ≤ 0.05"


def test_rp_is_inconclusive_with_the_median_at_the_band_edge():
    v = beyond.rp_oscillates(history(rp_phase=normal(-0.05, 0.5)), RP)
    assert v.holds is None and v.case == "|median RP_u| ≤ 0.05"
    assert v.statistic == pytest.approx(0.05, abs=v.uncertainty) and v.uncertainty > 0
    text = beyond.describe({"rp": v})
    assert f"rp, |median RP_u| ≤ 0.05: {v.statistic:.4g} ± {v.uncertainty:.2g}: undecided" in text
    assert "rp, share RP_u > 0 ≥ 0.2: " in text and text.endswith("holds")


def test_rp_without_an_unstable_phase_fails():
    h = history()
    h["ratio"][np.isfinite(h["ratio"])] = 0.5  # the sharpness never reaches the threshold: no phase
    v = beyond.rp_oscillates(h, RP)
    assert v.holds is False and v.detail["onset"] is None


# -- L(θᵗ; u) at the edge of Theorem 2 along u, 2/η_u ---------------------------------------------------


def test_ds_holds_when_eta_u_times_l_over_two_is_near_one():
    v = beyond.ds_at_effective_edge(history(ds_scaled=normal(1.0, 0.2)), DS)
    assert v.holds is True


def test_ds_is_measured_against_two_over_eta_u_not_the_optimizers_threshold():
    # the same L with η_u halved is half as far along: (η_u/2)·L ≈ 0.5, the criterion fails
    h = history(ds_scaled=normal(1.0, 0.2))
    h["eta_u"] = h["eta_u"] / 2
    assert beyond.ds_at_effective_edge(h, DS).holds is False


def test_ds_is_inconclusive_with_the_median_at_the_band_edge():
    v = beyond.ds_at_effective_edge(history(ds_scaled=normal(1.1, 0.5)), DS)
    assert v.holds is None and v.case == "median ≤ 1.1"


# -- the checks -----------------------------------------------------------------------------------------


def test_identity_check_reads_the_largest_gap_over_the_runs():
    sides = {
        "a": dict(rp=np.array([0.1, -0.2]), identity=np.array([0.1, -0.2 + 1e-12])),
        "b": dict(rp=[0.3], identity=[0.3]),
    }
    v = beyond.identity_any_u(sides, dict(tolerance=1e-6))
    assert v.holds is True and v.statistic == pytest.approx(1e-12) and v.uncertainty == 0
    assert beyond.describe({"identity": v}) == f"identity: {v.text()}: holds"
    sides["b"]["identity"] = [0.31]
    assert beyond.identity_any_u(sides, dict(tolerance=1e-6)).holds is False


def test_readme_check_names_the_condition_that_failed():
    t = dict(records=8, sharpness_every=4, threshold=7.6)
    sharpness = np.where(np.arange(8) % 4 == 0, 3.0, np.nan)
    h = dict(step=np.arange(8), rp=np.zeros(8), ds=np.ones(8), sharpness=sharpness, threshold=np.full(8, 7.6))
    assert beyond.monitor_readme(h, t).holds is True
    h["sharpness"] = np.full(8, 3.0)  # measured at every step: not the schedule
    v = beyond.monitor_readme(h, t)
    assert v.holds is False and v.detail["failed"] == ["sharpness on its schedule"]
