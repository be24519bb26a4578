"""A claim's verdict: the statistic its criterion compares with a threshold, the statistic's measured
uncertainty, and the outcome that follows from the two.

Training at the edge of stability is chaotic: another CPU's rounding gives another trajectory, and a
statistic summarising it moves by about its sampling uncertainty. A verdict is therefore given only
when the statistic is clear of its threshold by more than its uncertainty u::

    holds when statistic ≤ threshold  →  holds      if statistic + u ≤ threshold,
                                          fails      if statistic − u > threshold,
                                          undecided  otherwise (outcome "inconclusive")

and likewise for ``<``, ``≥``, ``>``. With u = 0 this is the plain comparison. Several cases (step
sizes, depths, seeds) combine with :func:`all_of` (every case must hold) or :func:`any_of`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field

SENSES = ("<", "<=", ">", ">=")
"""How the statistic must compare with the threshold for the criterion to hold."""


@dataclass(frozen=True)
class Verdict:
    """The outcome of one criterion on one run (or one case of it).

    ``holds`` is True or False when ``statistic`` is clear of ``threshold`` by more than
    ``uncertainty``, None (inconclusive) when it is not. ``method`` says how the uncertainty was
    measured; ``detail`` holds what a reader should see beside the statistic (per case for a combined
    verdict); ``case`` names the case that decided a combined verdict.
    """

    statistic: float
    threshold: float
    sense: str
    uncertainty: float
    method: str
    holds: bool | None
    detail: Mapping = field(default_factory=dict)
    case: str = ""

    @property
    def margin(self) -> float:
        """How far the statistic is on the holding side of the threshold, in units of its uncertainty
        (negative on the failing side; ±inf with no uncertainty).
        """
        gap = self.statistic - self.threshold if self.sense in (">", ">=") else self.threshold - self.statistic
        if self.uncertainty > 0:
            return gap / self.uncertainty
        return math.copysign(math.inf, gap) if gap else 0.0

    def text(self) -> str:
        """The comparison in words: ``0.031 ± 0.012 ≤ 0.05``."""
        sign = {"<": "<", "<=": "≤", ">": ">", ">=": "≥"}[self.sense]
        return f"{self.statistic:.4g} ± {self.uncertainty:.2g} {sign} {self.threshold:g}"


def compare(statistic, threshold, sense, uncertainty, method, detail=None, case="") -> Verdict:
    """The verdict of ``statistic sense threshold`` given the statistic's measured ``uncertainty``."""
    if sense not in SENSES:
        raise ValueError(f"sense must be one of {SENSES}, got {sense!r}")
    statistic, threshold, u = float(statistic), float(threshold), float(uncertainty)
    if not (u >= 0 and math.isfinite(u)):
        raise ValueError(f"an uncertainty is a finite number ≥ 0, got {uncertainty!r}")
    if math.isnan(statistic) or math.isnan(threshold):
        holds = False  # nothing measured (an empty phase, a diverged run): the criterion cannot hold
    else:
        d = statistic - threshold  # compared with ±u as a difference, so that rounding cannot hide u
        clear_yes = {"<": d + u < 0, "<=": d + u <= 0, ">": d - u > 0, ">=": d - u >= 0}[sense]
        clear_no = {"<": d - u >= 0, "<=": d - u > 0, ">": d + u <= 0, ">=": d + u < 0}[sense]
        holds = True if clear_yes else False if clear_no else None
    return Verdict(statistic, threshold, sense, u, method, holds, dict(detail or {}), case)


def _combined(verdicts: Mapping, decider) -> Verdict:
    if not verdicts:
        raise ValueError("no cases to combine: a criterion over zero cases decides nothing")
    name, chosen = decider(verdicts)
    detail = {
        str(k): {"statistic": v.statistic, "uncertainty": v.uncertainty, "holds": v.holds, **v.detail}
        for k, v in verdicts.items()
    }
    return Verdict(
        chosen.statistic, chosen.threshold, chosen.sense, chosen.uncertainty, chosen.method,
        chosen.holds, detail, str(name),
    )  # fmt: skip


def _decided_by(decisive: bool, pick):
    """The deciding case: among the cases whose ``holds`` is ``decisive``, the one ``pick`` (min or max)
    chooses by margin; else the first undecided case; else the one ``pick`` chooses among all.
    """

    def decider(vs):
        hits = {k: v for k, v in vs.items() if v.holds is decisive}
        undecided = [(k, v) for k, v in vs.items() if v.holds is None]
        if hits or not undecided:
            return pick((hits or vs).items(), key=lambda kv: kv[1].margin)
        return undecided[0]

    return decider


def all_of(verdicts: Mapping) -> Verdict:
    """Every case must hold: fails if one clearly fails, inconclusive if none fails and one is undecided,
    holds if all hold. The deciding case (its statistic and uncertainty are the combined verdict's):
    the clearest failure, else the first undecided case, else the case closest to undecided.
    """
    return _combined(verdicts, _decided_by(False, min))


def any_of(verdicts: Mapping) -> Verdict:
    """One case must hold: holds if one clearly holds, inconclusive if none does and one is undecided,
    fails if all fail. The deciding case: the clearest holder, else the first undecided, else the
    failure closest to undecided.
    """
    return _combined(verdicts, _decided_by(True, max))
