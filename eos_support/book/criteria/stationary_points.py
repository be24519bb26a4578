"""The criteria of the chapter *Unstable GD can't reach sharp stationary points* (Theorem 1).

Deterministic computations on :class:`~eos_support.examples.toy.TwoWells`, in float64 and (the saddle's stable
manifold) in mpmath: each statistic's uncertainty is its rounding spread, recomputed from inputs
perturbed at the arithmetic's unit (:func:`eos_support.book.criteria.rounding.verdict`).
"""

from __future__ import annotations

from . import rounding
from .verdict import Verdict, all_of

ROLES = {"sharp minimum": ">", "saddle": ">", "flat minimum": "<"}
"""How the spectral radius of I − η∇²f(p) compares with 1 at each stationary point of
:class:`~eos_support.examples.toy.TwoWells` for the step sizes of the claims: the sharp minimum and the saddle
repel GD, the flat minimum attracts it."""


def thm1_linearisation(radii, thresholds) -> Verdict:
    """``thm1-linearisation``: for every η of ``radii`` (η → point name → spectral radii of
    I − η∇²f(p), at p and at its perturbed copies), the radius is above ``thresholds["radius"]`` at the
    points that repel (:data:`ROLES`) and below it at the one that attracts.
    """
    return all_of(
        {
            f"η = {eta:g}, {name}": rounding.verdict(values, thresholds["radius"], ROLES[name], inputs="p")
            for eta, by_point in radii.items()
            for name, values in by_point.items()
        }
    )


def thm1_no_sharp_minimum(arrivals, thresholds) -> Verdict:
    """``thm1-no-sharp-minimum``: for every η of ``arrivals`` (η → :class:`~eos_support.examples.toy.Arrivals`
    at the sharp minimum), at most ``thresholds["starts"]`` starts of the grid converge to it.
    """
    return all_of(
        {
            f"η = {eta:g}": rounding.verdict(
                [a.count, *a.recounts], thresholds["starts"], "<=", inputs=f"the {a.rerun} closest starts"
            )
            for eta, a in arrivals.items()
        }
    )


def thm1_saddle_manifold(manifold, thresholds) -> Verdict:
    """``thm1-saddle-manifold``: at every η of ``manifold`` (a
    :class:`~eos_support.examples.stationary.SaddleManifold`), every start on the saddle's stable manifold ends
    within ``thresholds["near"]`` of the saddle and every start moved off it farther than
    ``thresholds["far"]``.
    """
    unit = f"2^(−precision) at {manifold.digits} digits"
    cases = {}
    for eta in manifold.on:
        sides = (
            ("on", [manifold.on[eta], *manifold.on_rounding[eta]], thresholds["near"], "<", "farthest"),
            ("off", [manifold.off[eta], *manifold.off_rounding[eta]], thresholds["far"], ">", "nearest"),
        )
        for side, values, threshold, sense, which in sides:
            inputs = f"the {which} start"
            cases[f"η = {eta:g}, {side}"] = rounding.verdict(values, threshold, sense, inputs=inputs, unit=unit)
    return all_of(cases)
