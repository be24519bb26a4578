"""Training by the loop a user writes, with an :class:`~eos_support.monitor.edge_monitor.EdgeMonitor`
attached: the runs of "Beyond the paper", stored and keyed like GD's and SGD's.

:func:`train_monitored` builds the optimizer of an :class:`EdgeOptions` and trains with ::

    for x, y in loader:
        optimizer.zero_grad()
        loss(model(x), y).backward()
        optimizer.step()

while the monitor records, on the whole training set, f(θᵗ), RP_u and L(θᵗ; u) for the update
u = θᵗ − θᵗ⁺¹ the optimizer took, and the sharpness its threshold refers to. A finished run is kept in the
run store (:mod:`eos_support.train.store`) under a key of everything that decides its numbers; the loop
lives in the user's optimizer, so an interrupted run starts again from θ⁰ rather than from a checkpoint.
"""

from __future__ import annotations

import copy
import dataclasses
import time
from dataclasses import dataclass, field

import torch
from torch.utils.data import BatchSampler, DataLoader, RandomSampler, SequentialSampler, TensorDataset

from ..checks import check_eta, positive_int
from ..diagnostics.objective import ModuleLoss, loss_function
from ..monitor.edge_monitor import EdgeMonitor
from ..monitor.thresholds import Threshold
from .history import History
from .loop import run_config
from .store import RunStore, cache_root

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
    (else None); ``snapshots``: (t, θᵗ, θᵗ⁺¹) tuples; ``wall_s``: the loop's wall time. As for a
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


def train_monitored(model, data, loss, options=None, *, cache=None, label=None, **fields) -> EdgeRun:
    """Train ``model`` on ``data`` by :func:`train` with an EdgeMonitor attached; an :class:`EdgeRun`.

    ``options`` is an :class:`EdgeOptions`; keyword ``fields`` build one or replace some of its fields.
    The monitor's probe is the whole training set; a minibatch run measures the batch sharpness on that
    set cut into batches of ``batch_size``, and λ_max of the full-batch loss with a second monitor every
    ``sharpness_every`` steps. ``cache``: as for :func:`~eos_support.train.train_gd` (a stored run is
    returned without training, so ``model`` then stays at θ⁰). ``label`` names the run in messages.
    """
    del label  # the monitor prints no progress bar of its own
    o = dataclasses.replace(options, **fields) if options is not None else EdgeOptions(**fields)
    x, y, b = data.x_train, data.y_train, o.batch_size
    f = ModuleLoss(copy.deepcopy(model), x, y, loss)
    root = cache_root(cache)
    store = RunStore(run_config("monitor", f, f.theta0, data, loss, o, cache), root) if root is not None else None
    if store is not None and (state := store.load()) is not None:
        return _from_state(o, state, "stored", f)
    optimizer = o.make_optimizer(model.parameters())
    start = time.perf_counter()
    full = None
    if b is None:
        mon = EdgeMonitor(model, optimizer, (x, y), loss, every=o.every, sharpness_every=o.sharpness_every)
    else:
        probe = [(x[i : i + b], y[i : i + b]) for i in range(0, len(x) - b + 1, b)]
        mon = EdgeMonitor(
            model, optimizer, probe, loss, every=o.every, sharpness_every=o.sharpness_every, sharpness="batch"
        )
        full = EdgeMonitor(model, optimizer, (x, y), loss, every=o.sharpness_every, sharpness_every=o.sharpness_every)
    snapshots = Snapshots(optimizer, list(model.parameters()), o.snapshot_every)
    train(model, optimizer, loader(x, y, b, o.seed), loss, o.steps)
    for monitor in (mon, full):
        if monitor is not None:
            monitor.close()
    state = {
        "history": _tensors(mon.history),
        "threshold": dataclasses.asdict(mon.threshold_info),
        "summary": mon.summary(),
        "full": None if full is None else _tensors(full.history),
        "snapshots": [list(s) for s in snapshots.close()],
        "wall_s": time.perf_counter() - start,
    }
    if store is not None:
        store.save(state)
    return _from_state(o, state, "computed", f)


def _tensors(history):
    return {k: torch.as_tensor(v) for k, v in history.items()}


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
        source=source,
        f=f,
    )
