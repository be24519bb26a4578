"""Optimizers at their own edge of stability, trained by the loop a user writes with an EdgeMonitor.

For the chapter "Beyond the paper". An experiment ``beyond-*`` of a profile (:mod:`eos_support.profiles`)
names the network and the data; its ``options`` are the fields of :class:`EdgeOptions` besides η.
:func:`edge_run` builds the optimizer and trains with ::

    for x, y in loader:
        optimizer.zero_grad()
        loss(model(x), y).backward()
        optimizer.step()

while an :class:`~eos_support.monitor.edge_monitor.EdgeMonitor` records, on the whole training set, f(θᵗ), RP_u and
L(θᵗ; u) for the update u = θᵗ − θᵗ⁺¹ the optimizer took, and the sharpness its threshold refers to.
:func:`theorem2_along` checks Theorem 2 for that u in float64; :func:`edge_summary` (from
:func:`~eos_support.readings.phases.first_reach`, :func:`~eos_support.readings.phases.edge_onset`,
:func:`edge_statistics`) and :func:`batch_and_full` read a run's
edge off its records; :func:`eos_support.figures.monitor.plot_smoothness` draws L(θᵗ; u) against the
threshold and against 2/η_u.
"""

from __future__ import annotations

import copy
import time
from dataclasses import dataclass

import numpy as np
import torch
from torch.utils.data import BatchSampler, DataLoader, RandomSampler, SequentialSampler, TensorDataset

from ..checks import check_eta, positive_int
from ..diagnostics.along import relative_progress_along, theorem2_rp_along
from ..diagnostics.objective import ModuleLoss, loss_function
from ..readings.phases import edge_onset, first_reach
from .edge_monitor import EdgeMonitor
from .thresholds import Threshold

OPTIMIZERS = ("SGD", "Adam")


@dataclass(frozen=True)
class EdgeOptions:
    """One monitored run of ``optimizer`` ("SGD" or "Adam") with step size ``eta``.

    ``momentum``: heavy ball's β (SGD); ``betas``: Adam's (β₁, β₂). ``steps`` optimizer steps on
    minibatches of ``batch_size`` examples (None: the full batch), reshuffled from ``seed`` every epoch.
    The monitor records every ``every`` steps and measures the sharpness every ``sharpness_every`` (a
    multiple of ``every``); (t, θᵗ, θᵗ⁺¹) is kept every ``snapshot_every`` steps (None: never).
    """

    eta: float
    optimizer: str = "SGD"
    momentum: float = 0.0
    betas: tuple[float, float] = (0.9, 0.999)
    steps: int = 500
    batch_size: int | None = None
    every: int = 1
    sharpness_every: int = 10
    snapshot_every: int | None = None
    seed: int = 0

    def __post_init__(self):
        object.__setattr__(self, "eta", check_eta(self.eta))
        object.__setattr__(self, "betas", tuple(float(b) for b in self.betas))
        if self.optimizer not in OPTIMIZERS:
            raise ValueError(f"optimizer must be one of {OPTIMIZERS}, got {self.optimizer!r}")
        if not 0 <= self.momentum < 1 or not all(0 <= b < 1 for b in self.betas):
            raise ValueError(f"momentum and betas must lie in [0, 1), got {self.momentum} and {self.betas}")
        for name in ("steps", "every", "sharpness_every", "batch_size", "snapshot_every"):
            optional = name in ("batch_size", "snapshot_every")
            object.__setattr__(self, name, positive_int(name, getattr(self, name), allow_none=optional))
        if self.sharpness_every % self.every:
            raise ValueError(f"sharpness_every ({self.sharpness_every}) must be a multiple of every ({self.every})")

    def make_optimizer(self, params):
        """``torch.optim.SGD(lr=η, momentum=β)`` or ``torch.optim.Adam(lr=η, betas=betas)`` on ``params``."""
        if self.optimizer == "Adam":
            return torch.optim.Adam(params, lr=self.eta, betas=self.betas)
        return torch.optim.SGD(params, lr=self.eta, momentum=self.momentum)


