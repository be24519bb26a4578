"""eos_support.book.criteria.quadratics: each claim's criterion on constructed runs, one test per outcome
(holds, fails, inconclusive: a statistic within its rounding spread of the threshold)."""

import numpy as np
import pytest
import torch

from eos_support.book.criteria import quadratics as criteria
from eos_support.book.criteria import rounding
from eos_support.examples.toy import ThresholdSweep

HOLDS, FAILS, UNDECIDED = True, False, None


def sweep(diverged, converged):
    """λ(P) = (1, 2) and η = 0.9, 1.1: the first step size below the threshold 2/λ_max = 1, the second above."""
    t = torch.tensor
    return ThresholdSweep(t([1.0, 2.0]), t([0.9, 1.1]), t(diverged), t(converged))


RIGHT, WRONG = sweep([False, True], [True, False]), sweep([False, False], [True, False])


@pytest.mark.parametrize(
    "sweeps, outcome",
    [([RIGHT] * 5, HOLDS), ([WRONG] * 5, FAILS), ([RIGHT, RIGHT, WRONG, RIGHT, RIGHT], UNDECIDED)],
)
def test_fact1_convex_iff(sweeps, outcome):
    v = criteria.fact1_convex_iff(sweeps, {"agree": 1.0})
    assert v.holds is outcome and v.statistic == (1.0 if sweeps[0] is RIGHT else 0.5)
    assert v.uncertainty == (0.5 if outcome is UNDECIDED else 0.0) and "2⁻⁵²" in v.method
    assert v.detail["disagreeing η·λ_max/2"] == ([] if sweeps[0] is RIGHT else [1.1])


BOTH, ONE = sweep([True, True], [False, False]), sweep([False, True], [True, False])


@pytest.mark.parametrize("sweeps, outcome", [([BOTH] * 3, HOLDS), ([ONE] * 3, FAILS), ([BOTH, ONE, BOTH], UNDECIDED)])
def test_fact1_nonconvex(sweeps, outcome):
    v = criteria.fact1_nonconvex(sweeps, {"diverged_share": 1.0})
    assert v.holds is outcome
    assert v.detail == {"step sizes below 2/η": 1, "diverged": 1 if sweeps[0] is BOTH else 0}


@pytest.mark.parametrize(
    "norms, outcome", [([1e-22, 1e-22, 2e-22], HOLDS), ([1e-3, 1e-3], FAILS), ([0.5e-12, 2e-12, 0.4e-12], UNDECIDED)]
)
def test_example1_converges(norms, outcome):
    ends = np.array([[n, 0.0] for n in norms])
    v = criteria.example1_converges(ends, {"converged": 1e-12})
    assert v.holds is outcome and v.statistic == norms[0]


def constant_runs(*drifts, steps=50):
    """θ1 flips sign each step with |θ1ᵗ| = 1 + drift·(t/steps): one run per drift, θ2 = 0.5ᵗ."""
    t = np.arange(steps + 1)
    return np.stack([np.stack([(-1.0) ** t * (1 + d * t / steps), 0.5**t], axis=1) for d in drifts], axis=1)


@pytest.mark.parametrize(
    "drifts, outcome", [((0.0, 1e-16, 2e-16), HOLDS), ((1e-3, 1e-3), FAILS), ((0.5e-12, 1.6e-12), UNDECIDED)]
)
def test_example1_constant(drifts, outcome):
    v = criteria.example1_constant(constant_runs(*drifts), {"rounding": 1e-12})
    assert v.holds is outcome and v.statistic == pytest.approx(drifts[0], abs=1e-15)


def growing_runs(*factors, steps=50):
    """|θ1ᵗ| = factorᵗ, alternating in sign: one run per factor."""
    t = np.arange(steps + 1)
    return np.stack([np.stack([(-f) ** t, 0.9**t], axis=1) for f in factors], axis=1)


@pytest.mark.parametrize(
    "factors, outcome, case",
    [
        ((41 / 39, 41 / 39), HOLDS, "growth factor |1 − 40η|"),
        ((0.99, 0.99), FAILS, "growth factor |1 − 40η|"),  # shrinks: both cases fail, the first decides
        ((41 / 39, 41 / 39 * (1 + 3e-12)), UNDECIDED, "growth factor |1 − 40η|"),
    ],
)
def test_example1_grows(factors, outcome, case):
    v = criteria.example1_grows(growing_runs(*factors), {"rounding": 1e-12}, 41 / 39)
    assert v.holds is outcome and v.case == case
    assert v.detail["every ratio > 1"]["holds"] is (factors[0] > 1)


@pytest.mark.parametrize(
    "values, outcome",
    [([40 * (1 - 1e-13), 40, 40], HOLDS), ([39.0, 39.0], FAILS), ([40 * (1 - 0.5e-6), 40 * (1 - 2e-6)], UNDECIDED)],
)
def test_example4_saturates(values, outcome):
    smoothness = {"Example 1": (2 / 40, values), "exact": (0.5, [4.0, 4.0])}
    v = criteria.example4_saturates(smoothness, {"tolerance": 1e-6})
    assert v.holds is outcome and v.case == "Example 1"
    assert v.detail["exact"]["statistic"] == 0.0


def test_rounding_verdict_needs_a_recomputation_and_perturbs_at_the_unit():
    with pytest.raises(ValueError, match="recomputation"):
        rounding.verdict([1.0], 0.0, ">")
    rows = rounding.with_perturbed(torch.tensor([1.0, -2.0, 0.0], dtype=torch.float64))
    assert rows.shape == (1 + rounding.DRAWS, 3) and torch.equal(rows[0], torch.tensor([1.0, -2.0, 0.0]).double())
    assert ((rows[1:] / rows[0] - 1).abs()[:, :2] == 2.0**-52).all() and (rows[1:, 2] == 0).all()
