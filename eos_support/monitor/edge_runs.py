"""Optimizers at their own edge of stability: what the monitored runs of "Beyond the paper" show.

An experiment ``beyond-*`` of a profile (:mod:`eos_support.profiles`) names the network and the data; its
``options`` are the fields of :class:`~eos_support.train.monitored.EdgeOptions` besides η, and ``Profile.run``
trains it by :func:`eos_support.train.monitored.train_monitored` (the user's loop with an
:class:`~eos_support.monitor.edge_monitor.EdgeMonitor`). :func:`theorem2_along` checks Theorem 2 for that u in
float64; :func:`edge_summary` (from :func:`~eos_support.readings.phases.first_reach`,
:func:`~eos_support.readings.phases.edge_onset`, :func:`edge_statistics`) and :func:`batch_and_full` read a run's
edge off its records; :func:`eos_support.figures.monitor.plot_smoothness` draws L(θᵗ; u) against the threshold and
against 2/η_u.
"""

from __future__ import annotations

import math

import numpy as np
import torch

from ..diagnostics.along import relative_progress_along, theorem2_rp_along
from ..readings.phases import edge_onset, first_reach
from ..train.monitored import OPTIMIZERS, EdgeOptions, EdgeRun, Snapshots, loader, train  # noqa: F401 - their old home


def edge_run(prof, name, **overrides) -> EdgeRun:
    """Experiment ``name`` of profile ``prof``: ``prof.run(name, **overrides)`` (its earlier home)."""
    return prof.run(name, **overrides)


def theorem2_along(run, nodes=64):
    """Both sides of Theorem 2 along u = θᵗ − θᵗ⁺¹ at each of ``run``'s snapshots, in float64.

    On the run's training loss f (``run.f``): ``rp`` is RP_u(θᵗ) (Definition 1 along u) and ``identity``
    is −1 + (‖u‖²/⟨∇f(θᵗ), u⟩) ∫₀¹ τ L(θᵗ; τu) dτ by ``nodes``-point Gauss–Legendre quadrature. Returns
    {"step", "rp", "identity"} as arrays; a snapshot whose θᵗ⁺¹ is not finite (a diverging run's last
    update) is left out.
    """
    if run.f is None:
        raise ValueError("theorem2_along needs the run's loss f: pass the EdgeRun that Profile.run returned")
    f, rows = run.f.float64(), []
    for t, theta, theta_next in run.snapshots:
        if not bool(torch.isfinite(theta_next).all()):  # a diverging run's last update: no number to check
            continue
        theta, u = theta.double(), theta.double() - theta_next.double()
        rows.append((t, relative_progress_along(f, theta, u), theorem2_rp_along(f, theta, u, nodes, chunk_size=16)))
    step, rp, identity = (np.array(column) for column in zip(*rows)) if rows else ([], [], [])
    return {"step": step.astype(np.int64), "rp": rp, "identity": identity}


def edge_statistics(history, start):
    """RP_u, L(θᵗ; u) and the sharpness over the records with step ≥ ``start``.

    {"records", "rp_median", "rp_positive" (the share with RP_u > 0), "ds_ratio_median" (of
    L(θᵗ; u)/threshold), "ds_edge_median" (of (η_u/2)·L(θᵗ; u), 1 at the edge of Theorem 2 along u),
    "ratios" (sharpness/threshold where measured), "ratio_min", "ratio_median", "ratio_max"}.
    """
    after = history["step"] >= start
    rp, ds, ratio = history["rp"][after], history["ds"][after], history["ratio"][after]
    ds_edge = ds * history["eta_u"][after] / 2
    ratio = ratio[np.isfinite(ratio)]
    spread = (ratio.min(), np.median(ratio), ratio.max()) if ratio.size else (np.nan,) * 3
    return {
        "records": int(after.sum()),
        "rp_median": float(np.median(rp)),
        "rp_positive": float(np.mean(rp > 0)),
        "ds_ratio_median": float(np.median(ds / history["threshold"][after])),
        "ds_edge_median": float(np.median(ds_edge[np.isfinite(ds_edge)])) if np.isfinite(ds_edge).any() else np.nan,
        "ratios": ratio,
        **dict(zip(("ratio_min", "ratio_median", "ratio_max"), map(float, spread))),
    }


