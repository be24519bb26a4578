"""Where a GD run is stable and where it is unstable (Section 4), read off its history.

The *unstable phase* of a run starts at :func:`first_rise`, the first loss increase after the measured
sharpness crossed the stability threshold (2/η for GD, :func:`unstable_onset`; an optimizer's own threshold
for a monitored run, :func:`edge_onset`), and lasts to the end of the run; the *stable phase* is the steps
before it (all of them when a run has none). Every network chapter of Section 4 states its claims over
these phases.
"""

from dataclasses import dataclass
from typing import NamedTuple

import numpy as np

from ..train.history import series
from .tables import eta_name, markdown_table


def sharpness_crossing(run):
    """The first step whose measured sharpness exceeds 2/η (condition (1.2) fails); None if none does."""
    sharp = series(run.history, "sharpness")
    above = np.flatnonzero(sharp.values > 2 / run.eta)
    return None if len(above) == 0 else int(sharp.steps[above[0]])


def first_rise(steps, rising, start):
    """The start of the unstable phase, one definition for every run: the first step t ≥ ``start`` (where the
    sharpness first crossed the stability threshold) at which the loss rose, f(θᵗ⁺¹) > f(θᵗ).

    ``steps`` and the boolean ``rising`` (whether the loss rose after that step) align; None when
    ``start`` is None or no rise follows it.
    """
    if start is None:
        return None
    up = np.flatnonzero(np.asarray(rising) & (np.asarray(steps) >= start))
    return None if len(up) == 0 else int(np.asarray(steps)[up[0]])


def unstable_onset(run):
    """The start of a GD run's unstable phase (:func:`first_rise`): the first loss increase (RP > 0) once
    the sharpness exceeded 2/η.

    Right after the crossing the oscillation along the top eigenvector still grows from rounding level
    and RP stays near −1; the phase the paper describes begins when the loss first goes up.
    """
    rp = run.history["rp"]
    return first_rise(np.arange(len(rp)), rp > 0, sharpness_crossing(run))


def first_reach(history, reach=1.0):
    """A monitored run's crossing: the step of the first sharpness measurement at or above ``reach`` × the
    threshold after one below it.

    Adam's first measurements, while v̂ holds a gradient or two, can start above the threshold: they do
    not count. None if the sharpness never rises to it.
    """
    ratio = series(history, "ratio")
    hits = np.flatnonzero((ratio.values[1:] >= reach) & (ratio.values[:-1] < reach)) + 1
    return None if len(hits) == 0 else int(ratio.steps[hits[0]])


def edge_onset(history):
    """The start of a monitored run's unstable phase (:func:`first_rise`), from the records of an
    :class:`~eos_support.monitor.edge_monitor.EdgeMonitor`: the first step t ≥ :func:`first_reach` with
    f(θᵗ⁺¹) > f(θᵗ) between consecutive records.

    As for GD (:func:`unstable_onset`), but read off the loss: with momentum RP_u > 0 can also mean a fall.
    """
    step = history["step"]
    rising = (np.diff(history["loss"]) > 0) & (np.diff(step) == 1)
    return first_rise(step[:-1], rising, first_reach(history))


def unstable_phase(run, key="rp"):
    """The per-step history ``key`` over the unstable phase; empty when the run has none.

    ``key`` "rp" gives RP(θᵗ) (Definition 1), "ds" gives L(θᵗ; η∇f(θᵗ)) (Definition 2).
    """
    onset = unstable_onset(run)
    return run.history[key][onset:] if onset is not None else run.history[key][:0]


def stable_phase(run, key="rp"):
    """The per-step history ``key`` over the stable phase.

    The stable phase is the steps before the unstable one, all of them when the run has none.
    """
    return run.history[key][: unstable_onset(run)]


