"""The book's one matplotlib style, the 2/η line every chapter draws, and the panels of a GD run.

:func:`run_panels` stacks a run's loss, relative progress and sharpness (Section 4). Call :func:`style`
once at the top of a chapter (the chapter preamble does). Figures are then drawn at a size that stays
readable at 80 % of the text width and are shown as SVG (crisp at any zoom; heavy artists such
as images and long scatter plots can pass ``rasterized=True``). Figures carry no in-plot title:
the caption goes in the cell's ``mystnb`` metadata.
"""

import math

from ..system import require

require(__name__, "matplotlib")

import matplotlib as mpl  # noqa: E402 - after the check that names the extra it comes with
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from ..readings.phases import unstable_onset  # noqa: E402
from ..readings.tables import eta_name  # noqa: E402

WIDTH = 6.4
"""Default figure width in inches: one column of the book."""

COLORS = ("#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#000000")
"""Okabe–Ito colours (safe for colour-blind readers), in the order lines use them."""

RC = {
    "figure.figsize": (WIDTH, WIDTH * 0.5625),
    "figure.dpi": 110,
    "savefig.dpi": 200,
    "savefig.bbox": "tight",
    "figure.constrained_layout.use": True,
    "font.size": 11,
    "axes.labelsize": 11,
    "axes.titlesize": 11,
    "legend.fontsize": 9.5,
    "xtick.labelsize": 9.5,
    "ytick.labelsize": 9.5,
    "lines.linewidth": 1.6,
    "axes.grid": True,
    "grid.alpha": 0.3,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "legend.frameon": False,
    "image.cmap": "viridis",
    "svg.fonttype": "none",
}


def style(formats=("svg",)):
    """Apply the book's matplotlib style; in IPython, show figures in ``formats`` (SVG by default).

    Returns the rcParams applied (a dict), so a caller can inspect or extend them.
    """
    mpl.rcParams.update(RC)
    mpl.rcParams["axes.prop_cycle"] = mpl.cycler(color=COLORS)
    try:  # inline backend of Jupyter: vector output for the rendered book
        from IPython import get_ipython
        from matplotlib_inline.backend_inline import set_matplotlib_formats

        if get_ipython() is not None:
            set_matplotlib_formats(*formats)
    except ImportError:  # plain Python: nothing to configure
        pass
    return dict(RC)


def figsize(ncols=1, nrows=1, height=None):
    """A (width, height) for ``nrows`` × ``ncols`` panels at the book's column width."""
    if ncols < 1 or nrows < 1:
        raise ValueError(f"ncols and nrows must be >= 1, got {ncols}, {nrows}")
    per_row = height if height is not None else (WIDTH * 0.5625 if ncols == 1 else WIDTH / ncols * 0.9)
    return (WIDTH, per_row * nrows)


REFERENCE = {"color": "0.25", "linestyle": "--", "linewidth": 1.2, "zorder": 1.5}
"""How reference lines (thresholds, the levels 0 and −1 of RP) look in every figure."""


def reference_lines(ax, *values, axis="y", **line):
    """Dashed reference lines at ``values`` (horizontal for ``axis="y"``); keywords override the style.

    Returns the lines. ``reference_lines(ax, 0, -1)`` draws RP's two levels: 0 (no progress) and −1
    (a small descent step).
    """
    if axis not in ("x", "y"):
        raise ValueError(f"axis must be 'x' or 'y', got {axis!r}")
    draw = ax.axhline if axis == "y" else ax.axvline
    return [draw(v, **(REFERENCE | line)) for v in values]


def two_over_eta(ax, eta, axis="y", label=True, **line):
    """Draw the stability threshold 2/η on ``ax`` as a dashed line (horizontal for ``axis="y"``).

    ``label`` True labels the line "2/η" in the legend (a string replaces that text; False gives
    no label). Extra keywords go to ``axhline``/``axvline``. Returns the line.
    """
    eta = float(eta)
    if not math.isfinite(eta) or eta <= 0:
        raise ValueError(f"step size eta must be finite and > 0, got {eta!r}")
    if label:
        line.setdefault("label", "2/η" if label is True else str(label))
    return reference_lines(ax, 2 / eta, axis=axis, **line)[0]


def eta_label(eta):
    """A legend entry for a run at step size ``eta``: "η = 2/k"."""
    return f"η = {eta_name(eta)}"


def diagonal(ax, lo, hi, **line):
    """The dashed line y = x from ``lo`` to ``hi`` (e.g. equality in (4.3) or in Corollary 1); returns it."""
    return ax.plot([lo, hi], [lo, hi], **({k: v for k, v in REFERENCE.items() if k != "zorder"} | line))[0]


def mark_onsets(ax, runs):
    """A dotted vertical line at the start of each run's unstable phase, in the run's colour.

    ``runs`` is ``{η: Run}``, coloured in order as in :func:`run_panels`; the onset is
    :func:`~eos_support.readings.phases.unstable_onset`.
    """
    for run, color in zip(runs.values(), COLORS):
        onset = unstable_onset(run)
        if onset is not None:
            ax.axvline(onset, color=color, linestyle=":", linewidth=1.2)


def run_panels(runs, sharpness=True, onsets=False):
    """A GD run's regime per step t: loss, relative progress and sharpness panels, one colour per run.

    For the runs ``{η: Run}``: the loss f(θᵗ) (log scale), RP(θᵗ) (Definition 1) with its levels 0 and
    −1 dashed, and, if ``sharpness``, the measured λ_max(∇²f(θᵗ)) with each run's 2/η dashed in its
    colour. ``onsets`` marks the start of each unstable phase on the RP panel.

    Returns ``(fig, axes)``.
    """
    rows = 3 if sharpness else 2
    fig, axes = plt.subplots(rows, 1, sharex=True, figsize=figsize(1, rows, height=2.1))
    for (eta, run), color in zip(runs.items(), COLORS):
        h = run.history
        axes[0].plot(np.arange(len(h["loss"])), h["loss"], color=color, label=eta_label(eta))
        axes[1].plot(np.arange(len(h["rp"])), h["rp"], color=color, linewidth=0.9)
        if sharpness:
            axes[2].plot(h["sharpness_step"], h["sharpness"], "o-", color=color, markersize=2.5, linewidth=1)
            two_over_eta(axes[2], eta, label=False, color=color, alpha=0.8)
    axes[0].set_yscale("log")
    axes[0].set_ylabel("loss f(θᵗ)")
    axes[0].legend(loc="upper right")
    reference_lines(axes[1], 0, -1)
    axes[1].set_ylabel("RP(θᵗ)")
    if onsets:
        mark_onsets(axes[1], runs)
    if sharpness:
        axes[2].set_ylabel("sharpness λ_max")
    axes[-1].set_xlabel("step t")
    return fig, axes
