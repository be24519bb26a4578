"""The criteria of the chapter "Beyond the paper": heavy ball and Adam at their own edge, read off an
:class:`~eos_support.monitor.edge_monitor.EdgeMonitor`'s history (its :data:`~eos_support.monitor.edge_monitor.KEYS`), and the
chapter's two checks of the code.

Each statistic summarises a series of a chaotic run, the sharpness measurements from the crossing of
the threshold to the end or the steps of the unstable phase (:func:`eos_support.readings.phases.edge_onset`),
and its uncertainty is :func:`~eos_support.readings.uncertainty.bootstrap` of that statistic over that
series, with the fixed seed :data:`SEED`. A band [low, high] is two cases (≥ low, ≤ high) combined by
:func:`~eos_support.book.criteria.verdict.all_of`, as are a criterion's several conditions.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from ...readings.phases import edge_onset, first_reach
from ...readings.uncertainty import bootstrap
from .verdict import Verdict, all_of, compare

SEED = 0
"""The bootstrap's seed, the same for every claim of the chapter: the same history gives the same uncertainty."""
OVER_MEASUREMENTS = "2 × moving-block bootstrap SD over the sharpness measurements after the crossing"
OVER_PHASE = "2 × moving-block bootstrap SD over the unstable phase's steps"
CHECK = "none: a check of the code"


def _measured(history):
    """The steps where the sharpness was measured, and its ratio to the threshold there."""
    keep = np.isfinite(history["ratio"])
    return history["step"][keep], history["ratio"][keep]


def _case(series, statistic, threshold, sense, method):
    """One case: ``statistic(series)`` against ``threshold`` with its bootstrap uncertainty over ``series``."""
    series = np.asarray(series, dtype=np.float64)
    if series.size == 0:
        return compare(np.nan, threshold, sense, 0.0, method)
    return compare(statistic(series), threshold, sense, bootstrap(series, statistic, seed=SEED), method)


def _band(series, statistic, low, high, method, name="median"):
    """The two cases of ``low ≤ statistic(series) ≤ high``, named with their thresholds."""
    return {
        f"{name} ≥ {low:g}": _case(series, statistic, low, ">=", method),
        f"{name} ≤ {high:g}": _case(series, statistic, high, "<=", method),
    }


def _with(verdict: Verdict, **detail) -> Verdict:
    """``verdict`` with ``detail`` (the phase a reader should see) added to its own."""
    return dataclasses.replace(verdict, detail={**detail, **verdict.detail})


def _phase(history):
    """The unstable phase (:func:`~eos_support.readings.phases.edge_onset` to the end): its onset, a mask of its records."""
    onset = edge_onset(history)
    return onset, (history["step"] >= onset) if onset is not None else np.zeros(len(history["step"]), bool)


def reaches(history, thresholds) -> Verdict:
    """The sharpness rises to the threshold: the largest sharpness/threshold over the measurements from
    the first one below ``reach`` to the end, ≥ ``reach`` (so one at or above it follows one below it).

    Uncertainty: the bootstrap of that largest value over those measurements.
    """
    reach = thresholds["reach"]
    _, ratio = _measured(history)
    below = np.flatnonzero(ratio < reach)
    series = ratio[below[0] :] if below.size else ratio[:0]
    verdict = _case(series, np.max, reach, ">=", OVER_MEASUREMENTS)
    return _with(verdict, step=first_reach(history, reach), measurements=int(series.size))


def hovers(history, thresholds) -> Verdict:
    """The sharpness stays at the threshold: from the first measurement at ``reach`` × it to the end, the
    median of sharpness/threshold in [``low``, ``high``], the smallest ≥ ``floor``, the largest ≤ ``ceiling``.

    Uncertainties: the bootstrap of each statistic over those measurements.
    """
    t = thresholds
    start = first_reach(history, t["reach"])
    step, ratio = _measured(history)
    series = ratio[step >= start] if start is not None else ratio[:0]
    cases = _band(series, np.median, t["low"], t["high"], OVER_MEASUREMENTS)
    cases[f"smallest ≥ {t['floor']:g}"] = _case(series, np.min, t["floor"], ">=", OVER_MEASUREMENTS)
    cases[f"largest ≤ {t['ceiling']:g}"] = _case(series, np.max, t["ceiling"], "<=", OVER_MEASUREMENTS)
    return _with(all_of(cases), start=start, measurements=int(series.size))


