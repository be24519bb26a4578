"""The book's one matplotlib style, and the 2/η reference line every chapter draws.

Call :func:`style` once at the top of a chapter. Figures are then drawn at a size that stays
readable at 80 % of the text width and are shown as SVG (crisp at any zoom; heavy artists such
as images and long scatter plots can pass ``rasterized=True``). Figures carry no in-plot title:
the caption goes in the cell's ``mystnb`` metadata.
"""

import math

from .extras import require

require(__name__, "matplotlib")

import matplotlib as mpl  # noqa: E402 - after the check that names the extra it comes with

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
