"""eos_support.sgd_figures: Experiment 7's figure and the two sides of (5.1), on made-up SGD histories."""

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
from test_sgd_summary import sgd_history, sgd_run  # noqa: E402

from eos_support import sgd_figures  # noqa: E402


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


def horizontal_lines(ax):
    """{y: linestyle} of the axis-spanning horizontal lines on ``ax``."""
    return {line.get_ydata()[0]: line.get_linestyle() for line in ax.get_lines()
            if len(set(line.get_ydata())) == 1 and tuple(line.get_xdata()) == (0, 1)}


def test_loss_and_progress_draws_the_loss_and_e_rp_with_rps_levels():
    run = sgd_run()
    fig = sgd_figures.loss_and_progress(run)
    top, bottom = fig.axes
    assert top.get_yscale() == "log" and top.get_ylabel() == "full-batch loss"
    np.testing.assert_array_equal(top.get_lines()[0].get_ydata(), run.history["loss"])
    assert bottom.get_xlabel() == "epoch" and bottom.get_ylabel() == "E[RP(θ)]"
    assert horizontal_lines(bottom) == {0: "--", -1: ":"}
    labels = bottom.get_legend_handles_labels()[1]
    assert labels == ["0", "−1", "E[RP], η = 2/100"]


def test_both_sides_has_one_panel_per_step_size_with_both_sides_and_levels():
    runs = {eta: sgd_run(eta, **sgd_history(seed=k)) for k, eta in enumerate((2 / 50, 2 / 100, 2 / 150))}
    fig = sgd_figures.both_sides(runs)
    axes = [ax for ax in fig.axes if ax.get_ylabel()]
    assert [ax.get_ylabel() for ax in axes] == ["η = 2/50", "η = 2/100", "η = 2/150"]
    for ax in axes:
        assert horizontal_lines(ax) == {0: "--", -1: ":"}
        assert ax.get_legend_handles_labels()[1] == ["E[RP] (left side)", "right side of (5.1)"]
    assert axes[0].get_legend() is not None and axes[-1].get_xlabel() == "epoch"
    assert fig.get_supylabel() == "relative progress"


def test_both_sides_draws_a_single_step_size():
    fig = sgd_figures.both_sides({0.04: sgd_run(0.04)})
    assert [ax.get_ylabel() for ax in fig.axes] == ["η = 2/50"]
