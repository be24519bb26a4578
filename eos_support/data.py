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


class DatasetInvalid(ValueError):
    """An ``npz:`` file that cannot be used as it stands; the message names the file, the problem
    and the fix."""


CIFAR10_IMAGE = (3, 32, 32)
"""(channels, height, width) of a CIFAR-10 image: what an ``npz:`` stand-in for it must hold."""
CIFAR10_CLASSES = 10


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
    An ``npz:`` file passes :func:`validate_npz`'s checks for any images first (a
    :class:`DatasetInvalid` says what is wrong); call :func:`validate_npz` itself to check it
    against a profile (CIFAR-10's image shape and classes) before anything runs.
    """
    if loss not in LOSSES:
        raise ValueError(f"loss must be one of {LOSSES}, got {loss!r}")
    if not isinstance(n_train, (int, np.integer)) or n_train < 1:
        raise ValueError(f"n_train must be a positive integer, got {n_train!r}")
    if name == "cifar10-5k":
        (x, y), test, source, num_classes = _cifar10(n_train, download)
    elif name == "fashion-mnist-5k":
        (x, y), test, source, num_classes = _fashion_mnist(download)
    elif check_dataset_name(name).startswith("npz:"):
        (x, y), test, source, num_classes = _npz(Path(name[4:]).expanduser(), n_train)
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
    check_dataset_name(name)
    return Path(name[4:]).expanduser().is_file()


def check_dataset_name(name: str) -> str:
    """``name`` if it is a data set name ("cifar10-5k", "fashion-mnist-5k" or "npz:PATH"), else a
    ``ValueError`` listing the valid names; a path without the ``npz:`` prefix is named as such."""
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


def _standardise(x: np.ndarray, stats=None):
    """Scale to [0, 1] (uint8 / 255), flatten (C, H, W), centre and standardise per feature.

    Non-finite pixels raise ``ValueError``: one would make its feature NaN for every image."""
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


@dataclass(frozen=True)
class NpzSummary:
    """What :func:`validate_npz` found in an ``npz:`` file (already checked)."""

    path: Path
    n_train: int
    n_test: int | None
    layout: str
    image_shape: tuple
    pixels: str
    num_classes: int

    def __str__(self):
        test = f", {self.n_test} test images" if self.n_test is not None else ", no test split"
        shape = " × ".join(map(str, self.image_shape))
        return (
            f"{self.path}: {self.n_train} training images{test}, {shape} ({self.layout}), "
            f"pixels {self.pixels}, {self.num_classes} classes"
        )


def validate_npz(
    path: str | Path,
    n_train: int = 5000,
    image_shape: tuple | None = CIFAR10_IMAGE,
    num_classes: int | None = CIFAR10_CLASSES,
) -> NpzSummary:
    """Check an ``npz:`` file before anything runs; by default as the paper profile's CIFAR-10 stand-in.

    The file needs ``x_train`` and ``y_train`` (and optionally ``x_test`` with ``y_test``, and
    ``classes``). Images are N × H × W × C or N × C × H × W, told apart by shape (``image_shape`` is
    (C, H, W); ``None`` accepts any images, grey N × H × W, or flat N × F features); pixels are uint8
    (0 … 255) or floats in [0, 1], all finite; labels are whole numbers 0 … K − 1 with K =
    ``num_classes`` (``None``: K = len(classes), or the largest label + 1 if every class occurs), one
    per image; at least ``n_train`` training images, which with ``num_classes`` must include every class.
    Raises :class:`DatasetUnavailable` for a missing file and :class:`DatasetInvalid` (a ``ValueError``)
    naming the file, the problem and the fix; returns an :class:`NpzSummary`.
    """
    return _read_npz(Path(path).expanduser(), n_train, image_shape, num_classes)[0]


def _npz(path: Path, n_train: int):
    summary, train, test = _read_npz(path, n_train, None, None)
    return train, test, f"arrays in {path}", summary.num_classes


def _read_npz(path, n_train, image_shape, num_classes):
    """:func:`validate_npz`'s checks; returns the summary and the (C, H, W)-ordered splits."""
    a = _open_npz(path)
    fail = _failer(path)
    x, layout, shape = _images(fail, "x_train", a["x_train"], image_shape)
    pixels = _pixels(fail, "x_train", x)
    y = _labels(fail, "y_train", a["y_train"], len(x))
    test = None
    if "x_test" in a:
        xt, _, shape_t = _images(fail, "x_test", a["x_test"], image_shape)
        if shape_t != shape:
            fail(f"x_test holds {_shape(shape_t)} images but x_train {_shape(shape)}", "store both splits alike")
        _pixels(fail, "x_test", xt)
        test = (xt, _labels(fail, "y_test", a["y_test"], len(xt)))
    k = _classes(fail, a, {"y_train": y} | ({"y_test": test[1]} if test else {}), num_classes)
    if len(x) < n_train:
        fail(f"x_train has {len(x)} images, fewer than the {n_train} training examples asked for",
             f"provide at least {n_train} training images")
    if num_classes is not None and len(np.unique(y[:n_train])) < k:
        missing = sorted(set(range(k)) - set(np.unique(y[:n_train]).tolist()))
        fail(f"the first {n_train} training labels never show classes {missing} (is the file sorted by class?)",
             "shuffle the training split before saving, e.g. with a fixed np.random.default_rng(0).permutation")
    summary = NpzSummary(path, len(x), len(test[0]) if test else None, layout, shape, pixels, k)
    return summary, (x, y), test


def _failer(path):
    def fail(problem, fix):
        raise DatasetInvalid(f"{path}: {problem}; {fix}")

    return fail


def _open_npz(path):
    """The arrays of the ``.npz`` at ``path``, with x_train/y_train present and the test split whole."""
    if not path.is_file():
        raise DatasetUnavailable(f"no such file: {path} (expected an .npz with x_train, y_train)")
    fail = _failer(path)
    try:
        archive = np.load(path, allow_pickle=False)
    except (OSError, ValueError, EOFError) as error:
        fail(f"cannot be read by np.load ({error})", "save it with np.savez(path, x_train=x, y_train=y)")
    if not isinstance(archive, np.lib.npyio.NpzFile):
        fail("is a single .npy array, not an .npz archive", "save it with np.savez(path, x_train=x, y_train=y)")
    with archive:
        try:
            a = {k: archive[k] for k in archive.files}
        except ValueError as error:  # object arrays, which need pickle
            fail(f"holds an array that cannot be read without pickle ({error})", "store plain numeric arrays")
    missing = sorted({"x_train", "y_train"} - set(a))
    if missing:
        fail(f"lacks {missing} (it holds {sorted(a)})", "it needs x_train (images) and y_train (labels)")
    if ("x_test" in a) != ("y_test" in a):
        have, lack = ("x_test", "y_test") if "x_test" in a else ("y_test", "x_test")
        fail(f"has {have} but no {lack}", f"add {lack}, or drop {have} to train without a test split")
    return a


def _shape(shape):
    return " × ".join(map(str, shape))


def _images(fail, key, x, image_shape):
    """``x`` in (N, C, H, W) order (or as stored, if grey or flat), its layout and its per-image shape."""
    if x.ndim == 4:
        x, layout = _channel_axis(fail, key, x, image_shape)
    elif x.ndim == 2 and image_shape is None:
        layout = "flat features"
    elif x.ndim == 3 and (image_shape is None or tuple(image_shape) == (1, *x.shape[1:])):
        x, layout = x[:, None], "grey images"
    else:
        what = {2: "flat features", 3: "grey images (no channel axis)"}.get(x.ndim, f"a {x.ndim}-D array")
        want = (f"N × {_shape(image_shape[1:] + image_shape[:1])} (channels last) or N × {_shape(image_shape)} "
                "(channels first)") if image_shape else "N × H × W × C or N × C × H × W images, N × H × W or N × F"
        fail(f"{key} has shape {x.shape}, {what}", f"the data set needs {want}")
    if len(x) == 0:
        fail(f"{key} holds no images", "store at least one")
    return x, layout, tuple(x.shape[1:])


def _channel_axis(fail, key, x, image_shape):
    """(N, C, H, W) images from channels-first or channels-last ``x``, told apart by shape."""
    n, a, b, c = x.shape
    if image_shape is None:
        first, last = a in (1, 3), c in (1, 3)
    else:
        first, last = (a, b, c) == tuple(image_shape), (c, a, b) == tuple(image_shape)
    readings = f"channels first it holds {a} channels of {b} × {c} pixels, channels last {c} channels of {a} × {b}"
    if first and last:
        fail(f"{key} has shape {x.shape}, which is ambiguous: {readings}", "store images as N × H × W × C, H, W ≠ C")
    if not (first or last):
        need = f"{image_shape[0]} channels of {_shape(image_shape[1:])}" if image_shape else "1 or 3 channels"
        fail(f"{key} has shape {x.shape}: {readings}, but the data set needs {need}",
             "store N × H × W × C (channels last) or N × C × H × W (channels first) images")
    return (x, "channels first") if first else (x.transpose(0, 3, 1, 2), "channels last")


def _pixels(fail, key, x):
    """'uint8 in 0 … 255' or 'floatN in [0, 1]', after checking that the pixels are that and finite."""
    if x.dtype == np.uint8:
        return "uint8 in 0 … 255"
    if not np.issubdtype(x.dtype, np.floating):
        fix = "convert with x.astype(np.uint8)" if np.issubdtype(x.dtype, np.integer) else "store uint8 pixels"
        fail(f"{key} has dtype {x.dtype}; pixels must be uint8 (0 … 255) or float (0 … 1)", fix)
    finite = np.isfinite(x.reshape(len(x), -1)).all(axis=1)
    if not finite.all():
        bad = np.flatnonzero(~finite)
        fail(f"{key} has NaN or infinite pixels in {len(bad)} of {len(x)} images (the first is image {bad[0]})",
             "drop or repair those images: one NaN would turn its feature into NaN for every image")
    lo, hi = float(x.min()), float(x.max())
    if lo < 0 or hi > 1:
        fix = "divide by 255, or store uint8" if lo >= 0 and hi <= 255 else "store the raw pixels, not normalised ones"
        fail(f"{key} holds {x.dtype} pixels in [{lo:g}, {hi:g}]; float pixels must lie in [0, 1]", fix)
    return f"{x.dtype} in [0, 1]"


def _labels(fail, key, y, n):
    """``y`` as int64 class indices after checking shape, length, whole values and sign."""
    if y.ndim != 1:
        fix = "y.argmax(1) if one-hot" if y.ndim == 2 and y.shape[0] == n else "y.reshape(-1)"
        fail(f"{key} has shape {y.shape}; labels must be one class index per image", f"store a 1-D array ({fix})")
    if len(y) != n:
        fail(f"{key} has {len(y)} labels for {n} images", "store one label per image")
    if np.issubdtype(y.dtype, np.floating):
        whole = np.isfinite(y) & (y == np.round(y))
        if not whole.all():
            i = int(np.flatnonzero(~whole)[0])
            fail(f"{key} holds the non-integral label {y[i].item()} (at {i})",
                 "labels must be class indices 0, 1, 2, …")
    elif not np.issubdtype(y.dtype, np.integer):
        fail(f"{key} has dtype {y.dtype}", "labels must be integer class indices 0, 1, 2, …")
    if y.min() < 0:
        fail(f"{key} holds the negative label {y.min()}", "labels must be class indices 0, 1, 2, …")
    if y.max() >= 2**31:
        fail(f"{key} holds the label {y.max()}", "labels must be class indices 0 … K − 1")
    return y.astype(np.int64)


def _classes(fail, a, labels, num_classes):
    """The number of classes K, after checking the labels (a dict: array name → labels) against it."""
    top = max(int(y.max()) for y in labels.values())
    if "classes" in a:
        k = len(np.atleast_1d(a["classes"]))
        if num_classes is not None and k != num_classes:
            fail(f"its classes array lists {k} classes, but the data set has {num_classes}",
                 f"use a file of the data set's {num_classes} classes")
    elif num_classes is not None:
        k = num_classes
    else:
        k = top + 1
        absent = k - len(np.unique(labels["y_train"]))
        if absent:
            fail(f"its labels go up to {top}, but {absent} of the {k} classes 0 … {top} never occur in y_train",
                 "relabel to 0 … K − 1 (np.unique(y, return_inverse=True)), or add a classes array")
    for key, y in labels.items():
        if y.max() >= k:
            fail(f"{key} holds the label {y.max()}, but the data set has {k} classes (0 … {k - 1})",
                 f"store labels 0 … {k - 1} (is this another data set, e.g. CIFAR-100 for CIFAR-10?)")
    return k


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
