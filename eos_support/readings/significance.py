"""Small exact statistics for the book's verdicts.

A binomial proportion's Wilson interval, and how likely chance alone makes a run of consecutive
successes as long as one observed. Used where a claim counts epoch ends at which an estimate is
positive or significant (Section 5: Experiment 7, Remark 7).
"""

from __future__ import annotations

import math

import numpy as np

Z95 = 1.959963984540054
"""The two-sided 95 % quantile of the standard normal distribution."""


def wilson_interval(successes: int, trials: int, z: float = Z95) -> tuple[float, float]:
    """The Wilson score interval of a binomial proportion: the p with (k/n − p)² ≤ z² p(1 − p)/n.

    ``successes`` k out of ``trials`` n ≥ 1; ``z`` the normal quantile (95 % by default).
    """
    k, n = int(successes), int(trials)
    if n < 1 or not 0 <= k <= n:
        raise ValueError(f"need 0 <= successes <= trials and trials >= 1, got {successes} of {trials}")
    p, z2 = k / n, z * z
    centre = (p + z2 / (2 * n)) / (1 + z2 / n)
    half = z * math.sqrt(p * (1 - p) / n + z2 / (4 * n * n)) / (1 + z2 / n)
    lo, hi = centre - half, centre + half  # exactly 0 at k = 0 and 1 at k = n, but for rounding
    return (0.0 if k == 0 else max(0.0, lo)), (1.0 if k == n else min(1.0, hi))


def longest_run(flags) -> tuple[int, int]:
    """``(length, start)`` of the longest run of consecutive true ``flags`` (the first of equals).

    ``(0, -1)`` when none is true.
    """
    best, start, current = 0, -1, 0
    for i, flag in enumerate(np.asarray(flags, dtype=bool)):
        current = current + 1 if flag else 0
        if current > best:
            best, start = current, i - current + 1
    return best, start


def run_chance(trials: int, length: int, p: float) -> float:
    """P(``trials`` independent Bernoulli(``p``) trials hold a run of ≥ ``length`` consecutive successes).

    Exact, by a dynamic programme over the length of the current run (states 0 … length − 1; a run
    reaching ``length`` is absorbed). 1 for ``length`` ≤ 0, 0 for ``length`` > ``trials``.
    """
    n, m = int(trials), int(length)
    if n < 0 or not 0 <= p <= 1:
        raise ValueError(f"need trials >= 0 and 0 <= p <= 1, got trials={trials}, p={p}")
    if m <= 0:
        return 1.0
    if m > n:
        return 0.0
    state = np.zeros(m)  # state[j]: P(no run of `length` yet, and the current run has length j)
    state[0], absorbed = 1.0, 0.0
    for _ in range(n):
        absorbed += p * state[-1]  # the current run reaches `length`
        state = np.concatenate([[(1 - p) * state.sum()], p * state[:-1]])
    return float(absorbed)
