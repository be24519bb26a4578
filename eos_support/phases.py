"""Where a GD run is stable and where it is unstable (Section 4), read off its history.

The *unstable phase* of a run starts at :func:`unstable_onset`, the first loss increase after the
measured sharpness exceeded 2/η, and lasts to the end of the run. The relative-progress,
directional-smoothness and sharpness chapters state their claims over that phase.
"""

import numpy as np


def eta_name(eta):
    """A step size as the paper writes it, 2/k."""
    k = 2 / eta
    return f"2/{k:.0f}" if abs(k - round(k)) < 1e-9 else f"2/{k:.3g}"


def sharpness_crossing(run):
    """The first step whose measured sharpness exceeds 2/η (condition (1.2) fails); None if none does."""
    h = run.history
    above = np.flatnonzero(h["sharpness"] > 2 / run.eta)
    return None if len(above) == 0 else int(h["sharpness_step"][above[0]])


def unstable_onset(run):
    """The start of the unstable phase: the first loss increase (RP > 0) once the sharpness exceeded 2/η.

    Right after the crossing the oscillation along the top eigenvector still grows from rounding level
    and RP stays near −1; the phase the paper describes begins when the loss first goes up.
    """
    cross = sharpness_crossing(run)
    if cross is None:
        return None
    up = np.flatnonzero(run.history["rp"][cross:] > 0)
    return None if len(up) == 0 else cross + int(up[0])


def unstable_phase(run, key="rp"):
    """The per-step history ``key`` over the unstable phase; empty when the run has none.

    ``key`` "rp" gives RP(θᵗ) (Definition 1), "ds" gives L(θᵗ; η∇f(θᵗ)) (Definition 2).
    """
    onset = unstable_onset(run)
    return run.history[key][onset:] if onset is not None else np.array([])


def unstable_sharpness(run):
    """``(steps, λ_max·η/2)``: the sharpness measurements of the unstable phase in units of 2/η (EoS A, B)."""
    h = run.history
    onset = unstable_onset(run)
    keep = h["sharpness_step"] >= (onset if onset is not None else np.inf)
    return h["sharpness_step"][keep], h["sharpness"][keep] * run.eta / 2


def instability_evidence(run):
    """``(steps with RP > 0, max over t of L(θᵗ; η∇f(θᵗ))·η/2)``: has the run reached the unstable regime?

    It has when the loss went up at some step and the directional smoothness (Definition 2) passed 2/η.
    """
    h = run.history
    return int(np.sum(h["rp"] > 0)), float(np.max(h["ds"]) * run.eta / 2)


def phase_table(groups):
    """A table of the runs ``groups`` = ``{name: {η: Run}}``, one line each, with their phases.

    Columns: status, steps, the step of 95 % train accuracy, the sharpness crossing, the unstable onset,
    wall time and where the run came from; a run without sharpness measurements has neither phase step.
    """
    lines = [f"{'experiment':<14}{'η':>8}{'status':>10}{'steps':>7}{'95 % at':>9}{'λ_max > 2/η at':>16}"
             f"{'unstable from':>15}{'wall':>8}  run"]
    for name, runs in groups.items():
        for eta, run in runs.items():
            measured = len(run.history.get("sharpness", ())) > 0
            cross, onset = (sharpness_crossing(run), unstable_onset(run)) if measured else (None, None)
            lines.append(f"{name:<14}{eta_name(eta):>8}{run.status:>10}{run.steps:>7}{str(run.goal_step):>9}"
                         f"{str(cross):>16}{str(onset):>15}{run.wall_s:>7.0f}s  {run.source}")
    return "\n".join(lines)
