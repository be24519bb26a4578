"""eos_support.book.criteria.sharpness on hand-made GD histories: EoS A and B hold, fail and are inconclusive;
the check of Corollary 1 holds and fails."""

from types import SimpleNamespace

import numpy as np

from eos_support.book.criteria import sharpness as sh_criteria
from histories import recorded_run


def outcome(verdict):
    return {True: "holds", False: "fails", None: "inconclusive"}[verdict.holds]


def with_ratio(ratio, steps=400, every=5):
    """An unstable run (phase from step 20) whose measurements from step 15 on are ``ratio``·(2/η)."""
    run = recorded_run(steps=steps, every=every)
    sharpness = run.history["sharpness"].copy()
    sharpness[3:] = np.asarray(ratio) * 2 / run.eta
    run.history["sharpness"] = sharpness.astype(np.float32)
    return run


def test_eos_a():
    t = {"share": 0.5}
    verdict = sh_criteria.eos_a({0.5: with_ratio(1.2)}, t)
    assert outcome(verdict) == "holds" and verdict.statistic == 1.0
    assert outcome(sh_criteria.eos_a({0.5: with_ratio(0.8)}, t)) == "fails"
    unconverged = with_ratio(1.2)
    unconverged.history["sharpness_residual"][-1] = 1.0
    verdict = sh_criteria.eos_a({0.5: unconverged}, t)
    assert outcome(verdict) == "fails" and verdict.detail["2/4"]["not converged"] == 1
    mixed = with_ratio(np.where(np.random.default_rng(0).random(78) < 0.55, 1.1, 0.9))
    verdict = sh_criteria.eos_a({0.5: mixed}, t)
    assert outcome(verdict) == "inconclusive" and verdict.uncertainty > 0


def test_eos_b():
    t = {"low": 0.95, "high": 1.3}
    rng = np.random.default_rng(0)
    assert outcome(sh_criteria.eos_b({0.5: with_ratio(rng.normal(1.1, 0.02, 78))}, t)) == "holds"
    assert outcome(sh_criteria.eos_b({0.5: with_ratio(rng.normal(1.6, 0.02, 78))}, t)) == "fails"
    assert outcome(sh_criteria.eos_b({0.5: recorded_run(steps=100, onset=200)}, t)) == "fails"  # no phase
    verdict = sh_criteria.eos_b({0.5: with_ratio(rng.normal(1.3, 0.1, 78))}, t)
    assert outcome(verdict) == "inconclusive" and verdict.case == "2/4: ≤ 1.3"


def corollary_check(margin, converged=True):
    return SimpleNamespace(margin=margin, segment=SimpleNamespace(converged=converged))


def test_cor1_inequality():
    verdict = sh_criteria.cor1_inequality([corollary_check(0.5), corollary_check(0.0)])
    assert verdict.holds is True and verdict.uncertainty == 0 and verdict.detail["holds at"] == 2
    assert sh_criteria.cor1_inequality([corollary_check(0.5), corollary_check(-0.1)]).holds is False
    assert sh_criteria.cor1_inequality([corollary_check(0.5, converged=False)]).holds is False
    assert sh_criteria.cor1_inequality([]).holds is False
