"""eos_support.figures.sgd: Experiment 7's figure, the two sides of (5.1) and its error bound, on made-up
SGD histories."""

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402

from eos_support.figures import sgd as sgd_figures  # noqa: E402
from test_sgd_summary import sgd_history, sgd_run  # noqa: E402


def horizontal_lines(ax):
    """{y: linestyle} of the axis-spanning horizontal lines on ``ax``."""
    return {
        line.get_ydata()[0]: line.get_linestyle()
        for line in ax.get_lines()
        if len(set(line.get_ydata())) == 1 and tuple(line.get_xdata()) == (0, 1)
    }


def window_span(ax):
    """The x extent of the shaded window on ``ax``."""
    (patch,) = ax.patches  # a Rectangle: x in data coordinates, y spanning the axes
    return patch.get_x(), patch.get_x() + patch.get_width()


def test_loss_and_progress_draws_the_loss_and_e_rp_with_rps_levels():
    run = sgd_run()
    fig = sgd_figures.loss_and_progress(run, first=6)
    top, bottom = fig.axes
    assert top.get_yscale() == "log" and top.get_ylabel() == "full-batch loss"
    np.testing.assert_array_equal(top.get_lines()[0].get_ydata(), run.history["loss"])
    assert bottom.get_xlabel() == "epoch" and bottom.get_ylabel() == "E[RP(θ)]"
    assert horizontal_lines(bottom) == {0: "--", -1: ":"}
    labels = bottom.get_legend_handles_labels()[1]
    assert labels == ["0", "−1", "window", "E[RP], η = 2/100"]
    # the control-variate estimate, the one the claims read
    np.testing.assert_array_equal(bottom.containers[0].lines[0].get_ydata(), run.history["erp_cv"])
    assert window_span(top) == window_span(bottom) == (5.5, 25.5)


def test_both_sides_has_one_panel_per_step_size_with_both_sides_and_levels():
    runs = {eta: sgd_run(eta, **sgd_history(seed=k)) for k, eta in enumerate((2 / 50, 2 / 100, 2 / 150))}
    fig = sgd_figures.both_sides(runs, first=6)
    axes = [ax for ax in fig.axes if ax.get_ylabel()]
    assert [ax.get_ylabel() for ax in axes] == ["η = 2/50", "η = 2/100", "η = 2/150"]
    for ax in axes:
        assert horizontal_lines(ax) == {0: "--", -1: ":"}
        assert ax.get_legend_handles_labels()[1] == ["E[RP] (left side)", "right side of (5.1)"]
        assert window_span(ax) == (5.5, 25.5)
    assert axes[0].get_legend() is not None and axes[-1].get_xlabel() == "epoch"
    assert fig.get_supylabel() == "relative progress"


def test_both_sides_draws_a_single_step_size():
    fig = sgd_figures.both_sides({0.04: sgd_run(0.04)}, first=6)
    assert [ax.get_ylabel() for ax in fig.axes] == ["η = 2/50"]


def test_gap_bounds_draws_each_step_sizes_bound_against_the_tolerance():
    runs = {
        act: {eta: sgd_run(eta, **sgd_history(seed=k)) for k, eta in enumerate((2 / 50, 2 / 100))}
        for act in ("relu", "tanh")
    }
    fig = sgd_figures.gap_bounds(runs, first=6, tolerance=0.05)
    assert [ax.get_xlabel() for ax in fig.axes] == ["epoch (relu)", "epoch (tanh)"]
    for ax, by_eta in zip(fig.axes, runs.values()):
        assert ax.get_yscale() == "log" and horizontal_lines(ax) == {0.05: "--"}
        curves = [line for line in ax.get_lines() if len(line.get_xdata()) > 2]
        for line, run in zip(curves, by_eta.values()):
            h = run.history
            np.testing.assert_allclose(line.get_ydata(), np.abs(h["gap"]) + 2 * h["gap_se"])
        assert window_span(ax) == (5.5, 25.5)
    assert fig.axes[0].get_legend_handles_labels()[1] == ["η = 2/50", "η = 2/100", "tolerance"]
