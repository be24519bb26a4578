"""What every data source shares: where data lives, and the two ways loading can fail."""

from __future__ import annotations

import os
from pathlib import Path


class DatasetUnavailable(RuntimeError):
    """The data set is neither on disk nor downloadable from here."""


class DatasetInvalid(ValueError):
    """An ``npz:`` file that cannot be used as it stands; the message names the file, the problem
    and the fix.
    """


CIFAR10_IMAGE = (3, 32, 32)
"""(channels, height, width) of a CIFAR-10 image: what an ``npz:`` stand-in for it must hold."""
CIFAR10_CLASSES = 10


def data_dir() -> Path:
    """``$EOS_DATA_DIR``, or ``~/.cache/eos-book/data`` when it is unset."""
    return Path(os.environ.get("EOS_DATA_DIR") or Path.home() / ".cache" / "eos-book" / "data")
