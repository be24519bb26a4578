"""Small seeded data sets for the tests: one factory for every size, dtype and loss layout."""

from __future__ import annotations

import torch

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


def profile_loader(classes=10, features=6):
    """A stand-in for the profiles' data loader (``profiles.profile._load``): :func:`dataset` of the asked
    size and loss, whatever data set the profile names."""

    def load(name, loss, device, n_train, root=None):
        return dataset(n_train, features, classes, loss=loss)

    return load
