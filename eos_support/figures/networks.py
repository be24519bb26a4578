"""The figures of the network chapters (Experiment 1, Sections 4.1 to 4.4), each from runs of the book's profiles.

Every function draws one figure of the book and returns ``(fig, axes)``; its caption lives in the
chapter. Runs come as ``{η: Run}``, one colour per run in order (:data:`eos_support.figures.plots.COLORS`).
The common panels (loss, RP, sharpness with 2/η) are :func:`eos_support.figures.plots.run_panels`.
"""

from ..system import require

require(__name__, "matplotlib")

import matplotlib.pyplot as plt  # noqa: E402 - after the check that names the extra it comes with
import numpy as np  # noqa: E402

from ..readings.phases import unstable_onset, unstable_phase, unstable_sharpness  # noqa: E402
from ..readings.tables import eta_name  # noqa: E402
from .plots import COLORS, diagonal, eta_label, figsize, mark_onsets, reference_lines, two_over_eta  # noqa: E402

# -- Section 3: Experiment 1 -------------------------------------------------------------------------


def experiment1(runs, eta):
    """Experiment 1 (Figure 1): the training loss of each run of ``runs`` ({name: Run}, one step size η),
    a cross at a diverged run's last loss (left), and the sharpness against 2/η (right).
    """
    fig, (ax_loss, ax_sharp) = plt.subplots(1, 2, figsize=figsize(2, height=3.0))
    for color, (name, run) in zip(COLORS, runs.items()):
        h = run.history
        ax_loss.plot(h["loss"], color=color, label=name)
        if run.status == "diverged":
            ax_loss.plot(len(h["loss"]) - 1, h["loss"][-1], "x", color=color, markersize=9, mew=2)
        ax_sharp.plot(h["sharpness_step"], h["sharpness"], "o-", color=color, markersize=3, label=name)
    ax_loss.set(yscale="log", xlabel="step t", ylabel="training loss f(θᵗ)")
    ax_loss.legend()
    two_over_eta(ax_sharp, eta)
    ax_sharp.set(xlabel="step t", ylabel="sharpness λ_max(∇²f(θᵗ))", ylim=(0, None))
    ax_sharp.legend()
    return fig, (ax_loss, ax_sharp)


# -- Section 4.1: relative progress (Experiments 2 and 3, Remark 4) ----------------------------------


def phase_histograms(runs):
    """Experiment 3: RP(θᵗ) over each run's unstable phase, one row per run.

    At the right of each row, the histogram of those values; 0 and −1 dashed.
    """
    fig, axes = plt.subplots(
        len(runs),
        2,
        figsize=figsize(2, len(runs), height=1.7),
        gridspec_kw=dict(width_ratios=(4, 1)),
        sharey=True,
        squeeze=False,
    )
    for (eta, run), color, (ax, ax_h) in zip(runs.items(), COLORS, axes):
        onset, rp = unstable_onset(run), unstable_phase(run, "rp")
        if onset is not None:
            ax.plot(np.arange(onset, onset + len(rp)), rp, color=color, linewidth=0.9, label=eta_label(eta))
            ax_h.hist(rp, bins=30, orientation="horizontal", color=color, alpha=0.8)
        for a in (ax, ax_h):
            reference_lines(a, 0, -1)
        ax.set_ylabel("RP(θᵗ)")
        ax.legend(loc="lower right")
    axes[-1, 0].set_xlabel("step t")
    axes[-1, 1].set_xlabel("count")
    return fig, axes


