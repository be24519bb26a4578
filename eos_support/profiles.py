"""The book's two profiles: ``paper`` (CIFAR-10 5k, as in the paper) and ``quick`` (Fashion-MNIST, 2 CPU cores).

A chapter asks :func:`get` for its profile and :func:`gd_run` for a network trained by full-batch GD;
runs that several chapters share (the same configuration) are computed once and read from the run store.
Each profile's ``settings`` hold the step sizes and lengths chosen so that every regime shows on its
data set; the book prints them.
"""

import os
from dataclasses import dataclass, field, replace
from functools import lru_cache

import torch

from .data import load_dataset
from .models import fully_connected
from .train import train_gd, train_sgd


@dataclass(frozen=True)
class Profile:
    """A data set, its size, the device, and the experiments' settings."""

    name: str
    dataset: str
    n_train: int
    description: str
    settings: dict = field(default_factory=dict)

    @property
    def device(self):
        return "cuda" if torch.cuda.is_available() else "cpu"

    def data(self, loss="ce"):
        """The profile's training data, preprocessed and on the device (loaded once per process)."""
        return _load(self.dataset, loss, self.device, self.n_train)


@lru_cache(maxsize=8)
def _load(name, loss, device, n_train):
    return load_dataset(name, loss=loss, device=device, n_train=n_train)


PROFILES = {
    "paper": Profile(
        name="paper",
        dataset=os.environ.get("EOS_PAPER_DATASET", "cifar10-5k"),
        n_train=5000,
        description="the paper's settings on the first 5,000 CIFAR-10 training images",
        settings={
            # Experiments 2-4 (tanh, cross-entropy, GD until 95 % train accuracy). The paper's figure
            # legends did not survive; 2/60 is Experiment 3's (Experiment 5 reuses it), 2/10 Remark 4's.
            "experiment2": dict(
                etas=(2 / 500, 2 / 1000), max_steps=200_000, acc_goal=0.95, sharpness_every=500, sharpness_iters=20,
            ),
            "experiment3": dict(
                etas=(2 / 90, 2 / 60, 2 / 30), max_steps=50_000, acc_goal=0.95, sharpness_every=20, sharpness_iters=20,
                snapshot_every=200, diverge_eta=2 / 10, diverge_steps=5_000,
            ),
        },
    ),
    "quick": Profile(
        name="quick",
        dataset="fashion-mnist-5k",
        n_train=1000,
        description="the same experiments on the first 1,000 Fashion-MNIST training images, sized for 2 CPU cores",
        settings={
            # Experiments 2-4 on 5,000 images: on 1,000, 95 % train accuracy comes within ~60 steps,
            # before the edge of stability settles (see book/relative_progress.md).
            "experiment2": dict(
                n_train=5000, etas=(2 / 30,), max_steps=3000, acc_goal=0.95, sharpness_every=100, sharpness_iters=20,
            ),
            "experiment3": dict(
                n_train=5000, etas=(2 / 10, 2 / 5), max_steps=1500, acc_goal=0.95, sharpness_every=25,
                sharpness_iters=20, snapshot_every=50, diverge_eta=100.0, diverge_steps=100,
            ),
        },
    ),
}


def get(name):
    """The profile called ``name`` ("quick" or "paper")."""
    if name not in PROFILES:
        raise ValueError(f"unknown profile {name!r}: choose one of {sorted(PROFILES)}")
    return PROFILES[name]


def _network(profile, loss, activation, depth, width, seed):
    """The profile's data for ``loss`` and the fully connected network of Cohen et al. (2021) on it."""
    profile = get(profile) if isinstance(profile, str) else profile
    data = profile.data(loss)
    model = fully_connected(data, depth=depth, width=width, activation=activation, seed=seed, device=profile.device)
    return data, model, f"{activation or 'linear'}, depth {depth}, {loss}"


def gd_run(profile, eta, activation="tanh", loss="ce", depth=2, width=200, seed=0, results_dir=None, **options):
    """Train the fully connected network of Cohen et al. (2021) with GD on the profile's data.

    ``options`` go to :func:`eos_support.train.train_gd` (max_steps, acc_goal, sharpness_every, ...).
    """
    data, model, name = _network(profile, loss, activation, depth, width, seed)
    return train_gd(model, data, loss, eta, results_dir=results_dir, label=f"{name}, η = {eta:.4g}", **options)


TRAIN_OPTIONS = ("max_steps", "acc_goal", "sharpness_every", "sharpness_iters", "snapshot_every")


def experiment_profile(profile, name):
    """The profile with the data size that experiment ``name`` asks for in its settings ("n_train")."""
    profile = get(profile) if isinstance(profile, str) else profile
    return replace(profile, n_train=profile.settings[name].get("n_train", profile.n_train))


def experiment_runs(profile, name, etas=None, results_dir=None, **override):
    """The tanh, cross-entropy GD runs of the experiment ``name`` in ``profile.settings``, one per η.

    The settings give the step sizes ("etas"), the training options and optionally "n_train"; several
    chapters ask for the same runs and get them from the run store.
    """
    data_profile = experiment_profile(profile, name)
    settings = data_profile.settings[name]
    options = {k: settings[k] for k in TRAIN_OPTIONS if k in settings} | override
    return {
        eta: gd_run(data_profile, eta, activation="tanh", loss="ce", results_dir=results_dir, progress=False, **options)
        for eta in (settings["etas"] if etas is None else etas)
    }


def sgd_run(profile, eta, activation="tanh", loss="ce", depth=2, width=200, seed=0, results_dir=None, **options):
    """Train the same network as :func:`gd_run` with SGD (Section 5); ``seed`` seeds both θ⁰ and the minibatches.

    ``options`` go to :func:`eos_support.train.train_sgd` (batch_size, epochs, samples, ...).
    """
    data, model, name = _network(profile, loss, activation, depth, width, seed)
    label = f"SGD {name}, η = {eta:.4g}"
    return train_sgd(model, data, loss, eta, seed=seed, results_dir=results_dir, label=label, **options)
