"""Minibatch SGD (Section 5), with E[RP] and both sides of (5.1) estimated at every epoch end."""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass

import numpy as np
import torch
from torch.func import grad_and_value

from ..checks import check_eta, positive_int
from ..diagnostics.sgd import batch_gradients, sample_minibatches, sgd_progress_tensors
from ..system import device_name
from .loop import gradient_loss_and_correct, run_from_state, train

SGD_STATUSES = ("max_epochs", "diverged")
SGD_HISTORY = (
    "loss",
    "accuracy",
    "grad_norm_sq",
    "erp",
    "erp_se",
    "erp_cv",
    "erp_cv_se",
    "rhs",
    "rhs_se",
    "gap",
    "gap_se",
    "minibatch_loss",
)
"""What an SGD run records at every epoch end (and at θ⁰)."""


@dataclass(frozen=True)
class SGDOptions:
    """An SGD run's options: the argument of :func:`train_sgd`, its store key and its trainer's configuration.

    ``eta`` step size; minibatches of ``batch_size`` examples; ``epochs`` E; ``samples`` M fresh
    minibatches per estimate of E[RP] at each epoch end; ``seed`` seeds the permutations and the
    samples; ``chunk_size`` minibatches at a time under ``vmap`` (memory; None: all at once);
    "diverged" when the full-batch loss is not finite or exceeds ``diverge_factor`` · f(θ⁰).
    """

    eta: float
    batch_size: int = 32
    epochs: int = 20
    samples: int = 64
    seed: int = 0
    chunk_size: int | None = 32
    diverge_factor: float = 1e3

    def __post_init__(self):
        put = object.__setattr__
        put(self, "eta", check_eta(self.eta))
        put(self, "batch_size", positive_int("batch_size", self.batch_size))
        put(self, "epochs", positive_int("epochs", self.epochs))
        put(self, "samples", positive_int("samples (M, minibatches per E[RP] estimate)", self.samples, minimum=2))
        put(self, "seed", positive_int("seed", self.seed, minimum=0))
        put(self, "chunk_size", positive_int("chunk_size", self.chunk_size, allow_none=True))
        if not self.diverge_factor > 1:
            raise ValueError(f"diverge_factor must be > 1 (a multiple of f(θ⁰)), got {self.diverge_factor}")


def train_sgd(model, data, loss, options=None, *, cache=None, progress=None, label=None, checkpoint_s=30.0, **fields):
    """Run SGD θ ← θ − η g on ``data`` with ``loss``, from the model's parameters, for ``epochs`` epochs.

    ``options`` is an :class:`SGDOptions`; keyword ``fields`` build one or replace some of its fields.
    Each epoch draws a permutation of the n training examples (seeded by ``seed`` and the epoch) and
    splits it into n // ``batch_size`` minibatches (the n mod batch_size left over sit that epoch out);
    g is the mean gradient on one minibatch. At epoch 0 (θ⁰) and at every epoch end the run records the
    full-batch loss and accuracy, ‖∇f‖², and, from ``samples`` = M fresh minibatches of the same size,
    E[RP(θ)] (Definition 3) and the right side of (5.1) with their standard errors (see
    :class:`eos_support.diagnostics.sgd.SGDProgress`).

    Returns a :class:`~eos_support.train.Run` with status "max_epochs" or "diverged" (a result, not an
    error). ``history`` holds, at the recorded epochs "epoch" (0..E) and SGD steps "step": the keys of
    ``SGD_HISTORY`` ("minibatch_loss" is the mean over the epoch's steps; NaN at epoch 0). Caching,
    reuse and resumption as for :func:`~eos_support.train.train_gd` (checkpoints at epoch ends).
    """
    options = dataclasses.replace(options, **fields) if options is not None else SGDOptions(**fields)
    n = len(data.y_train)
    if options.batch_size > n:
        raise ValueError(f"batch_size must be at most the {n} training examples, got {options.batch_size}")
    label = label or f"SGD η = {options.eta:.4g}"
    result = train("sgd", SGDRule, model, data, loss, options, cache, progress, checkpoint_s, label)
    return run_from_state(options, *result)


def _sgd_seed(seed, epoch, stream):
    """A seed for epoch ``epoch``'s permutation (stream 0) or diagnostic minibatches (stream 1)."""
    return int(np.random.SeedSequence([int(seed), int(epoch), int(stream)]).generate_state(1)[0])


