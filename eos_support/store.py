"""Runs stored by a key of their full configuration and the package's version.

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
from pathlib import Path

import torch

from . import __version__

FORMAT = 1


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
    """The key of a configuration: a hash of its JSON with the package version and file format."""
    blob = json.dumps({"config": config, "version": __version__, "format": FORMAT}, sort_keys=True, default=str)
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
        state = {**state, "config": self.config, "version": __version__, "format": FORMAT}
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
            ok = (
                isinstance(state, dict)
                and state.get("format") == FORMAT
                and state.get("version") == __version__
                and state.get("config") == json.loads(json.dumps(self.config, default=str))
            )
            why = "it was written by another version or for another configuration"
        except Exception as err:  # a truncated or corrupted file
            ok, why = False, f"it cannot be read ({type(err).__name__}: {err})"
        if ok:
            return state
        warnings.warn(f"recomputing {path.name}: {why}", stacklevel=3)
        path.replace(path.with_name(path.name + ".bad"))
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
