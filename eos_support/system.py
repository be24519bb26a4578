"""What the package runs on: the extra a module needs beyond ``pip install eos-book``, what a result was
computed on, how it reaches the disk, and how a process ends on Ctrl-C.

The core (torch, numpy, tqdm) is all that eos_support's computations import: ``import eos_support``
and its modules of the paper's objects work with it alone. :mod:`eos_support.figures` and
:mod:`eos_support.book` (the book's runner, claims and reports) need the ``book`` extra; importing
them without it raises an :class:`ImportError` (:func:`require`) that says which packages are missing and
how to install them.
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path


def require(module: str, *packages: str, extra: str = "book") -> None:
    """Raise :class:`ImportError` naming ``extra`` if one of the import names ``packages`` is missing.

    ``module`` is the module that needs them (its ``__name__``).
    """
    missing = [name for name in packages if importlib.util.find_spec(name) is None]
    if missing:
        raise ImportError(
            f"{module} needs {', '.join(missing)}, which the {extra!r} extra of eos-book installs: "
            f'pip install "eos-book[{extra}]" (in a clone of the repository: pip install -e ".[{extra}]")',
            name=missing[0],
        )


def git_commit(root) -> str:
    """The commit checked out at ``root`` (" (with uncommitted changes)" appended where the tree differs from
    it), or "unknown" outside a git repository: where a result was computed.
    """
    try:
        out = subprocess.run(["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True, timeout=30)
        dirty = subprocess.run(["git", "status", "--porcelain"], cwd=root, capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return out.stdout.strip() + (" (with uncommitted changes)" if dirty.stdout.strip() else "") or "unknown"


def device_name(device=None) -> str:
    """``"cpu"``, or ``"cuda:<GPU name>"`` for a CUDA device (the current one when ``device`` is None
    and torch sees a GPU). Never raises: a claim or a run must be recordable without CUDA.
    """
    try:
        import torch

        device = torch.device(device) if device is not None else None
        if device is None and torch.cuda.is_available():
            device = torch.device("cuda")
        if device is not None and device.type == "cuda":
            return f"cuda:{torch.cuda.get_device_name(device)}"
        return "cpu" if device is None else device.type
    except Exception:  # noqa: BLE001 - a broken CUDA set-up still names the CPU
        return "cpu"


def atomic_write(path, data: bytes | str) -> Path:
    """Write ``data`` to ``path`` through a temporary file in the same folder and :func:`os.replace`.

    A reader sees the old file or the new one, never half of one; an interrupt leaves the old file
    in place. The folder is created if needed. Returns ``path``.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data.encode("utf-8") if isinstance(data, str) else data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


@contextlib.contextmanager
def exit_after_interrupt(grace_s: float = 20.0, code: int = 130):
    """Ctrl-C inside the block raises KeyboardInterrupt as usual, so that everything computed is saved
    on the way out, and ends the process ``grace_s`` seconds later if the clean-up it starts (a
    kernel's shutdown, a library's exit handler) has not ended it: an interrupt always ends the process.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def exit_later():
        time.sleep(grace_s)
        sys.stderr.write(f"still running {grace_s:g} s after the interrupt (a clean-up that hangs): exiting\n")
        sys.stderr.flush()
        os._exit(code)

    def interrupt(signum, frame):
        threading.Thread(target=exit_later, daemon=True, name="exit-after-interrupt").start()
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGINT, interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
