"""The criteria of chapter sharpness: the edge of stability A and B and Corollary 1 (Section 4.4).

EoS A and B read the sharpness measurements of each unstable run's unstable phase in units of 2/η
(:func:`eos_support.readings.phases.unstable_sharpness`); the runs are ``{η: Run}``.
"""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np

from ...readings.phases import unstable_onset, unstable_sharpness
from .gd_runs import check, each_step_size, median_within, nothing_measured, phase_statistic
from .verdict import Verdict, compare

BOOTSTRAP_MEASUREMENTS = (
    "2 × moving-block bootstrap SD over the unstable phase's sharpness measurements (eos_support.book.criteria.bootstrap)"
)


def eos_a(runs, thresholds, seed: int = 44) -> Verdict:
    """eos-a: for each unstable step size, more than share of the unstable phase's sharpness measurements
    exceed 2/η, every one of them converged (a measurement that did not converge fails the claim,
    whatever the share).

    Uncertainty: the block bootstrap of the share over the measurements.
    """

    def one(run):
        phase = unstable_sharpness(run)
        unconverged = int(np.sum(~phase.converged))
        detail = {"from step": unstable_onset(run), "measurements": len(phase.ratio), "not converged": unconverged}
        if len(phase.ratio) == 0:
            return nothing_measured(thresholds["share"], ">", BOOTSTRAP_MEASUREMENTS, detail)
        share, u = phase_statistic(phase.ratio, lambda r: np.mean(r > 1), seed)
        verdict = compare(share, thresholds["share"], ">", u, BOOTSTRAP_MEASUREMENTS, detail)
        return replace(verdict, holds=False) if unconverged else verdict

    return each_step_size(runs, one)


def eos_b(runs, thresholds, seed: int = 45) -> Verdict:
    """eos-b: for each unstable step size, the median of λ_max·η/2 over the unstable phase's measurements
    lies in [low, high]. Uncertainty: the block bootstrap of the median over the measurements.
    """

    def one(run):
        ratio = unstable_sharpness(run).ratio
        detail = {"from step": unstable_onset(run), "measurements": len(ratio)}
        return median_within(ratio, thresholds["low"], thresholds["high"], BOOTSTRAP_MEASUREMENTS, detail, seed)

    return each_step_size(runs, one)


def cor1_inequality(checks, thresholds=None) -> Verdict:
    """cor1-inequality (a check): L_t − (2/η)(RP + 1) ≥ 0 at every checked iterate (≥ 1), every Lanczos
    call converged; statistic: the smallest L_t − (2/η)(RP + 1).
    """
    margin = [c.margin for c in checks]
    converged = sum(bool(c.segment.converged) for c in checks)
    smallest = min(margin) if margin else math.nan
    holds = bool(checks) and smallest >= 0 and converged == len(checks)
    detail = {"iterates": len(checks), "holds at": sum(m >= 0 for m in margin), "Lanczos converged": converged}
    return check(smallest, 0, ">=", holds, detail)
