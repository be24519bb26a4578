"""Verdicts of deterministic computations: the toy costs of the book, in float64 or in mpmath.

Nothing is sampled there, so a statistic's only uncertainty is rounding: the statistic is computed from
the chapter's inputs and recomputed from copies of them perturbed at the arithmetic's unit
(:func:`~eos_support.readings.uncertainty.perturbed`), and its uncertainty is the largest change
(:func:`~eos_support.readings.uncertainty.spread`). A statistic within that spread of its threshold is
decided by rounding, not by the computation: the verdict is then inconclusive.
"""

from __future__ import annotations

from ...readings.uncertainty import perturbed, spread
from .verdict import Verdict, compare

DRAWS = 4
"""Perturbed recomputations per statistic."""
FLOAT64 = 2.0**-52
"""The relative perturbation of float64 inputs: one unit in the last place of 1."""


def with_perturbed(theta, draws: int = DRAWS, relative: float = FLOAT64, seed: int = 0):
    """``theta`` (a tensor) and ``draws`` copies perturbed by relative ``relative``, stacked: row 0 is
    ``theta`` itself, rows 1… the copies (:func:`~eos_support.readings.uncertainty.perturbed`).
    """
    import torch

    return torch.stack([theta, *perturbed(theta, draws, relative, seed)])


def verdict(values, threshold, sense, detail=None, inputs="θ⁰", unit="2⁻⁵²") -> Verdict:
    """The verdict of ``values[0] sense threshold``, ``values[0]`` the statistic computed from the
    inputs and ``values[1:]`` its recomputations from ``inputs`` perturbed by relative ``unit``; the
    uncertainty is their rounding spread.
    """
    values = [float(v) for v in values]
    if len(values) < 2:
        raise ValueError("a rounding spread needs the statistic and at least one recomputation")
    method = f"rounding spread over {len(values) - 1} recomputations from {inputs} perturbed by relative {unit}"
    return compare(values[0], threshold, sense, spread(values[0], values[1:]), method, detail)
