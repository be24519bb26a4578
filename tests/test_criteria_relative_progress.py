"""eos_support.book.criteria.relative_progress on hand-made GD histories: each claim's criterion holds, fails
and is inconclusive (the statistic within its measured uncertainty of the threshold)."""

from types import SimpleNamespace

import numpy as np
import pytest

from eos_support.book.criteria import relative_progress as rp_criteria
from histories import recorded_run


def outcome(verdict):
    return {True: "holds", False: "fails", None: "inconclusive"}[verdict.holds]


def stable_run(eta=0.1, steps=200):
    """A stable run: RP = −0.99 at every step, no sharpness measurement above 2/η."""
    return recorded_run(eta=eta, steps=steps, onset=steps + 100)


def phase_rp(run, values):
    """``run`` with RP over its unstable phase (from step 20 on) replaced by ``values``, the loss following."""
    rp = run.history["rp"].copy()
    rp[20:] = values
    run.history["rp"] = rp.astype(np.float32)
    run.history["loss"] = (10 + np.concatenate([[0], np.cumsum(run.eta * rp)])).astype(np.float32)
    return run


def test_exp2_rp_negative():
    run = stable_run()
    assert outcome(rp_criteria.exp2_rp_negative({0.1: run})) == "holds"
    run.history["rp"][7] = 0.3
    assert outcome(rp_criteria.exp2_rp_negative({0.1: run})) == "fails"
    near = stable_run()
    near.history["rp"][7] = -0.001  # the largest RP, within the measured rounding error 0.01 of 0
    near.history["rp64"][3] += 0.01
    verdict = rp_criteria.exp2_rp_negative({0.1: near})
    assert outcome(verdict) == "inconclusive" and verdict.uncertainty == pytest.approx(0.01)


def test_exp2_rp_negative_needs_a_measured_rounding_error():
    run = stable_run()
    run.history["float64_step"] = run.history["float64_step"][:0]
    with pytest.raises(ValueError, match="float64"):
        rp_criteria.exp2_rp_negative({0.1: run})


def test_exp2_monotone():
    assert outcome(rp_criteria.exp2_monotone({0.1: stable_run()})) == "holds"
    run = stable_run()
    run.history["loss"][[10, 50, 90]] += 5  # three clear rises, RP far from 0 (no rounding doubt)
    assert outcome(rp_criteria.exp2_monotone({0.1: run})) == "fails"
    doubtful = stable_run()
    doubtful.history["loss"][12] = doubtful.history["loss"][11]  # one tie, at a step whose RP is near 0
    doubtful.history["rp"][[11, 61]] = 1e-3
    doubtful.history["rp64"][2] += 0.01  # rounding error 0.01: two steps are within it of 0
    verdict = rp_criteria.exp2_monotone({0.1: doubtful})
    assert (verdict.statistic, verdict.uncertainty) == (1, 2) and outcome(verdict) == "inconclusive"


def test_remark3_saturates():
    verdict = rp_criteria.remark3_saturates({0.1: stable_run()}, {"band": 0.05})
    assert outcome(verdict) == "holds" and verdict.statistic == pytest.approx(0.01, abs=1e-6)
    far = stable_run()
    far.history["rp"][100:] = -0.5
    assert outcome(rp_criteria.remark3_saturates({0.1: far}, {"band": 0.05})) == "fails"
    noisy = stable_run(steps=400)
    noisy.history["rp"][200:] = np.random.default_rng(0).normal(-0.955, 0.1, 200)
    verdict = rp_criteria.remark3_saturates({0.1: noisy}, {"band": 0.05})
    assert outcome(verdict) == "inconclusive" and verdict.uncertainty > 0


