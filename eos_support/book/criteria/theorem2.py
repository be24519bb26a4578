"""The criteria of the chapter ``theorem2``: Theorem 2's identity (4.2), Experiment 5 and Equation (4.3).

Each function decides one claim of the registry on one run's history (:func:`eos_support.train.train_gd`)
and the claim's thresholds, and returns a :class:`~eos_support.book.criteria.verdict.Verdict`. Statistics of a phase
of the run (a median error of (4.3), the share of steps with RP > 0, the share of flat τ-profiles) carry
2 × their moving-block bootstrap SD over the phase's steps (or the profiled iterates) as uncertainty,
from the fixed seed :data:`eos_support.readings.theorem2.BOOTSTRAP_SEED`; a count of steps is exact. The
chapter ``relu_depth`` judges (4.3) per run with :func:`unstable_approximation` and
:func:`stable_approximation`.
"""

from __future__ import annotations

import math

import numpy as np

from ...readings.phases import unstable_onset, unstable_phase
from ...readings.theorem2 import BOOTSTRAP_SEED, approximation, identity_check, profile_spread
from ...readings.uncertainty import bootstrap
from .verdict import Verdict, all_of, compare

BOOTSTRAPPED = "2 × moving-block bootstrap SD over the {}"
EXACT = "exact (a count of steps)"


def _positive_share(rp) -> float:
    return float(np.mean(rp > 0)) if len(rp) else 0.0


def premise(run, thresholds, *, uncertain=True) -> dict[str, Verdict]:
    """The unstable regime was reached: a phase of ≥ ``min_steps`` steps (exact), with RP > 0 at a share ≥
    ``positive`` of them; the share carries its bootstrap uncertainty over the phase unless ``uncertain``
    is False (a check of the premise, a plain comparison). Returns the two cases by name.
    """
    rp = unstable_phase(run, "rp")
    share = _positive_share(rp)
    u = bootstrap(rp, _positive_share, seed=BOOTSTRAP_SEED) if uncertain else 0.0
    return {
        "phase steps": compare(len(rp), thresholds["min_steps"], ">=", 0.0, EXACT, {"from step": unstable_onset(run)}),
        "RP > 0": compare(share, thresholds["positive"], ">=", u, BOOTSTRAPPED.format("unstable phase's steps")),
    }


def unstable_approximation(run, thresholds) -> Verdict:
    """(4.3) holds over ``run``'s unstable phase: the :func:`premise` (with uncertainty) and the median of
    abs(RP − (−1 + (η/2)L)) over the phase ≤ ``tolerance``, each clear of its threshold by its uncertainty.
    """
    a = approximation(run)
    error = compare(
        a.unstable_median, thresholds["tolerance"], "<=", a.unstable_uncertainty,
        BOOTSTRAPPED.format("unstable phase's steps"),
    )  # fmt: skip
    return all_of(premise(run, thresholds) | {"median error": error})


def stable_approximation(run, thresholds) -> Verdict:
    """(4.3) holds over ``run``'s stable steps (those before its unstable phase): their median of
    abs(RP − (−1 + (η/2)L)) ≤ ``tolerance`` by more than its bootstrap uncertainty (none: it fails).
    """
    a = approximation(run)
    method, detail = BOOTSTRAPPED.format("stable steps"), {"steps": len(a.stable)}
    return compare(a.stable_median, thresholds["tolerance"], "<=", a.stable_uncertainty, method, detail)


def thm2_identity(run, thresholds) -> Verdict:
    """A check: both sides of (4.2) in float64 agree within ``tolerance`` at every checked iterate (none
    checked: it fails). The statistic is the largest difference.
    """
    diff = identity_check(run).diff
    largest = float(diff.max()) if len(diff) else float("nan")
    detail = {"iterates": len(diff), "max |RP − RHS|": largest}
    return compare(largest, thresholds["tolerance"], "<=", 0.0, "exact comparison (a check of the code)", detail)


def exp5_unstable(run, thresholds) -> Verdict:
    """A check of Experiment 5's premise: the run reached the unstable regime (:func:`premise`, plain
    comparisons).
    """
    return all_of(premise(run, thresholds, uncertain=False))


def _flat_share(spread, limit) -> float:
    return float(np.mean(spread <= limit)) if len(spread) else float("nan")