def edge_summary(history, reach):
    """Where a run is at its edge: {"reach", "hover", "onset", "phase", "phase_late"}.

    ``reach``: :func:`~eos_support.readings.phases.first_reach` at ``reach`` × the threshold, and ``hover`` the
    :func:`edge_statistics` from there; ``onset``: :func:`~eos_support.readings.phases.edge_onset`, ``phase``
    the statistics over the unstable phase from there, ``phase_late`` over its second half. None where a step
    does not exist.
    """
    start, onset = first_reach(history, reach), edge_onset(history)
    middle = None if onset is None else (onset + int(history["step"][-1]) + 1) // 2
    return {
        "reach": start,
        "hover": None if start is None else edge_statistics(history, start),
        "onset": onset,
        "phase": None if onset is None else edge_statistics(history, onset),
        "phase_late": None if onset is None else edge_statistics(history, middle),
    }


def describe_edge(label, summary, reach):
    """An :func:`edge_summary` (found at ``reach`` × the threshold) in words, for the chapter to print."""
    s, hover, phase = summary, summary["hover"], summary["phase"]
    if hover is None:
        return f"{label}: the sharpness never rose to {reach:g} × the threshold"
    lines = [
        f"{label}: the sharpness at {reach:g} × the threshold from step {s['reach']}; from there "
        f"{hover['ratio_min']:.2f}–{hover['ratio_max']:.2f} × it, median {hover['ratio_median']:.3f}"
    ]
    if phase is None:
        return "\n".join(lines + ["  no unstable phase: the loss never rose once the threshold was reached"])
    late = s["phase_late"]
    return "\n".join(
        lines
        + [
            f"  unstable phase from step {s['onset']} ({phase['records']} steps): "
            f"median RP_u {phase['rp_median']:+.4f}, "
            f"RP_u > 0 at {phase['rp_positive']:.0%}; median L(θᵗ; u)/threshold {phase['ds_ratio_median']:.3f}, "
            f"median (η_u/2)·L(θᵗ; u) {phase['ds_edge_median']:.3f}",
            f"  its second half ({late['records']} steps): median RP_u {late['rp_median']:+.4f}, "
            f"RP_u > 0 at {late['rp_positive']:.0%}",
        ]
    )


def batch_and_full(run):
    """A minibatch run's two sharpnesses over 2/η, at the steps where both were measured and are finite.

    {"step", "batch" (batch sharpness/(2/η)), "full" (λ_max of the full-batch loss/(2/η)), "lambda_max",
    "full_over_batch" (λ_max/batch sharpness)}, and the median of each over the second half of the run
    as "<key>_late" (NaN when no measurement lies there: a run that diverged before).
    """
    h, full = run.history, run.full
    if not np.isin(full["step"], h["step"]).all():
        raise ValueError("the full-batch sharpness was measured at steps the run's monitor did not record")
    batch_ok, full_ok = np.isfinite(h["sharpness"]), np.isfinite(full["sharpness"])
    step, i, j = np.intersect1d(h["step"][batch_ok], full["step"][full_ok], assume_unique=True, return_indices=True)
    batch, ratio, lam = h["ratio"][batch_ok][i], full["ratio"][full_ok][j], full["sharpness"][full_ok][j]
    late = step >= run.options.steps / 2
    out = {"step": step, "batch": batch, "full": ratio, "lambda_max": lam, "full_over_batch": ratio / batch}
    late_medians = {
        f"{key}_late": float(np.median(out[key][late])) if late.any() else math.nan for key in list(out)[1:]
    }
    return out | late_medians


def describe(prof, name) -> str:
    """Experiment ``name``'s settings in words, for the chapter to print."""
    e = prof[name]
    o = EdgeOptions(eta=e.etas[0], **e.options)
    rule = {
        "SGD": f"SGD with heavy-ball momentum β = {o.momentum:g}" if o.momentum else "SGD",
        "Adam": f"Adam, β₁ = {o.betas[0]:g}, β₂ = {o.betas[1]:g}",
    }[o.optimizer]
    sizes = e.extra.get("batch_sizes", (o.batch_size,))
    batches = "the full batch" if sizes == (None,) else "minibatches of " + " and of ".join(map(str, sizes))
    lines = [
        f"{e.paper_item}, profile {prof.name!r}: the first {e.n_train:,} training images of {prof.dataset}",
        f"  network: {e.activations[0]}; {e.depths[0]} hidden layers of width {e.width}; loss {e.loss}; "
        f"float32 on {prof.device}",
        f"  {rule}, η = {o.eta:g}; {o.steps} steps on {batches}, by the user's loop with an EdgeMonitor",
        f"  records every {o.every} step(s), sharpness every {o.sharpness_every}",
    ]
    return "\n".join(lines + ([f"  note: {e.note}"] if e.note else []))


def __getattr__(name):
    if name == "plot_smoothness":  # its home before the figures moved to eos_support.figures
        from ..figures.monitor import plot_smoothness

        return plot_smoothness
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
