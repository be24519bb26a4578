"""The book's two profiles, and every experiment's settings in each: the one home of that knowledge.

``paper`` runs the paper's settings on the first 5,000 CIFAR-10 training images (a GPU); ``quick`` runs
the same experiments on Fashion-MNIST, sized for 2 CPU cores, with step sizes chosen so that each regime
shows. A chapter asks its profile for runs by experiment name and prints how they were made::

    P = profiles.get("quick", results_dir="_build/results")
    print(P.describe("experiment3"))
    runs = P.runs("experiment3")          # {η: Run}, computed once and then read from the run cache

:func:`default_profile` says which profile a machine gets, :func:`paper_dataset` which data the paper
profile reads (``$EOS_PAPER_DATASET``, e.g. ``npz:/data/cifar10.npz``, else CIFAR-10).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from functools import lru_cache
from pathlib import Path

import numpy as np
import torch

from .data import load_dataset
from .models import fully_connected
from .objective import ModuleLoss
from .phases import eta_name
from .train import train_gd, train_sgd

NAMES = ("quick", "paper")


def paper_dataset() -> str:
    """The paper profile's data set: ``$EOS_PAPER_DATASET`` (``npz:PATH``) if set, else ``cifar10-5k``."""
    return os.environ.get("EOS_PAPER_DATASET") or "cifar10-5k"


@dataclass(frozen=True)
class Experiment:
    """One experiment's settings in one profile.

    The networks are Cohen et al.'s fully connected ones (``depths`` hidden layers of ``width`` units,
    each of ``activations``) on the first ``n_train`` images with ``loss``, initialised from ``seed``,
    trained by ``trainer`` ("gd" or "sgd") at each of ``etas`` with the trainer's ``options`` (fields of
    :class:`~eos_support.train.GDOptions` or :class:`~eos_support.train.SGDOptions` besides η).
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

    @property
    def device(self) -> str:
        return "cuda" if torch.cuda.is_available() else "cpu"

    def __getitem__(self, name) -> Experiment:
        if name not in self.experiments:
            raise KeyError(f"profile {self.name!r} has no experiment {name!r}; it has {', '.join(self.experiments)}")
        return self.experiments[name]

    def data(self, n_train, loss="ce"):
        """The first ``n_train`` training images, preprocessed and on the device (loaded once per process)."""
        return _load(self.dataset, loss, self.device, n_train)

    def network(self, name, activation=None, depth=None):
        """``(data, model)``: a fresh copy of experiment ``name``'s network at its initialisation, and its data."""
        e = self[name]
        data = self.data(e.n_train, e.loss)
        activation = e.activations[0] if activation is None else activation
        model = fully_connected(data, depth=depth or e.depths[0], width=e.width, activation=activation,
                                seed=e.seed, device=self.device)
        return data, model

    def objective(self, name, activation=None, depth=None) -> ModuleLoss:
        """Experiment ``name``'s training loss f(θ) as a function of the flat parameters (at θ⁰: ``f.theta0``)."""
        data, model = self.network(name, activation, depth)
        return ModuleLoss(model, data.x_train, data.y_train, self[name].loss)

    def run(self, name, eta=None, activation=None, depth=None, **overrides):
        """One run of experiment ``name`` (at its only η unless ``eta`` is given); ``overrides`` replace options."""
        e = self[name]
        if e.trainer == "monitor":
            from .edge_runs import edge_run

            return edge_run(self, name, **overrides)
        if eta is None:
            if len(e.etas) != 1:
                raise ValueError(f"{name} has several step sizes {e.etas}: pass eta=")
            eta = e.etas[0]
        data, model = self.network(name, activation, depth)
        act = e.activations[0] if activation is None else activation
        label = f"{act or 'linear'}, depth {depth or e.depths[0]}, η = {eta_name(eta)}"
        trainer = {"gd": train_gd, "sgd": train_sgd}[e.trainer]
        seed = {"seed": e.seed} if e.trainer == "sgd" else {}
        options = {**e.options, **seed, **overrides}
        return trainer(model, data, e.loss, eta=eta, cache=self.results_dir, label=label, **options)

    def runs(self, name, **overrides) -> dict:
        """``{η: Run}`` for every step size of experiment ``name``."""
        return {eta: self.run(name, eta, **overrides) for eta in self[name].etas}

    def describe(self, name) -> str:
        """Experiment ``name``'s settings in words, for the chapter to print."""
        e = self[name]
        if e.trainer == "monitor":
            from .edge_runs import describe

            return describe(self, name)
        acts = ", ".join(a or "no activation" for a in e.activations)
        depths = " and ".join(str(d) for d in e.depths)
        trainer = "full-batch GD" if e.trainer == "gd" else f"SGD, minibatches of {e.options['batch_size']}"
        lines = [f"{e.paper_item}, profile {self.name!r}: the first {e.n_train:,} training images of {self.dataset}",
                 f"  network: {acts}; {depths} hidden layers of width {e.width}; loss {e.loss}; {trainer}; "
                 f"float32 on {self.device}",
                 f"  η ∈ {{{', '.join(eta_name(x) for x in e.etas)}}} ({', '.join(f'{x:.4g}' for x in e.etas)})"]
        lines += [f"  {k}: {_show(v)}" for k, v in {**e.options, **e.extra}.items()]
        if e.note:
            lines.append(f"  note: {e.note}")
        return "\n".join(lines)


