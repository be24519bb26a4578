"""eos_support.book.criteria.directional_smoothness on hand-made GD histories: each criterion holds, fails and
is inconclusive."""

import numpy as np

from eos_support.book.criteria import directional_smoothness as ds_criteria
from histories import recorded_run


def outcome(verdict):
    return {True: "holds", False: "fails", None: "inconclusive"}[verdict.holds]


def with_ds(run, scaled, start=0):
    """``run`` with (η/2)·L from step ``start`` on replaced by ``scaled``."""
    ds = run.history["ds"].copy()
    ds[start:] = np.asarray(scaled) * 2 / run.eta
    run.history["ds"] = ds
    return run


def test_exp4_stable_small():
    t = {"small": 0.1}
    stable = recorded_run(eta=0.1, steps=400, onset=500)  # (η/2)·L = RP + 1 = 0.01
    assert outcome(ds_criteria.exp4_stable_small({0.1: stable}, t)) == "holds"
    assert outcome(ds_criteria.exp4_stable_small({0.1: with_ds(stable, 0.5)}, t)) == "fails"
    edge = with_ds(recorded_run(eta=0.1, steps=400, onset=500), np.random.default_rng(0).uniform(0, 0.105, 400))
    verdict = ds_criteria.exp4_stable_small({0.1: edge}, t)
    assert outcome(verdict) == "inconclusive" and verdict.uncertainty > 0


def test_exp4_unstable_saturates():
    t = {"low": 0.9, "high": 1.1}
    rng = np.random.default_rng(0)
    good = with_ds(recorded_run(steps=300), rng.normal(1.0, 0.05, 280), start=20)
    verdict = ds_criteria.exp4_unstable_saturates({0.5: good}, t)
    assert outcome(verdict) == "holds" and set(verdict.detail) == {"2/4: ≥ 0.9", "2/4: ≤ 1.1"}
    high = with_ds(recorded_run(steps=300), rng.normal(1.5, 0.05, 280), start=20)
    assert outcome(ds_criteria.exp4_unstable_saturates({0.5: high}, t)) == "fails"
    stable = recorded_run(steps=300, onset=400)  # no unstable phase: nothing to measure
    assert outcome(ds_criteria.exp4_unstable_saturates({0.5: stable}, t)) == "fails"
    edge = with_ds(recorded_run(steps=300), rng.normal(1.1, 0.05, 280), start=20)
    verdict = ds_criteria.exp4_unstable_saturates({0.5: edge}, t)
    assert outcome(verdict) == "inconclusive" and verdict.case == "2/4: ≤ 1.1"
