"""A profile and its experiments: the data, the networks, the trainers' options, and runs from them."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from functools import lru_cache
from pathlib import Path

import numpy as np
import torch

from ..data import load_dataset
from ..diagnostics.objective import ModuleLoss
from ..readings.tables import eta_name
from ..train import train_gd, train_sgd
from ..train.models import fully_connected
from ..train.monitored import train_monitored

TRAINERS = {"gd": train_gd, "sgd": train_sgd, "monitor": train_monitored}
"""The trainer of each kind of experiment: every run goes through the run store by the same path."""


@dataclass(frozen=True)
class Experiment:
    """One experiment's settings in one profile.

    The networks are Cohen et al.'s fully connected ones (``depths`` hidden layers of ``width`` units,
    each of ``activations``) on the first ``n_train`` images with ``loss``, initialised from ``seed``,
    trained by ``trainer`` ("gd", "sgd" or "monitor", the keys of ``profile.TRAINERS``) at each of ``etas``
    with the trainer's ``options`` (fields of :class:`~eos_support.train.GDOptions`,
    :class:`~eos_support.train.SGDOptions` or :class:`~eos_support.train.monitored.EdgeOptions` besides η).
    ``extra`` holds the chapter's settings that are not training options (grids, sample counts);
    ``note`` says why the setting differs from the paper's.
    """

    paper_item: str
    n_train: int
    etas: tuple[float, ...]
    options: Mapping = field(default_factory=dict)
    trainer: str = "gd"
    activations: tuple = ("tanh",)
    depths: tuple = (2,)
    width: int = 200
    loss: str = "ce"
    seed: int = 0
    extra: Mapping = field(default_factory=dict)
    note: str = ""


@dataclass(frozen=True)
class Profile:
    """A data set, the experiments' settings on it, and where runs are cached (``results_dir``; None: nowhere)."""

    name: str
    dataset: str
    description: str
    experiments: Mapping[str, Experiment]
    results_dir: Path | None = None
    theta0_seed: int | None = None
    """The robustness check's: every network's θ⁰ moved by one float32 rounding unit (:func:`perturb`)."""
    summaries_dir: Path | None = None
    """Where :meth:`run` writes each run's summary (:mod:`eos_support.profiles.summary`); None: nowhere."""
    data_dir: Path | None = None
    """Where data sets are read from (:func:`eos_support.data.data_dir`); None: ``$EOS_DATA_DIR`` or the default."""

    @property
    def device(self) -> str:
        """Where the profile's data and networks live: "cuda" when torch sees a GPU, else "cpu"."""
        return "cuda" if torch.cuda.is_available() else "cpu"

    def __getitem__(self, name) -> Experiment:
        if name not in self.experiments:
            raise KeyError(f"profile {self.name!r} has no experiment {name!r}; it has {', '.join(self.experiments)}")
        return self.experiments[name]

    def data(self, n_train, loss="ce"):
        """The first ``n_train`` training images, preprocessed and on the device (loaded once per process)."""
        return _load(self.dataset, loss, self.device, n_train, self.data_dir)

    def network(self, name, activation=None, depth=None):
        """``(data, model)``: a fresh copy of experiment ``name``'s network at its initialisation, and its data."""
        e = self[name]
        data = self.data(e.n_train, e.loss)
        activation = e.activations[0] if activation is None else activation
        model = fully_connected(
            data, depth=depth or e.depths[0], width=e.width, activation=activation, seed=e.seed, device=self.device
        )
        if self.theta0_seed is not None:
            perturb(model, self.theta0_seed)
        return data, model

    def objective(self, name, activation=None, depth=None) -> ModuleLoss:
        """Experiment ``name``'s training loss f(θ) as a function of the flat parameters (at θ⁰: ``f.theta0``)."""
        data, model = self.network(name, activation, depth)
        return ModuleLoss(model, data.x_train, data.y_train, self[name].loss)

    def run(self, name, eta=None, activation=None, depth=None, **overrides):
        """One run of experiment ``name`` (at its only η unless ``eta`` is given); ``overrides`` replace options."""
        e = self[name]
        if eta is None:
            if len(e.etas) != 1:
                raise ValueError(f"{name} has several step sizes {e.etas}: pass eta=")
            eta = e.etas[0]
        data, model = self.network(name, activation, depth)
        act = e.activations[0] if activation is None else activation
        label = f"{act or 'linear'}, depth {depth or e.depths[0]}, η = {eta_name(eta)}"
        trainer = TRAINERS[e.trainer]
        seed = {"seed": e.seed} if e.trainer == "sgd" else {}
        options = {**e.options, **seed, **overrides}
        run = replace(
            trainer(model, data, e.loss, eta=eta, cache=self.results_dir, label=label, **options), experiment=name
        )
        extra = ", ".join(f"{k}={v}" for k, v in sorted(overrides.items()))
        return self._summarised(name, label + (f", {extra}" if extra else ""), run)

    def _summarised(self, name, label, run):
        if self.summaries_dir is not None:
            from .summary import save

            moved = "" if self.theta0_seed is None else f", θ⁰ moved by one ulp (seed {self.theta0_seed})"
            save(run, self.summaries_dir, name, label + moved)
        return run

    def runs(self, name, **overrides) -> dict:
        """``{η: Run}`` for every step size of experiment ``name``."""
        return {eta: self.run(name, eta, **overrides) for eta in self[name].etas}

    def describe(self, name) -> str:
        """Experiment ``name``'s settings in words, for the chapter to print."""
        e = self[name]
        if e.trainer == "monitor":
            from ..monitor.edge_runs import describe

            return describe(self, name)
        acts = ", ".join(a or "no activation" for a in e.activations)
        depths = " and ".join(str(d) for d in e.depths)
        trainer = "full-batch GD" if e.trainer == "gd" else f"SGD, minibatches of {e.options['batch_size']}"
        lines = [
            f"{e.paper_item}, profile {self.name!r}: the first {e.n_train:,} training images of {self.dataset}",
            f"  network: {acts}; {depths} hidden layers of width {e.width}; loss {e.loss}; {trainer}; "
            f"float32 on {self.device}",
            f"  η ∈ {{{', '.join(eta_name(x) for x in e.etas)}}} ({', '.join(f'{x:.4g}' for x in e.etas)})",
        ]
        lines += [f"  {k}: {_show(v)}" for k, v in {**e.options, **e.extra}.items()]
        if e.note:
            lines.append(f"  note: {e.note}")
        return "\n".join(lines)


def perturb(model, seed) -> None:
    """Move each of ``model``'s parameters by one unit in the last place, up or down at random (a
    generator seeded by ``seed``): the smallest change of θ⁰ that its dtype can represent, the size of
    the rounding differences by which another CPU's trajectory departs from this one's.
    """
    generator = torch.Generator().manual_seed(int(seed))
    with torch.no_grad():
        for p in model.parameters():
            up = torch.rand(p.shape, generator=generator) < 0.5
            direction = torch.where(up, torch.inf, -torch.inf).to(device=p.device, dtype=p.dtype)
            p.copy_(torch.nextafter(p, direction))


def _show(value):
    if isinstance(value, (tuple, list, np.ndarray)) and len(value) > 6:
        return f"{len(value)} values from {value[0]:g} to {value[-1]:g}"
    return value


@lru_cache(maxsize=8)
def _load(name, loss, device, n_train, root):
    return load_dataset(name, loss=loss, device=device, n_train=n_train, root=root)