def _show(value):
    if isinstance(value, (tuple, list, np.ndarray)) and len(value) > 6:
        return f"{len(value)} values from {value[0]:g} to {value[-1]:g}"
    return value


@lru_cache(maxsize=8)
def _load(name, loss, device, n_train):
    return load_dataset(name, loss=loss, device=device, n_train=n_train)


SGD_ETAS = (2 / 50, 2 / 100, 2 / 150)


def _paper() -> Profile:
    gd95 = dict(acc_goal=0.95, sharpness_iters=20)
    sgd = dict(batch_size=32, epochs=100, samples=128, chunk_size=64)
    return Profile("paper", paper_dataset(), "the paper's settings on the first 5,000 CIFAR-10 training images", {
        "experiment1": Experiment("Experiment 1", 5000, (2 / 30,), dict(max_steps=3000, sharpness_every=20,
                                  sharpness_iters=20), activations=(None, "tanh", "relu")),
        "experiment2": Experiment("Experiment 2", 5000, (2 / 500, 2 / 1000),
                                  dict(max_steps=200_000, sharpness_every=500, float64_every=5000, **gd95)),
        "experiment3": Experiment("Experiment 3", 5000, (2 / 90, 2 / 60, 2 / 30),
                                  dict(max_steps=50_000, sharpness_every=20, snapshot_every=200, **gd95)),
        "remark4": Experiment("Remark 4", 5000, (2 / 10,), dict(max_steps=5000, sharpness_every=None)),
        "experiment5": Experiment("Experiment 5", 5000, (2 / 60,), dict(
            max_steps=20_000, acc_goal=0.95, sharpness_every=20, profile_every=5,
            taus=tuple(np.arange(1, 101) / 100), float64_every=100)),
        "experiment6": Experiment("Experiment 6", 5000, (2 / 200, 2 / 30), dict(
            max_steps=20_000, acc_goal=0.95, sharpness_every=20), activations=("relu",), depths=(2, 4)),
        "corollary1": Experiment("Corollary 1", 5000, (), extra=dict(per_run=8, points=9, iters=20, tol=1e-4),
                                 note="checked at unstable-phase iterates of the Experiment 3 runs"),
        "experiment7": Experiment("Experiment 7", 5000, (2 / 100,), sgd | dict(samples=256), trainer="sgd",
                                  activations=("relu",), extra=dict(identity_nodes=8)),
        "experiment8": Experiment("Experiment 8", 5000, SGD_ETAS, sgd, trainer="sgd", activations=("relu",)),
        "experiment9": Experiment("Experiment 9", 5000, SGD_ETAS, sgd, trainer="sgd", activations=("tanh",)),
        "beyond-momentum": _beyond("heavy-ball momentum", 5000, 0.1, dict(momentum=0.9, steps=3000, sharpness_every=50,
                                   snapshot_every=600), note=PRIOR),
        "beyond-adam": _beyond("Adam", 5000, 1e-3, dict(optimizer="Adam", steps=2000, sharpness_every=50,
                               snapshot_every=400), note=PRIOR),
        "beyond-sgd": _beyond("minibatch SGD", 5000, 0.1, dict(steps=5000, batch_size=10, every=10,
                              sharpness_every=100, snapshot_every=1000), batch_sizes=(10, 50), note=PRIOR),
    })