def remark4(runs, diverging, continued):
    """Remark 4: larger steps are faster, up to divergence.

    Left: the step at which each of ``runs`` reached 95 % train accuracy, against η (log scale). Right: the
    loss of the ``diverging`` run with its divergence threshold dashed, and the same run ``continued`` past
    it (pale).
    """
    fig, (ax_g, ax_d) = plt.subplots(1, 2, figsize=figsize(2, height=3.0))
    for (eta, run), color in zip(runs.items(), COLORS):
        if run.goal_step is not None:
            ax_g.plot(eta, run.goal_step, "o", color=color, label=eta_label(eta))
    ax_g.set_xscale("log")
    ax_g.set_xticks(sorted(runs), [eta_name(eta) for eta in sorted(runs)])
    ax_g.xaxis.set_minor_formatter(plt.NullFormatter())
    ax_g.set_ylim(bottom=0)
    ax_g.set(xlabel="step size η", ylabel="steps to 95 % train accuracy")
    ax_g.legend(loc="upper right")
    h, hc = diverging.history, continued.history
    color = COLORS[len(runs) % len(COLORS)]
    ax_d.plot(np.arange(len(hc["loss"])), hc["loss"], color=color, alpha=0.45, linewidth=1, label="not stopped")
    ax_d.plot(np.arange(len(h["loss"])), h["loss"], color=color, label=eta_label(diverging.eta))
    factor = diverging.options.diverge_factor
    reference_lines(ax_d, h["loss"][0] * factor, label=f"{factor:g} · f(θ⁰)")
    ax_d.set_yscale("log")
    ax_d.set(xlabel="step t", ylabel="loss f(θᵗ)")
    ax_d.legend(loc="lower right")
    return fig, (ax_g, ax_d)


# -- Section 4.2: directional smoothness (Experiment 4) ----------------------------------------------


def smoothness_runs(stable, unstable):
    """Experiment 4: L(θᵗ; η∇f(θᵗ)) (Definition 2) per step, log scale, each run's 2/η dashed in its colour.

    The ``stable`` runs on top, the ``unstable`` ones below with the start of their unstable phases dotted.
    """
    fig, axes = plt.subplots(2, 1, sharex=True, figsize=figsize(1, 2, height=2.6))
    colors = iter(COLORS)
    for ax, runs in zip(axes, (stable, unstable)):
        for eta, run in runs.items():
            color = next(colors)
            ds = run.history["ds"]
            ax.plot(np.arange(len(ds)), ds, color=color, linewidth=0.8, label=eta_label(eta))
            two_over_eta(ax, eta, label=False, color=color, alpha=0.9)
            onset = unstable_onset(run) if runs is unstable else None
            if onset is not None:
                ax.axvline(onset, color=color, linestyle=":", linewidth=1.2)
        ax.set_yscale("log")
        ax.set_ylabel("L(θᵗ; η∇f(θᵗ))")
        ax.legend(loc="lower right", ncols=len(runs))
    axes[-1].set_xlabel("step t")
    return fig, axes


def smoothness_normalised(stable, unstable):
    """Experiment 4 in units of 2/η: (η/2)·L(θᵗ; η∇f(θᵗ)).

    Left: over the unstable phases of the ``unstable`` runs, 1 (that is L = 2/η) dashed. Right: histograms
    over the whole ``stable`` runs and the unstable phases (log scale).
    """
    fig, (ax, ax_h) = plt.subplots(1, 2, figsize=figsize(2, height=3.0), gridspec_kw=dict(width_ratios=(3, 2)))
    colors = iter(COLORS)
    bins = np.logspace(-4, 1, 60)
    for eta, run in stable.items():
        ax_h.hist(
            eta / 2 * run.history["ds"], bins=bins, color=next(colors), alpha=0.6, label=f"{eta_name(eta)}, stable"
        )
    for eta, run in unstable.items():
        color, onset = next(colors), unstable_onset(run)
        if onset is None:
            continue
        ds = eta / 2 * unstable_phase(run, "ds")
        ax.plot(np.arange(onset, onset + len(ds)), ds, color=color, linewidth=0.8, label=eta_label(eta))
        ax_h.hist(ds, bins=bins, color=color, alpha=0.6, label=f"{eta_name(eta)}, unstable phase")
    reference_lines(ax, 1)
    reference_lines(ax_h, 1, axis="x")
    ax.set(xlabel="step t", ylabel="(η/2)·L(θᵗ; η∇f(θᵗ))")
    ax.legend(loc="lower right")
    ax_h.set_xscale("log")
    ax_h.set(xlabel="(η/2)·L(θᵗ; η∇f(θᵗ))", ylabel="steps")
    ax_h.legend(loc="upper center", fontsize=8)
    return fig, (ax, ax_h)


