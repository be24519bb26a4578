"""The figures of Section 5 (SGD): Experiment 7's loss and E[RP], and the two sides of (5.1).

Both take :func:`~eos_support.train.train_sgd` runs and return the figure; the caption belongs to the
chapter (``mystnb`` metadata). Relative progress is drawn with its two levels: 0 (no progress in
expectation, dashed) and −1 (a small descent step, dotted).
"""

from .extras import require

require(__name__, "matplotlib")

import matplotlib.pyplot as plt  # noqa: E402 - after the check that names the extra it comes with

from .phases import eta_name  # noqa: E402
from .plots import COLORS, figsize, reference_lines  # noqa: E402


def progress_levels(ax, legend=False):
    """RP's levels on ``ax``: 0 dashed, −1 dotted; ``legend`` True labels them "0" and "−1" for the legend."""
    lines = reference_lines(ax, 0) + reference_lines(ax, -1, linestyle=":")
    if legend:
        for line, text in zip(lines, ("0", "−1")):
            line.set_label(text)
    return lines


def loss_and_progress(run):
    """Experiment 7: the full-batch loss (top, log scale) and E[RP] ± 1 SE (bottom, Definition 3) per epoch."""
    h = run.history
    ep = h["epoch"]
    fig, (ax1, ax2) = plt.subplots(2, 1, sharex=True, figsize=figsize(1, 2, height=2.4))
    ax1.plot(ep, h["loss"], "o-", ms=3, color=COLORS[0])
    ax1.set_yscale("log")
    ax1.set_ylabel("full-batch loss")
    progress_levels(ax2, legend=True)
    ax2.errorbar(ep, h["erp"], yerr=h["erp_se"], fmt="o-", ms=3, capsize=2, color=COLORS[1],
                 label=f"E[RP], η = {eta_name(run.eta)}")
    ax2.set_xlabel("epoch")
    ax2.set_ylabel("E[RP(θ)]")
    ax2.legend(loc="lower right")
    return fig


def both_sides(runs):
    """Experiments 8 and 9: E[RP] and the right side of (5.1), ± 1 SE, per epoch; one panel per η of ``runs``.

    ``runs`` maps η to its run; the two estimates are drawn 0.12 epoch apart to keep both visible.
    """
    fig, axes = plt.subplots(len(runs), 1, sharex=True, squeeze=False,
                             figsize=figsize(1, len(runs), height=2.1))
    axes = axes[:, 0]
    for ax, (eta, run) in zip(axes, runs.items()):
        h = run.history
        ep = h["epoch"]
        progress_levels(ax)
        ax.errorbar(ep - 0.12, h["erp"], yerr=h["erp_se"], fmt="o-", ms=3, capsize=2, color=COLORS[1],
                    label="E[RP] (left side)")
        ax.errorbar(ep + 0.12, h["rhs"], yerr=h["rhs_se"], fmt="s--", ms=3, capsize=2, color=COLORS[0],
                    label="right side of (5.1)")
        ax.set_ylabel(f"η = {eta_name(eta)}")
    axes[0].legend(loc="upper left", ncols=2)
    axes[-1].set_xlabel("epoch")
    fig.supylabel("relative progress")
    return fig
