"""The criteria of chapter relative_progress: Experiments 2 and 3, Remarks 3 and 4 (Section 4.1).

Each function decides one claim of the registry from the runs' histories and the claim's thresholds
(``claims.thresholds(claim_id)``) and returns a :class:`~eos_support.book.criteria.verdict.Verdict`. Runs are
``{η: Run}``; the unstable and stable phases are those of :mod:`eos_support.readings.phases`.
"""

from __future__ import annotations

import math

import numpy as np

from ...readings.phases import divergence, sharpness_converged, unstable_onset, unstable_phase

from ...readings.tables import eta_name
from ...readings.theorem2 import rp_precision
from .gd_runs import (
    BOOTSTRAP_PHASE,
    check,
    crossing_uncertainty,
    each_step_size,
    nothing_measured,
    phase_statistic,
)
from .verdict import Verdict, all_of, compare

ROUNDING = "the largest |RP₃₂ − RP₆₄| at the steps where the trainer recomputed RP in float64 (rp_precision)"
"""The ``method`` of a statistic whose uncertainty is the measured float32 rounding error of RP."""


def rounding_error(run) -> float:
    """The measured float32 rounding error of RP along ``run``: max abs(RP₃₂ − RP₆₄)
    (:func:`~eos_support.readings.theorem2.rp_precision`).
    """
    steps, err, _ = rp_precision(run)
    if len(steps) == 0:
        raise ValueError("the run recomputed no RP in float64 (float64_every): its rounding error is unmeasured")
    return float(np.max(err))


def exp2_stable(runs, thresholds=None) -> Verdict:
    """exp2-stable (a check): each run reaches its accuracy goal with every sharpness measurement below
    2/η (statistic: the largest λ_max·η/2) and converged.
    """

    def one(run):
        ratio = float(np.max(run.history["sharpness"]) * run.eta / 2)
        converged = bool(sharpness_converged(run).all())
        holds = run.status == "acc_goal" and ratio < 1 and converged
        return check(ratio, 1, "<", holds, {"status": run.status, "converged": converged})

    return each_step_size(runs, one)


def exp2_rp_negative(runs, thresholds=None) -> Verdict:
    """exp2-rp-negative: for each stable step size, max over the steps of RP(θᵗ) < 0.

    Uncertainty: the run's measured float32 rounding error of RP (:func:`rounding_error`).
    """

    def one(run):
        return compare(np.max(run.history["rp"]), 0, "<", rounding_error(run), ROUNDING, {"steps": run.steps})

    return each_step_size(runs, one)


def exp2_rp_precision(runs, thresholds) -> Verdict:
    """exp2-rp-precision (a check): at every step where RP was recomputed in float64 (≥ 1 step),
    abs(RP₃₂ − RP₆₄) ≤ tolerance and RP₆₄ < 0; statistic: the largest abs(RP₃₂ − RP₆₄).
    """

    def one(run):
        steps, err, rp64 = rp_precision(run)
        if len(steps) == 0:
            return check(math.nan, thresholds["tolerance"], "<=", False, {"steps": 0})
        worst, top = float(np.max(err)), float(np.max(rp64))
        holds = worst <= thresholds["tolerance"] and top < 0
        return check(worst, thresholds["tolerance"], "<=", holds, {"steps": len(steps), "max RP₆₄": top})

    return each_step_size(runs, one)


def exp2_monotone(runs, thresholds=None) -> Verdict:
    """exp2-monotone: for each stable step size, 0 steps with f(θᵗ⁺¹) ≥ f(θᵗ).

    Statistic: that number of steps. Uncertainty: the number of steps whose loss change could have the
    other sign by rounding, abs(RP(θᵗ)) ≤ the run's measured rounding error of RP (:func:`rounding_error`).
    """

    def one(run):
        rises = int(np.sum(np.diff(run.history["loss"]) >= 0))
        near = int(np.sum(np.abs(run.history["rp"]) <= rounding_error(run)))
        method = "the number of steps with |RP| ≤ " + ROUNDING
        return compare(rises, 0, "<=", near, method, {"steps": run.steps})

    return each_step_size(runs, one)


