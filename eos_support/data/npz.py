"""Images and labels from an ``.npz`` file (``npz:PATH``), checked before anything runs.

The paper profile can read its CIFAR-10 from such a file; :func:`validate_npz` checks shape, layout,
dtype, pixel range, finiteness, labels and size, and names the file, the problem and the fix.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .common import CIFAR10_CLASSES, CIFAR10_IMAGE, DatasetInvalid, DatasetUnavailable


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


def read_npz(path: Path, n_train: int):
    """An ``npz:`` file's splits after :func:`validate_npz`'s checks for any images: ``(x, y), test, source,
    classes``.
    """
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
        fail(
            f"x_train has {len(x)} images, fewer than the {n_train} training examples asked for",
            f"provide at least {n_train} training images",
        )
    if num_classes is not None and len(np.unique(y[:n_train])) < k:
        missing = sorted(set(range(k)) - set(np.unique(y[:n_train]).tolist()))
        fail(
            f"the first {n_train} training labels never show classes {missing} (is the file sorted by class?)",
            "shuffle the training split before saving, e.g. with a fixed np.random.default_rng(0).permutation",
        )
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
        want = (
            (
                f"N × {_shape(image_shape[1:] + image_shape[:1])} (channels last) or N × {_shape(image_shape)} "
                "(channels first)"
            )
            if image_shape
            else "N × H × W × C or N × C × H × W images, N × H × W or N × F"
        )
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
        fail(
            f"{key} has shape {x.shape}: {readings}, but the data set needs {need}",
            "store N × H × W × C (channels last) or N × C × H × W (channels first) images",
        )
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
        fail(
            f"{key} has NaN or infinite pixels in {len(bad)} of {len(x)} images (the first is image {bad[0]})",
            "drop or repair those images: one NaN would turn its feature into NaN for every image",
        )
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
            fail(
                f"{key} holds the non-integral label {y[i].item()} (at {i})", "labels must be class indices 0, 1, 2, …"
            )
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
            fail(
                f"its classes array lists {k} classes, but the data set has {num_classes}",
                f"use a file of the data set's {num_classes} classes",
            )
    elif num_classes is not None:
        k = num_classes
    else:
        k = top + 1
        absent = k - len(np.unique(labels["y_train"]))
        if absent:
            fail(
                f"its labels go up to {top}, but {absent} of the {k} classes 0 … {top} never occur in y_train",
                "relabel to 0 … K − 1 (np.unique(y, return_inverse=True)), or add a classes array",
            )
    for key, y in labels.items():
        if y.max() >= k:
            fail(
                f"{key} holds the label {y.max()}, but the data set has {k} classes (0 … {k - 1})",
                f"store labels 0 … {k - 1} (is this another data set, e.g. CIFAR-100 for CIFAR-10?)",
            )
    return k
