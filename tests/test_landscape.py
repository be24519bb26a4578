"""eos_support.figures.landscape: the small-multiples figures draw what they say, and the widgets build
without a kernel."""

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402

from eos_support.examples.toy import DIVERGED, ELSEWHERE, TwoWells, basins, example1, example3_tanh, gd  # noqa: E402
from eos_support.figures import landscape  # noqa: E402

F64 = torch.float64
BOX = dict(xlim=(-3, 3), ylim=(-0.3, 1.2))


def texts(ax):
    return [t.get_text() for t in ax.texts]


def horizontal_lines_at(ax, y):
    return [line for line in ax.get_lines() if np.allclose(line.get_ydata(), y) and len(set(line.get_ydata())) == 1]


def test_level_sets_evaluate_f_on_the_grid():
    """The contour f = 4 of 20θ1² + θ2², drawn from f on the grid, lies on that ellipse."""
    fig, ax = plt.subplots()
    contour = landscape.level_sets(ax, example1, (-1, 1), (-2.5, 2.5), levels=[1.0, 4.0], n=(201, 201))
    assert list(contour.levels) == [1.0, 4.0]
    vertices = contour.get_paths()[1].vertices  # one path per level
    assert np.abs(20 * vertices[:, 0] ** 2 + vertices[:, 1] ** 2 - 4).max() < 0.05


def test_gd_paths_draw_one_labelled_panel_per_eta():
    theta0 = torch.tensor([1.0, 1.0], dtype=F64)
    runs = {2 / k: gd(example1, theta0, 2 / k, 30) for k in (41, 40, 39)}
    fig = landscape.gd_paths(example1, runs, **BOX, levels=[1, 4, 16], minimum=(0, 0), shown=11)
    axes = fig.axes
    assert len(axes) == 3
    assert all(ax.get_xlabel() == "$\\theta_1$" for ax in axes) and axes[0].get_ylabel() == "$\\theta_2$"
    assert [texts(ax)[0] for ax in axes] == ["η = 2/41", "η = 2/40", "η = 2/39"]
    path = axes[2].get_lines()[0]
    np.testing.assert_array_equal(path.get_xdata(), runs[2 / 39][:11, 0].numpy())


def test_basin_maps_show_the_labels_the_points_and_2_over_eta():
    f = TwoWells()
    points = f.stationary_points()
    box, n = dict(xlim=(-3, 3), ylim=(-2, 2)), (12, 8)
    grid = landscape.start_grid(**box, n=n)
    assert grid.shape == (96, 2) and torch.equal(grid[1], torch.tensor([-3.0, -2 + 4 / 7], dtype=F64))
    maps = {eta: basins(f, points, grid, eta, 200) for eta in (0.1, 0.25)}
    fig = landscape.basin_maps(f, points, maps, n, **box)
    assert len(fig.axes) == 2
    for ax, (eta, labels) in zip(fig.axes, maps.items()):
        image = ax.get_images()[0].get_array()
        assert image.shape == (8, 12)  # rows y, columns x
        np.testing.assert_array_equal(image[:, 0], labels.reshape(n)[0].numpy())
        assert any(f"2/η = {2 / eta:.3g}" in t for t in texts(ax))
        assert ax.get_xlabel() == "$x$ (start)"
        assert len(ax.get_lines()) == 3  # the three stationary points
    assert fig.axes[0].get_ylabel() == "$y$ (start)"
    legend = [t.get_text() for t in fig.legends[0].get_texts()]
    assert legend == ["sharp minimum", "flat minimum", "no stationary point"]


def test_basin_legend_names_divergence():
    labels = torch.tensor([0, DIVERGED, ELSEWHERE, 0])
    fig = landscape.basin_maps(example1, {"origin": torch.zeros(2)}, {0.1: labels}, (2, 2), (-1, 1), (-1, 1))
    assert [t.get_text() for t in fig.legends[0].get_texts()] == ["origin", "no stationary point", "diverged"]


def test_sharpness_along_matches_closed_forms():
    run = torch.tensor([[0.3, -1.0], [2.0, 0.5]], dtype=F64)
    torch.testing.assert_close(landscape.sharpness_along(example1, run), torch.full((2,), 40.0, dtype=F64))
    valley = torch.tensor([[13.0, 0.0], [5.0, 0.0]], dtype=F64)
    torch.testing.assert_close(landscape.sharpness_along(example3_tanh, valley), torch.tensor([338.0, 50.0], dtype=F64))


def test_sharpness_over_eta_draws_2_over_eta_in_every_panel():
    etas = [2 / 41, 2 / 39]
    fig = landscape.sharpness_over_eta(example1, torch.tensor([1e6, 1.0], dtype=F64), etas, 300)
    for ax, eta in zip(fig.axes, etas):
        assert horizontal_lines_at(ax, 2 / eta), f"no 2/η line at {2 / eta}"
        assert ax.get_xlabel() == "step $t$"
    assert fig.axes[0].get_ylabel() == "sharpness"
    assert "300 steps" in texts(fig.axes[0])[0] and "diverged" in texts(fig.axes[1])[0]
    legend = {t.get_text() for t in fig.axes[0].get_legend().get_texts()}
    assert legend == {"$\\lambda_{\\max}(\\nabla^2 f(\\theta^t))$", "2/η"}


