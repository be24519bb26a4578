"""eos_support.figures.plots: the shared style and the 2/η line."""

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402

from eos_support.figures import plots  # noqa: E402


def test_style_sets_readable_defaults():
    """After style(), a new figure is one book column wide, its text at least 9 pt, its lines in the
    colour-blind-safe cycle, its saved form at print resolution with text kept as text in SVG."""
    with matplotlib.rc_context():
        matplotlib.rcdefaults()
        plots.style()
        fig, ax = plt.subplots()
        first, second = ax.plot([0, 1]), ax.plot([1, 0])
        assert tuple(fig.get_size_inches()) == pytest.approx(plots.figsize())
        assert fig.get_size_inches()[0] == plots.WIDTH
        label = ax.set_xlabel("step t")
        assert label.get_fontsize() >= 9 and min(t.get_fontsize() for t in ax.get_xticklabels()) >= 9
        assert [first[0].get_color(), second[0].get_color()] == list(plots.COLORS[:2])
        assert matplotlib.rcParams["savefig.dpi"] >= 150 and matplotlib.rcParams["svg.fonttype"] == "none"
        assert not ax.spines["top"].get_visible() and not ax.spines["right"].get_visible()
        plt.close(fig)


def test_two_over_eta_draws_a_labelled_line_at_two_over_eta():
    fig, ax = plt.subplots()
    line = plots.two_over_eta(ax, 2 / 30)
    assert line.get_ydata()[0] == pytest.approx(30)
    assert line.get_label() == "2/η"
    vertical = plots.two_over_eta(ax, 0.5, axis="x", label=False, color="red")
    assert vertical.get_xdata()[0] == pytest.approx(4)
    assert vertical.get_label().startswith("_")  # no legend entry
    plt.close(fig)


@pytest.mark.parametrize("eta", [0, -1, float("inf"), float("nan")])
def test_two_over_eta_rejects_bad_eta(eta):
    fig, ax = plt.subplots()
    with pytest.raises(ValueError, match="eta"):
        plots.two_over_eta(ax, eta)
    plt.close(fig)


def test_figsize_scales_with_rows():
    width, height = plots.figsize(3, 2, height=2.0)
    assert width == plots.WIDTH and height == 4.0
    with pytest.raises(ValueError):
        plots.figsize(0)


# -- the panels of a GD run ---------------------------------------------------------------------------


def horizontal_levels(ax):
    """The y values of the horizontal lines on ``ax`` (reference lines)."""
    return sorted(
        {
            round(float(line.get_ydata()[0]), 9)
            for line in ax.get_lines()
            if len(set(line.get_ydata())) == 1 and len(line.get_xdata()) == 2
        }
    )


def test_run_panels_draw_loss_rp_and_sharpness_with_their_reference_lines():
    from histories import recorded_run

    runs = {0.5: recorded_run(eta=0.5, onset=20), 0.25: recorded_run(eta=0.25, onset=12)}
    fig, axes = plots.run_panels(runs, onsets=True)
    assert len(axes) == 3 and axes[0].get_yscale() == "log"
    assert [ax.get_ylabel() for ax in axes] == ["loss f(θᵗ)", "RP(θᵗ)", "sharpness λ_max"]
    assert axes[-1].get_xlabel() == "step t"
    assert horizontal_levels(axes[1]) == [-1, 0]  # RP's levels
    assert horizontal_levels(axes[2]) == [4, 8]  # each run's 2/η
    onsets = [line.get_xdata()[0] for line in axes[1].get_lines() if line.get_linestyle() == ":"]
    assert sorted(onsets) == [12, 20]
    assert [t.get_text() for t in axes[0].get_legend().get_texts()] == ["η = 2/4", "η = 2/8"]
    plt.close(fig)
    fig, axes = plots.run_panels(runs, sharpness=False)
    assert len(axes) == 2 and axes[-1].get_xlabel() == "step t"
    plt.close(fig)


def test_diagonal_is_dashed_y_equals_x():
    fig, ax = plt.subplots()
    line = plots.diagonal(ax, -1, 0.5, label="equality")
    assert list(line.get_xdata()) == list(line.get_ydata()) == [-1, 0.5]
    assert line.get_linestyle() == "--" and line.get_label() == "equality"
    plt.close(fig)
