"""Data sets of the experiments, preprocessed as in Cohen et al. (2021).

Recipe (SPEC, "Data"): the first ``n_train`` training examples; pixels scaled to [0, 1];
each feature centred and divided by its standard deviation, both computed on those
``n_train`` examples and applied unchanged to the test split; images flattened in
channel-major (C, H, W) order, as Cohen et al.'s fully connected networks see them.
Targets: class indices (int64) for the cross-entropy loss, one-hot rows for the squared loss.

Cohen et al.'s script takes the statistics of all 50,000 CIFAR-10 training images; here
they come from the examples actually trained on, so that every source (an ``.npz`` of
5,000 images included) is treated alike.
"""

from __future__ import annotations

import gzip
import os
import pickle
import socket
import urllib.error
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

NAMES = ("cifar10-5k", "fashion-mnist-5k", "npz:PATH")
LOSSES = ("ce", "mse")
FASHION_MNIST_SYSTEM_DIR = Path("/usr/share/datasets/fashion-mnist")
"""Where Debian's ``dataset-fashion-mnist`` package puts the idx files."""

_FASHION_FILES = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}
_CIFAR_FOLDER = "cifar-10-batches-py"
_CIFAR_TRAIN = tuple(f"data_batch_{i}" for i in range(1, 6))
_DOWNLOAD_TIMEOUT_S = 20.0


class DatasetUnavailable(RuntimeError):
    """The data set is neither on disk nor downloadable from here."""


