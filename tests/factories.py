"""Small seeded data sets for the tests: one factory for every size, dtype and loss layout."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import torch

from eos_support import profiles
from eos_support.data import Dataset


def dataset(
    n=32, features=6, classes=3, *, seed=0, dtype=torch.float32, loss="ce", labels=None, scale=1.0, name="tiny"
):
    """``n`` Gaussian points in ``features`` dimensions (times ``scale``) and their labels: random in
    ``range(classes)``, or ``labels(x)``; one-hot rows in ``dtype`` for a loss other than cross-entropy.
    """
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, features, generator=g, dtype=dtype)
    y = torch.randint(0, classes, (n,), generator=g) if labels is None else labels(x)
    if loss != "ce":
        y = torch.nn.functional.one_hot(y, classes).to(dtype)
    return Dataset(x * scale, y, None, None, classes, name, "random", features)


def npz_profile(folder, name="quick", n=64, features=6, classes=10, seed=0):
    """Profile ``name`` with its data from a small random ``npz:`` file written into ``folder``: the route
    by which any data set of a user's reaches a profile, so no test patches the profile's loader."""
    rng = np.random.default_rng(seed)
    path = Path(folder) / "data.npz"
    np.savez(path, x_train=rng.random((n, features)), y_train=np.arange(n) % classes)
    return dataclasses.replace(profiles.get(name), dataset=f"npz:{path}")
