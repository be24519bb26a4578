"""The criteria of chapter causes: Proposition 1, Examples 2 and 3, Experiment 1.

- Proposition 1's stationary points (``found``: ``{seed: [NormalizedMinimum]}`` of
  :func:`~eos_support.examples.proposition1.minima_over_seeds`; ``restarts``: ``{seed: [[NormalizedMinimum]]}`` of
  :func:`~eos_support.examples.proposition1.restarts_over_seeds`): a statistic per seed, its uncertainty the
  largest change over the solver's restarts from θ⁰ perturbed at rounding level (the slope's also
  2 × its standard error), every seed must hold.
- Examples 2 and 3 are deterministic float64 computations: a statistic computed from the chapter's
  inputs (``values[0]``) and recomputed from inputs perturbed at rounding level (``values[1:]``); its
  uncertainty is their spread.
- Experiment 1 reads trained runs (``{name: Run}``) from their first sharpness measurement above 2/η on
  (:func:`~eos_support.readings.phases.sharpness_crossing`); uncertainties from the block bootstrap over the
  measurements or steps after it, or from reruns of the same run from θ⁰ moved by one float32 ulp.
"""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np

from ...readings.phases import sharpness_converged, sharpness_crossing
from ...examples.proposition1 import STATISTICS, slope_error
from ...readings.uncertainty import bootstrap, spread
from .verdict import Verdict, all_of, compare

RESTARTS = "largest change over the solver's restarts from θ⁰ perturbed by relative 2⁻⁵²"
ROUNDING = "rounding spread over recomputations from inputs perturbed by relative 2⁻⁵²"
SAMPLING = "spread over clouds of other seeds"
EXACT = "none within the run: read off its losses (eos-book robustness measures rounding's effect)"
RERUNS = "spread over reruns from θ⁰ moved by one float32 ulp"
BOOTSTRAP = "2 × moving-block bootstrap SD over the sharpness measurements after the crossing"
SIGN = {"<": "<", "<=": "≤", ">": ">", ">=": "≥"}


def _all_of(cases) -> Verdict:
    """:func:`~eos_support.book.criteria.verdict.all_of` of ``cases``, each case's detail naming its own threshold."""
    return all_of(
        {k: replace(v, detail={**v.detail, "threshold": f"{SIGN[v.sense]} {v.threshold:g}"}) for k, v in cases.items()}
    )


# Proposition 1


def _per_seed(found, restarts, name, threshold, sense, extra=None):
    """One case per seed: :data:`~eos_support.examples.proposition1.STATISTICS`'s ``name`` against ``threshold``,
    ± its spread over the seed's restarts (the larger of that and ``extra(minima)``, when given).
    """
    statistic, cases = STATISTICS[name], {}
    for seed, minima in found.items():
        value = statistic(minima)
        u = spread(value, [statistic(r) for r in restarts[seed]])
        detail, method = {}, f"{RESTARTS} ({len(restarts[seed])})"
        if extra is not None:
            detail = {"restart spread": u, "2 SE": extra(minima)}
            u, method = max(u, detail["2 SE"]), f"the larger of the {method} and 2 × the regression's standard error"
        cases[f"seed {seed}"] = compare(value, threshold, sense, u, method, detail)
    return cases


def prop1_stationary_points_exist(found, thresholds) -> Verdict:
    """prop1-stationary-points-exist (a check): at every point of every seed ‖∇ℓ‖ < residual and λ_min > 0.
    Statistic: the largest ‖∇ℓ‖; the smallest λ_min in the detail.
    """
    residual = max(m.grad_norm for minima in found.values() for m in minima)
    lambda_min = min(m.lambda_min for minima in found.values() for m in minima)
    verdict = compare(residual, thresholds["residual"], "<", 0.0, "exact", {"min λ_min": lambda_min})
    return verdict if lambda_min > 0 else replace(verdict, holds=False)


def prop1_sharpness_unbounded(found, restarts, thresholds) -> Verdict:
    """prop1-sharpness-unbounded: for every seed, λ_max grows at every step of the ε grid (smallest
    neighbour ratio > 1) and by ≥ factor over it (log10 growth ≥ log10 factor). Uncertainty: restarts.
    """
    if len(found) != thresholds["seeds"]:
        raise ValueError(f"the criterion reads {thresholds['seeds']} seeds, got {len(found)}")
    steps = _per_seed(found, restarts, "weakest step ratio", 1.0, ">")
    growth = _per_seed(found, restarts, "growth (log10)", math.log10(thresholds["factor"]), ">=")
    cases = {f"{k}, every step": v for k, v in steps.items()} | {f"{k}, over the grid": v for k, v in growth.items()}
    return _all_of(cases)