# -- Section 4.3: Theorem 2, Experiment 5, the approximation (4.3), Experiment 6 ---------------------


def theorem2_run(run):
    """Experiment 5's run: loss (log scale), RP(θᵗ) with 0 and −1 dashed, and directional smoothness.

    The bottom panel has L(θᵗ; η∇f(θᵗ)) per step and the mean over τ of the profile L(θᵗ; ητ∇f(θᵗ)) with
    one standard deviation shaded; 2/η dashed.
    """
    h = run.history
    steps = np.arange(len(h["rp"]))
    P, p_steps = h["profile"], h["profile_step"]
    p_mean, p_std = P.mean(axis=1), P.std(axis=1)
    fig, (ax_l, ax_rp, ax_ds) = plt.subplots(3, 1, sharex=True, figsize=figsize(1, 3, height=2.1))
    ax_l.plot(np.arange(len(h["loss"])), h["loss"])
    ax_l.set(yscale="log", ylabel="loss f(θᵗ)")
    ax_rp.plot(steps, h["rp"], linewidth=1)
    reference_lines(ax_rp, 0, -1)
    ax_rp.set_ylabel("RP(θᵗ)")
    ax_ds.plot(steps, h["ds"], linewidth=0.8, alpha=0.7, label="L(θᵗ; η∇f(θᵗ))")
    ax_ds.fill_between(p_steps, p_mean - p_std, p_mean + p_std, color=COLORS[1], alpha=0.3, linewidth=0)
    ax_ds.plot(p_steps, p_mean, "o", color=COLORS[1], markersize=3, label="mean over τ of L(θᵗ; ητ∇f(θᵗ)), ± one std")
    two_over_eta(ax_ds, run.eta)
    ax_ds.set(xlabel="step t", ylabel="directional smoothness")
    fig.legend(loc="outside lower center", ncol=2, fontsize=8.5)
    return fig, (ax_l, ax_rp, ax_ds)


def tau_profiles(run, count=10):
    """Experiment 5: the profiles τ ↦ L(θᵗ; ητ∇f(θᵗ)) at ``count`` iterates, coloured by the step t.

    2/η dashed. Flat profiles mean that L at τ = 1 stands for the weighted average in (4.2).
    """
    h = run.history
    taus, P, p_steps = h["taus"], h["profile"], h["profile_step"]
    fig, ax = plt.subplots(figsize=figsize(1, height=3.4))
    rows = np.unique(np.linspace(0, len(p_steps) - 1, count).round().astype(int))
    cmap = plt.get_cmap("viridis")
    norm = plt.Normalize(p_steps[rows].min(), p_steps[rows].max())
    for i in rows:
        ax.plot(taus, P[i], color=cmap(norm(p_steps[i])), marker="." if len(taus) <= 25 else None)
    two_over_eta(ax, run.eta, label=False)
    fig.colorbar(plt.cm.ScalarMappable(norm=norm, cmap=cmap), ax=ax, label="step t")
    ax.set(xlabel="fraction of the step τ", ylabel="L(θᵗ; ητ∇f(θᵗ))", xlim=(0, 1))
    ax.text(0.99, 2 / run.eta, "2/η", ha="right", va="bottom", color="0.25")
    return fig, ax


