"""eos_support.book.criteria.theorem2 and .relu_depth on constructed histories: each criterion holds, fails and
is inconclusive (its statistic within its bootstrap uncertainty of the threshold) where it should.

The histories are :func:`histories.recorded_run`'s (stable phase, then RP alternating ±0.2 from the onset,
(4.3) exact), with a known error of (4.3) per step written into L(θᵗ; η∇f(θᵗ)), which leaves the phases
as they are.
"""

import numpy as np
import pytest

from eos_support.book.criteria import relu_depth, theorem2
from histories import recorded_run

T43 = {"min_steps": 50, "positive": 0.3, "tolerance": 0.05}
OUTCOMES = ["holds", "fails", "inconclusive"]
ONSET, STEPS = 60, 260


def run_with_errors(stable, unstable, noise=0.0, eta=0.5, seed=0, steps=STEPS, onset=ONSET):
    """A recorded run whose error of (4.3) is ``stable`` before the onset and ``unstable`` from it on, each
    step plus noise spread evenly over [−noise, noise] in a random order, so that each phase's median error
    is exactly ``stable`` or ``unstable``.
    """
    r = recorded_run(eta=eta, steps=steps, onset=onset, every=10)
    h = r.history
    rng = np.random.default_rng(seed)
    n = min(max(onset, 0), steps)
    spread = [rng.permutation(np.linspace(-1, 1, k)) for k in (n, steps - n)]
    error = np.concatenate([stable + noise * spread[0], unstable + noise * spread[1]])
    h["ds"] = ((h["rp"] + 1 + error) * 2 / eta).astype(np.float32)  # RP − (−1 + (η/2)L) = −error
    return r


def outcome(verdict):
    return verdict.holds


@pytest.mark.parametrize(
    ("unstable", "noise", "holds"),
    [(0.02, 0.01, True), (0.09, 0.01, False), (0.05, 0.04, None)],
    ids=OUTCOMES,
)
def test_eq43_unstable_compares_the_median_error_with_its_bootstrap_uncertainty(unstable, noise, holds):
    v = theorem2.eq43_unstable(run_with_errors(0.01, unstable, noise), T43)
    assert outcome(v) is holds
    median = v.detail["median error"]
    assert median["statistic"] == pytest.approx(unstable, abs=1e-6) and median["uncertainty"] > 0


def test_eq43_unstable_fails_without_an_unstable_phase_long_enough():
    v = theorem2.eq43_unstable(run_with_errors(0.01, 0.01, steps=90), T43)  # a phase of 30 steps
    assert v.holds is False and v.case == "phase steps" and v.statistic == 30 and v.uncertainty == 0


def share_run(share, seed=0):
    """(4.3) exact, and RP > 0 at about ``share`` of the unstable phase's steps (at random)."""
    r = run_with_errors(0.0, 0.0)
    rp = r.history["rp"]
    up = np.random.default_rng(seed).uniform(size=STEPS - ONSET) < share
    up[0] = True  # the phase starts with a loss increase
    rp[ONSET:] = np.where(up, 0.2, -0.2)
    r.history["ds"] = ((rp + 1) * 2 / r.eta).astype(np.float32)
    return r


@pytest.mark.parametrize(("share", "holds"), [(0.5, True), (0.1, False), (0.3, None)], ids=OUTCOMES)
def test_the_premise_share_of_increases_carries_its_uncertainty(share, holds):
    v = theorem2.eq43_unstable(share_run(share), T43)
    assert v.detail["RP > 0"]["holds"] is holds and v.holds is holds
    assert v.detail["RP > 0"]["uncertainty"] > 0


def test_exp5_unstable_is_a_plain_check_of_the_premise():
    on_edge = share_run(0.3)
    share = theorem2.premise(on_edge, T43)["RP > 0"].statistic
    v = theorem2.exp5_unstable(on_edge, T43)
    assert v.uncertainty == 0 and v.holds is (share >= 0.3)
    assert theorem2.exp5_unstable(run_with_errors(0.0, 0.0), T43).holds is True
    assert theorem2.exp5_unstable(run_with_errors(0.0, 0.0, steps=90), T43).holds is False


@pytest.mark.parametrize(
    ("stable", "noise", "holds"),
    [(0.01, 0.01, True), (0.1, 0.01, False), (0.05, 0.04, None)],
    ids=OUTCOMES,
)
def test_eq43_stable(stable, noise, holds):
    v = theorem2.eq43_stable(run_with_errors(stable, 0.0, noise), {"tolerance": 0.05})
    assert v.holds is holds and v.detail["steps"] == ONSET


def test_eq43_stable_fails_without_stable_steps():
    v = theorem2.eq43_stable(run_with_errors(0.0, 0.0, onset=0), {"tolerance": 0.05})
    assert v.holds is False


