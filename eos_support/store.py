"""Runs stored by a key of their full configuration and the code that computes them.

A finished run lives in ``<root>/<key>.pt``; an unfinished one leaves ``<key>.partial.pt``, its last
checkpoint, from which the next call resumes. Files are written atomically (temporary file, then
rename), so an interrupt never leaves half a file; a file that cannot be read, or was written by
another version or for another configuration, is set aside and recomputed, with a warning.
"""

import hashlib
import json
import os
import tempfile
import warnings
from functools import lru_cache
from pathlib import Path

import torch

from . import __version__

FORMAT = 1
COMPUTING_MODULES = ("_checks.py", "curvature.py", "diagnostics.py", "objective.py", "store.py", "train.py")
"""The modules whose code decides a run's numbers; models and data enter the key through θ⁰ and the data."""


@lru_cache(maxsize=1)
def code_version():
    """The package version and a hash of :data:`COMPUTING_MODULES`: an edit there invalidates stored runs."""
    h = hashlib.sha256()
    for name in COMPUTING_MODULES:
        h.update((Path(__file__).parent / name).read_bytes())
    return f"{__version__}+{h.hexdigest()[:12]}"


def default_root():
    """``$EOS_RESULTS_DIR``, else ``~/.cache/eos-book/results``."""
    return Path(os.environ.get("EOS_RESULTS_DIR", Path.home() / ".cache" / "eos-book" / "results"))


def fingerprint(*tensors):
    """A short hash of tensors' contents (data, initial parameters)."""
    h = hashlib.sha256()
    for t in tensors:
        h.update(str((tuple(t.shape), str(t.dtype))).encode())
        h.update(t.detach().cpu().contiguous().view(torch.uint8).numpy().tobytes())
    return h.hexdigest()[:16]


def run_key(config):
    """The key of a configuration: a hash of its JSON with the code version and file format."""
    blob = json.dumps({"config": config, "version": code_version(), "format": FORMAT}, sort_keys=True, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()[:20]


class RunStore:
    """Reads and writes one configuration's finished run and checkpoint under ``root``."""

    def __init__(self, config, root=None):
        self.config = config
        self.key = run_key(config)
        self.root = Path(root) if root is not None else default_root()
        self.final = self.root / f"{self.key}.pt"
        self.partial = self.root / f"{self.key}.partial.pt"

    def _write(self, path, state):
        self.root.mkdir(parents=True, exist_ok=True)
        state = {**state, "config": self.config, "version": code_version(), "format": FORMAT}
        fd, tmp = tempfile.mkstemp(dir=self.root, prefix=f".{path.name}.", suffix=".tmp")
        try:
            with os.fdopen(fd, "wb") as fh:
                torch.save(state, fh)
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    def _read(self, path):
        if not path.exists():
            return None
        try:
            state = torch.load(path, map_location="cpu", weights_only=True)
            why = self._mismatch(state)
        except Exception as err:  # a truncated or corrupted file
            state, why = None, f"it cannot be read ({type(err).__name__}: {err})"
        if why is None:
            return state
        what = "checkpoint" if path == self.partial else "stored run"
        warnings.warn(f"cannot use the {what} {path}: {why}; recomputing it", stacklevel=3)
        path.replace(path.with_name(path.name + ".bad"))
        return None

    def _mismatch(self, state):
        """Why ``state`` (a file's contents) is not this configuration's run, or None."""
        if not isinstance(state, dict):
            return f"it holds a {type(state).__name__}, not a stored run"
        if state.get("format") != FORMAT:
            return f"its file format is {state.get('format')!r}, this eos_support reads {FORMAT}"
        if state.get("version") != code_version():
            return f"it was written by eos_support {state.get('version')}, this is {code_version()}"
        mine = json.loads(json.dumps(self.config, default=str))
        theirs = state.get("config")
        if theirs != mine:
            keys = sorted(k for k in set(mine) | set(theirs or {})
                          if not isinstance(theirs, dict) or theirs.get(k) != mine.get(k))
            return f"it was computed for another configuration ({', '.join(keys)} differ)"
        return None

    def load(self):
        """The finished run's state, or None."""
        return self._read(self.final)

    def load_checkpoint(self):
        """The last checkpoint of an unfinished run, or None."""
        return self._read(self.partial)

    def save_checkpoint(self, state):
        self._write(self.partial, state)

    def save(self, state):
        """Store the finished run and drop its checkpoint."""
        self._write(self.final, state)
        self.partial.unlink(missing_ok=True)
