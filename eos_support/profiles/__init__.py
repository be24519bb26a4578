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
from dataclasses import replace
from pathlib import Path

import torch

from .profile import Experiment, Profile, perturb
from .settings import PAPER, PAPER_DESCRIPTION, QUICK, QUICK_DESCRIPTION

__all__ = [
    "NAMES",
    "Experiment",
    "Profile",
    "check_name",
    "default_profile",
    "get",
    "paper_data_problem",
    "paper_dataset",
    "perturb",
]

NAMES = ("quick", "paper")
"""The profiles' names, in the scorecard's column order: the one list of them."""


def check_name(name) -> str:
    """``name`` if it names a profile, else a ValueError that lists the profiles."""
    if name not in NAMES:
        raise ValueError(f"unknown profile {name!r}: choose one of {', '.join(NAMES)}")
    return name


def paper_dataset() -> str:
    """The paper profile's data set: ``$EOS_PAPER_DATASET`` (``npz:PATH``) if set, else ``cifar10-5k``."""
    return os.environ.get("EOS_PAPER_DATASET") or "cifar10-5k"


def get(name, results_dir=None, theta0_seed=None, *, paper_data=None, data_dir=None) -> Profile:
    """The profile called ``name`` ("quick" or "paper"), caching its runs in ``results_dir`` (None: nowhere);
    ``theta0_seed`` (the robustness check's) moves every network's θ⁰ by one rounding unit (:func:`perturb`).
    The paper profile reads ``paper_data`` (None: :func:`paper_dataset`); data sets are read from the folder
    ``data_dir`` (None: :func:`eos_support.data.data_dir`'s).
    """
    if check_name(name) == "paper":
        profile = Profile("paper", paper_data or paper_dataset(), PAPER_DESCRIPTION, PAPER)
    else:
        profile = Profile("quick", "fashion-mnist-5k", QUICK_DESCRIPTION, QUICK)
    return replace(
        profile,
        results_dir=None if results_dir is None else Path(results_dir),
        theta0_seed=theta0_seed,
        data_dir=None if data_dir is None else Path(data_dir),
    )


def default_profile() -> tuple[str, str]:
    """``("paper", why)`` when torch sees a GPU and the paper's data is on disk, else ``("quick", why)``."""
    if not torch.cuda.is_available():
        return "quick", "no CUDA GPU visible to torch"
    from .. import data

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
    from .. import data

    try:
        name = data.check_dataset_name(paper_dataset())
    except ValueError as error:
        return f"EOS_PAPER_DATASET: {error}"
    if name.startswith("npz:"):
        n_train = max(e.n_train for e in get("paper").experiments.values())
        try:
            log(f"paper data: {data.validate_npz(name[4:], n_train=n_train)}")
        except (ValueError, data.DatasetUnavailable) as error:
            return (
                f"EOS_PAPER_DATASET={name}: {error}. Point it at an .npz with x_train (N, 32, 32, 3) uint8 "
                f"images and y_train labels, unset it to use CIFAR-10 from {data.data_dir()}, or run the "
                "quick profile: eos-book build --profile quick"
            )
        return None
    if data.available(name):
        return None
    folder = data.data_dir()
    log(f"CIFAR-10 is not in {folder}: downloading it with torchvision (about 170 MB)...")
    try:
        data.load_dataset("cifar10-5k", download=True)
    except Exception as error:  # noqa: BLE001 - every failure gets the same advice
        return (
            f"the paper profile needs CIFAR-10, which is not on disk and could not be downloaded ({error}).\n"
            'Either download it on a machine with a network: python -c "import torchvision; '
            f"torchvision.datasets.CIFAR10(root='{folder}', download=True)\"  and copy the folder "
            f"cifar-10-batches-py into {folder} (or set EOS_DATA_DIR to the folder that holds it),\n"
            "or run the quick profile, which works offline: eos-book build --profile quick"
        )
    return None