def exp5_flat_over_tau(run, thresholds) -> Verdict:
    """The τ-profiles are flat: the share of profiled iterates whose std/abs(mean) over τ is ≤ ``spread``
    is ≥ ``share``, by more than its bootstrap uncertainty over the profiled iterates.
    """
    spread, limit = profile_spread(run), thresholds["spread"]
    share = _flat_share(spread, limit)
    u = bootstrap(spread, lambda s: _flat_share(s, limit), seed=BOOTSTRAP_SEED)
    detail = {"profiled iterates": len(spread), "median std/|mean|": float(np.median(spread)) if len(spread) else None}
    return compare(share, thresholds["share"], ">=", u, BOOTSTRAPPED.format("profiled iterates"), detail)


def eq43_unstable(run, thresholds) -> Verdict:
    """(4.3) holds in the unstable phase of Experiment 5's run (:func:`unstable_approximation`)."""
    return unstable_approximation(run, thresholds)


def eq43_stable(run, thresholds) -> Verdict:
    """(4.3) holds over the stable steps of Experiment 5's run (:func:`stable_approximation`)."""
    return stable_approximation(run, thresholds)


PARTS = {"RP > 0": "positive", "median error": "tolerance"}
"""The parts of :func:`unstable_approximation` that carry an uncertainty, with their threshold's name."""


def steps_to_decide(statistic, threshold, uncertainty, steps) -> float:
    """The number of steps at which a statistic of ``steps`` steps would be clear of ``threshold`` by its
    uncertainty, if it stayed where it is and its uncertainty shrank as 1/√steps, as a bootstrap's does:
    ``steps``·(uncertainty/gap)² (infinite when the statistic sits on the threshold).
    """
    gap = abs(float(statistic) - float(threshold))
    return math.inf if gap == 0 else steps * (float(uncertainty) / gap) ** 2


def phase_to_decide(verdict: Verdict, thresholds) -> dict[str, dict]:
    """For a verdict of :func:`unstable_approximation` (or one that combines several, one per case): per
    undecided part ("case: part"), the unstable phase's length (``steps``) and the length that would
    decide the part (``to decide``, :func:`steps_to_decide`).
    """
    d = verdict.detail
    runs = {"": d} if "phase steps" in d else {k: c for k, c in d.items() if isinstance(c, dict)}
    needed = {}
    for case, parts in runs.items():
        steps = parts["phase steps"]["statistic"]
        for part, name in PARTS.items():
            p = parts.get(part)
            if p is not None and p["holds"] is None:
                label = f"{case}: {part}" if case else part
                decide = steps_to_decide(p["statistic"], thresholds[name], p["uncertainty"], steps)
                needed[label] = {"steps": steps, "to decide": decide}
    return needed


def decide_lines(verdict: Verdict, thresholds) -> list[str]:
    """:func:`phase_to_decide` in words, one line per undecided part."""
    return [
        f"{label}: undecided; an unstable phase of about {n['to decide']:,.0f} steps would decide it if the "
        f"statistic stayed where it is ({n['to decide'] / n['steps']:.1f} × this run's {n['steps']:.0f} steps)"
        for label, n in phase_to_decide(verdict, thresholds).items()
    ]


def outcome_word(holds) -> str:
    """A case's outcome in words: "holds", "fails" or "undecided" (within its uncertainty of the threshold)."""
    return {True: "holds", False: "fails", None: "undecided"}[holds]


def cases(verdict: Verdict) -> list[str]:
    """One line per case of a combined ``verdict``: its name and outcome, with the statistic ± uncertainty
    of each of its own parts (a case that combines parts, as :func:`unstable_approximation` does) or its own.
    """
    lines = []
    for name, c in verdict.detail.items():
        if not (isinstance(c, dict) and "holds" in c):
            continue
        parts = {k: p for k, p in c.items() if isinstance(p, dict) and "holds" in p} or {"": c}
        shown = "; ".join(
            f"{k + ' ' if k else ''}{p['statistic']:.4g} ± {p['uncertainty']:.2g}"
            + (f" ({outcome_word(p['holds'])})" if k else "")
            for k, p in parts.items()
        )
        lines.append(f"{name}: {outcome_word(c['holds'])} ({shown})")
    return lines
