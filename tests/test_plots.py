"""eos_support.plots: the shared style and the 2/η line."""

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402

from eos_support import plots  # noqa: E402


def test_style_sets_readable_defaults():
    rc = plots.style()
    assert matplotlib.rcParams["figure.figsize"] == list(rc["figure.figsize"])
    assert matplotlib.rcParams["font.size"] >= 10
    assert matplotlib.rcParams["savefig.dpi"] >= 150


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
