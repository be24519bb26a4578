"""Data sets of the experiments, preprocessed as in Cohen et al. (2021).

Recipe (SPEC, "Data"): the first ``n_train`` training examples; pixels scaled to [0, 1];
each feature centred and divided by its standard deviation, both computed on those
``n_train`` examples and applied unchanged to the test split; images flattened in
channel-major (C, H, W) order, as Cohen et al.'s fully connected networks see them.
Targets: class indices (int64) for the cross-entropy loss, one-hot rows for the squared losses.

Cohen et al.'s script takes the statistics of all 50,000 CIFAR-10 training images; here
they come from the examples actually trained on, so that every source (an ``.npz`` of
5,000 images included) is treated alike.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from ..checks import positive_int
from ..diagnostics.objective import LOSSES
from . import sources
from .common import CIFAR10_CLASSES, CIFAR10_IMAGE, DatasetInvalid, DatasetUnavailable, data_dir
from .npz import NpzSummary, read_npz, validate_npz

__all__ = [
    "CIFAR10_CLASSES",
    "CIFAR10_IMAGE",
    "Dataset",
    "DatasetInvalid",
    "DatasetUnavailable",
    "LOSSES",
    "NAMES",
    "NpzSummary",
    "available",
    "check_dataset_name",
    "data_dir",
    "load_dataset",
    "standardise",
    "validate_npz",
]

NAMES = ("cifar10-5k", "fashion-mnist-5k", "npz:PATH")


@dataclass(frozen=True, eq=False)
class Dataset:
    """Preprocessed train and test tensors, already on their device.

    ``x_*`` has shape (n, n_features); ``y_*`` holds class indices (int64) for ``"ce"``
    and one-hot rows of shape (n, num_classes) for ``"mse"`` and ``"half_sq_sum"``. ``x_test`` and ``y_test``
    are ``None`` when the source has no test split. ``source`` says where the data came from.
    """

    x_train: torch.Tensor
    y_train: torch.Tensor
    x_test: torch.Tensor | None
    y_test: torch.Tensor | None
    num_classes: int
    name: str
    source: str
    n_features: int

    def __post_init__(self):
        """Each split has as many targets as inputs, and class indices lie in [0, num_classes)."""
        if (self.x_test is None) != (self.y_test is None):
            raise ValueError("x_test and y_test must both be given or both be None")
        for split, x, y in (("train", self.x_train, self.y_train), ("test", self.x_test, self.y_test)):
            if x is None or y is None:
                continue
            if len(x) != len(y):
                raise ValueError(f"x_{split} has {len(x)} examples but y_{split} {len(y)}: pass one target per input")
            if not y.is_floating_point() and len(y) and not 0 <= int(y.min()) <= int(y.max()) < self.num_classes:
                raise ValueError(
                    f"y_{split}'s class indices span [{int(y.min())}, {int(y.max())}], outside [0, num_classes = "
                    f"{self.num_classes}): pass the number of classes the targets count"
                )


def load_dataset(
    name: str,
    loss: str = "ce",
    device: torch.device | str | None = None,
    n_train: int = 5000,
    dtype: torch.dtype = torch.float32,
    download: bool = True,
    root=None,
) -> Dataset:
    """Load ``name`` ("cifar10-5k", "fashion-mnist-5k" or "npz:PATH"), preprocessed.

    Reads local files first (in :func:`data_dir` (``root``)); otherwise, if ``download``, fetches the
    data set with torchvision into that folder. Raises :class:`DatasetUnavailable` naming the files
    to provide when neither works, and ``ValueError`` for a bad name, loss or ``n_train``.
    An ``npz:`` file passes :func:`validate_npz`'s checks for any images first (a
    :class:`DatasetInvalid` says what is wrong); call :func:`validate_npz` itself to check it
    against a profile (CIFAR-10's image shape and classes) before anything runs.
    """
    if loss not in LOSSES:
        raise ValueError(f"loss must be one of {LOSSES}, got {loss!r}")
    n_train = positive_int("n_train", n_train)
    if name == "cifar10-5k":
        (x, y), test, source, num_classes = sources.cifar10(n_train, download, root)
    elif name == "fashion-mnist-5k":
        (x, y), test, source, num_classes = sources.fashion_mnist(download, root)
    elif check_dataset_name(name).startswith("npz:"):
        (x, y), test, source, num_classes = read_npz(Path(name[4:]).expanduser(), n_train)
    if len(x) < n_train:
        raise ValueError(f"{name} has {len(x)} training examples, fewer than n_train={n_train}")
    x, y = x[:n_train], y[:n_train]
    x_train, stats = standardise(x)
    x_test = standardise(test[0], stats)[0] if test else None
    device = torch.device(device or "cpu")

    def features(a):
        return torch.as_tensor(a, dtype=dtype).to(device)

    def targets(labels):
        t = torch.as_tensor(np.asarray(labels, dtype=np.int64)).to(device)
        return t if loss == "ce" else torch.nn.functional.one_hot(t, num_classes).to(dtype)

    return Dataset(
        x_train=features(x_train),
        y_train=targets(y),
        x_test=features(x_test) if test else None,
        y_test=targets(test[1]) if test else None,
        num_classes=num_classes,
        name=name,
        source=f"{source}; first {n_train} training examples",
        n_features=int(x_train.shape[1]),
    )


def available(name: str, root=None) -> bool:
    """Whether ``name`` can be loaded from local files alone (no network), with :func:`data_dir` (``root``)."""
    if name == "cifar10-5k":
        return sources.cifar_available(root)
    if name == "fashion-mnist-5k":
        return sources.fashion_folder(root) is not None
    check_dataset_name(name)
    return Path(name[4:]).expanduser().is_file()


def check_dataset_name(name: str) -> str:
    """``name`` if it is a data set name ("cifar10-5k", "fashion-mnist-5k" or "npz:PATH"), else a
    ``ValueError`` listing the valid names; a path without the ``npz:`` prefix is named as such.
    """
    if not isinstance(name, str):
        raise ValueError(f"a data set name must be a string, got {type(name).__name__}")
    if name in NAMES[:2] or (name.startswith("npz:") and name[4:].strip()):
        return name
    if name.startswith("npz:"):
        raise ValueError("'npz:' needs the path of the file after it, e.g. npz:/data/cifar10.npz")
    hint = ""
    if name.endswith(".npz") or "/" in name or os.sep in name:
        hint = f" (a file is named with the npz: prefix: did you mean npz:{name}?)"
    raise ValueError(f"unknown data set {name!r}{hint}; valid names: {', '.join(NAMES)}")


def standardise(x: np.ndarray, stats=None):
    """Scale to [0, 1] (uint8 / 255), flatten (C, H, W), centre and standardise per feature.

    Non-finite pixels raise ``ValueError``: one would make its feature NaN for every image.
    """
    x = x.astype(np.float64) / 255.0 if x.dtype == np.uint8 else x.astype(np.float64)
    x = x.reshape(len(x), -1)
    if not np.isfinite(x).all():
        bad = np.flatnonzero(~np.isfinite(x).all(axis=1))
        raise ValueError(
            f"{len(bad)} of {len(x)} images have NaN or infinite pixels (the first is image {bad[0]}): "
            "standardising would turn those features into NaN for every image; drop or repair those images"
        )
    if stats is None:
        std = x.std(axis=0)
        stats = (x.mean(axis=0), np.where(std > 0, std, 1.0))
    return (x - stats[0]) / stats[1], stats