def approximation_run(run):
    """The approximation (4.3) along one run.

    Left: RP(θᵗ) and −1 + (η/2)L(θᵗ; η∇f(θᵗ)) per step, 0 and −1 dashed. Right: one point per step, RP
    against −1 + (η/2)L, coloured by t, with the diagonal (where (4.3) is exact).
    """
    h = run.history
    steps, approx = np.arange(len(h["rp"])), -1 + run.eta / 2 * h["ds"]
    fig, (ax_t, ax_s) = plt.subplots(1, 2, figsize=figsize(2, height=3.2))
    ax_t.plot(steps, h["rp"], linewidth=1, label="RP(θᵗ)")
    ax_t.plot(steps, approx, ".", markersize=3, label="−1 + (η/2) L(θᵗ; η∇f(θᵗ))")
    reference_lines(ax_t, 0, -1)
    ax_t.set(xlabel="step t", ylabel="relative progress")
    ax_t.legend(loc="lower center", bbox_to_anchor=(0.5, 1.0), fontsize=8.5)
    lo, hi = min(approx.min(), h["rp"].min()), max(approx.max(), h["rp"].max())
    diagonal(ax_s, lo, hi, label="RP = −1 + (η/2) L")
    sc = ax_s.scatter(approx, h["rp"], c=steps, s=8, cmap="viridis")
    fig.colorbar(sc, ax=ax_s, label="step t")
    ax_s.set(xlabel="−1 + (η/2) L(θᵗ; η∇f(θᵗ))", ylabel="RP(θᵗ)")
    ax_s.legend(loc="lower center", bbox_to_anchor=(0.5, 1.0), fontsize=8.5)
    return fig, (ax_t, ax_s)


def depth_runs(runs):
    """Experiment 6: one column per depth of ``runs`` = ``{(depth, η): Run}``, one colour per η.

    Rows: loss (log scale), RP(θᵗ) with 0 and −1 dashed, and L(θᵗ; η∇f(θᵗ))·η/2 with 1 (that is 2/η) dashed.
    """
    depths, etas = sorted({d for d, _ in runs}), sorted({e for _, e in runs})
    fig, axes = plt.subplots(3, len(depths), sharex="col", figsize=figsize(2, 3, height=2.0), squeeze=False)
    for col, depth in enumerate(depths):
        ax_l, ax_rp, ax_ds = axes[:, col]
        for color, eta in zip(COLORS, etas):
            h = runs[depth, eta].history
            ax_l.plot(np.arange(len(h["loss"])), h["loss"], color=color, label=eta_label(eta))
            ax_rp.plot(np.arange(len(h["rp"])), h["rp"], color=color, linewidth=0.9)
            ax_ds.plot(np.arange(len(h["ds"])), h["ds"] * eta / 2, color=color, linewidth=0.9)
        ax_l.set(yscale="log", title=f"{depth} hidden layers")
        reference_lines(ax_rp, 0, -1)
        two_over_eta(ax_ds, 2.0, label=False)  # 2/η in units of 2/η: the line at 1
        ax_ds.set_xlabel("step t")
    axes[0, 0].set_ylabel("loss f(θᵗ)")
    axes[1, 0].set_ylabel("RP(θᵗ)")
    axes[2, 0].set_ylabel("L(θᵗ; η∇f(θᵗ)) · η/2")
    axes[0, 0].legend()
    return fig, axes


def depth_approximation(runs):
    """The approximation (4.3) for ``runs`` = ``{(depth, η): Run}`` (Experiment 6), one panel per depth.

    One point per step, RP(θᵗ) against −1 + (η/2)L(θᵗ; η∇f(θᵗ)), one colour per η (the smallest on top),
    with the diagonal.
    """
    depths, etas = sorted({d for d, _ in runs}), sorted({e for _, e in runs})
    fig, axes = plt.subplots(1, len(depths), figsize=figsize(2, height=3.2), sharex=True, sharey=True, squeeze=False)
    for ax, depth in zip(axes[0], depths):
        for color, eta in reversed(list(zip(COLORS, etas))):
            h = runs[depth, eta].history
            ax.scatter(-1 + eta / 2 * h["ds"], h["rp"], s=6, color=color, alpha=0.7, label=eta_label(eta))
        diagonal(ax, *ax.get_xlim())
        ax.set(title=f"{depth} hidden layers", xlabel="−1 + (η/2) L(θᵗ; η∇f(θᵗ))")
    axes[0, 0].set_ylabel("RP(θᵗ)")
    axes[0, 0].legend(loc="upper left")
    return fig, axes[0]