class SGDRule:
    """One SGD epoch at a time, history on the device, one host read per epoch; plugs into the loop."""

    unit = "epoch"

    def __init__(self, f, theta0, options):
        self.f, self.options = f, options
        E, dt, dev = options.epochs, theta0.dtype, theta0.device
        self.total, self.eta, self.b, self.n = E, options.eta, options.batch_size, len(f.targets)
        self.h = {k: torch.full((E + 1,), math.nan, dtype=dt, device=dev) for k in SGD_HISTORY}
        self.theta, self.epoch = theta0, -1  # the last fully recorded epoch
        self.wall_s, self.loss0, self.status = 0.0, None, None
        self.full = gradient_loss_and_correct(f)
        self.value_and_grad = grad_and_value(f)

    @property
    def position(self):
        """The epochs done: where the progress bar starts."""
        return max(self.epoch, 0)

    # -- checkpoints ------------------------------------------------------------------------
    def checkpoint(self):
        """θ and the history after the last recorded epoch; None before epoch 0 is recorded or once the run stopped."""
        if self.epoch < 0 or self.status is not None:
            return None
        return dict(
            t=self.epoch,
            theta=self.theta.detach().cpu(),
            wall_s=self.wall_s,
            loss0=self.loss0,
            full_history={k: v.detach().cpu() for k, v in self.h.items()},
        )

    def restore(self, state):
        """Continue from a checkpoint's state (see :meth:`checkpoint`)."""
        dev = self.theta.device
        self.h = {k: v.to(dev) for k, v in state["full_history"].items()}
        self.theta = state["theta"].to(dev)
        self.epoch, self.wall_s, self.loss0 = state["t"], state["wall_s"], state["loss0"]

    def final(self):
        """The run up to its last recorded epoch, with the epochs' SGD step counts."""
        e = self.epoch
        history = {k: v[: e + 1].detach().cpu() for k, v in self.h.items()}
        history["epoch"] = torch.arange(e + 1)
        history["step"] = history["epoch"] * (self.n // self.b)
        return dict(
            history=history,
            theta=self.theta.detach().cpu(),
            t=e,
            status=self.status,
            goal_step=None,
            wall_s=self.wall_s,
            device=device_name(self.theta.device),
        )

    # -- one epoch --------------------------------------------------------------------------
    def advance(self):
        """Evaluate θ⁰ (first call), or run epoch e and evaluate its end; the epoch counts once recorded."""
        e = self.epoch + 1
        theta = self.theta if e == 0 else self._epoch(e)
        self._evaluate(e, theta)
        self.theta, self.epoch = theta, e
        if self._diverged(e):
            self.status = "diverged"
        elif e == self.total:
            self.status = "max_epochs"

    def _epoch(self, e):
        """One pass of SGD over a seeded permutation; returns θ at the epoch's end."""
        gen = torch.Generator().manual_seed(_sgd_seed(self.options.seed, e, 0))
        perm = torch.randperm(self.n, generator=gen).to(self.f.targets.device)
        batches = perm[: self.n // self.b * self.b].view(-1, self.b)
        theta, total = self.theta, 0.0
        x, y = self.f.inputs, self.f.targets
        for idx in batches:
            g, value = grad_and_value(self.f.on(x[idx], y[idx]))(theta)
            theta = theta - self.eta * g
            total = total + value.detach()
        self.h["minibatch_loss"][e] = total / len(batches)
        return theta.detach()

    def _evaluate(self, e, theta):
        """Full-batch loss, accuracy and ‖∇f‖² at θ, and E[RP] with both sides of (5.1) (skipped if diverged)."""
        h = self.h
        g, (loss, correct) = self.full(theta)
        h["loss"][e], h["accuracy"][e], h["grad_norm_sq"][e] = loss.detach(), correct / self.n, torch.dot(g, g)
        if self.loss0 is None:
            self.loss0 = float(loss)
        if self._diverged(e):  # the one host read of the epoch
            return
        gen = torch.Generator().manual_seed(_sgd_seed(self.options.seed, e, 1))
        idx = sample_minibatches(self.n, self.b, self.options.samples, gen, self.f.targets.device)
        G = batch_gradients(self.f, theta, idx, self.options.chunk_size)
        out = sgd_progress_tensors(
            self.value_and_grad, theta, loss.detach(), g.detach(), self.eta, G, chunk_size=self.options.chunk_size
        )
        for k, v in out.items():
            h[k][e] = v.detach()

    def _diverged(self, e):
        value = float(self.h["loss"][e])
        return not math.isfinite(value) or value > self.options.diverge_factor * self.loss0