@dataclass(frozen=True, eq=False)
class Dataset:
    """Preprocessed train and test tensors, already on their device.

    ``x_*`` has shape (n, n_features); ``y_*`` holds class indices (int64) for ``"ce"``
    and one-hot rows of shape (n, num_classes) for ``"mse"``. ``x_test`` and ``y_test``
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


def data_dir() -> Path:
    """``$EOS_DATA_DIR``, or ``~/.cache/eos-book/data`` when it is unset."""
    return Path(os.environ.get("EOS_DATA_DIR") or Path.home() / ".cache" / "eos-book" / "data")


def load_dataset(
    name: str,
    loss: str = "ce",
    device: torch.device | str | None = None,
    n_train: int = 5000,
    dtype: torch.dtype = torch.float32,
    download: bool = True,
) -> Dataset:
    """Load ``name`` ("cifar10-5k", "fashion-mnist-5k" or "npz:PATH"), preprocessed.

    Reads local files first; otherwise, if ``download``, fetches the data set with
    torchvision into :func:`data_dir`. Raises :class:`DatasetUnavailable` naming the files
    to provide when neither works, and ``ValueError`` for a bad name, loss or ``n_train``.
    """
    if loss not in LOSSES:
        raise ValueError(f"loss must be one of {LOSSES}, got {loss!r}")
    if not isinstance(n_train, (int, np.integer)) or n_train < 1:
        raise ValueError(f"n_train must be a positive integer, got {n_train!r}")
    if name == "cifar10-5k":
        (x, y), test, source, num_classes = _cifar10(n_train, download)
    elif name == "fashion-mnist-5k":
        (x, y), test, source, num_classes = _fashion_mnist(download)
    elif name.startswith("npz:"):
        (x, y), test, source, num_classes = _npz(Path(name[4:]).expanduser())
    else:
        raise ValueError(f"unknown data set {name!r}; valid names: {', '.join(NAMES)}")
    if len(x) < n_train:
        raise ValueError(f"{name} has {len(x)} training examples, fewer than n_train={n_train}")
    x, y = x[:n_train], y[:n_train]
    x_train, stats = _standardise(x)
    x_test = _standardise(test[0], stats)[0] if test else None
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


def available(name: str) -> bool:
    """Whether ``name`` can be loaded from local files alone (no network)."""
    if name == "cifar10-5k":
        folder = data_dir() / _CIFAR_FOLDER
        return all((folder / f).is_file() for f in ("data_batch_1", "test_batch"))
    if name == "fashion-mnist-5k":
        return _fashion_folder() is not None
    if name.startswith("npz:"):
        return Path(name[4:]).expanduser().is_file()
    raise ValueError(f"unknown data set {name!r}; valid names: {', '.join(NAMES)}")


def _standardise(x: np.ndarray, stats=None):
    """Scale to [0, 1] (uint8 / 255), flatten (C, H, W), centre and standardise per feature."""
    x = x.astype(np.float64) / 255.0 if x.dtype == np.uint8 else x.astype(np.float64)
    x = x.reshape(len(x), -1)
    if stats is None:
        std = x.std(axis=0)
        stats = (x.mean(axis=0), np.where(std > 0, std, 1.0))
    return (x - stats[0]) / stats[1], stats


def _cifar10(n_train: int, download: bool):
    folder = data_dir() / _CIFAR_FOLDER
    if not available("cifar10-5k"):
        _download(
            "CIFAR10",
            download,
            f"Put CIFAR-10's python batches (data_batch_1 ... data_batch_5, test_batch, from "
            f"cifar-10-python.tar.gz) in {folder}, or set $EOS_DATA_DIR to the folder holding "
            "cifar-10-batches-py; or use the 'quick' profile (Fashion-MNIST, works offline), "
            "or a copy of CIFAR-10 through 'npz:PATH'.",
        )
    batches = [_cifar_batch(folder / _CIFAR_TRAIN[0])]
    for name in _CIFAR_TRAIN[1:]:
        if sum(len(b[1]) for b in batches) >= n_train:
            break
        batches.append(_cifar_batch(folder / name))
    x = np.concatenate([b[0] for b in batches])
    y = np.concatenate([b[1] for b in batches])
    test = _cifar_batch(folder / "test_batch")
    return (x, y), test, f"CIFAR-10 python batches in {folder}", 10


def _cifar_batch(path: Path):
    """One pickled CIFAR-10 batch as (uint8 images (n, 3, 32, 32), int64 labels)."""
    with open(path, "rb") as fh:
        batch = pickle.load(fh, encoding="latin1")
    x = np.asarray(batch["data"], dtype=np.uint8).reshape(-1, 3, 32, 32)
    return x, np.asarray(batch["labels"], dtype=np.int64)


def _fashion_folder() -> Path | None:
    """First folder holding all four Fashion-MNIST idx files (raw or gzipped)."""
    for folder in (data_dir() / "FashionMNIST" / "raw", FASHION_MNIST_SYSTEM_DIR):
        names = [f for pair in _FASHION_FILES.values() for f in pair]
        if all(_idx_path(folder, f) for f in names):
            return folder
    return None


def _idx_path(folder: Path, name: str) -> Path | None:
    for candidate in (folder / name, folder / f"{name}.gz"):
        if candidate.is_file():
            return candidate
    return None


def _fashion_mnist(download: bool):
    folder = _fashion_folder()
    if folder is None:
        files = ", ".join(f for pair in _FASHION_FILES.values() for f in pair)
        _download(
            "FashionMNIST",
            download,
            f"Put the idx files {files} (raw or .gz) in {data_dir() / 'FashionMNIST' / 'raw'} "
            f"(or set $EOS_DATA_DIR), or run `apt-get install dataset-fashion-mnist`, which "
            f"puts them in {FASHION_MNIST_SYSTEM_DIR}.",
        )
        folder = _fashion_folder()
    splits = {
        split: tuple(_read_idx(_idx_path(folder, f)) for f in files)
        for split, files in _FASHION_FILES.items()
    }
    return splits["train"], splits["test"], f"Fashion-MNIST idx files in {folder}", 10


def _read_idx(path: Path) -> np.ndarray:
    """An unsigned-byte idx array (the MNIST file format), gzipped or not."""
    with (gzip.open if path.suffix == ".gz" else open)(path, "rb") as fh:
        raw = fh.read()
    if raw[:3] != b"\x00\x00\x08":
        raise ValueError(f"{path} is not an unsigned-byte idx file")
    ndim = raw[3]
    shape = np.frombuffer(raw, dtype=">i4", count=ndim, offset=4)
    return np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * ndim).reshape(shape)


def _npz(path: Path):
    if not path.is_file():
        raise DatasetUnavailable(f"no such file: {path} (expected an .npz with x_train, y_train)")
    with np.load(path) as archive:
        missing = {"x_train", "y_train"} - set(archive.files)
        if missing:
            raise ValueError(f"{path} lacks {sorted(missing)}; it needs x_train and y_train")
        a = {k: archive[k] for k in archive.files}
    train = (_channels_first(a["x_train"]), a["y_train"].astype(np.int64))
    test = None
    if "x_test" in a and "y_test" in a:
        test = (_channels_first(a["x_test"]), a["y_test"].astype(np.int64))
    labels = [train[1]] + ([test[1]] if test else [])
    num_classes = len(a["classes"]) if "classes" in a else int(max(y.max() for y in labels)) + 1
    return train, test, f"arrays in {path}", num_classes


def _channels_first(x: np.ndarray) -> np.ndarray:
    """(N, H, W, C) images to (N, C, H, W); other shapes unchanged."""
    return x.transpose(0, 3, 1, 2) if x.ndim == 4 else x


def _download(dataset: str, download: bool, advice: str) -> None:
    """Fetch ``dataset`` with torchvision into :func:`data_dir`, or raise with ``advice``."""
    if not download:
        raise DatasetUnavailable(f"{dataset} is not on disk and download=False. {advice}")
    import torchvision.datasets

    previous = socket.getdefaulttimeout()
    socket.setdefaulttimeout(_DOWNLOAD_TIMEOUT_S)
    try:
        getattr(torchvision.datasets, dataset)(root=data_dir(), train=True, download=True)
    except (urllib.error.URLError, OSError, RuntimeError) as error:
        raise DatasetUnavailable(
            f"{dataset} is not on disk and could not be downloaded ({error}). {advice}"
        ) from error
    finally:
        socket.setdefaulttimeout(previous)
