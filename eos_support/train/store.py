"""Runs stored by a key of everything that decides their numbers, and resumed from checkpoints.

A finished run lives in ``<root>/<key>.pt``; an unfinished one leaves ``<key>.partial.pt``, its last
checkpoint, from which the next call resumes. Files are written atomically, so an interrupt never
leaves half a file; a file that cannot be read, or was written by other code or for another
configuration, is set aside (``.bad``) and recomputed, with a warning.

The key covers the trainer's options, θ⁰, the data, the loss, the package's computing code, the
model's code (the source files of its module classes and their plain attributes) and the model's
behaviour: the exact bits of f(θ⁰) and ∇f(θ⁰) on the training data, which change with anything that
changes what the model computes (a helper that ``forward()`` calls, a method replaced on the class, a
class defined twice in one file), also where the source file does not show it. What cannot be keyed
safely (a callable loss, an attribute that prints as a memory address) raises
:class:`UncacheableError`: such a run is computed, never cached.
"""

from __future__ import annotations

import ast
import hashlib
import inspect
import io
import json
import os
import re
import warnings
from functools import lru_cache
from pathlib import Path

import torch
from torch.func import grad_and_value

from .. import __version__
from ..diagnostics.objective import LOSSES
from ..system import atomic_write

FORMAT = 2
PACKAGE = Path(__file__).parents[1]
COMPUTING_MODULES = (
    "checks.py",
    "diagnostics/curvature.py",
    "diagnostics/gd.py",
    "diagnostics/theorem2.py",
    "diagnostics/sgd.py",
    "diagnostics/objective.py",
    "train/store.py",
    "train/__init__.py",
    "train/loop.py",
    "train/gd.py",
    "train/sgd.py",
    "train/monitored.py",
    "train/history.py",
    "diagnostics/along.py",
    "monitor/edge_monitor.py",
    "monitor/probe.py",
    "monitor/thresholds.py",
    "monitor/distributed.py",
)
"""The modules whose code decides a run's numbers; the model's own code enters through :func:`model_key`."""


class UncacheableError(ValueError):
    """The run cannot be keyed safely, so a cached copy could be stale: compute it with ``cache=None``."""


def _code(path: Path) -> str:
    """A module's code without its docstrings and comments (its syntax tree): what decides what it computes."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    for node in ast.walk(tree):
        body = getattr(node, "body", None)
        if (
            isinstance(body, list)
            and body
            and isinstance(body[0], ast.Expr)
            and isinstance(body[0].value, ast.Constant)
            and isinstance(body[0].value.value, str)
        ):
            node.body = body[1:] or [ast.Pass()]
    return ast.dump(tree)


@lru_cache(maxsize=1)
def code_version() -> str:
    """The package version and a hash of :data:`COMPUTING_MODULES`' code: an edit of what they compute
    invalidates stored runs; an edit of a docstring or a comment does not.
    """
    h = hashlib.sha256()
    for name in COMPUTING_MODULES:
        h.update(_code(PACKAGE / name).encode())
    return f"{__version__}+{h.hexdigest()[:12]}"


def default_root() -> Path:
    """``$XDG_CACHE_HOME/eos-book/runs`` (``~/.cache/eos-book/runs`` when the variable is unset)."""
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "eos-book" / "runs"


def cache_root(cache) -> Path | None:
    """Where a trainer caches: None or False for nowhere, True for :func:`default_root`, else the folder."""
    if cache is None or cache is False:
        return None
    if cache is True:
        return default_root()
    if isinstance(cache, (str, os.PathLike)):
        return Path(cache).expanduser()
    raise ValueError(f"cache must be None (no caching), True (the default folder) or a folder, got {cache!r}")


def fingerprint(*tensors) -> str:
    """A short hash of tensors' contents (data, initial parameters)."""
    h = hashlib.sha256()
    for t in tensors:
        h.update(str((tuple(t.shape), str(t.dtype))).encode())
        h.update(t.detach().cpu().contiguous().reshape(-1).view(torch.uint8).numpy().tobytes())
    return h.hexdigest()[:16]


_ADDRESS = re.compile(r" at 0x[0-9a-fA-F]+")
_PLAIN = (bool, int, float, str, bytes, type(None))