@dataclass(frozen=True)
class EdgeRun:
    """What the monitor recorded in one run.

    ``history``: the monitor's records (:data:`~eos_support.monitor.edge_monitor.KEYS`), f on the whole training set;
    ``threshold``: the optimizer's :class:`~eos_support.monitor.thresholds.Threshold`; ``summary``: the monitor's
    line; ``full``: for a minibatch run, a second monitor's records with λ_max of the full-batch loss
    (else None); ``snapshots``: (t, θᵗ, θᵗ⁺¹) tuples; ``wall_s``: the loop's wall time.
    """

    options: EdgeOptions
    history: dict
    threshold: Threshold
    summary: str
    full: dict | None
    snapshots: tuple
    wall_s: float


def loader(x, y, batch_size=None, seed=0):
    """A DataLoader over (x, y): the whole set in order (``batch_size`` None), or minibatches.

    Minibatches of ``batch_size`` are drawn without replacement, reshuffled every epoch from ``seed``; the
    last incomplete one is dropped.
    """
    data = TensorDataset(x, y)
    if batch_size is None:
        sampler = BatchSampler(SequentialSampler(data), len(data), drop_last=False)
    else:
        sampler = BatchSampler(RandomSampler(data, generator=torch.Generator().manual_seed(seed)), batch_size, True)
    return DataLoader(data, sampler=sampler, batch_size=None)


def train(model, optimizer, batches, loss, steps):
    """The loop a user writes, for ``steps`` optimizer steps over as many epochs of ``batches`` as it takes."""
    criterion = loss_function(loss)
    t = 0
    while t < steps:
        for x, y in batches:
            optimizer.zero_grad()
            criterion(model(x), y).backward()
            optimizer.step()
            t += 1
            if t == steps:
                return


class Snapshots:
    """(t, θᵗ, θᵗ⁺¹) every ``every`` steps of ``optimizer`` (t from 0), read by its step hooks until :meth:`close`."""

    def __init__(self, optimizer, params, every=None):
        self.params, self.every, self.t, self.kept = params, every, 0, []
        self.handles = [optimizer.register_step_pre_hook(self._before), optimizer.register_step_post_hook(self._after)]

    def _flat(self):
        return torch.cat([p.detach().reshape(-1) for p in self.params]).clone()

    def _before(self, *_):
        if self.every and self.t % self.every == 0:
            self.kept.append((self.t, self._flat()))

    def _after(self, *_):
        if self.kept and self.kept[-1][0] == self.t:
            self.kept[-1] += (self._flat(),)
        self.t += 1

    def close(self):
        """Remove the hooks; returns the snapshots as a tuple."""
        for handle in self.handles:
            handle.remove()
        return tuple(self.kept)


def edge_run(prof, name, **overrides) -> EdgeRun:
    """Experiment ``name`` of profile ``prof`` trained by :func:`train` with an EdgeMonitor attached.

    ``overrides`` replace fields of its :class:`EdgeOptions`. The monitor's probe is the whole training
    set; a minibatch run measures the batch sharpness on that set cut into batches of ``batch_size``, and
    λ_max of the full-batch loss with a second monitor every ``sharpness_every`` steps.
    """
    e = prof[name]
    o = EdgeOptions(eta=e.etas[0], **{**e.options, **overrides})
    data, model = prof.network(name)
    x, y, b = data.x_train, data.y_train, o.batch_size
    optimizer = o.make_optimizer(model.parameters())
    start = time.perf_counter()
    full = None
    if b is None:
        mon = EdgeMonitor(model, optimizer, (x, y), e.loss, every=o.every, sharpness_every=o.sharpness_every)
    else:
        probe = [(x[i : i + b], y[i : i + b]) for i in range(0, len(x) - b + 1, b)]
        mon = EdgeMonitor(
            model, optimizer, probe, e.loss, every=o.every, sharpness_every=o.sharpness_every, sharpness="batch"
        )
        full = EdgeMonitor(model, optimizer, (x, y), e.loss, every=o.sharpness_every, sharpness_every=o.sharpness_every)
    snapshots = Snapshots(optimizer, list(model.parameters()), o.snapshot_every)
    train(model, optimizer, loader(x, y, b, o.seed), e.loss, o.steps)
    for monitor in (mon, full):
        if monitor is not None:
            monitor.close()
    return EdgeRun(
        o,
        mon.history,
        mon.threshold_info,
        mon.summary(),
        None if full is None else full.history,
        snapshots.close(),
        time.perf_counter() - start,
    )