def profiled_run(share_flat, seed=0, iterates=60):
    """Profiles with std/|mean| 0.05 (flat) at about ``share_flat`` of the iterates, 0.5 at the others."""
    r = recorded_run(steps=10 * iterates, onset=100, every=10)
    flat = np.random.default_rng(seed).uniform(size=iterates + 1) < share_flat
    tilt = np.where(flat, 0.05, 0.5)[:, None] * np.sqrt(3) * np.linspace(-1, 1, 2)[None, :]
    r.history["profile"] = (1 + tilt).astype(np.float32)  # two values of τ: mean 1, std = the tilt
    return r


@pytest.mark.parametrize(("share", "holds"), [(1.0, True), (0.5, False), (0.9, None)], ids=OUTCOMES)
def test_exp5_flat_over_tau_bootstraps_the_share_over_the_profiled_iterates(share, holds):
    v = theorem2.exp5_flat_over_tau(profiled_run(share), {"share": 0.9, "spread": 0.25})
    assert v.holds is holds and v.detail["profiled iterates"] == 61


def test_thm2_identity_is_a_check_on_the_largest_difference():
    r = recorded_run()
    assert theorem2.thm2_identity(r, {"tolerance": 1e-6}).holds is True
    r.history["theorem2_rp64"] = r.history["rp64"] + 1e-3
    assert theorem2.thm2_identity(r, {"tolerance": 1e-6}).holds is False
    r.history["float64_step"] = r.history["float64_step"][:0]
    nothing = theorem2.thm2_identity(r, {"tolerance": 1e-6})
    assert nothing.holds is False and nothing.detail["iterates"] == 0


def depth_runs(unstable_4, noise_4=0.01):
    """Experiment 6 stand-ins: 2 and 4 hidden layers at η = 0.5 (unstable) and 0.05 (stable throughout)."""
    stable = recorded_run(eta=0.05, steps=STEPS, onset=STEPS + 100, every=10)
    return {
        (2, 0.05): stable,
        (2, 0.5): run_with_errors(0.01, 0.02, 0.01),
        (4, 0.05): stable,
        (4, 0.5): run_with_errors(0.01, unstable_4, noise_4, seed=1),
    }


@pytest.mark.parametrize(
    ("unstable_4", "noise_4", "holds"),
    [(0.02, 0.01, True), (0.09, 0.01, False), (0.05, 0.04, None)],
    ids=OUTCOMES,
)
def test_exp6_unstable_judges_every_depth_at_the_largest_step_size(unstable_4, noise_4, holds):
    v = relu_depth.exp6_unstable(depth_runs(unstable_4, noise_4), T43)
    assert v.holds is holds
    assert set(v.detail) == {"2 hidden layers, η = 2/4", "4 hidden layers, η = 2/4"}
    assert v.detail["2 hidden layers, η = 2/4"]["holds"] is True
    if holds is not True:
        assert v.case == "4 hidden layers, η = 2/4"
    lines = theorem2.cases(v)
    assert len(lines) == 2 and lines[0].startswith("2 hidden layers, η = 2/4: holds (phase steps 200 ± 0 (holds); ")
    assert "median error 0.05 ± " in lines[1] or holds is not None


def test_exp6_stable_judges_every_run():
    runs = depth_runs(0.02)
    v = relu_depth.exp6_stable(runs, {"tolerance": 0.05})
    assert v.holds is True and len(v.detail) == 4
    assert theorem2.cases(v)[1].startswith("2 hidden layers, η = 2/4: holds (0.01 ± ")
    runs[4, 0.5] = run_with_errors(0.05, 0.02, 0.04)
    assert relu_depth.exp6_stable(runs, {"tolerance": 0.05}).holds is None
    runs[2, 0.05] = run_with_errors(0.2, 0.02, 0.0, eta=0.05, onset=STEPS + 100)
    v = relu_depth.exp6_stable(runs, {"tolerance": 0.05})
    assert v.holds is False and v.case == "2 hidden layers, η = 2/40"


def test_steps_to_decide_scales_the_phase_by_the_squared_ratio_of_uncertainty_to_gap():
    assert theorem2.steps_to_decide(0.045, 0.05, 0.02, 200) == pytest.approx(200 * 16)
    assert theorem2.steps_to_decide(0.05, 0.05, 0.02, 200) == float("inf")


def test_phase_to_decide_names_each_undecided_part():
    decided = theorem2.eq43_unstable(run_with_errors(0.01, 0.02, 0.01), T43)
    assert theorem2.phase_to_decide(decided, T43) == {}
    v = relu_depth.exp6_unstable(depth_runs(0.052, 0.04), T43)
    needed = theorem2.phase_to_decide(v, T43)
    assert list(needed) == ["4 hidden layers, η = 2/4: median error"]
    median = v.detail["4 hidden layers, η = 2/4"]["median error"]
    assert needed["4 hidden layers, η = 2/4: median error"] == {
        "steps": 200,
        "to decide": pytest.approx(200 * (median["uncertainty"] / (median["statistic"] - 0.05)) ** 2),
    }
    (line,) = theorem2.decide_lines(v, T43)
    assert line.startswith("4 hidden layers, η = 2/4: median error: undecided; an unstable phase of about ")
