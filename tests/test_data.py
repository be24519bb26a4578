"""Loaders on small files written in each data set's own format; nothing is downloaded."""

import gzip
import pickle
import sys
import time
import types
import urllib.error

import numpy as np
import pytest
import torch

from eos_support import data
from eos_support.data import (
    DatasetInvalid,
    DatasetUnavailable,
    available,
    check_dataset_name,
    load_dataset,
    validate_npz,
)


@pytest.fixture
def data_dir(tmp_path, monkeypatch):
    """An empty $EOS_DATA_DIR, and no Debian Fashion-MNIST folder."""
    monkeypatch.setenv("EOS_DATA_DIR", str(tmp_path))
    monkeypatch.setattr(data.sources, "FASHION_MNIST_SYSTEM_DIR", tmp_path / "absent")
    return tmp_path


def _images(rng, n, shape):
    return rng.integers(0, 256, size=(n, *shape), dtype=np.uint8)


def write_cifar(root, n_per_batch=6, seed=0):
    """CIFAR-10's python batches (pickled dicts, rows of 3,072 channel-major bytes)."""
    rng = np.random.default_rng(seed)
    folder = root / "cifar-10-batches-py"
    folder.mkdir()
    for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
        batch = {
            "batch_label": name,
            "data": _images(rng, n_per_batch, (3072,)),
            "labels": list(rng.integers(0, 10, n_per_batch)),
        }
        with open(folder / name, "wb") as fh:
            pickle.dump(batch, fh)
    return folder


def write_idx(path, array, gz):
    header = bytes([0, 0, 8, array.ndim]) + np.asarray(array.shape, dtype=">i4").tobytes()
    with (gzip.open if gz else open)(path, "wb") as fh:
        fh.write(header + array.astype(np.uint8).tobytes())


def write_fashion(folder, n_train=20, n_test=7, gz=True, seed=0):
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    suffix = ".gz" if gz else ""
    for prefix, n in (("train", n_train), ("t10k", n_test)):
        write_idx(folder / f"{prefix}-images-idx3-ubyte{suffix}", _images(rng, n, (28, 28)), gz)
        write_idx(folder / f"{prefix}-labels-idx1-ubyte{suffix}", rng.integers(0, 10, n), gz)


def assert_standardised(x):
    std = x.std(dim=0, unbiased=False)
    assert torch.allclose(x.mean(dim=0), torch.zeros(x.shape[1], dtype=x.dtype), atol=1e-5)
    assert torch.allclose(std[std > 0], torch.ones_like(std[std > 0]), atol=1e-4)


def test_cifar_batches(data_dir):
    folder = write_cifar(data_dir)
    assert available("cifar10-5k")
    d = load_dataset("cifar10-5k", n_train=10, download=False)
    assert d.x_train.shape == (10, 3072) and d.n_features == 3072 and d.num_classes == 10
    assert d.x_test.shape == (6, 3072) and d.y_train.dtype == torch.int64
    assert_standardised(d.x_train)
    with open(folder / "data_batch_1", "rb") as fh:
        first = pickle.load(fh)
    with open(folder / "data_batch_2", "rb") as fh:
        second = pickle.load(fh)
    assert d.y_train.tolist() == (first["labels"] + second["labels"])[:10]
    raw = np.concatenate([first["data"], second["data"]])[:10] / 255.0
    expected = (raw - raw.mean(0)) / raw.std(0)
    assert np.allclose(d.x_train.numpy(), expected, atol=1e-5)


def test_fashion_idx_gz_and_raw(data_dir):
    for gz in (True, False):
        write_fashion(data_dir / "FashionMNIST" / "raw", gz=gz)
        d = load_dataset("fashion-mnist-5k", loss="mse", n_train=15, download=False)
        assert d.x_train.shape == (15, 784) and d.x_test.shape == (7, 784)
        assert d.y_train.shape == (15, 10) and d.y_train.dtype == torch.float32
        assert torch.equal(d.y_train.sum(1), torch.ones(15))
        assert_standardised(d.x_train)
        for f in (data_dir / "FashionMNIST" / "raw").iterdir():
            f.unlink()


def test_fashion_system_folder(data_dir, monkeypatch):
    monkeypatch.setattr(data.sources, "FASHION_MNIST_SYSTEM_DIR", data_dir / "debian")
    write_fashion(data_dir / "debian")
    assert available("fashion-mnist-5k")
    d = load_dataset("fashion-mnist-5k", n_train=20, dtype=torch.float64, download=False)
    assert d.x_train.dtype == torch.float64 and "debian" in d.source