# -- Section 4.4: sharpness (edge of stability A and B, Corollary 1) ---------------------------------


def edge_of_stability(runs):
    """Edge of stability A and B: the sharpness of each run against its 2/η.

    Left: λ_max(∇²f(θᵗ)), each run's 2/η dashed in its colour, the start of its unstable phase dotted.
    Right: λ_max·η/2 over the unstable phases, 1 (that is λ_max = 2/η) dashed.
    """
    fig, (ax, ax_n) = plt.subplots(1, 2, figsize=figsize(2, height=3.2), gridspec_kw=dict(width_ratios=(3, 2)))
    for (eta, run), color in zip(runs.items(), COLORS):
        h = run.history
        ax.plot(
            h["sharpness_step"], h["sharpness"], "o-", color=color, markersize=2.5, linewidth=1, label=eta_label(eta)
        )
        two_over_eta(ax, eta, label=False, color=color, alpha=0.9)
        phase = unstable_sharpness(run)
        ax_n.plot(phase.steps, phase.ratio, "o-", color=color, markersize=2.5, linewidth=1)
    mark_onsets(ax, runs)
    reference_lines(ax_n, 1, label="λ_max = 2/η")
    ax.set(xlabel="step t", ylabel="sharpness λ_max")
    ax.legend(loc="upper left")
    ax_n.set(xlabel="step t", ylabel="λ_max · η/2")
    ax_n.set_ylim(bottom=0)
    ax_n.legend(loc="lower right")
    return fig, (ax, ax_n)


def sharpness_chain(runs):
    """The chain of Section 4.4: Corollary 1's left side against the sharpness, both in units of 2/η.

    One point per sharpness measurement: (2/η)(RP(θᵗ) + 1)·η/2 = RP(θᵗ) + 1 against λ_max·η/2, filled in
    the unstable phase, open before it. On the diagonal ♣ is an equality (the gradient along the top
    eigenvector).
    """
    fig, ax = plt.subplots(figsize=figsize(1, height=3.6))
    for (eta, run), color in zip(runs.items(), COLORS):
        h = run.history
        steps = h["sharpness_step"]
        ok = steps < len(h["rp"])
        lhs, lam = h["rp"][steps[ok]] + 1, h["sharpness"][ok] * eta / 2
        onset = unstable_onset(run)
        late = steps[ok] >= (onset if onset is not None else np.inf)
        ax.plot(lam[late], lhs[late], "o", color=color, markersize=4, label=eta_label(eta))
        ax.plot(lam[~late], lhs[~late], "o", color=color, markersize=4, markerfacecolor="none")
    diagonal(ax, 0, max(2.0, ax.get_xlim()[1]), label="equality")
    reference_lines(ax, 1, color="0.6", linestyle=":", linewidth=1)
    reference_lines(ax, 1, axis="x", color="0.6", linestyle=":", linewidth=1)
    ax.set(xlabel="λ_max(∇²f(θᵗ)) · η/2", ylabel="(2/η)(RP(θᵗ) + 1) · η/2 = RP(θᵗ) + 1")
    ax.legend(loc="upper left")
    return fig, ax


