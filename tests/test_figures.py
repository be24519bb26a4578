"""eos_support.figures: every figure of the network chapters draws from hand-made histories, with labelled
axes and its reference lines (2/η, RP's levels, the diagonal) where the caption says."""

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402

from eos_support import figures  # noqa: E402
from eos_support.diagnostics.curvature import SegmentSharpness  # noqa: E402
from eos_support.readings.corollary1 import Corollary1Check  # noqa: E402
from histories import recorded_run  # noqa: E402


def levels(ax, axis="y", style="--"):
    """The positions of the straight reference lines in ``style`` on ``ax`` (horizontal for axis "y")."""
    data = (lambda line: line.get_ydata()) if axis == "y" else (lambda line: line.get_xdata())
    return sorted(
        {
            round(float(data(line)[0]), 9)
            for line in ax.get_lines()
            if line.get_linestyle() == style and len(set(np.asarray(data(line), float))) == 1
        }
    )


def labelled(axes):
    """Every panel has an x label in the bottom row and a y label in the left column (shared otherwise)."""
    axes = np.atleast_2d(np.asarray(axes, dtype=object))
    return all(ax.get_xlabel() for ax in axes[-1]) and all(ax.get_ylabel() for ax in axes[:, 0])


@pytest.fixture
def runs():
    return {0.5: recorded_run(eta=0.5, onset=20), 0.25: recorded_run(eta=0.25, onset=12)}


def test_phase_histograms(runs):
    fig, axes = figures.phase_histograms(runs)
    assert axes.shape == (2, 2) and labelled(axes)
    assert all(levels(ax) == [-1, 0] for ax in axes.ravel())
    first = axes[0, 0].get_lines()[0].get_xdata()
    assert first[0] == 20 and len(first) == 20  # the unstable phase only


def test_remark4(runs):
    diverging = recorded_run(eta=100.0, steps=3)
    fig, (ax_g, ax_d) = figures.remark4(runs, diverging, recorded_run(eta=100.0, steps=30))
    assert labelled([[ax_g, ax_d]]) and ax_g.get_xscale() == "log" and ax_d.get_yscale() == "log"
    assert [t.get_text() for t in ax_g.get_xticklabels()] == ["2/8", "2/4"]
    assert levels(ax_d) == [pytest.approx(diverging.history["loss"][0] * 1e3)]
    # the line and its label follow the run's own cut (the label said 10³ whatever the option)
    cut = recorded_run(eta=100.0, steps=3)
    cut.options.diverge_factor = 50.0
    _, (_, ax_d) = figures.remark4(runs, cut, recorded_run(eta=100.0, steps=30))
    assert levels(ax_d) == [pytest.approx(diverging.history["loss"][0] * 50)]
    assert "50 · f(θ⁰)" in [t.get_text() for t in ax_d.get_legend().get_texts()]


def test_smoothness_figures(runs):
    stable = {2 / 30: recorded_run(eta=2 / 30, onset=100, steps=40)}
    fig, axes = figures.smoothness_runs(stable, runs)
    assert labelled(axes[:, None]) and levels(axes[0]) == [30] and levels(axes[1]) == [4, 8]
    fig, (ax, ax_h) = figures.smoothness_normalised(stable, runs)
    assert labelled([[ax, ax_h]]) and levels(ax) == [1] and levels(ax_h, "x") == [1]


def test_theorem2_figures():
    run = recorded_run(eta=0.4)
    fig, axes = figures.theorem2_run(run)
    assert labelled(np.array(axes)[:, None]) and levels(axes[1]) == [-1, 0] and levels(axes[2]) == [5]
    fig, ax = figures.tau_profiles(run, count=4)
    assert ax.get_xlabel() and ax.get_ylabel() and levels(ax) == [5] and len(ax.get_lines()) == 5
    fig, (ax_t, ax_s) = figures.approximation_run(run)
    assert labelled([[ax_t, ax_s]]) and levels(ax_t) == [-1, 0]
    diag = [line for line in ax_s.get_lines() if line.get_label().startswith("RP =")][0]
    assert list(diag.get_xdata()) == list(diag.get_ydata())


