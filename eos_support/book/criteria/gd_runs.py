"""What the criteria of the GD runs of Experiments 2 and 3 share (chapters relative_progress,
directional_smoothness and sharpness): a claim stated "for each step size", a statistic that must lie in
a band [low, high], a statistic of a phase's steps with its block-bootstrap uncertainty, the
uncertainty of the step at which a run's train accuracy crosses its goal, and a check's verdict.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import numpy as np

from ...readings.tables import eta_name
from ...readings.uncertainty import COVERAGE, bootstrap
from .verdict import Verdict, all_of, compare

BOOTSTRAP_PHASE = "2 × moving-block bootstrap SD over the phase's steps (eos_support.book.criteria.bootstrap)"
"""The ``method`` of a statistic of a phase's per-step values."""


def each_step_size(runs: Mapping, criterion) -> Verdict:
    """A claim "for each step size": every case must hold (:func:`~eos_support.book.criteria.verdict.all_of`).

    ``runs`` is ``{η: Run}``; ``criterion(run)`` returns a :class:`~eos_support.book.criteria.verdict.Verdict` or
    ``{part: Verdict}`` (the
    parts of a criterion with several conditions). The cases are named "2/k" or "2/k: part".
    """
    cases = {}
    for eta in sorted(runs):
        verdicts = criterion(runs[eta])
        if isinstance(verdicts, Verdict):
            verdicts = {"": verdicts}
        for part, verdict in verdicts.items():
            cases[eta_name(eta) + (f": {part}" if part else "")] = verdict
    return all_of(cases)


def within(statistic, low, high, uncertainty, method, detail=None) -> dict:
    """A band criterion, low ≤ statistic ≤ high, as its two comparisons: ``{"≥ low": …, "≤ high": …}``."""
    return {
        f"≥ {low:g}": compare(statistic, low, ">=", uncertainty, method, detail),
        f"≤ {high:g}": compare(statistic, high, "<=", uncertainty, method, detail),
    }


def median_within(values, low, high, method, detail, seed: int) -> dict | Verdict:
    """The band criterion low ≤ median(``values``) ≤ high (:func:`within`), with the median's
    block-bootstrap uncertainty; no values: the criterion fails (:func:`nothing_measured`).
    """
    if len(values) == 0:
        return nothing_measured(low, ">=", method, detail)
    median, u = phase_statistic(values, np.median, seed)
    return within(median, low, high, u, method, detail)


def phase_statistic(values, statistic, seed: int) -> tuple[float, float]:
    """``(statistic(values), its block-bootstrap uncertainty)``; ``(nan, 0)`` for an empty phase."""
    x = np.asarray(values, dtype=np.float64)
    if x.size == 0:
        return math.nan, 0.0
    return float(statistic(x)), bootstrap(x, statistic, seed=seed)


def nothing_measured(threshold, sense, method, detail) -> Verdict:
    """The verdict of a criterion with nothing to measure (no phase, a run that missed its goal): it fails."""
    return compare(math.nan, threshold, sense, 0.0, method, detail)


def crossing_uncertainty(accuracy, step: int, window: float = 0.1) -> float:
    """How many steps the first step at which a run's train accuracy reached its goal could move.

    Over the last ``window`` of the run up to ``step`` (at least 10 steps), a straight line is fitted to
    the accuracy; the noise about it (its residual SD σ) against its slope β gives the uncertainty
    :data:`~eos_support.readings.uncertainty.COVERAGE` · σ/β of the step at which the line crosses a level:
    a noisy accuracy that rises slowly crosses its goal at a less certain step. At most the window's
    length (also when the accuracy did not rise over it).
    """
    a = np.asarray(accuracy, dtype=np.float64)[: step + 1]
    width = min(step, max(10, math.ceil(window * step)))
    if width < 2:
        return float(width)
    t = np.arange(step - width, step + 1, dtype=np.float64)
    slope, intercept = np.polyfit(t, a[step - width :], 1)
    sigma = float(np.std(a[step - width :] - (slope * t + intercept), ddof=2))
    if slope <= 0:
        return float(width)
    if sigma < 1e-9:  # the accuracy lies on its line (to rounding): the crossing is where the line's is
        return 0.0
    return float(min(width, COVERAGE * sigma / slope))


def check(statistic, threshold, sense, holds: bool, detail=None) -> Verdict:
    """A check of the code: its verdict with no uncertainty (the check holds or fails)."""
    return Verdict(float(statistic), float(threshold), sense, 0.0, "exact", bool(holds), dict(detail or {}))
