"""The figures of the monitor (:mod:`eos_support.monitor`): a monitored run's records against the
stability threshold of its optimizer, for "Beyond the paper" and for users' own training loops.
"""

from ..system import require

require(__name__, "matplotlib")

import matplotlib as mpl  # noqa: E402 - after the check that names the extra it comes with
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from ..readings.phases import edge_onset  # noqa: E402
from . import plots  # noqa: E402


def plot_history(history, threshold, rp_limits=None, log_sharpness=False):
    """Three panels sharing the step axis, in the book's style (:mod:`eos_support.figures.plots`).

    The probe loss, RP_u with its stable (−1) and edge-of-stability (0) levels, and the sharpness with
    the :class:`~eos_support.monitor.thresholds.Threshold` as a dashed line. ``rp_limits``: the RP_u axis's
    limits (default: matplotlib's); ``log_sharpness``: the sharpness on a log scale.
    """
    names = {"hessian": "λ_max(H)", "preconditioned": "λ_max(P⁻¹H)", "batch": "batch sharpness"}
    step = history["step"]
    with mpl.rc_context(plots.RC):
        fig, (top, mid, low) = plt.subplots(3, 1, sharex=True, figsize=plots.figsize(1, 3, height=2.0))
        top.plot(step, history["loss"], color=plots.COLORS[0])
        loss = history["loss"][np.isfinite(history["loss"])]
        if loss.size and loss.min() > 0 and loss.max() > 10 * loss.min():
            top.set_yscale("log")
        top.set_ylabel("probe loss")
        mid.plot(step, history["rp"], color=plots.COLORS[1], label="RP_u")
        mid.axhline(-1, color="0.5", linestyle=":", linewidth=1, label="−1 (stable)")
        mid.axhline(0, color="0.25", linestyle="--", linewidth=1, label="0 (edge)")
        mid.set_ylabel("RP_u")
        mid.legend(loc="best")
        measured = np.isfinite(history["sharpness"])
        low.plot(
            step[measured],
            history["sharpness"][measured],
            "o-",
            color=plots.COLORS[2],
            markersize=3,
            label=names[threshold.sharpness],
        )
        if np.isfinite(history["threshold"]).any():
            low.step(
                step,
                history["threshold"],
                where="post",
                color="0.25",
                linestyle="--",
                linewidth=1.2,
                label=f"threshold {threshold.formula}",
            )
        if rp_limits is not None:
            mid.set_ylim(*rp_limits)
        if log_sharpness:
            low.set_yscale("log")
        low.set_ylabel("sharpness")
        low.set_xlabel("optimizer step t")
        low.legend(loc="best")
    return fig


def plot_smoothness(history, threshold, band=(0.9, 1.1)):
    """L(θᵗ; u) against the optimizer's threshold, and against its own edge 2/η_u; a Figure.

    Top: L(θᵗ; u) at every record and the sharpness where measured, with ``threshold`` (a
    :class:`~eos_support.monitor.thresholds.Threshold`) dashed. Bottom: (η_u/2)·L(θᵗ; u), 1 at the edge of
    Theorem 2 along u, with 1 dashed and ``band`` shaded (Experiment 4's), the axis cut at −1 and 3.
    A dotted vertical line marks :func:`~eos_support.readings.phases.edge_onset`.
    """
    step, onset = history["step"], edge_onset(history)
    fig, (top, low) = plt.subplots(2, 1, sharex=True, figsize=plots.figsize(1, 2, height=2.6))
    top.plot(step, history["ds"], linewidth=0.8, label="L(θᵗ; u), u the update")
    measured = np.isfinite(history["sharpness"])
    top.plot(step[measured], history["sharpness"][measured], "o", markersize=3, label="sharpness")
    plots.reference_lines(top, threshold.value, label=f"threshold {threshold.formula}")
    top.set_ylabel("curvature")
    low.plot(step, history["ds"] * history["eta_u"] / 2, linewidth=0.8, label="(η_u/2)·L(θᵗ; u)")
    low.axhspan(*band, color="0.85", label="Experiment 4's band")
    plots.reference_lines(low, 1.0, label="1: L = 2/η_u")
    low.set_ylim(-1, 3)
    low.set_xlabel("step t")
    low.set_ylabel("(η_u/2)·L")
    for ax in (top, low):
        if onset is not None:
            plots.reference_lines(ax, onset, axis="x", linestyle=":", label="unstable phase begins")
        ax.legend(loc="best")
    return fig


def batch_sharpness(pairs, etas):
    """Minibatch SGD, one panel per batch size b: the batch sharpness (in units of 2/η, times 2/η) and
    λ_max of the full-batch loss at the same steps against 2/η. ``pairs``: {b:
    :func:`eos_support.monitor.edge_runs.batch_and_full`}, ``etas``: {b: η}.
    """
    fig, axes = plt.subplots(1, len(pairs), figsize=plots.figsize(len(pairs), height=2.8), sharey=True)
    axes = np.atleast_1d(axes)
    for ax, (b, p) in zip(axes, pairs.items()):
        ax.plot(p["step"], p["batch"] * 2 / etas[b], "o-", markersize=3, label="batch sharpness")
        ax.plot(p["step"], p["lambda_max"], "s-", markersize=3, label="λ_max, full batch")
        plots.two_over_eta(ax, etas[b])
        ax.set_title(f"minibatches of {b}")
        ax.set_xlabel("step t")
    axes[0].set_ylabel("curvature")
    axes[0].legend(loc="best")
    return fig