def _quick() -> Profile:
    gd95 = dict(acc_goal=0.95, sharpness_iters=20)
    sgd = dict(batch_size=32, epochs=25, samples=32, chunk_size=32)
    five_k = ("5,000 images: on 1,000, 95 % train accuracy comes within ~60 steps, before the edge of "
              "stability settles (see the chapter)")
    return Profile("quick", "fashion-mnist-5k", "the same experiments on Fashion-MNIST, sized for 2 CPU cores", {
        "experiment1": Experiment("Experiment 1", 1000, (2 / 7,), dict(max_steps=250, sharpness_every=20,
                                  sharpness_iters=20), activations=(None, "tanh", "relu"),
                                  note="η = 2/7: the linear network does not diverge at 2/10 on this data set"),
        "experiment2": Experiment("Experiment 2", 5000, (2 / 30,), dict(max_steps=3000, sharpness_every=100,
                                  float64_every=200, **gd95), note=five_k),
        "experiment3": Experiment("Experiment 3", 5000, (2 / 10, 2 / 5), dict(
            max_steps=1500, sharpness_every=25, snapshot_every=50, **gd95), note=five_k),
        "remark4": Experiment("Remark 4", 5000, (2 / 5,), dict(max_steps=100, sharpness_every=None), loss="mse",
                              note="the squared loss at η = 2/5: with cross-entropy GD does not diverge for good on "
                                   "Fashion-MNIST (see the chapter)"),
        "experiment5": Experiment("Experiment 5", 5000, (2 / 5,), dict(
            max_steps=1500, acc_goal=0.95, sharpness_every=25, profile_every=10, taus=tuple(np.arange(1, 21) / 20),
            float64_every=60), note="the setting of Experiment 3 (5,000 images, until 95 % train accuracy) at one "
                                     "of its step sizes, as in the paper; 20 values of τ instead of 100, every 10 steps instead of 5"),
        "experiment6": Experiment("Experiment 6", 5000, (2 / 30, 2 / 7), dict(
            max_steps=500, acc_goal=0.95, sharpness_every=50), activations=("relu",), depths=(2, 4),
            note="the setting of Experiment 2 (5,000 images, until 95 % train accuracy or 500 steps), as in the "
                 "paper; one step size at which GD stays stable for most of the run and one at which it becomes "
                 "unstable"),
        "corollary1": Experiment("Corollary 1", 5000, (), extra=dict(per_run=2, points=2, iters=10, tol=1e-3),
                                 note="checked at unstable-phase iterates of the Experiment 3 runs"),
        "experiment7": Experiment("Experiment 7", 1000, (2 / 100,), sgd | dict(samples=256), trainer="sgd",
                                  activations=("relu",), extra=dict(identity_nodes=8)),
        "experiment8": Experiment("Experiment 8", 1000, SGD_ETAS, sgd, trainer="sgd", activations=("relu",)),
        "experiment9": Experiment("Experiment 9", 1000, SGD_ETAS, sgd, trainer="sgd", activations=("tanh",)),
        "beyond-momentum": _beyond("heavy-ball momentum", 1000, 0.1, dict(momentum=0.9, steps=500, sharpness_every=20,
                                   snapshot_every=100), note=EDGE),
        "beyond-adam": _beyond("Adam", 1000, 1e-3, dict(optimizer="Adam", steps=500, sharpness_every=20,
                               snapshot_every=100), note=EDGE),
        "beyond-sgd": _beyond("minibatch SGD", 1000, 0.1, dict(steps=1000, batch_size=10, every=10, sharpness_every=50,
                              snapshot_every=200), batch_sizes=(10, 50), note=EDGE),
    })