def test_npz_test_split_uses_train_statistics(tmp_path):
    rng = np.random.default_rng(1)
    x = _images(rng, 12, (4, 4, 3))
    np.savez(tmp_path / "d.npz", x_train=x, y_train=np.arange(12) % 3, x_test=x[:5], y_test=[0] * 5)
    d = load_dataset(f"npz:{tmp_path / 'd.npz'}", n_train=12)
    assert d.num_classes == 3 and d.n_features == 48
    assert torch.equal(d.x_test, d.x_train[:5])
    assert torch.equal(d.y_train, torch.arange(12) % 3)
    chw = x.transpose(0, 3, 1, 2).reshape(12, -1) / 255.0
    assert np.allclose(d.x_train.numpy(), (chw - chw.mean(0)) / chw.std(0), atol=1e-5)


def test_npz_without_test_split(tmp_path):
    path = tmp_path / "d.npz"
    np.savez(path, x_train=np.random.default_rng(2).random((8, 5)), y_train=np.arange(8) % 2)
    d = load_dataset(f"npz:{path}", loss="mse", n_train=8)
    assert d.x_test is None and d.y_test is None and d.y_train.shape == (8, 2)
    assert_standardised(d.x_train)


def test_missing_data_says_what_to_put_where(data_dir):
    assert not available("cifar10-5k") and not available("fashion-mnist-5k")
    with pytest.raises(DatasetUnavailable, match="cifar-10-batches-py"):
        load_dataset("cifar10-5k", download=False)
    with pytest.raises(DatasetUnavailable, match="dataset-fashion-mnist") as info:
        load_dataset("fashion-mnist-5k", download=False)
    assert "train-images-idx3-ubyte" in str(info.value) and str(data_dir) in str(info.value)
    with pytest.raises(DatasetUnavailable, match="no such file"):
        load_dataset(f"npz:{data_dir / 'none.npz'}")


def test_failed_download_is_reported(data_dir, monkeypatch):
    def offline(*args, **kwargs):
        raise urllib.error.URLError("no network")

    datasets = types.ModuleType("torchvision.datasets")
    datasets.CIFAR10 = offline
    torchvision = types.ModuleType("torchvision")
    torchvision.datasets = datasets
    monkeypatch.setitem(sys.modules, "torchvision", torchvision)
    monkeypatch.setitem(sys.modules, "torchvision.datasets", datasets)
    with pytest.raises(DatasetUnavailable, match="could not be downloaded.*quick"):
        load_dataset("cifar10-5k")


def test_bad_arguments(data_dir):
    with pytest.raises(ValueError, match="cifar10-5k.*fashion-mnist-5k.*npz:PATH"):
        load_dataset("mnist")
    with pytest.raises(ValueError, match="valid names"):
        available("mnist")
    with pytest.raises(ValueError, match="loss"):
        load_dataset("cifar10-5k", loss="hinge")
    write_cifar(data_dir)
    with pytest.raises(ValueError, match="fewer than n_train"):
        load_dataset("cifar10-5k", n_train=31, download=False)


@pytest.mark.skipif(
    not (data.sources.FASHION_MNIST_SYSTEM_DIR / "train-images-idx3-ubyte.gz").exists(),
    reason="Debian's dataset-fashion-mnist is not installed",
)
def test_real_fashion_mnist(monkeypatch, tmp_path):
    monkeypatch.setenv("EOS_DATA_DIR", str(tmp_path))
    start = time.perf_counter()
    d = load_dataset("fashion-mnist-5k", download=False)
    print(f"Fashion-MNIST 5k loaded in {time.perf_counter() - start:.2f} s")
    assert d.x_train.shape == (5000, 784) and d.x_test.shape == (10000, 784)
    assert set(d.y_train.tolist()) == set(range(10))
    assert_standardised(d.x_train)


# -- npz: files checked before anything runs (issue 10, item 2) -----------------------------------

N_TRAIN = 20  # the "profile" of these tests: 20 training images of all 10 classes


def cifar_like(n=30, seed=3, layout="hwc"):
    """Arrays standing in for CIFAR-10: n uint8 32 × 32 RGB images, labels 0 … 9 in turn."""
    x = _images(np.random.default_rng(seed), n, (32, 32, 3))
    return dict(x_train=x if layout == "hwc" else x.transpose(0, 3, 1, 2), y_train=np.arange(n) % 10)


def save(tmp_path, **arrays):
    path = tmp_path / "c.npz"
    np.savez(path, **arrays)
    return path


def test_channels_first_images_keep_their_order(tmp_path):
    # N × 3 × 32 × 32 used to be transposed as if it were N × 32 × 32 × 3, scrambling the features.
    hwc, chw = cifar_like(layout="hwc"), cifar_like(layout="chw")
    raw = chw["x_train"].reshape(30, -1) / 255.0
    for arrays in (hwc, chw):
        d = load_dataset(f"npz:{save(tmp_path, **arrays)}", n_train=30, dtype=torch.float64)
        assert np.allclose(d.x_train.numpy(), (raw - raw.mean(0)) / raw.std(0), atol=1e-12)
    assert validate_npz(save(tmp_path, **chw), n_train=N_TRAIN).layout == "channels first"
    summary = validate_npz(save(tmp_path, **hwc), n_train=N_TRAIN)
    assert summary.layout == "channels last" and summary.image_shape == (3, 32, 32)
    assert summary.num_classes == 10 and summary.n_train == 30 and summary.n_test is None
    assert "30 training images" in str(summary) and "uint8" in str(summary)


