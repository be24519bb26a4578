"""The criteria of chapter directional_smoothness: Experiment 4 (Section 4.2).

The directional smoothness L(θᵗ; η∇f(θᵗ)) of every step is the history key ``ds`` of the runs of
Experiments 2 and 3 (``{η: Run}``); it is read in units of 2/η, (η/2)·L.
"""

from __future__ import annotations

import numpy as np

from ...readings.phases import unstable_onset, unstable_phase
from .gd_runs import BOOTSTRAP_PHASE, each_step_size, median_within, phase_statistic
from .verdict import Verdict, compare


def percentile95(x) -> float:
    """The 95th percentile of ``x``."""
    return float(np.percentile(x, 95))


def exp4_stable_small(runs, thresholds, seed: int = 4) -> Verdict:
    """exp4-stable-small: for each stable step size, the 95th percentile of (η/2)·L over the run ≤ small.

    Uncertainty: the block bootstrap of that percentile over the run's steps.
    """

    def one(run):
        value, u = phase_statistic(run.eta / 2 * run.history["ds"], percentile95, seed)
        return compare(value, thresholds["small"], "<=", u, BOOTSTRAP_PHASE, {"steps": run.steps})

    return each_step_size(runs, one)


def exp4_unstable_saturates(runs, thresholds, seed: int = 41) -> Verdict:
    """exp4-unstable-saturates: for each unstable step size, the median of (η/2)·L over the unstable phase
    lies in [low, high]. Uncertainty: the block bootstrap of the median over the phase's steps.
    """

    def one(run):
        phase = run.eta / 2 * unstable_phase(run, "ds")
        detail = {"from step": unstable_onset(run), "phase steps": len(phase)}
        return median_within(phase, thresholds["low"], thresholds["high"], BOOTSTRAP_PHASE, detail, seed)

    return each_step_size(runs, one)
