"""The criteria of the chapter ``relu_depth`` (Experiment 6): (4.3) on ReLU networks of two depths.

``runs`` is ``{(depth, η): Run}``. Each run is judged as in the chapter ``theorem2``
(:func:`~eos_support.book.criteria.theorem2.unstable_approximation`,
:func:`~eos_support.book.criteria.theorem2.stable_approximation`), and the cases combine with
:func:`~eos_support.book.criteria.verdict.all_of`: the claim holds when every case holds, fails when one fails, and is
inconclusive otherwise.
"""

from __future__ import annotations

from ...readings.tables import eta_name
from .theorem2 import stable_approximation, unstable_approximation
from .verdict import Verdict, all_of


def case_name(depth, eta) -> str:
    """A run's name as a case of a claim: "2 hidden layers, η = 2/7"."""
    return f"{depth} hidden layers, η = {eta_name(eta)}"


def exp6_unstable(runs, thresholds) -> Verdict:
    """(4.3) holds in the unstable phase at every depth: for each depth, the run at the largest step size
    meets :func:`~eos_support.book.criteria.theorem2.unstable_approximation`.
    """
    eta = max(e for _, e in runs)
    depths = sorted({d for d, _ in runs})
    return all_of({case_name(d, eta): unstable_approximation(runs[d, eta], thresholds) for d in depths})


def exp6_stable(runs, thresholds) -> Verdict:
    """(4.3) holds over the stable steps of every run (every depth and step size)."""
    return all_of({case_name(d, eta): stable_approximation(run, thresholds) for (d, eta), run in runs.items()})
