"""Pictures of the paper's small examples, static and live.

Level sets with GD paths (Example 1), basin maps (Theorem 1), the sharpness along GD against
2/η (Examples 2 and 3) and Proposition 1's two panels. The first three are drawn for several step
sizes side by side (small multiples, the static version the book shows), and behind a step-size
slider (``*_widget``; they need ``ipywidgets``, imported only when called, and a running kernel to
react). A cost ``f`` here takes θ = (x, y) and indexes it as θ[0], θ[1], so that it also evaluates a
whole grid at once.
"""

import io

import matplotlib.pyplot as plt
import numpy as np
import torch
from matplotlib.colors import ListedColormap
from matplotlib.patches import Patch
from torch.func import hessian, vmap

from ..examples.toy import DIVERGED, ELSEWHERE, basins, gd
from ..readings.tables import eta_name
from . import plots

BASIN_COLORS = {DIVERGED: "0.3", ELSEWHERE: "#E69F00", 0: "#D55E00", 1: "#CC79A7", 2: "#56B4E9"}
"""Colours of the basin labels of :func:`eos_support.examples.toy.basins`: up to three stationary points."""
MARKERS = ("v", "x", "o")
"""Markers of the stationary points, in the order of their labels 0, 1, 2."""


def level_sets(ax, f, xlim, ylim, levels=12, n=(301, 201), **style):
    """Contours of f over the box ``xlim`` × ``ylim`` (thin grey lines); f is called once, on the grid."""
    X, Y = np.meshgrid(np.linspace(*xlim, n[0]), np.linspace(*ylim, n[1]))
    Z = f(torch.stack([torch.from_numpy(X), torch.from_numpy(Y)])).numpy()
    return ax.contour(X, Y, Z, levels=levels, **({"colors": "0.7", "linewidths": 0.7} | style))


def gd_path(ax, f, run, xlim, ylim, levels=12, minimum=None):
    """A GD trajectory (rows θᵗ) over the level sets of f: θ⁰ a square, ``minimum`` a star."""
    level_sets(ax, f, xlim, ylim, levels)
    path = np.asarray(run)
    ax.plot(path[:, 0], path[:, 1], "-o", ms=2.5, lw=0.8, color=plots.COLORS[0])
    ax.plot(*path[0], "s", color=plots.COLORS[1], ms=5, label="$\\theta^0$")
    if minimum is not None:
        ax.plot(*minimum, "*", color="k", ms=8, label="minimum")
    ax.set(xlim=xlim, ylim=ylim, xlabel="$\\theta_1$", ylabel="$\\theta_2$")


def gd_paths(f, runs, xlim, ylim, levels=12, minimum=None, shown=21, height=2.6):
    """Small multiples of GD paths, one panel per η; returns the figure.

    Each panel draws the first ``shown`` iterates of a run of ``runs`` ({η: trajectory}) over the
    level sets of f (Example 1).
    """
    fig, axes = plt.subplots(1, len(runs), figsize=plots.figsize(len(runs), height=height), sharey=True)
    axes = np.atleast_1d(axes)
    for ax, (eta, run) in zip(axes, runs.items()):
        gd_path(ax, f, run[:shown], xlim, ylim, levels, minimum)
        ax.text(0.03, 0.97, f"η = {eta_name(eta)}", transform=ax.transAxes, va="top")
        if ax is not axes[0]:
            ax.set_ylabel("")
    axes[0].legend(loc="lower left", fontsize=8)
    return fig


def basin_map(ax, f, points, labels, n, xlim, ylim, eta):
    """One basin map (Theorem 1), with η and 2/η written on it.

    The label of each start of an ``n`` = (nx, ny) grid (x first, as :func:`start_grid` orders it)
    is drawn as an image, over it the level sets of f and the stationary ``points`` ({name: p}).
    """
    image = np.asarray(labels).reshape(n).T  # rows: y, columns: x
    cmap = ListedColormap([BASIN_COLORS[k] for k in (DIVERGED, ELSEWHERE, 0, 1, 2)])
    ax.imshow(
        image,
        origin="lower",
        extent=(*xlim, *ylim),
        cmap=cmap,
        vmin=-2.5,
        vmax=2.5,
        aspect="auto",
        interpolation="nearest",
        rasterized=True,
    )
    level_sets(ax, f, xlim, ylim, 12, colors="0.35", linewidths=0.5, linestyles="solid")
    for marker, p in zip(MARKERS, points.values()):
        ax.plot(p[0], p[1], marker, color="k", ms=6, mfc="white" if marker != "x" else None)
    ax.text(
        0.03,
        0.97,
        f"η = {eta:g}\n2/η = {2 / eta:.3g}",
        transform=ax.transAxes,
        va="top",
        bbox=dict(fc="white", ec="none", alpha=0.8),
        in_layout=False,
    )
    ax.set(xlabel="$x$ (start)", ylabel="$y$ (start)")
    ax.grid(False)