def prop1_sharpness_exponent(found, restarts, thresholds) -> Verdict:
    """prop1-sharpness-exponent: for every seed, low ≤ slope of log λ_max against log ε ≤ high.
    Uncertainty: the larger of the restarts' spread and 2 × the regression's standard error.
    """

    def two_se(minima):
        return 2 * slope_error(minima)

    low = _per_seed(found, restarts, "slope", thresholds["low"], ">=", two_se)
    high = _per_seed(found, restarts, "slope", thresholds["high"], "<=", two_se)
    return _all_of({f"{k} ≥ low": v for k, v in low.items()} | {f"{k} ≤ high": v for k, v in high.items()})


def prop1_where(found, restarts, thresholds) -> Verdict:
    """prop1-where: for every seed, the largest min_i ‖a_i‖/ε over its points ≤ factor. Uncertainty: restarts."""
    return _all_of(_per_seed(found, restarts, "max min_i ‖a_i‖/ε", thresholds["factor"], "<="))


def prop1_no_stationary_point(ratio, bound, thresholds) -> Verdict:
    """prop1-no-stationary-point (a check): min_t ‖∇ℓ‖/(2γ‖ζ‖) ≥ 1 − rounding (``ratio`` per iterate) and
    the bound 2γ‖ζᵗ‖ > 0 at every iterate (``bound``).
    """
    smallest = float(np.min(ratio))
    verdict = compare(smallest, 1 - thresholds["rounding"], ">=", 0.0, "exact", {"min 2γ‖ζ‖": float(np.min(bound))})
    return verdict if np.min(bound) > 0 else replace(verdict, holds=False)


# Examples 2 and 3 (float64 toys)


def rounding(values, threshold, sense, detail=None, method=ROUNDING) -> Verdict:
    """``values[0] sense threshold``, ``values[1:]`` its recomputations; uncertainty: their spread."""
    values = [float(v) for v in values]
    if len(values) < 2:
        raise ValueError("a spread needs the statistic and at least one recomputation")
    return compare(values[0], threshold, sense, spread(values[0], values[1:]), method, detail)


def example2_quadratic_diverges(farthest, thresholds) -> Verdict:
    """example2-quadratic-diverges: the largest ‖θᵗ‖ of the run (which stops past 1e12) > bound."""
    return rounding(farthest, thresholds["bound"], ">")


def example2_tanh_bounded(ratios, thresholds) -> Verdict:
    """example2-tanh-bounded: max_{t ≥ 1} q(θᵗ)/q(θ⁰) ≤ ratio."""
    return rounding(ratios, thresholds["ratio"], "<=")


def example2_forward_invariant(escapes, thresholds) -> Verdict:
    """example2-forward-invariant: max q(F(θ))/R over the cloud ≤ ratio for tanh and > ratio for the
    quadratic; ``escapes`` = {"tanh": values, "quadratic": values}, each the chapter's cloud first, then
    clouds of other seeds.
    """
    ratio = thresholds["ratio"]
    return _all_of(
        {
            "tanh": rounding(escapes["tanh"], ratio, "<=", method=SAMPLING),
            "quadratic": rounding(escapes["quadratic"], ratio, ">", method=SAMPLING),
        }
    )


def example3_linear_diverges(farthest, thresholds) -> Verdict:
    """example3-linear-diverges: the largest ‖θᵗ‖ of the run > bound."""
    return rounding(farthest, thresholds["bound"], ">")


def example3_tanh_converges(grad_norms, losses, thresholds) -> Verdict:
    """example3-tanh-converges: ‖∇f(θ^T)‖ < gradient and f(θ^T) < loss at the last iterate."""
    return _all_of(
        {
            "‖∇f‖": rounding(grad_norms, thresholds["gradient"], "<"),
            "f": rounding(losses, thresholds["loss"], "<"),
        }
    )


def example3_sharpness(ratios, thresholds) -> Verdict:
    """example3-sharpness: low ≤ λ_max/(2/η) ≤ high at the last iterate."""
    return _all_of(
        {"≥ low": rounding(ratios, thresholds["low"], ">="), "≤ high": rounding(ratios, thresholds["high"], "<=")}
    )


# Experiment 1


def log_loss_ratio(run) -> float:
    """log10 max_t f(θᵗ)/f(θ⁰) over the run; a loss that is not finite counts as the largest float32."""
    loss = np.asarray(run.history["loss"], dtype=np.float64)
    loss = np.where(np.isfinite(loss), loss, np.finfo(np.float32).max)
    return float(np.log10(loss.max() / loss[0]))


def exp1_linear_diverges(runs, thresholds) -> Verdict:
    """exp1-linear-diverges: log10 max_t f(θᵗ)/f(θ⁰), capped at 2 × log_cut, > log_cut (the run diverged);
    a run that the trainer stopped as diverged counts at the cap (it stops at its first loss past the cut:
    how far past says nothing). ``runs[0]`` the run and ``runs[1:]`` reruns from θ⁰ perturbed by one float32
    ulp; uncertainty: the statistic's spread over them.
    """
    cap = 2 * thresholds["log_cut"]
    values = [cap if run.status == "diverged" else min(log_loss_ratio(run), cap) for run in runs]
    detail = {"status": runs[0].status, "reruns": [run.status for run in runs[1:]]}
    return rounding(values, thresholds["log_cut"], ">", detail, RERUNS)


