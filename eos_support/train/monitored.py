"""Training by the loop a user writes, with an :class:`~eos_support.monitor.edge_monitor.EdgeMonitor`
attached: the runs of "Beyond the paper", stored and keyed like GD's and SGD's.

:func:`train_monitored` builds the optimizer of an :class:`EdgeOptions` and trains with ::

    for x, y in loader:
        optimizer.zero_grad()
        loss(model(x), y).backward()
        optimizer.step()

while the monitor records, on the whole training set, f(θᵗ), RP_u and L(θᵗ; u) for the update
u = θᵗ − θᵗ⁺¹ the optimizer took, and the sharpness its threshold refers to. A finished run is kept in the
run store (:mod:`eos_support.train.store`) under a key of everything that decides its numbers, and an
interrupted one resumes from its checkpoint (:class:`MonitoredRule`).
"""

from __future__ import annotations

import copy
import dataclasses
from dataclasses import dataclass, field

import torch
from torch.utils.data import BatchSampler, DataLoader, RandomSampler, SequentialSampler, TensorDataset

from ..checks import check_eta, positive_int
from ..diagnostics.objective import ModuleLoss, loss_function
from ..monitor.edge_monitor import EdgeMonitor
from ..monitor.thresholds import Threshold
from . import loop
from .history import History

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
    (else None); ``snapshots``: (t, θᵗ, θᵗ⁺¹) tuples; ``wall_s``: the loop's wall time; ``status``:
    "max_steps" (all of them taken) or "diverged" (the loss of the step's batch was not finite: the run
    stopped there, with its records so far). As for a
    :class:`~eos_support.train.Run`: ``source`` ("computed" or "stored"), ``f`` the training loss at θ⁰ on
    (a copy of the model taken before the loop moved it) and the profile's ``experiment``.
    """

    options: EdgeOptions
    history: History
    threshold: Threshold
    summary: str
    full: History | None
    snapshots: tuple
    wall_s: float
    status: str
    source: str = "computed"
    f: ModuleLoss | None = field(default=None, repr=False, compare=False)
    experiment: str | None = None

    @property
    def eta(self) -> float:
        """The run's step size."""
        return self.options.eta


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


def train_monitored(
    model, data, loss, options=None, *, cache=None, progress=None, label=None, checkpoint_s=30.0, **fields
) -> EdgeRun:
    """Train a copy of ``model`` on ``data`` as :func:`train` does, with an EdgeMonitor attached; an :class:`EdgeRun`.

    ``options`` is an :class:`EdgeOptions`; keyword ``fields`` build one or replace some of its fields.
    The monitor's probe is the whole training set; a minibatch run measures the batch sharpness on that
    set cut into batches of ``batch_size``, and λ_max of the full-batch loss with a second monitor every
    ``sharpness_every`` steps. ``model`` itself stays at θ⁰. Caching, reuse and resumption as for
    :func:`~eos_support.train.train_gd`: a checkpoint (the model's, the optimizer's and the monitors' state
    dicts and the loader's place) every ``checkpoint_s`` seconds and on an interrupt.
    """
    o = dataclasses.replace(options, **fields) if options is not None else EdgeOptions(**fields)
    n = len(data.y_train)
    if o.batch_size is not None and o.batch_size > n:
        raise ValueError(f"batch_size must be at most the {n} training examples, got {o.batch_size}")
    label = label or f"{o.optimizer} η = {o.eta:.4g}"
    state, source, f = loop.train("monitor", MonitoredRule, model, data, loss, o, cache, progress, checkpoint_s, label)
    return _from_state(o, state, source, f)