def test_sharpness_over_eta_fills_given_axes_with_the_valley():
    fig, axes = plt.subplots(1, 2)
    out = landscape.sharpness_over_eta(
        example3_tanh, torch.tensor([13.0, 0.01], dtype=F64), [2 / 150, 2 / 100], 50, axes=axes, valley=True
    )
    assert out is fig
    valley = axes[0].get_lines()[1]
    assert valley.get_linestyle() == ":" and valley.get_ydata()[0] == pytest.approx(338.0)


def test_gd_panels_path_loss_and_sharpness():
    run = gd(example1, torch.tensor([1.0, 1.0], dtype=F64), 2 / 39, 20)
    fig = landscape.gd_panels(example1, run, 2 / 39, **BOX)
    plane, loss, sharp = fig.axes
    assert plane.get_xlabel() == "$\\theta_1$" and loss.get_ylabel() == "loss $f(\\theta^t)$"
    assert loss.get_yscale() == "log"
    assert horizontal_lines_at(sharp, 39.0) and sharp.get_ylabel() == "sharpness"


def test_slider_figure_redraws_as_an_image_when_a_slider_moves():
    widgets = pytest.importorskip("ipywidgets")
    seen = []

    def draw(k):
        seen.append(k)
        fig, ax = plt.subplots()
        ax.plot([0, k])
        return fig

    slider = widgets.IntSlider(value=1, min=1, max=5)
    box = landscape.slider_figure(draw, k=slider)
    image = box.children[-1]
    assert isinstance(box, widgets.Widget) and isinstance(image, widgets.Image)
    first = bytes(image.value)
    assert first.startswith(b"\x89PNG") and seen == [1]
    slider.value = 3
    assert seen == [1, 3] and bytes(image.value) != first
    assert plt.get_fignums() == []  # drawn into the image only, not left for the inline backend


def sliders(box):
    import ipywidgets as widgets

    return {c.description: c for c in box.children if isinstance(c, widgets.FloatSlider | widgets.IntSlider)}


def test_gd_widget_builds_without_a_kernel_and_redraws():
    widgets = pytest.importorskip("ipywidgets")
    w = landscape.gd_widget(example1, torch.tensor([1.0, 1.0], dtype=F64), 2 / 39, (2 / 46, 2 / 36), 10, **BOX)
    assert isinstance(w, widgets.Widget)
    assert list(sliders(w)) == ["η", "steps"]
    before = bytes(w.children[-1].value)
    sliders(w)["η"].value = 2 / 41
    assert bytes(w.children[-1].value) != before
    w3 = landscape.gd_widget(
        example3_tanh,
        torch.tensor([13.0, 0.01], dtype=F64),
        2 / 150,
        (2 / 400, 2 / 40),
        10,
        xlim=(0, 16),
        ylim=(-1.5, 1.5),
        valley=True,
        start=(2, 16),
    )
    assert list(sliders(w3)) == ["η", "steps", "θ₁⁰"] and sliders(w3)["θ₁⁰"].value == pytest.approx(13.0)


def test_basin_widget_builds_without_a_kernel():
    widgets = pytest.importorskip("ipywidgets")
    f = TwoWells()
    w = landscape.basin_widget(f, f.stationary_points(), 0.19, (0.08, 2.1), (-3, 3), (-2, 2), n=(6, 4), steps=10)
    assert isinstance(w, widgets.Widget) and isinstance(w.children[-1], widgets.Image)
    eta = sliders(w)["η"]
    assert eta.min == pytest.approx(0.08) and eta.value == pytest.approx(0.19)


def test_proposition1_figure_draws_the_bound_and_a_line_per_seed():
    from types import SimpleNamespace

    run = SimpleNamespace(grad_norm=np.array([1.0, 0.5, 0.4]), bound=np.array([0.1, 0.1, 0.09]))
    eps = [1e-1, 1e-2, 1e-3]
    by_seed = {s: [SimpleNamespace(eps=e, sharpness=(s + 1) / e) for e in eps] for s in range(3)}
    fig = landscape.proposition1_figure(run, by_seed)
    left, right = fig.axes
    np.testing.assert_array_equal(left.get_lines()[1].get_ydata(), run.bound)
    assert left.get_yscale() == right.get_xscale() == right.get_yscale() == "log"
    labels = [line.get_label() for line in right.get_lines()]
    assert labels == ["seed 0", "seed 1", "seed 2", "$\\propto 1/\\epsilon$"]
    np.testing.assert_allclose(right.get_lines()[1].get_ydata(), [20.0, 200.0, 2000.0])
    assert right.get_xlabel() == "$\\epsilon$" and "lambda_{\\max}" in right.get_ylabel()