def test_exp3_rp_oscillates():
    t = {"band": 0.05, "positive": 0.2}
    rng = np.random.default_rng(1)
    good = phase_rp(recorded_run(steps=300), rng.normal(0, 0.05, 280))
    verdict = rp_criteria.exp3_rp_oscillates({0.5: good}, t)
    assert outcome(verdict) == "holds"
    assert set(verdict.detail) == {"2/4: |median RP|", "2/4: share RP > 0"}
    assert outcome(rp_criteria.exp3_rp_oscillates({0.5: phase_rp(recorded_run(steps=300), -0.5)}, t)) == "fails"
    missed = phase_rp(recorded_run(steps=300, status="max_steps"), rng.normal(0, 0.05, 280))
    assert outcome(rp_criteria.exp3_rp_oscillates({0.5: missed}, t)) == "fails"
    z = rng.normal(0, 0.05, 140)
    edge = phase_rp(recorded_run(steps=300), 0.05 + rng.permutation(np.concatenate([z, -z])))  # median 0.05
    verdict = rp_criteria.exp3_rp_oscillates({0.5: edge}, t)
    assert outcome(verdict) == "inconclusive" and verdict.case == "2/4: |median RP|"


def test_exp3_non_monotone():
    assert outcome(rp_criteria.exp3_non_monotone({0.5: recorded_run(steps=300)})) == "holds"
    assert outcome(rp_criteria.exp3_non_monotone({0.1: stable_run()})) == "fails"
    once = stable_run()
    once.history["loss"][51] = once.history["loss"][50] + 1
    verdict = rp_criteria.exp3_non_monotone({0.1: once})
    assert verdict.statistic == 1 and outcome(verdict) == "inconclusive"


def goal_run(goal, noise=0.0, seed=0):
    """A run whose train accuracy rises linearly to 0.95 at step ``goal``, with Gaussian ``noise``."""
    t = np.arange(goal + 1)
    accuracy = 0.1 + 0.85 * t / goal + np.random.default_rng(seed).normal(0, noise, goal + 1)
    return SimpleNamespace(goal_step=goal, history={"accuracy": accuracy})


def test_remark4_faster():
    assert outcome(rp_criteria.remark4_faster({0.1: goal_run(300), 0.2: goal_run(200), 0.4: goal_run(100)})) == "holds"
    verdict = rp_criteria.remark4_faster({0.1: goal_run(300), 0.2: goal_run(100), 0.4: goal_run(200)})
    assert outcome(verdict) == "fails" and verdict.case == "2/10 → 2/5"
    missed = goal_run(200)
    missed.goal_step = None
    assert outcome(rp_criteria.remark4_faster({0.1: goal_run(300), 0.2: missed})) == "fails"
    close = rp_criteria.remark4_faster({0.1: goal_run(200, 0.01, 1), 0.2: goal_run(195, 0.01, 2)})
    assert outcome(close) == "inconclusive" and close.statistic == 5 and close.uncertainty > 5


def loss_run(loss):
    return SimpleNamespace(history={"loss": np.asarray(loss, dtype=np.float32)}, steps=len(loss) - 1)


def test_remark4_diverges():
    t = {"factor": 1000.0}
    blowup = [1.0, 2, 50] + [10.0 ** (3 + k) for k in range(1, 34)]
    run = loss_run(blowup[:5])
    assert outcome(rp_criteria.remark4_diverges(run, loss_run(blowup), t)) == "holds"
    calm = loss_run([1.0, 0.9, 1.1, 0.8] * 10)
    assert outcome(rp_criteria.remark4_diverges(calm, calm, t)) == "fails"
    back = loss_run(blowup[:5] + [0.5] * 35)  # above the bound for a few steps, then back down for good
    assert outcome(rp_criteria.remark4_diverges(run, back, t)) == "fails"
    dip = list(blowup)
    dip[20] = 0.5  # one step of 33 back below the bound
    verdict = rp_criteria.remark4_diverges(run, loss_run(dip), t)
    assert outcome(verdict) == "inconclusive" and verdict.statistic == pytest.approx(32 / 33)