def theorem2_along(prof, name, snapshots, nodes=64):
    """Both sides of Theorem 2 along u = θᵗ − θᵗ⁺¹ at each snapshot, in float64.

    On experiment ``name``'s training loss f: ``rp`` is RP_u(θᵗ) (Definition 1 along u) and ``identity``
    is −1 + (‖u‖²/⟨∇f(θᵗ), u⟩) ∫₀¹ τ L(θᵗ; τu) dτ by ``nodes``-point Gauss–Legendre quadrature. Returns
    {"step", "rp", "identity"} as arrays.
    """
    data, model = prof.network(name)
    y = data.y_train.double() if data.y_train.is_floating_point() else data.y_train
    f = ModuleLoss(copy.deepcopy(model).double(), data.x_train.double(), y, prof[name].loss)
    rows = []
    for t, theta, theta_next in snapshots:
        theta, u = theta.double(), theta.double() - theta_next.double()
        rows.append((t, relative_progress_along(f, theta, u), theorem2_rp_along(f, theta, u, nodes, chunk_size=16)))
    step, rp, identity = (np.array(column) for column in zip(*rows))
    return {"step": step.astype(np.int64), "rp": rp, "identity": identity}


def edge_statistics(history, start):
    """RP_u, L(θᵗ; u) and the sharpness over the records with step ≥ ``start``.

    {"records", "rp_median", "rp_positive" (the share with RP_u > 0), "ds_ratio_median" (of
    L(θᵗ; u)/threshold), "ds_edge_median" (of (η_u/2)·L(θᵗ; u), 1 at the edge of Theorem 2 along u),
    "ratios" (sharpness/threshold where measured), "ratio_min", "ratio_median", "ratio_max"}.
    """
    after = history["step"] >= start
    rp, ds, ratio = history["rp"][after], history["ds"][after], history["ratio"][after]
    ds_edge = ds * history["eta_u"][after] / 2
    ratio = ratio[np.isfinite(ratio)]
    spread = (ratio.min(), np.median(ratio), ratio.max()) if ratio.size else (np.nan,) * 3
    return {
        "records": int(after.sum()),
        "rp_median": float(np.median(rp)),
        "rp_positive": float(np.mean(rp > 0)),
        "ds_ratio_median": float(np.median(ds / history["threshold"][after])),
        "ds_edge_median": float(np.median(ds_edge[np.isfinite(ds_edge)])) if np.isfinite(ds_edge).any() else np.nan,
        "ratios": ratio,
        **dict(zip(("ratio_min", "ratio_median", "ratio_max"), map(float, spread))),
    }


def edge_summary(history, reach):
    """Where a run is at its edge: {"reach", "hover", "onset", "phase", "phase_late"}.

    ``reach``: :func:`~eos_support.readings.phases.first_reach` at ``reach`` × the threshold, and ``hover`` the
    :func:`edge_statistics` from there; ``onset``: :func:`~eos_support.readings.phases.edge_onset`, ``phase``
    the statistics over the unstable phase from there, ``phase_late`` over its second half. None where a step
    does not exist.
    """
    start, onset = first_reach(history, reach), edge_onset(history)
    middle = None if onset is None else (onset + int(history["step"][-1]) + 1) // 2
    return {
        "reach": start,
        "hover": None if start is None else edge_statistics(history, start),
        "onset": onset,
        "phase": None if onset is None else edge_statistics(history, onset),
        "phase_late": None if onset is None else edge_statistics(history, middle),
    }


