"""A run's history: what GD, SGD or the monitor recorded, by name, read-only, with one way to read a
periodic measurement (its values and the steps they were taken at).

Two layouts are recorded. GD keeps every-step arrays ("loss" at steps 0..T, "rp" and "ds" at 0..T−1) and
each periodic measurement compactly beside its steps ("sharpness" at "sharpness_step", "rp64" at
"float64_step", …). SGD (per epoch) and the monitor (per record) keep one row per record, its step in
"step", and NaN where a measurement was not taken. :func:`series` reads either as a :class:`Series`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

import numpy as np

PERIODIC = {
    "sharpness": ("sharpness", "sharpness_residual"),
    "profile": ("profile",),
    "float64": ("rp64", "theorem2_rp64"),
    "snapshot": ("snapshot",),
}
"""GD's periodic measurements (as the trainer schedules them) and the keys they fill."""

STEPS = {key: f"{name}_step" for name, keys in PERIODIC.items() for key in keys}
"""GD's periodic measurements and the key of the steps they were taken at (from its ``PERIODIC``)."""


@dataclass(frozen=True)
class Series:
    """A measurement's values (rows) and the steps they were taken at, in order."""

    steps: np.ndarray
    values: np.ndarray


def series(history, name) -> Series:
    """Measurement ``name`` of ``history`` (a :class:`History` or any mapping of the same layout) where it
    was taken: GD's compact periodic arrays with their steps, a record layout's finite entries with
    their "step", or an every-step array with steps 0, 1, ….
    """
    values = np.asarray(history[name])
    if name in STEPS and STEPS[name] in history:
        return Series(np.asarray(history[STEPS[name]]), values)
    if "step" in history and len(history["step"]) == len(values):
        taken = np.isfinite(values) if values.ndim == 1 else np.isfinite(values).all(axis=tuple(range(1, values.ndim)))
        return Series(np.asarray(history["step"])[taken], values[taken])
    return Series(np.arange(len(values)), values)


class History(Mapping):
    """A run's records as read-only numpy arrays by name (see the module's docstring for the layouts).

    A mapping, so ``history["loss"]`` reads as before; it cannot be changed, nor can its arrays
    (``history["loss"][0] = 1`` raises). :meth:`at` reads a periodic measurement with its steps.
    """

    __slots__ = ("_arrays",)

    def __init__(self, arrays: Mapping):
        frozen = {}
        for key, value in arrays.items():
            array = np.asarray(value).view()
            array.setflags(write=False)
            frozen[key] = array
        object.__setattr__(self, "_arrays", MappingProxyType(frozen))

    def __getitem__(self, key):
        return self._arrays[key]

    def __iter__(self):
        return iter(self._arrays)

    def __len__(self):
        return len(self._arrays)

    def __setattr__(self, name, value):
        raise AttributeError("a run's History cannot be changed")

    def __repr__(self):
        return f"History({', '.join(f'{k}{list(v.shape)}' for k, v in self._arrays.items())})"

    def at(self, name) -> Series:
        """Measurement ``name`` and the steps it was taken at (:func:`series`)."""
        return series(self, name)
