"""The figures of Section 5 (SGD): Experiment 7's loss and E[RP], both sides of (5.1), its error bound.

The error bound is what Experiments 8 and 9 check. Each takes :func:`~eos_support.train.train_sgd`
runs and returns the figure; the caption belongs to the chapter (``mystnb`` metadata). Relative
progress is drawn with its two levels: 0 (no progress in expectation, dashed) and −1 (a small
descent step, dotted). E[RP] is the control-variate estimate (``erp_cv``, see
:class:`~eos_support.diagnostics.sgd.SGDProgress`), the one the claims use; ``first`` shades the
window of epoch ends the claims look at (from ``first`` to the last epoch).
"""

from ..system import require

require(__name__, "matplotlib")

import matplotlib.pyplot as plt  # noqa: E402 - after the check that names the extra it comes with

from ..readings.tables import eta_name  # noqa: E402
from .plots import COLORS, figsize, reference_lines  # noqa: E402


def progress_levels(ax, legend=False):
    """RP's levels on ``ax``: 0 dashed, −1 dotted; ``legend`` True labels them "0" and "−1" for the legend."""
    lines = reference_lines(ax, 0) + reference_lines(ax, -1, linestyle=":")
    if legend:
        for line, text in zip(lines, ("0", "−1")):
            line.set_label(text)
    return lines


def shade_window(ax, first, last, label=None):
    """Shade the epochs ``first`` … ``last`` on ``ax`` (the claims' window); returns the patch."""
    return ax.axvspan(first - 0.5, last + 0.5, color="0.5", alpha=0.12, lw=0, label=label)


def loss_and_progress(run, first):
    """Experiment 7: the full-batch loss (top, log scale) and E[RP] ± 1 SE (bottom, Definition 3) per epoch."""
    h = run.history
    ep = h["epoch"]
    fig, (ax1, ax2) = plt.subplots(2, 1, sharex=True, figsize=figsize(1, 2, height=2.4))
    ax1.plot(ep, h["loss"], "o-", ms=3, color=COLORS[0])
    ax1.set_yscale("log")
    ax1.set_ylabel("full-batch loss")
    progress_levels(ax2, legend=True)
    for ax in (ax1, ax2):
        shade_window(ax, first, int(ep[-1]), label="window" if ax is ax2 else None)
    ax2.errorbar(
        ep,
        h["erp_cv"],
        yerr=h["erp_cv_se"],
        fmt="o-",
        ms=3,
        capsize=2,
        color=COLORS[1],
        label=f"E[RP], η = {eta_name(run.eta)}",
    )
    ax2.set_xlabel("epoch")
    ax2.set_ylabel("E[RP(θ)]")
    ax2.legend(loc="lower right", ncols=2)
    return fig


def both_sides(runs, first):
    """Experiments 8 and 9: E[RP] and the right side of (5.1), ± 1 SE, per epoch; one panel per η of ``runs``.

    ``runs`` maps η to its run; the two estimates are drawn 0.12 epoch apart to keep both visible.
    """
    fig, axes = plt.subplots(len(runs), 1, sharex=True, squeeze=False, figsize=figsize(1, len(runs), height=2.1))
    axes = axes[:, 0]
    for ax, (eta, run) in zip(axes, runs.items()):
        h = run.history
        ep = h["epoch"]
        progress_levels(ax)
        shade_window(ax, first, int(ep[-1]))
        for shift, key, fmt, color, label in (
            (-0.12, "erp_cv", "o-", COLORS[1], "E[RP] (left side)"),
            (0.12, "rhs", "s--", COLORS[0], "right side of (5.1)"),
        ):
            ax.errorbar(ep + shift, h[key], yerr=h[f"{key}_se"], fmt=fmt, ms=3, capsize=2, color=color, label=label)
        ax.set_ylabel(f"η = {eta_name(eta)}")
    axes[0].legend(loc="upper left", ncols=2)
    axes[-1].set_xlabel("epoch")
    fig.supylabel("relative progress")
    return fig


def gap_bounds(runs, first, tolerance):
    """Experiments 8 and 9: abs(gap) + 2 SE of (5.1) per epoch (log scale), one panel per activation.

    ``runs`` maps an activation's name to ``{η: run}``; the dashed line is the ``tolerance``.
    """
    fig, axes = plt.subplots(1, len(runs), sharey=True, squeeze=False, figsize=figsize(len(runs), 1, height=3.0))
    for ax, (activation, by_eta) in zip(axes[0], runs.items()):
        last = 0
        for color, (eta, run) in zip(COLORS, by_eta.items()):
            h = run.history
            ax.plot(h["epoch"], abs(h["gap"]) + 2 * h["gap_se"], "o-", ms=3, color=color, label=f"η = {eta_name(eta)}")
            last = max(last, int(h["epoch"][-1]))
        shade_window(ax, first, last)
        reference_lines(ax, tolerance, label="tolerance")
        ax.set_yscale("log")
        ax.set_xlabel(f"epoch ({activation})")
    axes[0, 0].set_ylabel("|gap| + 2 SE")
    axes[0, 0].legend(loc="lower right")
    return fig
