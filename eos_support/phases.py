"""Where a GD run is stable and where it is unstable (Section 4), read off its history."""

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