@dataclass(frozen=True)
class UnstablePhase:
    """RP(θᵗ) over a run's unstable phase.

    Its first step ``onset`` (None: no phase), its length ``steps``, the ``median`` RP (NaN when empty)
    and the share of its steps with RP > 0 (``positive``).
    """

    onset: int | None
    steps: int
    median: float
    positive: float

    def reached(self, min_steps, positive):
        """The unstable regime was reached: a phase of ≥ ``min_steps`` steps, RP > 0 at ≥ ``positive`` of them."""
        return self.steps >= min_steps and self.positive >= positive

    def reading(self):
        """The phase as a claim's measured value."""
        return {"from step": self.onset, "steps": self.steps, "median RP": self.median, "RP > 0": self.positive}


def unstable_rp(run) -> UnstablePhase:
    """RP over ``run``'s unstable phase (see :class:`UnstablePhase`)."""
    rp = unstable_phase(run, "rp")
    empty = len(rp) == 0
    return UnstablePhase(
        unstable_onset(run),
        len(rp),
        float("nan") if empty else float(np.median(rp)),
        0.0 if empty else float(np.mean(rp > 0)),
    )


def sharpness_converged(run):
    """Per sharpness measurement: did Lanczos converge, its residual ≤ the run's ``options.sharpness_tol``?"""
    return run.history["sharpness_residual"] <= run.options.sharpness_tol


class Sharpness(NamedTuple):
    """Sharpness measurements: their ``steps``, λ_max·η/2 (``ratio``) and whether each ``converged``."""

    steps: np.ndarray
    ratio: np.ndarray
    converged: np.ndarray


def unstable_sharpness(run) -> Sharpness:
    """The sharpness measurements of the unstable phase in units of 2/η (EoS A, B)."""
    h = run.history
    onset = unstable_onset(run)
    keep = h["sharpness_step"] >= (onset if onset is not None else np.inf)
    return Sharpness(h["sharpness_step"][keep], h["sharpness"][keep] * run.eta / 2, sharpness_converged(run)[keep])


def for_each_step_size(runs, reading):
    """A criterion "for each step size": ``({η as 2/k: measured}, whether it holds for every run)``.

    ``runs`` is ``{η: Run}``, ``reading(run)`` returns ``(measured, holds)`` for one run; no runs: it fails.
    """
    results = {eta_name(eta): reading(run) for eta, run in runs.items()}
    return {k: m for k, (m, _) in results.items()}, bool(results) and all(bool(h) for _, h in results.values())


def phase_table(groups):
    """A Markdown table of the runs ``groups`` = ``{name: {η: Run}}``, one row each, with their phases.

    Columns: status, steps, the step of 95 % train accuracy, the sharpness crossing, the unstable onset,
    wall time and where the run came from; a run without sharpness measurements has neither phase step.
    """
    head = ["experiment", "η", "status", "steps", "95 % at", "λ_max > 2/η at", "unstable from", "wall", "run"]
    rows = []
    for name, runs in groups.items():
        for eta, run in runs.items():
            measured = len(run.history.get("sharpness", ())) > 0
            cross, onset = (sharpness_crossing(run), unstable_onset(run)) if measured else (None, None)
            wall = f"{run.wall_s:.0f} s"
            rows.append([name, eta_name(eta), run.status, run.steps, run.goal_step, cross, onset, wall, run.source])
    return markdown_table(head, rows)


def divergence(run, continued, factor):
    """Remark 4: does the loss diverge, and does it stay diverged? Returns ``(first, persists)``.

    ``first`` is the first step at which ``run``'s loss exceeds ``factor``·f(θ⁰) or is not finite (None:
    never); ``persists`` says whether the ``continued`` run (the same run, not stopped there) stays so at
    every recorded step from ``first`` on.
    """
    loss, later = run.history["loss"], continued.history["loss"]
    bad = ~np.isfinite(loss) | (loss > factor * loss[0])
    if not bad.any():
        return None, False
    first = int(np.flatnonzero(bad)[0])
    tail = later[first:]
    return first, bool(len(tail) and np.all(~np.isfinite(tail) | (tail > factor * later[0])))