def _attribute_key(owner, name, value):
    """A module attribute as text for the key; raises :class:`UncacheableError` when it has no stable text."""
    if isinstance(value, torch.Tensor):
        return f"tensor:{fingerprint(value)}"
    if isinstance(value, _PLAIN) or (isinstance(value, (tuple, list)) and all(isinstance(v, _PLAIN) for v in value)):
        return repr(value)
    text = repr(value)
    if _ADDRESS.search(text):
        raise UncacheableError(
            f"the attribute {owner}.{name} prints as {text!r}, a memory address: it cannot key "
            "a cached run. Pass cache=None, or keep the attribute a number, string or tensor"
        )
    return text


def _class_source(cls) -> str:
    """The source file of a user's module class (torch's own classes are keyed by torch's version).

    A class defined at an interactive prompt has no file to read: its behaviour (:func:`behaviour`) keys it.
    """
    if cls.__module__.split(".")[0] == "torch":
        return f"{cls.__module__}.{cls.__qualname__}@torch {torch.__version__}"
    try:
        return hashlib.sha256(Path(inspect.getsourcefile(cls)).read_bytes()).hexdigest()[:16]
    except (TypeError, OSError):
        return "source not readable"


def model_key(model: torch.nn.Module) -> str:
    """A hash of the model's code and configuration: for every submodule, its class's source file, its
    ``extra_repr``, its parameters' names and shapes, its plain attributes (a hyper-parameter kept as
    ``self.scale = 2`` included) and its buffers' contents. Parameter values enter the key through θ⁰.
    """
    h = hashlib.sha256()
    for path, module in model.named_modules():
        for cls in type(module).__mro__:
            if cls is torch.nn.Module or not issubclass(cls, torch.nn.Module):
                continue
            h.update(f"{path}:{cls.__qualname__}:{_class_source(cls)}".encode())
        h.update(f"{path}({module.extra_repr()})".encode())
        for name, param in module._parameters.items():
            h.update(f"{path}.{name}:{None if param is None else tuple(param.shape)}".encode())
        for name, value in sorted(vars(module).items()):
            if not name.startswith("_"):
                h.update(f"{path}.{name}={_attribute_key(type(module).__qualname__, name, value)}".encode())
        for name, buffer in module.named_buffers(recurse=False):
            h.update(f"{path}.{name}:{fingerprint(buffer)}".encode())
    return h.hexdigest()[:16]


def loss_key(loss) -> str:
    """The loss's name; a callable loss cannot be keyed (its closure and globals may change unseen)."""
    if isinstance(loss, str):
        return loss
    raise UncacheableError(
        f"a callable loss ({loss!r}) cannot key a cached run: use one of {LOSSES}, or pass cache=None"
    )


def behaviour(f, theta) -> str:
    """A hash of the exact bits of f(θ) and ∇f(θ): what the model computes, in one gradient.

    Beside :func:`model_key`'s source files, it tells apart models that compute something else from the
    same source (a helper edited and re-run, a second class of the same name, a replaced ``forward``).
    """
    g, value = grad_and_value(f)(theta)
    return fingerprint(value, g)


def run_key(config) -> str:
    """The key of a configuration: a hash of its JSON with the code version and file format."""
    blob = json.dumps({"config": config, "version": code_version(), "format": FORMAT}, sort_keys=True, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()[:20]


class RunStore:
    """Reads and writes one configuration's finished run and checkpoint under ``root``."""

    def __init__(self, config, root):
        self.config = json.loads(json.dumps(config, default=str))
        self.key = run_key(config)
        self.root = Path(root)
        self.final = self.root / f"{self.key}.pt"
        self.partial = self.root / f"{self.key}.partial.pt"

    def _write(self, path, state):
        buffer = io.BytesIO()
        torch.save({**state, "config": self.config, "version": code_version(), "format": FORMAT}, buffer)
        atomic_write(path, buffer.getvalue())

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
        theirs = state.get("config")
        if theirs != self.config:
            keys = sorted(
                k
                for k in set(self.config) | set(theirs or {})
                if not isinstance(theirs, dict) or theirs.get(k) != self.config.get(k)
            )
            return f"it was computed for another configuration ({', '.join(keys)} differ)"
        return None

    def load(self):
        """The finished run's state, or None."""
        return self._read(self.final)

    def load_checkpoint(self):
        """The last checkpoint of an unfinished run, or None."""
        return self._read(self.partial)

    def save_checkpoint(self, state):
        """Store the unfinished run's checkpoint (atomically; it replaces the previous one)."""
        self._write(self.partial, state)

    def save(self, state):
        """Store the finished run and drop its checkpoint."""
        self._write(self.final, state)
        self.partial.unlink(missing_ok=True)