def test_grey_images_match_a_one_channel_profile(tmp_path):
    path = save(tmp_path, x_train=_images(np.random.default_rng(0), 30, (28, 28)), y_train=np.arange(30) % 10)
    summary = validate_npz(path, n_train=N_TRAIN, image_shape=(1, 28, 28))
    assert summary.layout == "grey images" and summary.image_shape == (1, 28, 28)


def test_float_pixels_in_the_unit_interval_are_accepted(tmp_path):
    arrays = cifar_like()
    arrays["x_train"] = arrays["x_train"].astype(np.float32) / 255
    arrays["y_train"] = arrays["y_train"].astype(np.float64)  # whole numbers convert exactly
    assert validate_npz(save(tmp_path, **arrays), n_train=N_TRAIN).pixels == "float32 in [0, 1]"
    d = load_dataset(f"npz:{save(tmp_path, **arrays)}", n_train=N_TRAIN)
    assert torch.equal(d.y_train, torch.arange(N_TRAIN) % 10)


def _with(**changes):
    def change(arrays):
        for key, value in changes.items():
            arrays[key] = value(arrays) if callable(value) else value
            if value is None:
                del arrays[key]
        return arrays

    return change


rng = np.random.default_rng(7)
BAD = {
    "grey 28 x 28": (_with(x_train=_images(rng, 30, (28, 28))), "grey images .*32 × 32 × 3 .*3 × 32 × 32"),
    "ambiguous 3 x 32 x 3": (
        _with(x_train=_images(rng, 30, (3, 32, 3))),
        "channels first it holds 3 channels of 32 × 3 pixels, channels last 3 channels of 3 × 32"
        ".*needs 3 channels of 32 × 32",
    ),
    "four channels": (_with(x_train=_images(rng, 30, (32, 32, 4))), "channels last 4 channels of 32 × 32"),
    "flat 3072": (_with(x_train=_images(rng, 30, (3072,))), "flat features"),
    "float 0..255": (_with(x_train=lambda a: a["x_train"].astype(np.float32)), "in \\[0, 255\\].*divide by 255"),
    "standardised": (_with(x_train=lambda a: a["x_train"] / 255.0 - 0.5), "store the raw pixels"),
    "int64 pixels": (_with(x_train=lambda a: a["x_train"].astype(np.int64)), "int64.*x.astype\\(np.uint8\\)"),
    "NaN pixel": (
        _with(x_train=lambda a: np.where(np.arange(30)[:, None, None, None] == 4, np.nan, a["x_train"] / 255)),
        "NaN or infinite pixels in 1 of 30 images \\(the first is image 4\\)",
    ),
    "float labels": (_with(y_train=lambda a: a["y_train"] + 0.5), "non-integral label 0.5"),
    "labels 0..99": (
        _with(y_train=np.arange(30) * 3 % 100),
        "y_train holds the label 87, but the data set has 10 classes",
    ),
    "label 1e9": (
        _with(y_train=lambda a: np.where(np.arange(30) == 2, 10**9, a["y_train"])),
        "y_train holds the label 1000000000",
    ),
    "negative label": (_with(y_train=lambda a: a["y_train"] - 1), "negative label -1"),
    "one-hot labels": (_with(y_train=np.eye(10)[np.arange(30) % 10]), "argmax"),
    "fewer labels": (_with(y_train=np.arange(29) % 10), "29 labels for 30 images"),
    "three images": (_with(x_train=lambda a: a["x_train"][:3], y_train=np.arange(3)), "3 images, fewer than the 20"),
    "sorted by class": (_with(y_train=np.sort(np.arange(30) % 10)), "never show classes .*sorted by class"),
    "100 class names": (_with(classes=np.arange(100)), "lists 100 classes, but the data set has 10"),
    "x_test alone": (_with(x_test=lambda a: a["x_train"][:5]), "has x_test but no y_test"),
    "y_test alone": (_with(y_test=np.arange(5)), "has y_test but no x_test"),
    "test layout": (
        _with(x_test=_images(rng, 5, (28, 28, 1)), y_test=np.arange(5)),
        "x_test has shape \\(5, 28, 28, 1\\)",
    ),
    "test label": (_with(x_test=lambda a: a["x_train"][:5], y_test=np.arange(5) + 8), "y_test holds the label 12"),
    "no labels": (_with(y_train=None), "lacks \\['y_train'\\]"),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_bad_npz_files_are_named_with_a_fix(tmp_path, case):
    change, message = BAD[case]
    path = save(tmp_path, **change(cifar_like()))
    with pytest.raises(DatasetInvalid, match=message) as info:
        validate_npz(path, n_train=N_TRAIN)
    assert str(info.value).startswith(f"{path}: ") and "; " in str(info.value)


@pytest.mark.parametrize(
    "case",
    [
        "ambiguous 3 x 32 x 3",
        "NaN pixel",
        "float labels",
        "label 1e9",
        "negative label",
        "one-hot labels",
        "fewer labels",
        "x_test alone",
        "test label",
        "int64 pixels",
        "float 0..255",
    ],
)
def test_loading_a_bad_npz_fails_before_training(tmp_path, case):
    # The same files, loaded as a generic npz: data set (any image size, classes from the labels).
    change, message = BAD[case]
    with pytest.raises(DatasetInvalid):
        load_dataset(f"npz:{save(tmp_path, **change(cifar_like()))}", n_train=N_TRAIN)


def test_sparse_labels_do_not_make_a_billion_classes(tmp_path):
    # A label of 10⁹ used to make 10⁹ + 1 classes (and, for the squared loss, an 800 GB one-hot matrix).
    arrays = cifar_like()
    arrays["y_train"][2] = 10**9
    with pytest.raises(DatasetInvalid, match="never occur in y_train.*relabel"):
        load_dataset(f"npz:{save(tmp_path, **arrays)}", n_train=N_TRAIN)


def test_unreadable_files_are_named(tmp_path):
    text = tmp_path / "notes.npz"
    text.write_text("not an archive")
    with pytest.raises(DatasetInvalid, match="cannot be read by np.load"):
        validate_npz(text)
    single = tmp_path / "x.npy"
    np.save(single, np.zeros(3))
    with pytest.raises(DatasetInvalid, match="single .npy array"):
        validate_npz(single)
    with pytest.raises(DatasetUnavailable, match="no such file"):
        validate_npz(tmp_path / "absent.npz")


def test_a_path_without_the_npz_prefix_is_named(tmp_path):
    path = save(tmp_path, **cifar_like())
    for call in (check_dataset_name, available, load_dataset):
        with pytest.raises(ValueError, match=f"did you mean npz:{path}\\?"):
            call(str(path))
    with pytest.raises(ValueError, match="needs the path"):
        check_dataset_name("npz:")
    assert check_dataset_name(f"npz:{path}") == f"npz:{path}" and check_dataset_name("cifar10-5k") == "cifar10-5k"
    with pytest.raises(ValueError, match="valid names") as info:
        check_dataset_name("mnist")
    assert "did you mean" not in str(info.value)


def test_standardising_never_makes_nan_features():
    x = np.random.default_rng(0).random((6, 4))
    x[3, 1] = np.nan
    with pytest.raises(ValueError, match="1 of 6 images have NaN or infinite pixels \\(the first is image 3\\)"):
        data.standardise(x)


def test_a_given_folder_is_read_and_the_environment_is_not(data_dir, tmp_path):
    """``root`` (the folder the runner passes a chapter) wins over $EOS_DATA_DIR, for loading and for
    ``available``."""
    other = tmp_path / "given"
    write_fashion(other / "FashionMNIST" / "raw", gz=True)
    assert not available("fashion-mnist-5k") and available("fashion-mnist-5k", root=other)
    d = load_dataset("fashion-mnist-5k", n_train=15, download=False, root=other)
    assert str(other) in d.source
    with pytest.raises(DatasetUnavailable, match=str(data_dir)):
        load_dataset("fashion-mnist-5k", n_train=15, download=False)


def test_a_dataset_with_mismatched_targets_is_refused():
    # Accepted before: 10 inputs with 9 targets, and labels up to 9 with num_classes = 2, failed later
    # in PyTorch's loss (or not at all, with a model of 10 outputs).
    x = torch.randn(10, 3)
    with pytest.raises(ValueError, match="x_train has 10 examples but y_train 9"):
        data.Dataset(x, torch.zeros(9, dtype=torch.long), None, None, 2, "toy", "tests", 3)
    with pytest.raises(ValueError, match=r"class indices span \[0, 9\], outside \[0, num_classes = 2\)"):
        data.Dataset(x, torch.arange(10), None, None, 2, "toy", "tests", 3)
    with pytest.raises(ValueError, match="x_test and y_test must both be given"):
        data.Dataset(x, torch.zeros(10, dtype=torch.long), x, None, 2, "toy", "tests", 3)
    onehot = torch.nn.functional.one_hot(torch.arange(10) % 2, 2).float()
    assert data.Dataset(x, onehot, x[:4], onehot[:4], 2, "toy", "tests", 3).num_classes == 2