def rp_oscillates(history, thresholds) -> Verdict:
    """RP_u oscillates around 0 over the unstable phase (Experiment 3's criterion along u): abs(median RP_u)
    ≤ ``band`` and RP_u > 0 at a share ≥ ``positive`` of its steps.

    Uncertainties: the bootstrap of each statistic over the phase's steps.
    """
    onset, phase = _phase(history)
    rp = history["rp"][phase]
    rp = rp[np.isfinite(rp)]
    band, positive = thresholds["band"], thresholds["positive"]
    cases = {
        f"|median RP_u| ≤ {band:g}": _case(rp, lambda x: abs(np.median(x)), band, "<=", OVER_PHASE),
        f"share RP_u > 0 ≥ {positive:g}": _case(rp, lambda x: np.mean(x > 0), positive, ">=", OVER_PHASE),
    }
    return _with(all_of(cases), onset=onset, steps=int(rp.size), median=float(np.median(rp)) if rp.size else None)


def ds_at_effective_edge(history, thresholds) -> Verdict:
    """L(θᵗ; u) saturates at 2/η_u, the edge of Theorem 2 along u (Experiment 4's criterion along u):
    the median of (η_u/2)·L(θᵗ; u) over the unstable phase lies in [``low``, ``high``].

    η_u = ‖u‖²/⟨∇f(θᵗ), u⟩ is the update's effective step (the history's ``eta_u``): RP_u ≈ −1 + (η_u/2)·L
    where L is constant along u, so RP_u ≈ 0 means (η_u/2)·L ≈ 1. Uncertainty: the bootstrap of the
    median over the phase's steps.
    """
    onset, phase = _phase(history)
    scaled = history["ds"][phase] * history["eta_u"][phase] / 2
    scaled = scaled[np.isfinite(scaled)]
    verdict = all_of(_band(scaled, np.median, thresholds["low"], thresholds["high"], OVER_PHASE))
    return _with(verdict, onset=onset, steps=int(scaled.size))


def identity_any_u(sides, thresholds) -> Verdict:
    """Theorem 2 along u in float64 (a check): the largest abs(RP_u − right side) over every run's snapshots
    ≤ ``tolerance``. ``sides``: {run label: {"rp", "identity"}} from :func:`eos_support.monitor.edge_runs.theorem2_along`.
    """
    gaps = {label: float(np.max(np.abs(np.asarray(s["rp"]) - np.asarray(s["identity"])))) for label, s in sides.items()}
    return compare(max(gaps.values()), thresholds["tolerance"], "<=", 0.0, CHECK, detail=gaps)


def monitor_readme(history, thresholds) -> Verdict:
    """The README's example as recorded (a check): ``records`` records with steps 0, 1, …; RP_u and L
    finite at each; the sharpness measured exactly every ``sharpness_every`` steps; the threshold equal
    to ``threshold`` at every record (relative error ≤ 1e-12). The statistic is the number of these four
    conditions that fail (0 to hold).
    """
    t, n = thresholds, int(thresholds["records"])
    measured = history["step"][np.isfinite(history["sharpness"])]
    conditions = {
        "one record per step": list(history["step"]) == list(range(n)),
        "RP_u and L finite": bool(np.isfinite(history["rp"]).all() and np.isfinite(history["ds"]).all()),
        "sharpness on its schedule": list(measured) == list(range(0, n, int(t["sharpness_every"]))),
        "threshold (2 + 2β)/η": bool(np.allclose(history["threshold"], t["threshold"], rtol=1e-12, atol=0)),
    }
    detail = dict(
        records=len(history["step"]),
        sharpness_steps=measured.tolist(),
        threshold=float(history["threshold"][0]) if len(history["threshold"]) else None,
        failed=[name for name, ok in conditions.items() if not ok],
    )
    return compare(len(detail["failed"]), 0, "<=", 0.0, CHECK, detail=detail)


def describe(verdicts) -> str:
    """``verdicts`` ({name: Verdict}) in words for a chapter to print: one line per case, its statistic
    ± uncertainty, the comparison it makes, and whether it holds, fails or is undecided (inconclusive).
    """
    word = {True: "holds", False: "fails", None: "undecided"}
    lines = []
    for name, v in verdicts.items():
        cases = {case: d for case, d in v.detail.items() if isinstance(d, dict) and "statistic" in d}
        if not cases:
            lines.append(f"{name}: {v.text()}: {word[v.holds]}")
        for case, d in cases.items():
            lines.append(f"{name}, {case}: {d['statistic']:.4g} ± {d['uncertainty']:.2g}: {word[d['holds']]}")
    return "\n".join(lines)
