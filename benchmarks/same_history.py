#!/usr/bin/env python
"""Does a change of the trainer or the solver leave a GD run's history as it was? Compare with a git ref.

    python benchmarks/same_history.py [REF]          # REF defaults to main

Runs one small ``train_gd`` run with every periodic record switched on (sharpness, τ-profiles, float64,
snapshots) under this checkout's ``eos_support`` and under REF's (``git archive`` into a temporary
folder), each in a fresh process on the CPU, and prints, per history key, whether the two are
bit-identical or how far apart they are. Exit status 1 when a key other than the sharpness and its
error bound differs, or the sharpness differs by more than the run's tolerance (1e-4, relative).
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
RUN = """
import sys, numpy as np, torch
sys.path.insert(0, {bench!r})
from reference import synthetic_data
from eos_support.data import Dataset
from eos_support.train.models import fully_connected
from eos_support.train import train_gd
torch.set_num_threads(1)
x, y = synthetic_data(300, 100, 10)
data = Dataset(x, y, None, None, 10, "synthetic-300x100", "synthetic", 100)
model = fully_connected(100, depth=2, width=50, activation="tanh", num_classes=10, seed=0)
run = train_gd(model, data, "ce", eta=0.5, max_steps=60, sharpness_every=10, profile_every=15, taus=(0.25, 0.5, 1.0),
               float64_every=20, snapshot_every=10, progress=False)
np.savez({out!r}, theta=run.theta.numpy(), **run.history)
"""
MAY_CHANGE = {"sharpness": 1e-4, "sharpness_residual": None}


def history(package_root, out):
    code = RUN.format(bench=str(REPO / "benchmarks"), out=str(out))
    env = {"PYTHONPATH": str(package_root), "PATH": ""}  # run in out's folder: "-c" puts the cwd on sys.path
    subprocess.run([sys.executable, "-c", code], check=True, env=env, cwd=out.parent)
    return np.load(out)


def main(ref="main"):
    with tempfile.TemporaryDirectory() as tmp:
        old_root = Path(tmp) / "ref"
        old_root.mkdir()
        archive = subprocess.run(["git", "archive", ref, "eos_support"], cwd=REPO, check=True, capture_output=True)
        subprocess.run(["tar", "-x", "-C", str(old_root)], input=archive.stdout, check=True)
        old, new = history(old_root, Path(tmp) / "old.npz"), history(REPO, Path(tmp) / "new.npz")
        ok = set(old.files) == set(new.files)
        for key in sorted(set(old.files) | set(new.files)):
            if key not in old.files or key not in new.files:
                print(f"{key}: only in {'this checkout' if key in new.files else ref}")
                continue
            if np.array_equal(old[key], new[key], equal_nan=True):
                print(f"{key}: bit-identical")
                continue
            rel = float(np.nanmax(np.abs(old[key] - new[key]) / np.abs(old[key])))
            allowed = MAY_CHANGE.get(key, 0.0)
            ok &= key in MAY_CHANGE and (allowed is None or rel <= allowed)
            print(f"{key}: differs, max rel. diff. {rel:.1e}" + (" (allowed)" if key in MAY_CHANGE else ""))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:]))