def describe_edge(label, summary, reach):
    """An :func:`edge_summary` (found at ``reach`` × the threshold) in words, for the chapter to print."""
    s, hover, phase = summary, summary["hover"], summary["phase"]
    if hover is None:
        return f"{label}: the sharpness never rose to {reach:g} × the threshold"
    lines = [
        f"{label}: the sharpness at {reach:g} × the threshold from step {s['reach']}; from there "
        f"{hover['ratio_min']:.2f}–{hover['ratio_max']:.2f} × it, median {hover['ratio_median']:.3f}"
    ]
    if phase is None:
        return "\n".join(lines + ["  no unstable phase: the loss never rose once the threshold was reached"])
    late = s["phase_late"]
    return "\n".join(
        lines
        + [
            f"  unstable phase from step {s['onset']} ({phase['records']} steps): "
            f"median RP_u {phase['rp_median']:+.4f}, "
            f"RP_u > 0 at {phase['rp_positive']:.0%}; median L(θᵗ; u)/threshold {phase['ds_ratio_median']:.3f}, "
            f"median (η_u/2)·L(θᵗ; u) {phase['ds_edge_median']:.3f}",
            f"  its second half ({late['records']} steps): median RP_u {late['rp_median']:+.4f}, "
            f"RP_u > 0 at {late['rp_positive']:.0%}",
        ]
    )


def batch_and_full(run):
    """A minibatch run's two sharpnesses over 2/η, at the steps where both were measured.

    {"step", "batch" (batch sharpness/(2/η)), "full" (λ_max of the full-batch loss/(2/η)), "lambda_max",
    "full_over_batch" (λ_max/batch sharpness)}, and the median of each over the second half of the run
    as "<key>_late".
    """
    h, full = run.history, run.full
    measured = np.isfinite(h["sharpness"])
    step = h["step"][measured]
    if not np.array_equal(step, full["step"]):
        raise ValueError("the batch and full-batch sharpnesses were not measured at the same steps")
    batch, ratio, lam = h["ratio"][measured], full["ratio"], full["sharpness"]
    late = step >= run.options.steps / 2
    out = {"step": step, "batch": batch, "full": ratio, "lambda_max": lam, "full_over_batch": ratio / batch}
    late_medians = {f"{key}_late": float(np.median(out[key][late])) for key in list(out)[1:]}
    return out | late_medians


def describe(prof, name) -> str:
    """Experiment ``name``'s settings in words, for the chapter to print."""
    e = prof[name]
    o = EdgeOptions(eta=e.etas[0], **e.options)
    rule = {
        "SGD": f"SGD with heavy-ball momentum β = {o.momentum:g}" if o.momentum else "SGD",
        "Adam": f"Adam, β₁ = {o.betas[0]:g}, β₂ = {o.betas[1]:g}",
    }[o.optimizer]
    sizes = e.extra.get("batch_sizes", (o.batch_size,))
    batches = "the full batch" if sizes == (None,) else "minibatches of " + " and of ".join(map(str, sizes))
    lines = [
        f"{e.paper_item}, profile {prof.name!r}: the first {e.n_train:,} training images of {prof.dataset}",
        f"  network: {e.activations[0]}; {e.depths[0]} hidden layers of width {e.width}; loss {e.loss}; "
        f"float32 on {prof.device}",
        f"  {rule}, η = {o.eta:g}; {o.steps} steps on {batches}, by the user's loop with an EdgeMonitor",
        f"  records every {o.every} step(s), sharpness every {o.sharpness_every}",
    ]
    return "\n".join(lines + ([f"  note: {e.note}"] if e.note else []))


def __getattr__(name):
    if name == "plot_smoothness":  # its home before the figures moved to eos_support.figures
        from ..figures.monitor import plot_smoothness

        return plot_smoothness
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