PRIOR = "the quick profile's step sizes on the paper's data, longer runs; not yet run, its expectations are priors"
EDGE = "η chosen in short exploratory runs so that the optimizer reaches its threshold within the run"


def _beyond(item, n_train, eta, options, batch_sizes=None, note="") -> Experiment:
    """An experiment of the chapter "Beyond the paper" (:mod:`eos_support.edge_runs`).

    The tanh network of Experiments 2–5 on the squared loss, trained at ``eta`` by a user's loop with an
    EdgeMonitor; ``options`` are the fields of :class:`~eos_support.edge_runs.EdgeOptions`, ``batch_sizes``
    the minibatch sizes the chapter compares.
    """
    extra = {} if batch_sizes is None else dict(batch_sizes=batch_sizes)
    return Experiment(f"Beyond: {item}", n_train, (eta,), options, trainer="monitor", loss="mse", extra=extra,
                      note=note)


def get(name, results_dir=None) -> Profile:
    """The profile called ``name`` ("quick" or "paper"), caching its runs in ``results_dir`` (None: nowhere)."""
    builders = {"quick": _quick, "paper": _paper}
    if name not in builders:
        raise ValueError(f"unknown profile {name!r}: choose one of {', '.join(NAMES)}")
    profile = builders[name]()
    return replace(profile, results_dir=None if results_dir is None else Path(results_dir))


def default_profile() -> tuple[str, str]:
    """``("paper", why)`` when torch sees a GPU and the paper's data is on disk, else ``("quick", why)``."""
    if not torch.cuda.is_available():
        return "quick", "no CUDA GPU visible to torch"
    from . import data

    name = paper_dataset()
    try:
        found = data.available(name)
    except ValueError as error:
        return "quick", f"GPU found, but {error}"
    where = name[4:] if name.startswith("npz:") else data.data_dir()
    if not found:
        return "quick", f"GPU found, but CIFAR-10 is not in {where}"
    return "paper", f"GPU and CIFAR-10 ({where}) found"


def paper_data_problem(log=print) -> str | None:
    """None when the paper profile's data is usable (on disk and valid, or downloaded now), else what to do.

    An ``npz:`` file is checked as CIFAR-10's stand-in (:func:`eos_support.data.validate_npz`) before
    anything runs.
    """
    from . import data

    try:
        name = data.check_dataset_name(paper_dataset())
    except ValueError as error:
        return f"EOS_PAPER_DATASET: {error}"
    if name.startswith("npz:"):
        n_train = max(e.n_train for e in get("paper").experiments.values())
        try:
            log(f"paper data: {data.validate_npz(name[4:], n_train=n_train)}")
        except (ValueError, data.DatasetUnavailable) as error:
            return (f"EOS_PAPER_DATASET={name}: {error}. Point it at an .npz with x_train (N, 32, 32, 3) uint8 "
                    f"images and y_train labels, unset it to use CIFAR-10 from {data.data_dir()}, or run the "
                    "quick profile: eos-book build --profile quick")
        return None
    if data.available(name):
        return None
    folder = data.data_dir()
    log(f"CIFAR-10 is not in {folder}: downloading it with torchvision (about 170 MB)...")
    try:
        data.load_dataset("cifar10-5k", download=True)
    except Exception as error:  # noqa: BLE001 - every failure gets the same advice
        return (f"the paper profile needs CIFAR-10, which is not on disk and could not be downloaded ({error}).\n"
                "Either download it on a machine with a network: python -c \"import torchvision; "
                f"torchvision.datasets.CIFAR10(root='{folder}', download=True)\"  and copy the folder "
                f"cifar-10-batches-py into {folder} (or set EOS_DATA_DIR to the folder that holds it),\n"
                "or run the quick profile, which works offline: eos-book build --profile quick")
    return None