def basin_maps(f, points, maps, n, xlim, ylim, height=2.6):
    """Small multiples of :func:`basin_map`, one panel per η of ``maps`` ({η: labels}); returns the figure.

    The legend names the outcomes that occur in any of the maps.
    """
    fig, axes = plt.subplots(1, len(maps), figsize=plots.figsize(len(maps), height=height), sharey=True)
    axes = np.atleast_1d(axes)
    for ax, (eta, labels) in zip(axes, maps.items()):
        basin_map(ax, f, points, labels, n, xlim, ylim, eta)
        if ax is not axes[0]:
            ax.set_ylabel("")
    names = dict(enumerate(points)) | {ELSEWHERE: "no stationary point", DIVERGED: "diverged"}
    seen = set().union(*(set(np.asarray(labels).tolist()) for labels in maps.values()))
    seen = sorted(seen & set(names), key=lambda k: (k < 0, abs(k)))  # the points first, then -1, -2
    fig.legend(
        handles=[Patch(color=BASIN_COLORS[k], label=names[k]) for k in seen],
        loc="outside lower center",
        ncols=min(len(seen), 5),
    )
    return fig


def start_grid(xlim, ylim, n):
    """An ``n`` = (nx, ny) grid of starts over the box, in float64, x first (``torch.cartesian_prod``)."""
    xs = torch.linspace(*xlim, n[0], dtype=torch.float64)
    return torch.cartesian_prod(xs, torch.linspace(*ylim, n[1], dtype=torch.float64))


def sharpness_along(f, run):
    """λ_max(∇²f(θᵗ)) at every row of a 2-D trajectory (dense 2 × 2 Hessians, batched)."""
    return torch.linalg.eigvalsh(vmap(hessian(f))(torch.as_tensor(run)))[:, -1]


def sharpness_panel(ax, f, run, eta, valley=False, log=False):
    """The sharpness along ``run`` and the threshold 2/η, on a log scale if ``log``.

    ``valley`` also draws 2(θ₁ᵗ)², the sharpness of Example 3's valley of minima below θᵗ.
    """
    plot = ax.semilogy if log else ax.plot
    label = "$\\lambda_{\\max}(\\nabla^2 f(\\theta^t))$"
    plot(sharpness_along(f, run).numpy(), lw=0.9, color=plots.COLORS[1], label=label)
    if valley:
        plot((2 * run[:, 0] ** 2).numpy(), ":", color="k", label="$2(\\theta_1^t)^2$")
    plots.two_over_eta(ax, eta)
    ax.set(xlabel="step $t$", ylabel="sharpness")


def sharpness_over_eta(f, theta0, etas, steps, axes=None, valley=False, height=2.4):
    """Small multiples of the sharpness along GD against 2/η, one panel per η; returns the figure.

    Runs GD on f from ``theta0`` for ``steps`` steps with each of ``etas`` and draws
    :func:`sharpness_panel` of each run into ``axes`` (a new row of panels if None), Examples 2 and 3.
    """
    if axes is None:
        _, axes = plt.subplots(1, len(etas), figsize=plots.figsize(len(etas), height=height), sharey=True)
    axes = np.atleast_1d(axes)
    for ax, eta in zip(axes, etas):
        run = gd(f, theta0, eta, steps)
        sharpness_panel(ax, f, run, eta, valley=valley)
        status = "diverged" if len(run) < steps + 1 else f"{steps} steps"
        ax.text(
            0.97,
            0.97,
            f"η = {eta_name(eta)}\n{status}",
            transform=ax.transAxes,
            va="top",
            ha="right",
            bbox=dict(fc="white", ec="none", alpha=0.8),
            in_layout=False,
        )
        if ax is not axes[0]:
            ax.set_ylabel("")
    axes[0].legend(loc="lower left", fontsize=8)
    return axes[0].figure


