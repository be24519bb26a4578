"""The criteria of the chapter *Quadratics* (Fact 1, Example 1, Example 4).

Every computation there is deterministic float64 GD on a quadratic, so each criterion reads the
statistic computed from the chapter's start and from copies of it perturbed at rounding level
(:func:`eos_support.book.criteria.rounding.with_perturbed`: the first run, row or value is the unperturbed
one), and its uncertainty is their rounding spread (:func:`eos_support.book.criteria.rounding.verdict`).
"""

from __future__ import annotations

import numpy as np

from . import rounding
from .verdict import Verdict, all_of


def _array(x) -> np.ndarray:
    return np.asarray(x.detach().cpu() if hasattr(x, "detach") else x, dtype=np.float64)


def fact1_convex_iff(sweeps, thresholds) -> Verdict:
    """``fact1-convex-iff``: the share of step sizes at which GD diverged iff λ_max(P) > 2/η (and
    converged otherwise) is at least ``thresholds["agree"]``. ``sweeps`` are
    :class:`~eos_support.examples.toy.ThresholdSweep` from θ⁰ and from its perturbed copies.
    """
    base = sweeps[0]
    scale = _array(base.etas) * float(base.eigenvalues[-1]) / 2
    agrees = (_array(base.diverged) == _array(base.above)) & (_array(base.converged) != _array(base.above))
    detail = {"step sizes": len(scale), "disagreeing η·λ_max/2": np.round(scale[~agrees], 3).tolist()}
    return rounding.verdict([s.agreement() for s in sweeps], thresholds["agree"], ">=", detail)


def fact1_nonconvex(sweeps, thresholds) -> Verdict:
    """``fact1-nonconvex``: the share of the step sizes below the threshold (λ_max(P) < 2/η) at which GD
    diverged all the same is at least ``thresholds["diverged_share"]`` (a quadratic with λ_min(P) < 0).
    """
    base = sweeps[0]
    below = ~_array(base.above).astype(bool)
    detail = {"step sizes below 2/η": int(below.sum()), "diverged": int(_array(base.diverged)[below].sum())}
    return rounding.verdict([s.diverged_below() for s in sweeps], thresholds["diverged_share"], ">=", detail)


def example1_converges(ends, thresholds) -> Verdict:
    """``example1-converges``: ‖θᵀ‖ < ``thresholds["converged"]`` for the last iterates ``ends``
    (one row per start, the first unperturbed) of GD on Example 1 with η = 2/41.
    """
    return rounding.verdict(np.linalg.norm(_array(ends), axis=1), thresholds["converged"], "<")


def example1_constant(trajectories, thresholds) -> Verdict:
    """``example1-constant``: max_t abs(abs(θ1ᵗ)/abs(θ1⁰) − 1) < ``thresholds["rounding"]`` on the GD
    ``trajectories`` (steps + 1, starts, d) of Example 1 with η = 2/40.
    """
    theta1 = np.abs(_array(trajectories)[:, :, 0])
    drift = np.max(np.abs(theta1 / theta1[0] - 1), axis=0)
    return rounding.verdict(drift, thresholds["rounding"], "<")


def example1_grows(trajectories, thresholds, factor) -> Verdict:
    """``example1-grows``: on the GD ``trajectories`` (steps + 1, starts, d) of Example 1 with η = 2/39,
    every ratio abs(θ1ᵗ⁺¹)/abs(θ1ᵗ) is within relative ``thresholds["rounding"]`` of ``factor`` = abs(1 − 40η),
    and every ratio is above 1 (two cases, both must hold).
    """
    theta1 = np.abs(_array(trajectories)[:, :, 0])
    ratio = theta1[1:] / theta1[:-1]
    error = np.max(np.abs(ratio / factor - 1), axis=0)
    return all_of(
        {
            "growth factor |1 − 40η|": rounding.verdict(error, thresholds["rounding"], "<"),
            "every ratio > 1": rounding.verdict(ratio.min(axis=0), 1.0, ">"),
        }
    )


def example4_saturates(smoothness, thresholds) -> Verdict:
    """``example4-saturates``: on every quadratic of ``smoothness`` (name → (η, values of
    L(θᵀ; η∇f(θᵀ)) at the last iterate, from the start and its perturbed copies)),
    abs(L/(2/η) − 1) < ``thresholds["tolerance"]``.
    """
    return all_of(
        {
            name: rounding.verdict(np.abs(_array(values) * eta / 2 - 1), thresholds["tolerance"], "<")
            for name, (eta, values) in smoothness.items()
        }
    )
