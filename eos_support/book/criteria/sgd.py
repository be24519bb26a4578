"""The criteria of the chapter ``sgd``: Experiment 7, Remark 7, Experiments 8 and 9, Appendix A.

Each function takes the runs of :func:`~eos_support.train.train_sgd` (or what the chapter measured) and
the claim's thresholds from the registry, and returns a :class:`~eos_support.book.criteria.verdict.Verdict`. They all
read the **window** of a run of E epochs, its epoch ends ⌈transient·E⌉ + 1 … E
(:func:`~eos_support.readings.sgd.window`), and E[RP] is the control-variate estimate ``erp_cv``.

The uncertainties, as the registry states them:

- a statistic of the window's epoch ends (a median, a share, a ratio of medians) gets
  :func:`~eos_support.readings.uncertainty.bootstrap`'s moving-block bootstrap over those epoch ends; where each
  epoch end's estimate has its own standard error (``gap_se``, ``erp_cv_se``), every resampled estimate is
  also redrawn within it (``_resample_with_errors``), so both the trajectory's and the M minibatches'
  randomness count;
- a claim made at *every* epoch end (the strict form of (5.1)) compares each epoch end's estimate with
  the tolerance, its uncertainty the estimate's 2 SE;
- the loss at the last epoch end varies from one epoch end to the next: its uncertainty is twice the
  standard deviation of the loss over the run's last fifth.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np

from ...readings.tables import eta_name
from ...readings.sgd import in_window, window
from ...readings.significance import longest_run, run_chance, wilson_interval
from ...readings.uncertainty import COVERAGE, RESAMPLES, bootstrap
from .verdict import Verdict, all_of, any_of, compare

BOOTSTRAP = "2 × moving-block bootstrap SD over the window's epoch ends"
REDRAWN = BOOTSTRAP + ", each resampled estimate redrawn within its standard error"


def _resample_with_errors(values, errors, statistic, seed):
    """:data:`COVERAGE` × the SD of ``statistic`` over moving-block resamples of the epoch ends, each
    resampled estimate moved by its standard error times a standard normal draw.

    ``values`` and ``errors`` are (n, k): k estimates per epoch end and their standard errors;
    ``statistic`` maps an (n, k) array to a number. Seeded by ``seed``: the same data give the same number.
    """
    values, errors = np.asarray(values, dtype=np.float64), np.asarray(errors, dtype=np.float64)
    k = values.shape[1]
    rng = np.random.default_rng(seed + 1)
    noise = iter(rng.standard_normal((RESAMPLES, *values.shape)))

    def redrawn(rows):
        return statistic(rows[:, :k] + rows[:, k:] * next(noise))

    return bootstrap(np.hstack([values, errors]), redrawn, seed=seed)


def _share(flags) -> float:
    return float(np.mean(flags))


def _given(name, verdict, premises) -> Verdict:
    """``verdict`` (the case ``name``) where every one of ``premises`` (name → Verdict) holds, with their
    outcomes in its detail; else the premises and the verdict combined by :func:`all_of`.
    """
    combined = all_of({name: verdict, **premises})
    if any(p.holds is not True for p in premises.values()):
        return combined
    return dataclasses.replace(verdict, detail=combined.detail)


def exp7_loss_decreases(run, thresholds) -> Verdict:
    """Experiment 7: SGD decreases the full-batch loss in the long run.

    Two cases, both must hold: the last epoch end's loss over the initial one is < ``ratio`` (uncertainty:
    2 × the SD of loss/initial over the run's last ⌈transient·E⌉ epoch ends), and the window's mean loss
    over the mean of the epochs before it is < 1 (uncertainty: the bootstrap of the window's mean).
    """
    loss = np.asarray(run.history["loss"], dtype=np.float64)
    epochs = run.options.epochs
    ends = window(epochs, thresholds["transient"])
    late = in_window(run, "loss", thresholds["transient"])
    initial, early = loss[0], loss[: ends.start].mean()
    tail = late[-(ends.start - 1) :] / initial
    last = compare(
        late[-1] / initial,
        thresholds["ratio"],
        "<",
        COVERAGE * np.std(tail) if np.isfinite(tail).all() else 0.0,
        f"2 × SD of loss/initial over the last {len(tail)} epoch ends",
        {"last loss": late[-1], "initial loss": initial},
    )
    mean = compare(
        late.mean() / early,
        1.0,
        "<",
        bootstrap(late / early, np.mean, seed=71) if np.isfinite(late).all() else 0.0,
        BOOTSTRAP,
        {"window's mean loss": late.mean(), "first epochs' mean loss": early},
    )
    return all_of({"last / initial loss": last, "window's / first epochs' mean loss": mean})


def exp7_erp_not_below_zero(run, thresholds) -> Verdict:
    """Experiment 7: E[RP] does not stay below zero over the window.

    Holds when the run's estimates use ≥ ``samples`` minibatches and either the window's median E[RP] is
    ≥ 0 (uncertainty: the bootstrap, estimates redrawn within their SEs) or the longest run of consecutive
    epoch ends with estimate − 2 SE > 0 is so long that chance alone (each epoch end significant with
    probability ``chance``) gives one as long with probability < ``alpha`` (uncertainty: 2 × the SD of
    that probability when every estimate is redrawn within its SE).
    """
    t = thresholds
    erp, se = in_window(run, "erp_cv", t["transient"]), in_window(run, "erp_cv_se", t["transient"])
    ends = window(run.options.epochs, t["transient"])
    samples = compare(run.options.samples, t["samples"], ">=", 0.0, "exact (a setting)")
    median = compare(
        np.median(erp),
        0.0,
        ">=",
        _resample_with_errors(erp[:, None], se[:, None], lambda x: np.median(x[:, 0]), seed=72),
        REDRAWN,
        {"window": f"epoch ends {ends.start}–{ends.stop - 1}"},
    )

    def chance(values):
        return run_chance(len(values), longest_run(values - 2 * se > 0)[0], t["chance"])

    length, start = longest_run(erp - 2 * se > 0)
    rng = np.random.default_rng(73)
    redraws = [chance(erp + se * rng.standard_normal(len(erp))) for _ in range(RESAMPLES)]
    significant = compare(
        chance(erp),
        t["alpha"],
        "<",
        COVERAGE * np.std(redraws),
        "2 × SD over the estimates redrawn within their standard errors",
        {"longest run with estimate − 2 SE > 0": length, "from epoch": ends.start + start if length else -1},
    )
    return _given(
        "not below zero", any_of({"median E[RP]": median, "chance of the run": significant}), {"samples": samples}
    )


def remark7_majority(run, thresholds) -> Verdict:
    """Remark 7: the share of the window's epoch ends with E[RP] estimate ≥ 0 is > ``majority``.

    Uncertainty: the moving-block bootstrap of the share over the window's epoch ends (the 95 % Wilson
    interval, which takes them as independent, is shown beside it).
    """
    erp = in_window(run, "erp_cv", thresholds["transient"])
    flags = (erp >= 0).astype(np.float64)
    k, n = int(flags.sum()), len(flags)
    return compare(
        k / n,
        thresholds["majority"],
        ">",
        bootstrap(flags, _share, seed=74),
        BOOTSTRAP,
        {"at or above 0": k, "of": n, "95 % Wilson interval": wilson_interval(k, n)},
    )


def _not_vacuous(runs, t) -> Verdict:
    """E[RP] > 0 at ≥ ``positive`` of the window's epoch ends at one step size at least (bootstrap)."""
    cases = {}
    for eta, run in runs.items():
        flags = (in_window(run, "erp_cv", t["transient"]) > 0).astype(np.float64)
        cases[eta_name(eta)] = compare(flags.mean(), t["positive"], ">=", bootstrap(flags, _share, seed=75), BOOTSTRAP)
    return any_of(cases)