def corollary1_checks(checks):
    """Corollary 1 at the checked iterates (:class:`~eos_support.readings.corollary1.Corollary1Check`).

    Left: λ_max·η/2 along each checked segment [θᵗ, θᵗ⁺¹], with its (2/η)(RP(θᵗ) + 1)·η/2 as a tick at the
    right in the same colour. Right: the left side against the estimate of Lₜ; the inequality holds below
    the diagonal.
    """
    fig, (ax, ax_s) = plt.subplots(1, 2, figsize=figsize(2, height=3.2))
    for c, color in zip(checks, COLORS * (len(checks) // len(COLORS) + 1)):
        scale = c.eta / 2
        ax.plot(
            c.segment.s,
            c.segment.values * scale,
            "o-",
            color=color,
            markersize=3,
            label=f"{eta_name(c.eta)}, t = {c.step}",
        )
        ax.plot([1.02, 1.08], [c.lhs * scale] * 2, color=color, linewidth=2.5)
        ax_s.plot(c.Lt * scale, c.lhs * scale, "o", color=color)
    reference_lines(ax, 1)
    ax.set(xlabel="position on the segment s", ylabel="λ_max · η/2")
    lo = min([c.lhs * c.eta / 2 for c in checks] + [0.8])
    hi = max([c.Lt * c.eta / 2 for c in checks] + [1.2])
    diagonal(ax_s, lo, hi, label="equality")
    ax_s.set(xlabel="L_t · η/2 (estimate, a lower bound)", ylabel="(2/η)(RP(θᵗ) + 1) · η/2")
    handles, labels = ax.get_legend_handles_labels()
    ax_s.legend(handles + ax_s.get_legend_handles_labels()[0], labels + ["equality"], loc="upper left", fontsize=8)
    return fig, (ax, ax_s)


# -- the paper profile's committed record -----------------------------------------------------------


def recorded_runs(runs, title=""):
    """The runs of a committed record (``{label: RecordedRun}``, :func:`eos_support.book.records.runs`):
    the loss, the relative progress and the sharpness against each run's 2/η (dashed; a monitor run's own
    threshold where it recorded one), per step (GD, monitor) or per epoch end (SGD: E[RP] of Section 5, the
    sharpness panel left out). One colour per run.
    """
    sgd = all("erp" in run.history for run in runs.values())
    rows = 2 if sgd else 3
    fig, axes = plt.subplots(rows, 1, sharex=True, figsize=figsize(1, rows, height=2.1))
    for (label, run), color in zip(runs.items(), COLORS):
        h = run.history
        loss = np.asarray(h["loss"], dtype=np.float64)
        x = np.asarray(h["epoch"] if sgd else h.get("step", np.arange(len(loss))))
        axes[0].plot(x, loss, color=color, label=label)
        rp = np.asarray(h["erp" if sgd else "rp"], dtype=np.float64)
        axes[1].plot(x[: len(rp)], rp, color=color, linewidth=0.9)
        if not sgd:
            steps, lam = np.asarray(h["sharpness_step"] if "sharpness_step" in h else x), np.asarray(h["sharpness"])
            keep = np.isfinite(lam)
            axes[2].plot(steps[keep], lam[keep], "o-", color=color, markersize=2.5, linewidth=1)
            threshold = np.asarray(h.get("threshold", []), dtype=np.float64)
            if np.isfinite(threshold).any():  # a monitor's optimizer threshold, e.g. (2 + 2β)/η
                axes[2].plot(x, threshold, "--", color=color, linewidth=1, alpha=0.8)
            else:
                two_over_eta(axes[2], run.eta, label=False, color=color, alpha=0.8)
    axes[0].set_yscale("log")
    axes[0].set_ylabel("loss f(θ)")
    axes[0].legend(loc="best", fontsize="small")
    reference_lines(axes[1], 0, -1)
    axes[1].set_ylabel("E[RP]" if sgd else "RP")
    if not sgd:
        axes[2].set_ylabel("sharpness λ_max")
    axes[-1].set_xlabel("epoch" if sgd else "step t")
    if title:
        axes[0].set_title(title)
    return fig, axes