class MonitoredRule:
    """One optimizer step of :func:`train`'s loop at a time on a copy of f's model, the monitors attached;
    plugs into :func:`eos_support.train.loop.train`.
    """

    unit = "step"

    def __init__(self, f, theta0, options):
        o, x, y, b = options, f.inputs, f.targets, options.batch_size
        self.options, self.total, self.t, self.status, self.wall_s = o, o.steps, 0, None, 0.0
        self.model = copy.deepcopy(f.model)
        self.optimizer = o.make_optimizer(self.model.parameters())
        self.criterion = f.loss
        sharpness = dict(every=o.every, sharpness_every=o.sharpness_every)
        if b is None:
            self.monitors = [EdgeMonitor(self.model, self.optimizer, (x, y), f.loss, **sharpness)]
        else:
            probe = [(x[i : i + b], y[i : i + b]) for i in range(0, len(x) - b + 1, b)]
            every = o.sharpness_every
            self.monitors = [
                EdgeMonitor(self.model, self.optimizer, probe, f.loss, **sharpness, sharpness="batch"),
                EdgeMonitor(self.model, self.optimizer, (x, y), f.loss, every=every, sharpness_every=every),
            ]
        self.snapshots = Snapshots(self.optimizer, list(self.model.parameters()), o.snapshot_every)
        self.batches = loader(x, y, b, o.seed)
        self.sampler = getattr(self.batches.sampler.sampler, "generator", None)  # None: the full batch, in order
        self.epoch, self.epoch_start, self.in_epoch = None, None, 0  # the epoch's iterator, its RNG state, steps in it
        self.stepping = False

    @property
    def position(self):
        """The steps done: where the progress bar starts."""
        return self.t

    # -- checkpoints ------------------------------------------------------------------------
    def checkpoint(self):
        """The model's, the optimizer's and the monitors' state dicts, the snapshots and the loader's place
        (its RNG state at the epoch's start and the steps taken in the epoch); None before the first step
        and in the middle of one (an interrupt there leaves the previous checkpoint).
        """
        if self.t == 0 or self.stepping or self.status is not None:
            return None
        return dict(
            t=self.t,
            model=self.model.state_dict(),
            optimizer=self.optimizer.state_dict(),
            monitors=[m.state_dict() for m in self.monitors],
            snapshots=[list(s) for s in self.snapshots.kept],
            epoch_start=self.epoch_start,
            in_epoch=self.in_epoch,
            wall_s=self.wall_s,
        )

    def restore(self, state):
        """Continue from a checkpoint's state (see :meth:`checkpoint`)."""
        self.model.load_state_dict(state["model"])
        self.optimizer.load_state_dict(state["optimizer"])
        for monitor, saved in zip(self.monitors, state["monitors"], strict=True):
            monitor.load_state_dict(saved)
        self.snapshots.kept = [tuple(s) for s in state["snapshots"]]
        self.t = self.snapshots.t = state["t"]
        self.wall_s = state["wall_s"]
        if self.sampler is not None:
            self.sampler.set_state(state["epoch_start"])
        self.epoch_start, self.epoch = state["epoch_start"], iter(self.batches)
        for _ in range(state["in_epoch"]):
            next(self.epoch)
        self.in_epoch = state["in_epoch"]

    def final(self):
        """The monitors' records, the threshold, the summary and the snapshots."""
        main, full = self.monitors[0], self.monitors[1] if len(self.monitors) > 1 else None
        for monitor in self.monitors:
            monitor.close()
        return {
            "history": _tensors(main.history),
            "threshold": dataclasses.asdict(main.threshold_info),
            "summary": main.summary(),
            "full": None if full is None else _tensors(full.history),
            "snapshots": [list(s) for s in self.snapshots.close()],
            "wall_s": self.wall_s,
            "status": self.status,
        }

    # -- one step ---------------------------------------------------------------------------
    def advance(self):
        """One step of the user's loop on the next minibatch (a new epoch where the last one ended)."""
        self.stepping = True
        batch = next(self.epoch, None) if self.epoch is not None else None
        if batch is None:
            self.epoch_start = None if self.sampler is None else self.sampler.get_state()
            self.epoch, self.in_epoch = iter(self.batches), 0
            batch = next(self.epoch)
        x, y = batch
        self.optimizer.zero_grad()
        loss = self.criterion(self.model(x), y)
        if not bool(torch.isfinite(loss)):  # diverged: a result, kept with the records so far, not a crash
            self.status, self.stepping = "diverged", False
            return
        loss.backward()
        self.optimizer.step()
        self.in_epoch, self.t = self.in_epoch + 1, self.t + 1
        if self.t == self.total:
            self.status = "max_steps"
        self.stepping = False


def _tensors(history):
    return {k: torch.tensor(v) for k, v in history.items()}


def _from_state(options, state, source, f) -> EdgeRun:
    """An :class:`EdgeRun` from its stored state."""
    as_numpy = lambda h: None if h is None else History({k: v.numpy() for k, v in h.items()})  # noqa: E731
    return EdgeRun(
        options=options,
        history=as_numpy(state["history"]),
        threshold=Threshold(**state["threshold"]),
        summary=state["summary"],
        full=as_numpy(state["full"]),
        snapshots=tuple(tuple(s) for s in state["snapshots"]),
        wall_s=state["wall_s"],
        status=state["status"],
        source=source,
        f=f,
    )