def remark3_saturates(runs, thresholds, seed: int = 3) -> Verdict:
    """remark3-saturates: for each stable step size, abs(median RP − (−1)) over the run's second half ≤ band.

    Uncertainty: the block bootstrap of the median over those steps.
    """

    def one(run):
        rp = run.history["rp"]
        median, u = phase_statistic(rp[len(rp) // 2 :], np.median, seed)
        return compare(abs(median + 1), thresholds["band"], "<=", u, BOOTSTRAP_PHASE, {"median RP": median})

    return each_step_size(runs, one)


def exp3_rp_oscillates(runs, thresholds, seed: int = 31) -> Verdict:
    """exp3-rp-oscillates: for each unstable step size, the run reaches its accuracy goal and has an
    unstable phase, over which abs(median RP) ≤ band and RP > 0 at ≥ positive of the steps.

    Uncertainties: the block bootstrap of the median and of the share over the phase's steps.
    """

    def one(run):
        rp = unstable_phase(run, "rp")
        detail = {"status": run.status, "from step": unstable_onset(run), "phase steps": len(rp)}
        if run.status != "acc_goal" or len(rp) == 0:
            return nothing_measured(thresholds["band"], "<=", BOOTSTRAP_PHASE, detail)
        median, u_median = phase_statistic(rp, np.median, seed)
        share, u_share = phase_statistic(rp, lambda x: np.mean(x > 0), seed)
        return {
            "|median RP|": compare(abs(median), thresholds["band"], "<=", u_median, BOOTSTRAP_PHASE, detail),
            "share RP > 0": compare(share, thresholds["positive"], ">=", u_share, BOOTSTRAP_PHASE, detail),
        }

    return each_step_size(runs, one)


def exp3_non_monotone(runs, thresholds=None, seed: int = 32) -> Verdict:
    """exp3-non-monotone: for each unstable step size, f(θᵗ⁺¹) > f(θᵗ) at ≥ 1 step.

    Statistic: the number of such steps. Uncertainty: its block bootstrap over the run's steps.
    """

    def one(run):
        rises = (np.diff(run.history["loss"]) > 0).astype(np.float64)
        count, u = phase_statistic(rises, np.sum, seed)
        method = "2 × moving-block bootstrap SD over the run's steps (eos_support.book.criteria.bootstrap)"
        return compare(count, 1, ">=", u, method, {"steps": run.steps})

    return each_step_size(runs, one)


def remark4_faster(runs, thresholds=None) -> Verdict:
    """remark4-faster: the steps to the accuracy goal strictly decrease as η grows.

    Per pair of consecutive step sizes η < η′: statistic the gap (steps at η) − (steps at η′) > 0, with
    uncertainty √(u² + u′²) from each run's :func:`~eos_support.book.criteria.gd_runs.crossing_uncertainty`.
    A run that missed its goal fails the claim.
    """
    method = "2 × residual SD / slope of the accuracy over the last 10 % of steps before each goal, in quadrature"
    etas = sorted(runs)
    if len(etas) < 2:
        raise ValueError("remark4-faster compares at least two step sizes")
    goal = {eta: runs[eta].goal_step for eta in etas}
    u = {
        eta: crossing_uncertainty(runs[eta].history["accuracy"], goal[eta]) if goal[eta] is not None else 0.0
        for eta in etas
    }
    cases = {}
    for a, b in zip(etas, etas[1:]):
        detail = {"steps": {eta_name(a): goal[a], eta_name(b): goal[b]}}
        name = f"{eta_name(a)} → {eta_name(b)}"
        if goal[a] is None or goal[b] is None:
            cases[name] = nothing_measured(0, ">", method, detail)
        else:
            cases[name] = compare(goal[a] - goal[b], 0, ">", math.hypot(u[a], u[b]), method, detail)
    return all_of(cases)


def remark4_diverges(run, continued, thresholds, seed: int = 42) -> Verdict:
    """remark4-diverges: the loss exceeds factor·f(θ⁰) (or stops being finite), and the same run continued
    stays so at every step from then on.

    Statistic: the share of the continued run's steps from the first such step on at which the loss is
    above the bound (or not finite), against 1 (every step). Uncertainty: its block bootstrap over those
    steps. No step above the bound: the claim fails.
    """
    factor = thresholds["factor"]
    first, persists = divergence(run, continued, factor)
    loss = continued.history["loss"]
    method = "2 × moving-block bootstrap SD over the continued run's steps from the first above the bound"
    detail = {"first step above the bound": first, "continued to step": continued.steps, "persists": persists}
    if first is None:
        return nothing_measured(1, ">=", method, detail)
    tail = loss[first:]
    above = (~np.isfinite(tail) | (tail > factor * loss[0])).astype(np.float64)
    share, u = phase_statistic(above, np.mean, seed)
    return compare(share, 1, ">=", u, method, detail)
