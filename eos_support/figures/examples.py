"""The figures of the small examples' chapters (Fact 1, Examples 1–4, Theorem 1), from their runs.

Each function draws one figure of the book from iterates the chapter computed and returns the Figure;
its caption lives in the chapter. The level sets, paths and sharpness panels they combine are in
:mod:`eos_support.figures.landscape`.
"""

import matplotlib.pyplot as plt
import numpy as np

from . import landscape, plots


def example1_growth(runs, steps):
    """Example 1: ``|θ₁ᵗ|`` of GD from ``runs`` ({k: iterates at η = 2/k}) on a log scale, each with the
    prediction ``|1 − 40η|ᵗ`` of the quadratic's modes (dashed).
    """
    fig, ax = plt.subplots(figsize=plots.figsize(1, height=3.0))
    step = np.arange(steps + 1)
    for k, run in runs.items():
        ax.semilogy(step, run[:, 0].abs().numpy(), label=f"η = 2/{k}")
        ax.semilogy(step, abs(1 - 40 * 2 / k) ** step, "--", color="k", lw=0.8)
    ax.set(xlabel="step $t$", ylabel="$|\\theta_1^t|$")
    ax.legend()
    return fig


def example4_smoothness(series):
    """Example 4: L(θᵗ; η∇f(θᵗ)) in units of 2/η for each ``{label: (L per step, η)}`` (left, the threshold
    at 1), and its gap to 2/η on a log scale (right).
    """
    fig, (left, right) = plt.subplots(1, 2, figsize=plots.figsize(2, height=2.8))
    for label, (ds, eta) in series.items():
        left.plot(ds * eta / 2, label=label)
        right.semilogy((1 - ds * eta / 2).abs().clamp_min(1e-17))
    plots.two_over_eta(left, 2.0)  # in units of 2/η the threshold sits at 1 = 2/2
    left.set(xlabel="step $t$", ylabel="$L(\\theta^t; \\eta\\nabla f)$ / (2/η)", ylim=(0, 1.1))
    left.legend(loc="lower right")
    right.set(xlabel="step $t$", ylabel="$|1 - L/(2/\\eta)|$")
    return fig


def two_cycle(loss, ds, eta, minimum_loss, steps=60):
    """GD settling on a two-cycle: its loss against the value ``minimum_loss`` at the minimum it left
    (left), and L(θᵗ; η∇f(θᵗ)) against 2/η (right), over the first ``steps`` steps.
    """
    fig, (left, right) = plt.subplots(1, 2, figsize=plots.figsize(2, height=2.8))
    left.plot(loss.numpy(), lw=1.0)
    left.axhline(minimum_loss, color="k", ls=":", lw=1, label="f at sharp minimum")
    left.set(xlabel="step $t$", ylabel="loss $f(\\theta^t)$", xlim=(0, steps))
    left.legend(loc="upper right")
    right.plot(ds.numpy(), lw=1.0, label="$L(\\theta^t; \\eta\\nabla f)$")
    plots.two_over_eta(right, eta)
    right.set(xlabel="step $t$", ylabel="directional smoothness", xlim=(0, steps))
    right.legend(loc="lower right")
    return fig


def example2(run_quad, run_tanh, quadratic, flattened, level):
    """Example 2: ‖θᵗ‖ of GD on the quadratic and on its tanh (left), and the first 200 iterates of the
    tanh run over its level sets inside the sublevel set {quadratic ≤ ``level``} (right, black).
    """
    fig, (left, right) = plt.subplots(1, 2, figsize=plots.figsize(2, height=2.9))
    left.semilogy(run_quad.norm(dim=1).numpy(), label="$20\\theta_1^2 + \\theta_2^2$")
    left.semilogy(run_tanh.norm(dim=1).numpy(), label="$\\tanh(20\\theta_1^2 + \\theta_2^2)$")
    left.set(xlabel="step $t$", ylabel="$\\|\\theta^t\\|$", xlim=(0, 600))
    left.legend()
    plane = dict(xlim=(-0.3, 0.3), ylim=(-1.15, 1.15))
    landscape.gd_path(right, flattened, run_tanh[:200], **plane, levels=8, minimum=(0, 0))
    landscape.level_sets(right, quadratic, **plane, levels=[level], colors="k", linewidths=1)
    return fig


def example3(run_tanh, run_linear, tanh_cost, eta):
    """Example 3: the tanh network's first 200 iterates over its level sets with the linear network's first
    ones (left), and the sharpness along the tanh run against 2/η with the valley's (right).
    """
    fig, (left, right) = plt.subplots(1, 2, figsize=plots.figsize(2, height=2.9))
    landscape.gd_path(left, tanh_cost, run_tanh[:200], xlim=(8, 13.5), ylim=(-1.5, 1.5), levels=8)
    path = run_linear[:4].numpy()
    left.plot(path[:, 0], path[:, 1], "-s", ms=3, lw=0.8, color="k", label="linear")
    left.legend(loc="upper left")
    landscape.sharpness_panel(right, tanh_cost, run_tanh, eta, valley=True, log=True)
    right.set(xlim=(0, 300))
    right.legend()
    return fig


def examples_over_eta(first, second, steps):
    """The sharpness along GD against 2/η for four step sizes of each example, one row each: ``first`` and
    ``second`` are ``(f, θ⁰, step sizes, valley)`` (:func:`eos_support.figures.landscape.sharpness_over_eta`).
    """
    fig, axes = plt.subplots(2, 4, figsize=plots.figsize(4, 2, height=2.3), sharey="row")
    for row, (f, theta0, etas, valley) in zip(axes, (first, second)):
        landscape.sharpness_over_eta(f, theta0, etas, steps, axes=row, valley=valley)
    return fig
