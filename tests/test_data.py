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
from eos_support.data import DatasetUnavailable, available, load_dataset


@pytest.fixture
def data_dir(tmp_path, monkeypatch):
    """An empty $EOS_DATA_DIR, and no Debian Fashion-MNIST folder."""
    monkeypatch.setenv("EOS_DATA_DIR", str(tmp_path))
    monkeypatch.setattr(data, "FASHION_MNIST_SYSTEM_DIR", tmp_path / "absent")
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
    monkeypatch.setattr(data, "FASHION_MNIST_SYSTEM_DIR", data_dir / "debian")
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
    not (data.FASHION_MNIST_SYSTEM_DIR / "train-images-idx3-ubyte.gz").exists(),
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