def _every_epoch_end(run, t) -> Verdict:
    """abs(gap) ≤ ``tolerance`` at every window epoch end of one run, each with its 2 SE (strict (5.1))."""
    gap, se = np.abs(in_window(run, "gap", t["transient"])), in_window(run, "gap_se", t["transient"])
    ends = window(run.options.epochs, t["transient"])
    if run.status != "max_epochs":
        gap = np.full_like(gap, np.nan)  # a diverged run cannot show agreement
    epochs = {e: compare(g, t["tolerance"], "<=", 2 * s if np.isfinite(s) else 0.0, "2 SE of the gap at that epoch end")
              for e, g, s in zip(ends, gap, se)}  # fmt: skip
    verdict = all_of(epochs)
    bound = gap + 2 * se
    undecided = [e for e, v in epochs.items() if v.holds is None]
    detail = {
        "max |gap| + 2 SE": float(np.max(bound)),
        "at epoch": ends.start + int(np.nanargmax(bound)) if np.isfinite(bound).any() else -1,
        "epochs with |gap| + 2 SE > tolerance": [e for e, b in zip(ends, bound) if not b <= t["tolerance"]],
        "undecided epoch ends": undecided,
        "minibatches to decide them": max(
            (minibatches_to_decide(run.options.samples, gap[e - ends.start], se[e - ends.start], t["tolerance"])
             for e in undecided), default=0),
    }  # fmt: skip
    return dataclasses.replace(verdict, detail=detail, case=f"epoch {verdict.case}")


def minibatches_to_decide(samples, gap, se, tolerance) -> int:
    """The M that would decide abs(gap) against ``tolerance`` at an epoch end whose estimate from ``samples``
    minibatches has standard error ``se``, if the gap stayed as it is: 2 SE shrinks like 1/√M, so
    M = samples · (2 SE / ||gap| − tolerance|)² (rounded up).
    """
    return math.ceil(samples * (2 * se / abs(abs(gap) - tolerance)) ** 2)


