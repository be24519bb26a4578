"""CIFAR-10 and Fashion-MNIST from their files: CIFAR-10's python batches, Fashion-MNIST's idx files
(Debian's ``dataset-fashion-mnist`` or torchvision's download), fetched with torchvision where allowed.
"""

from __future__ import annotations

import gzip
import pickle
import socket
import urllib.error
from pathlib import Path

import numpy as np

from .common import DatasetUnavailable, data_dir

FASHION_MNIST_SYSTEM_DIR = Path("/usr/share/datasets/fashion-mnist")
"""Where Debian's ``dataset-fashion-mnist`` package puts the idx files."""

_FASHION_FILES = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}
_CIFAR_FOLDER = "cifar-10-batches-py"
_CIFAR_TRAIN = tuple(f"data_batch_{i}" for i in range(1, 6))
_DOWNLOAD_TIMEOUT_S = 20.0


def cifar_available(root=None) -> bool:
    """Whether CIFAR-10's python batches are in :func:`data_dir` (``root``)."""
    folder = data_dir(root) / _CIFAR_FOLDER
    return all((folder / f).is_file() for f in ("data_batch_1", "test_batch"))


def cifar10(n_train: int, download: bool, root=None):
    """CIFAR-10's first ``n_train`` training images and its test split, from its python batches in
    :func:`data_dir` (``root``), downloaded with torchvision if allowed: ``(x, y), test, source, classes``.
    """
    folder = data_dir(root) / _CIFAR_FOLDER
    if not cifar_available(root):
        _download(
            "CIFAR10",
            download,
            root,
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


def fashion_folder(root=None) -> Path | None:
    """First folder holding all four Fashion-MNIST idx files (raw or gzipped): :func:`data_dir` (``root``)'s
    ``FashionMNIST/raw``, then Debian's.
    """
    for folder in (data_dir(root) / "FashionMNIST" / "raw", FASHION_MNIST_SYSTEM_DIR):
        names = [f for pair in _FASHION_FILES.values() for f in pair]
        if all(_idx_path(folder, f) for f in names):
            return folder
    return None


def _idx_path(folder: Path, name: str) -> Path | None:
    for candidate in (folder / name, folder / f"{name}.gz"):
        if candidate.is_file():
            return candidate
    return None


def fashion_mnist(download: bool, root=None):
    """Fashion-MNIST's training and test splits from its idx files (in :func:`data_dir` (``root``) or Debian's,
    or downloaded with torchvision if allowed): ``(x, y), test, source, classes``.
    """
    folder = fashion_folder(root)
    if folder is None:
        files = ", ".join(f for pair in _FASHION_FILES.values() for f in pair)
        _download(
            "FashionMNIST",
            download,
            root,
            f"Put the idx files {files} (raw or .gz) in {data_dir(root) / 'FashionMNIST' / 'raw'} "
            f"(or set $EOS_DATA_DIR), or run `apt-get install dataset-fashion-mnist`, which "
            f"puts them in {FASHION_MNIST_SYSTEM_DIR}.",
        )
        folder = fashion_folder(root)
    splits = {split: tuple(_read_idx(_idx_path(folder, f)) for f in files) for split, files in _FASHION_FILES.items()}
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


def _download(dataset: str, download: bool, root, advice: str) -> None:
    """Fetch ``dataset`` with torchvision into :func:`data_dir` (``root``), or raise with ``advice``."""
    if not download:
        raise DatasetUnavailable(f"{dataset} is not on disk and download=False. {advice}")
    import torchvision.datasets

    previous = socket.getdefaulttimeout()
    socket.setdefaulttimeout(_DOWNLOAD_TIMEOUT_S)
    try:
        getattr(torchvision.datasets, dataset)(root=data_dir(root), train=True, download=True)
    except (urllib.error.URLError, OSError, RuntimeError) as error:
        raise DatasetUnavailable(f"{dataset} is not on disk and could not be downloaded ({error}). {advice}") from error
    finally:
        socket.setdefaulttimeout(previous)