def proposition1_figure(run, by_seed):
    """Proposition 1 in two panels; returns the figure.

    Left: ‖∇ℓ(θᵗ)‖ and its lower bound 2γ‖ζᵗ‖ along GD with ε = 0 (``run``, a
    :class:`~eos_support.examples.proposition1.WeightDecayRun`). Right: the sharpness at the stationary points
    against ε, one line per seed of ``by_seed`` ({seed: [NormalizedMinimum]}), and a line ∝ 1/ε (dashed).
    """
    fig, (left, right) = plt.subplots(1, 2, figsize=plots.figsize(2, height=2.9))
    left.semilogy(run.grad_norm, label="$\\|\\nabla \\ell(\\theta^t)\\|$")
    left.semilogy(run.bound, "--", label="$2\\gamma\\|\\zeta^t\\|$")
    left.set(xlabel="step $t$", ylabel="norm")
    left.legend()
    for color, (seed, found) in zip(plots.COLORS, by_seed.items()):
        eps, lam = np.array([m.eps for m in found]), np.array([m.sharpness for m in found])
        right.loglog(eps, lam, "o-", ms=3, lw=1, color=color, label=f"seed {seed}")
    right.loglog(eps, lam[0] * eps[0] / eps, "--", color="0.5", lw=1, label="$\\propto 1/\\epsilon$")
    right.set(xlabel="$\\epsilon$", ylabel="sharpness $\\lambda_{\\max}(\\nabla^2\\ell)$")
    right.legend(fontsize=8)
    return fig


def gd_panels(f, run, eta, xlim, ylim, levels=12, minimum=None, valley=False):
    """One GD run in three panels; returns the figure.

    Its path over the level sets of f, its loss f(θᵗ) (log scale), and its sharpness against 2/η.
    """
    fig, (plane, loss, sharp) = plt.subplots(1, 3, figsize=plots.figsize(3, height=2.6))
    gd_path(plane, f, run, xlim, ylim, levels, minimum)
    loss.semilogy(torch.stack([f(th) for th in run]).numpy(), lw=0.9)
    loss.set(xlabel="step $t$", ylabel="loss $f(\\theta^t)$")
    sharpness_panel(sharp, f, run, eta, valley=valley)
    sharp.legend(loc="lower left", fontsize=8)
    return fig


def slider_figure(draw, **sliders):
    """A figure behind sliders: ``draw(**values)`` returns a matplotlib figure; returns an ``ipywidgets`` box.

    The figure is shown as a PNG image (an ``ipywidgets.Image``) and redrawn whenever a slider of
    ``sliders`` (name → slider widget) is released. An image rather than an ``Output`` widget:
    notebook runners mimic an Output widget by sending messages to the kernel while they wait for
    its reply, which hangs them now and then (jupyter/nbclient#312); an image only sends state.
    """
    import ipywidgets as widgets

    image = widgets.Image(format="png")

    def update(_change=None):
        fig = draw(**{name: slider.value for name, slider in sliders.items()})
        buffer = io.BytesIO()
        fig.savefig(buffer, format="png", dpi=100)
        plt.close(fig)  # shown by the image only, not again by the notebook's inline backend
        image.value = buffer.getvalue()

    for slider in sliders.values():
        slider.observe(update, names="value")
    update()
    return widgets.VBox([*sliders.values(), image])


def gd_widget(f, theta0, eta, eta_range, steps, xlim, ylim, levels=12, minimum=None, valley=False, start=None):
    """:func:`gd_panels` behind sliders (:func:`slider_figure`); returns the ``ipywidgets`` box.

    The sliders set the step size η over ``eta_range`` = (min, max), the number of steps, and, with
    ``start`` = (min, max), the first coordinate of θ⁰.
    """
    import ipywidgets as widgets

    def slider(value, low, high, description, fine=100, **more):
        return widgets.FloatSlider(
            value=value,
            min=low,
            max=high,
            step=(high - low) / fine,
            continuous_update=False,
            description=description,
            **more,
        )

    def draw(eta, steps, theta1=float(theta0[0])):
        theta = torch.as_tensor(theta0, dtype=torch.float64).clone()
        theta[0] = theta1
        return gd_panels(f, gd(f, theta, eta, steps), eta, xlim, ylim, levels, minimum, valley)

    sliders = dict(
        eta=slider(eta, *eta_range, "η", fine=200, readout_format=".4f"),
        steps=widgets.IntSlider(
            value=steps, min=5, max=max(steps, 10) * 5, continuous_update=False, description="steps"
        ),
    )
    if start is not None:
        sliders["theta1"] = slider(float(theta0[0]), *start, "θ₁⁰")
    return slider_figure(draw, **sliders)


def basin_widget(f, points, eta, eta_range, xlim, ylim, n=(90, 60), steps=200, tol=1e-6):
    """:func:`basin_maps` of one η behind a step-size slider (:func:`slider_figure`); returns the box.

    The slider covers ``eta_range`` = (min, max); the map is computed on a coarse ``n`` grid of
    starts (a second or two per map).
    """
    import ipywidgets as widgets

    starts = start_grid(xlim, ylim, n)

    def draw(eta):
        return basin_maps(f, points, {eta: basins(f, points, starts, eta, steps, tol=tol)}, n, xlim, ylim, height=3.4)

    return slider_figure(
        draw,
        eta=widgets.FloatSlider(
            value=eta, min=eta_range[0], max=eta_range[1], step=0.01, continuous_update=False, description="η"
        ),
    )