def exp1_activations_converge(runs, thresholds) -> Verdict:
    """exp1-activations-converge: for each network, log10 max_t f(θᵗ)/f(θ⁰) < log_cut."""
    return _all_of(
        {
            name: compare(log_loss_ratio(run), thresholds["log_cut"], "<", 0.0, EXACT, {"status": run.status})
            for name, run in runs.items()
        }
    )


def after_crossing(run):
    """``(cross, above, converged)``: the first step whose sharpness exceeds 2/η (None if none), and for
    the measurements from it on whether each exceeds 2/η and whether Lanczos converged.
    """
    h, cross = run.history, sharpness_crossing(run)
    keep = np.asarray(h["sharpness_step"]) >= (cross if cross is not None else np.inf)
    above = np.asarray(h["sharpness"], dtype=np.float64)[keep] > 2 / run.eta
    return cross, above, np.asarray(sharpness_converged(run))[keep]


def exp1_sharpness_above(runs, thresholds, seed: int = 11) -> Verdict:
    """exp1-sharpness-above: for each network, the share of the sharpness measurements from the first
    one above 2/η on that exceed 2/η > share, every one converged (one that did not fails the network).
    Uncertainty: the block bootstrap of the share over those measurements.
    """
    cases = {}
    for name, run in runs.items():
        cross, above, converged = after_crossing(run)
        detail = {"from step": cross, "measurements": len(above), "not converged": int(np.sum(~converged))}
        share = float(np.mean(above)) if len(above) else math.nan
        u = bootstrap(above.astype(np.float64), np.mean, seed=seed) if len(above) else 0.0
        verdict = compare(share, thresholds["share"], ">", u, BOOTSTRAP, detail)
        cases[name] = verdict if converged.all() else replace(verdict, holds=False)
    return _all_of(cases)


def loss_ratio(run):
    """``(cross, f(θ_T)/f(θ at the crossing))`` of a run, the crossing its first sharpness measurement above
    2/η (:func:`~eos_support.readings.phases.sharpness_crossing`); ``(None, nan)`` for a run that never crosses.
    """
    cross = sharpness_crossing(run)
    if cross is None:
        return None, math.nan
    loss = np.asarray(run.history["loss"], dtype=np.float64)
    return cross, float(loss[-1] / loss[cross])


def exp1_decreases_non_monotonically(runs, thresholds, seed: int = 12) -> Verdict:
    """exp1-decreases-non-monotonically: for each network (``runs[name]``: the run, then its reruns from θ⁰
    moved by one float32 ulp), f(θ_T)/f(θ at the crossing) ≤ ratio, its uncertainty the spread of that
    ratio over the reruns; and the number of steps from the crossing on whose loss rose by more than rise
    (relative) ≥ 1, ± the block bootstrap of the count over those steps (of the first run).
    """
    cases = {}
    for name, (run, *reruns) in runs.items():
        if not reruns:
            raise ValueError(f"{name}: the loss ratio's uncertainty needs at least one rerun from a perturbed θ⁰")
        cross, ratio = loss_ratio(run)
        if cross is None:
            cases[f"{name}, loss ratio"] = compare(math.nan, thresholds["ratio"], "<=", 0.0, "no crossing")
            continue
        again = [loss_ratio(r)[1] for r in reruns]
        detail = {"from step": int(cross), "steps": run.steps - int(cross), "reruns": again}
        cases[f"{name}, loss ratio"] = compare(ratio, thresholds["ratio"], "<=", spread(ratio, again), RERUNS, detail)
        loss = np.asarray(run.history["loss"], dtype=np.float64)
        rises = (loss[cross + 1 :] > loss[cross:-1] * (1 + thresholds["rise"])).astype(np.float64)
        u = bootstrap(rises, np.sum, seed=seed) if len(rises) > 1 else 0.0
        cases[f"{name}, rises"] = compare(
            rises.sum(), 1, ">=", u, "2 × moving-block bootstrap SD over the steps after the crossing"
        )
    return _all_of(cases)


def case_table(verdicts):
    """Every case of each claim's verdict (``{claim_id: Verdict}``) as a Markdown table: the case, its
    statistic ± uncertainty, its threshold and whether it holds (an undecided case: "inconclusive").
    """
    from ...readings.tables import Markdown, markdown_table

    word = {True: "holds", False: "fails", None: "inconclusive"}
    rows = []
    for claim_id, v in verdicts.items():
        own = {"statistic": v.statistic, "uncertainty": v.uncertainty, "holds": v.holds}
        cases = v.detail if v.case else {"": own | {"threshold": f"{SIGN[v.sense]} {v.threshold:g}"}}
        for case, d in cases.items():
            stat = f"{d['statistic']:.4g} ± {d['uncertainty']:.2g}"
            rows.append((claim_id, case, stat, d["threshold"], word[d["holds"]]))
    head = ["claim", "case", "statistic ± uncertainty", "threshold", "outcome of the case"]
    return Markdown(markdown_table(head, rows))