def agree_every_epoch(runs, thresholds) -> Verdict:
    """Experiments 8 and 9, strict: at every window epoch end of every step size, abs(E[RP] − RHS) ≤
    ``tolerance``, with each epoch end's 2 SE as its uncertainty; and the comparison is not vacuous.

    ``runs`` maps step sizes to runs. Holds when abs(gap) + 2 SE ≤ tolerance everywhere, fails when
    abs(gap) − 2 SE > tolerance somewhere, is inconclusive otherwise (combined with the non-vacuity case).
    """
    agreement = all_of({eta_name(eta): _every_epoch_end(run, thresholds) for eta, run in runs.items()})
    return _given("agreement", agreement, {"not vacuous": _not_vacuous(runs, thresholds)})


def _relative_error(run, t, seed) -> Verdict:
    """The median abs(gap) over the median abs(E[RP] + 1) of one run's window ≤ ``tolerance``."""
    keys = ("gap", "erp_cv"), ("gap_se", "erp_cv_se")
    values, errors = (np.column_stack([in_window(run, k, t["transient"]) for k in pair]) for pair in keys)

    def ratio(x):
        return np.median(np.abs(x[:, 0])) / np.median(np.abs(x[:, 1] + 1))

    finite = run.status == "max_epochs" and np.isfinite(values).all() and np.isfinite(errors).all()
    return compare(
        ratio(values) if finite else np.nan,
        t["tolerance"],
        "<=",
        _resample_with_errors(values, errors, ratio, seed) if finite else 0.0,
        REDRAWN,
        {"median |gap|": float(np.median(np.abs(values[:, 0]))),
         "median |E[RP] + 1|": float(np.median(np.abs(values[:, 1] + 1)))},
    )  # fmt: skip


def agree_median(runs, thresholds) -> Verdict:
    """Experiments 8 and 9 on (4.3)'s footing: for every step size, the window's median abs(E[RP] − RHS)
    over its median abs(E[RP] + 1) (the size of E[RP]'s excursion from the stable value −1, which is ≈ 1 where
    E[RP] hovers at 0, as RP does for GD) is ≤ ``tolerance``; and the comparison is not vacuous.
    """
    cases = {eta_name(eta): _relative_error(run, thresholds, 76 + i) for i, (eta, run) in enumerate(runs.items())}
    return _given("agreement", all_of(cases), {"not vacuous": _not_vacuous(runs, thresholds)})


def appendix_a_identity(differences, thresholds) -> Verdict:
    """Appendix A (a check): abs(right side − control-variate E[RP]) ≤ ``tolerance`` at every checked point.

    ``differences`` maps the points (e.g. "epoch 0") to the absolute differences.
    """
    return all_of({p: compare(d, thresholds["tolerance"], "<=", 0.0, "a check") for p, d in differences.items()})


def epoch_ends_to_decide(share, threshold=0.5) -> float:
    """How many independent epoch ends put a share p clear of ``threshold`` by its 2 SD: 4p(1 − p)/(p − threshold)²
    (inf at p = threshold).
    """
    return 4 * share * (1 - share) / (share - threshold) ** 2 if share != threshold else math.inf


def describe_majority(verdict) -> str:
    """Remark 7's verdict in a sentence: the share, its uncertainty, its Wilson interval, what would decide it."""
    d, p = verdict.detail, verdict.statistic
    lo, hi = d["95 % Wilson interval"]
    needed = epoch_ends_to_decide(p, verdict.threshold)
    return (
        f"E[RP] estimate >= 0 at {d['at or above 0']} of {d['of']} window epoch ends: {p:.2f} ± "
        f"{verdict.uncertainty:.2f} (95 % Wilson interval {lo:.2f}–{hi:.2f}); a share this far from "
        f"{verdict.threshold:g} is decided by "
        + (f"about {needed:.0f} independent epoch ends" if math.isfinite(needed) else "no number of epoch ends")
    )


def describe_agreement(label, strict, median) -> str:
    """Experiments 8 or 9 per step size: the strict criterion's worst epoch end and the epoch ends above the
    tolerance, the median criterion's ratio ± its uncertainty, and the non-vacuity share.
    """
    lines = []
    per_eta = {eta: s for eta, s in strict.detail["agreement"].items() if isinstance(s, dict)}
    for eta, s in per_eta.items():
        m, share = median.detail["agreement"][eta], strict.detail["not vacuous"][eta]
        above = s["epochs with |gap| + 2 SE > tolerance"]
        lines.append(
            f"{label:>5} η = {eta:>5}: max |gap| + 2 SE {s['max |gap| + 2 SE']:.4f} (epoch {s['at epoch']}), above "
            f"{strict.threshold:g} at {', '.join(map(str, above)) or 'no epoch end'}; median |gap| / median "
            f"|E[RP] + 1| = {m['median |gap|']:.4f} / {m['median |E[RP] + 1|']:.3f} = {m['statistic']:.4f} ± "
            f"{m['uncertainty']:.4f}; E[RP] > 0 at {share['statistic']:.0%} ± {share['uncertainty']:.0%} of the window"
            + (
                f"; within 2 SE of the tolerance at {', '.join(map(str, s['undecided epoch ends']))}, which "
                f"{s['minibatches to decide them']} minibatches per epoch end would decide"
                if s["undecided epoch ends"]
                else ""
            )
        )
    return "\n".join(lines)