def test_depth_figures():
    runs = {(d, eta): recorded_run(eta=eta) for d in (2, 4) for eta in (2 / 30, 2 / 7)}
    fig, axes = figures.depth_runs(runs)
    assert axes.shape == (3, 2) and labelled(axes)
    assert [ax.get_title() for ax in axes[0]] == ["2 hidden layers", "4 hidden layers"]
    assert all(levels(ax) == [1] for ax in axes[2])  # 2/η in units of 2/η
    fig, axes = figures.depth_approximation(runs)
    assert len(axes) == 2 and all(ax.get_xlabel() for ax in axes) and axes[0].get_ylabel()
    assert all(len(ax.collections) == 2 for ax in axes)  # one scatter per η


def test_sharpness_figures(runs):
    fig, (ax, ax_n) = figures.edge_of_stability(runs)
    assert labelled([[ax, ax_n]]) and levels(ax) == [4, 8] and levels(ax_n) == [1]
    fig, ax = figures.sharpness_chain(runs)
    assert ax.get_xlabel() and ax.get_ylabel() and levels(ax, "y", ":") == [1] and levels(ax, "x", ":") == [1]
    diag = [line for line in ax.get_lines() if line.get_label() == "equality"][0]
    assert list(diag.get_xdata()) == list(diag.get_ydata())


def test_corollary1_figure():
    s = torch.linspace(0, 1, 3, dtype=torch.float64)
    seg = SegmentSharpness(5.5, 1.0, s, torch.tensor([4.8, 5.1, 5.5], dtype=torch.float64), True, 60)
    checks = [Corollary1Check(0.4, 10, 5.0, seg), Corollary1Check(0.2, 30, 9.0, seg)]
    fig, (ax, ax_s) = figures.corollary1_checks(checks)
    assert labelled([[ax, ax_s]]) and levels(ax) == [1]
    assert [t.get_text() for t in ax_s.get_legend().get_texts()] == ["2/5, t = 10", "2/10, t = 30", "equality"]
    point = ax_s.get_lines()[0]
    assert (point.get_xdata()[0], point.get_ydata()[0]) == pytest.approx((5.5 * 0.2, 5.0 * 0.2))


@pytest.mark.filterwarnings("ignore:No artists with labels found")
def test_figures_accept_a_run_without_an_unstable_phase():
    """A run that never becomes unstable: its whole-run series are drawn, its unstable-phase panels stay
    empty, no onset is marked, and the reference lines are still there."""
    run = recorded_run(eta=0.5, onset=100)  # 40 steps, no unstable phase
    stable = {0.5: run}
    fig, axes = figures.phase_histograms(stable)
    ((ax, ax_h),) = axes
    assert [line for line in ax.get_lines() if line.get_linestyle() == "-"] == [] and not ax_h.patches
    assert levels(ax) == [-1, 0] and levels(ax_h) == [-1, 0]
    fig, (ax, ax_n) = figures.edge_of_stability(stable)
    drawn = [line for line in ax.get_lines() if line.get_linestyle() == "-"]
    assert len(drawn) == 1 and np.array_equal(drawn[0].get_ydata(), run.history["sharpness"])
    assert levels(ax) == [4.0] and levels(ax, "x", ":") == []  # 2/η, and no onset
    assert all(len(line.get_xdata()) == 0 for line in ax_n.get_lines() if line.get_linestyle() == "-")
    fig, ax = figures.sharpness_chain(stable)
    filled = [line for line in ax.get_lines() if line.get_marker() == "o" and line.get_markerfacecolor() != "none"]
    open_ = [line for line in ax.get_lines() if line.get_marker() == "o" and line.get_markerfacecolor() == "none"]
    measured = int(np.sum(run.history["sharpness_step"] < len(run.history["rp"])))  # steps with an RP
    assert all(len(line.get_xdata()) == 0 for line in filled) and len(open_[0].get_xdata()) == measured  # all open
    with pytest.warns(UserWarning, match="No artists with labels"):  # nothing to put in a legend
        fig, (ax, ax_h) = figures.smoothness_normalised({}, stable)  # as the unstable runs' only run
    assert [line for line in ax.get_lines() if line.get_linestyle() == "-"] == [] and not ax_h.patches
    assert levels(ax) == [1.0] and levels(ax_h, "x") == [1.0]
