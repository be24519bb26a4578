"""The one training loop: stored runs, resumption, checkpoints, interrupts and progress, for any step rule.

A *step rule* (``GDRule`` in ``train.gd``, ``SGDRule`` in ``train.sgd``) does one
unit of work at a time (a GD step, an SGD epoch) and commits it whole; this loop decides when to
checkpoint, saves on an interrupt (Ctrl-C, or SIGTERM treated alike), stores the finished run and says
where the :class:`Run` came from.
"""

from __future__ import annotations

import contextlib
import dataclasses
import signal
import sys
import time
import warnings
from dataclasses import dataclass, field
from typing import Any

import torch
from torch.func import grad_and_value

from ..diagnostics.objective import ModuleLoss
from .history import History
from .store import RunStore, behaviour, cache_root, fingerprint, loss_key, model_key

SOURCES = ("computed", "stored", "resumed")


@dataclass(frozen=True)
class Run:
    """A finished (or diverged) run.

    ``options`` are the trainer's options (:class:`~eos_support.train.GDOptions` or
    :class:`~eos_support.train.SGDOptions`); ``status`` says why it stopped; ``history`` is the frozen
    :class:`~eos_support.train.history.History` of its records (see the trainer); ``theta`` is the last iterate;
    ``goal_step`` the first step whose train accuracy reached ``options.acc_goal`` (GD); ``wall_s`` the loop's
    wall time; ``device`` where it ran; ``source`` is ``"computed"``, ``"stored"`` (read from the cache) or
    ``"resumed"`` (from a checkpoint).
    What it was computed from: ``f``, the loss f(θ) it descended (a
    :class:`~eos_support.diagnostics.objective.ModuleLoss`, θ⁰ = ``f.theta0``), and ``experiment``, the
    profile's experiment that names its settings (None for a run trained outside a profile).
    """

    options: Any
    status: str
    history: History
    theta: torch.Tensor
    goal_step: int | None
    wall_s: float
    device: str
    source: str
    f: ModuleLoss | None = field(default=None, repr=False, compare=False)
    experiment: str | None = None

    @property
    def eta(self) -> float:
        """The run's step size."""
        return self.options.eta

    @property
    def steps(self) -> int:
        """The last recorded step (GD) or epoch (SGD)."""
        return len(self.history["loss"]) - 1


def run_from_state(options, state, source, f=None) -> Run:
    """A :class:`Run` from a final state (as stored), where it came from and its loss ``f``."""
    return Run(
        options=options,
        status=state["status"],
        history=History({k: v.numpy() for k, v in state["history"].items()}),
        theta=state["theta"],
        goal_step=state["goal_step"],
        wall_s=state["wall_s"],
        device=state["device"],
        source=source,
        f=f,
    )


def run_config(kind, f, theta0, data, loss, options, cache) -> dict:
    """What makes two runs the same run: the store's key. Checks that a cached run can be keyed.

    ``f`` is the run's :class:`~eos_support.diagnostics.objective.ModuleLoss` and ``theta0`` its θ⁰.
    """
    config = dict(
        kind=kind,
        dtype=str(theta0.dtype),
        theta0=fingerprint(theta0),
        data=data.name,
        data_fingerprint=fingerprint(data.x_train, data.y_train),
    )
    if cache_root(cache) is not None:
        config.update(model=model_key(f.model), loss=loss_key(loss), behaviour=behaviour(f, theta0))
    return config | dataclasses.asdict(options)


def gradient_loss_and_correct(f):
    """θ ↦ (∇f(θ), (f(θ), number of correctly classified training examples)) in one pass."""
    targets = f.targets
    labels = targets if targets.dim() == 1 else targets.argmax(-1)

    def loss_and_correct(theta):
        out = f.outputs(theta)
        return f.loss(out, targets), (out.argmax(-1) == labels).sum()

    return grad_and_value(loss_and_correct, has_aux=True)


@contextlib.contextmanager
def sigterm_as_interrupt():
    """Treat SIGTERM like Ctrl-C inside the block, so that the loop checkpoints before it ends."""

    def handler(signum, frame):
        raise KeyboardInterrupt(f"signal {signum}")

    try:
        previous = signal.signal(signal.SIGTERM, handler)
    except ValueError:  # not the main thread: leave signals alone
        previous = None
    try:
        yield
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)


def train(kind, rule, model, data, loss, options, cache, progress, checkpoint_s, label):
    """The stored run if the cache has it; else run the step rule to its end, resuming its checkpoint.

    ``kind`` ("gd", "sgd", "monitor") and ``options`` name the run; ``rule`` is its step rule's class, built as
    ``rule(f, θ⁰, options)`` for f the ``loss`` of ``model`` on ``data``. ``cache``: None (compute, store
    nothing), True or a folder (see :func:`eos_support.train.store.cache_root`). Checkpoints every
    ``checkpoint_s`` seconds and on an interrupt, which is then raised again. Returns the run's final state,
    where it came from ("computed", "stored" or "resumed") and f: the trainer's result is made of them
    (:func:`run_from_state`).
    """
    f = ModuleLoss(model, data.x_train, data.y_train, loss)
    theta0 = f.theta0
    config = run_config(kind, f, theta0, data, loss, options, cache)
    root = cache_root(cache)
    store = RunStore(config, root) if root is not None else None
    if store is not None and (state := store.load()) is not None:
        return state, "stored", f
    rule, source = rule(f, theta0, options), "computed"
    if store is not None and (state := store.load_checkpoint()) is not None:
        rule.restore(state)
        source = "resumed"
    state = _loop(rule, store, progress, checkpoint_s, label)
    if store is not None:
        _keep(store.save, state, store, "finished run")
    return state, source, f


def _keep(save, state, store, what) -> None:
    """``save(state)``; a disk that refuses it (full, read-only) costs the cached copy, never the run: a warning."""
    try:
        save(state)
    except OSError as error:
        warnings.warn(
            f"could not write the {what} to the run cache {store.root} ({error}): the run goes on, only its "
            "cached copy is lost; free space there or pass another cache folder (results_dir)",
            stacklevel=4,
        )


def _loop(rule, store, progress, checkpoint_s, label) -> dict:
    """Advance ``rule`` until it sets a status; returns its final state."""
    from tqdm.auto import tqdm

    if progress is None:  # a bar on a terminal; none in a notebook, whose bars would be widgets in the page
        progress = sys.stderr.isatty()
    bar = tqdm(total=rule.total, initial=rule.position, desc=label, unit=rule.unit, disable=not progress, leave=False)
    last = tick = time.perf_counter()

    def save_checkpoint():
        nonlocal tick
        now = time.perf_counter()
        rule.wall_s += now - tick
        tick = now
        if store is not None and (state := rule.checkpoint()) is not None:
            _keep(store.save_checkpoint, state, store, "checkpoint")

    try:
        with sigterm_as_interrupt():
            while rule.status is None:
                rule.advance()
                bar.update(1)
                if rule.status is None and time.perf_counter() - last > checkpoint_s:
                    save_checkpoint()
                    last = tick
    except KeyboardInterrupt:
        save_checkpoint()
        raise
    finally:
        bar.close()
    rule.wall_s += time.perf_counter() - tick
    return rule.final()


def schedule(every, steps) -> list[int]:
    """The steps 0, every, 2·every, … ≤ ``steps`` at which a periodic measurement is taken ([] if never)."""
    return [] if not every else list(range(0, steps + 1, int(every)))
