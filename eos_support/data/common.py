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


DEFAULT_DATA_DIR = Path.home() / ".cache" / "eos-book" / "data"
"""Where data sets are read and downloaded when neither a folder nor ``$EOS_DATA_DIR`` says otherwise."""


def data_dir(root=None) -> Path:
    """``root`` when given (the runner passes the chapters their folder this way), else ``$EOS_DATA_DIR``,
    else ``~/.cache/eos-book/data`` (``DEFAULT_DATA_DIR``).
    """
    if root is not None:
        return Path(root).expanduser()
    return Path(os.environ.get("EOS_DATA_DIR") or DEFAULT_DATA_DIR)
