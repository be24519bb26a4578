"""Run summaries: what a chapter needs to redraw a run's figures without recomputing it.

An execution writes one ``<experiment>/<label>.npz`` per run it uses (:meth:`~eos_support.profiles.Profile.run`
does, when the
profile has a ``summaries_dir``): the run's history (every recorded series; not the snapshots of θ) and
its scalars (η, status, step of the accuracy goal, wall time, device, the trainer's options). The paper
profile's summaries are committed with its record (``book/records/paper/runs``), so that the chapters
draw the paper profile's figures beside the quick profile's without executing it (:func:`load`).
"""

from __future__ import annotations

import dataclasses
import io
import json
import re
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace

import numpy as np

from ..system import atomic_write
from ..train.history import History

_NAME = re.compile(r"[^A-Za-z0-9_.=-]+")


PARAMETERS = ("snapshot",)
"""History entries that hold parameter vectors θᵗ, not series: left out of a summary (megabytes per
snapshot at the paper's size; no figure draws them)."""


def _file_name(label: str) -> str:
    return _NAME.sub("_", label).strip("_") + ".npz"


def _plain(value):
    if dataclasses.is_dataclass(value):
        return {k: _plain(v) for k, v in dataclasses.asdict(value).items()}
    if isinstance(value, SimpleNamespace):
        value = vars(value)
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, (np.generic,)):
        return value.item()
    return value if isinstance(value, (int, float, str, bool, type(None))) else str(value)


def save(run, folder, experiment: str, label: str) -> Path:
    """Write ``run``'s summary as ``folder/experiment/<label>.npz`` (atomically) and return its path."""
    options = getattr(run, "options", None)
    meta = {
        "experiment": experiment,
        "label": label,
        "eta": float(getattr(run, "eta", None) or getattr(options, "eta", float("nan"))),
        "status": getattr(run, "status", None),
        "goal_step": getattr(run, "goal_step", None),
        "wall_s": getattr(run, "wall_s", None),
        "device": getattr(run, "device", None),
        "options": _plain(options),
    }
    arrays = {f"history.{k}": np.asarray(v) for k, v in run.history.items() if k not in PARAMETERS}
    buffer = io.BytesIO()
    np.savez_compressed(buffer, meta=np.array(json.dumps(meta)), **arrays)
    path = Path(folder) / experiment / _file_name(label)
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(path, buffer.getvalue())
    return path


@dataclass(frozen=True)
class RecordedRun:
    """A run read back from its summary: what the figures and criteria read of a live run."""

    label: str
    eta: float
    status: str | None
    goal_step: int | None
    wall_s: float | None
    device: str | None
    options: SimpleNamespace
    history: History
    source: str = "record"

    @property
    def steps(self) -> int:
        """The last recorded step (GD) or epoch (SGD)."""
        return len(self.history["loss"]) - 1


def read(path) -> RecordedRun:
    """One summary file as a :class:`RecordedRun`."""
    with np.load(path, allow_pickle=False) as data:
        meta = json.loads(str(data["meta"]))
        history = {k.removeprefix("history."): data[k] for k in data.files if k.startswith("history.")}
    options = SimpleNamespace(**(meta["options"] or {}))
    keys = ("label", "eta", "status", "goal_step", "wall_s", "device")
    return RecordedRun(**{k: meta[k] for k in keys}, options=options, history=History(history))


def load(folder, experiment: str) -> dict[str, RecordedRun]:
    """Every summary of ``experiment`` in ``folder`` by label (``{}`` when there is none)."""
    paths = sorted((Path(folder) / experiment).glob("*.npz"))
    return {run.label: run for run in map(read, paths)}
