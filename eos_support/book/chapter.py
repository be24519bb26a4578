"""The one-line preamble of every chapter::

    prof, claims = chapter.start("relative_progress", profile, claims_dir, results_dir, perturbation=perturbation)

It applies the book's plot style, and returns the profile (its runs cached in ``results_dir``) and the
chapter's :class:`~eos_support.book.claims.ClaimBook`. The values come from the chapter's ``parameters``
cell, which ``eos-book`` fills through papermill; a chapter opened by hand leaves them ``None`` and then
uses the same folders as ``eos-book build`` (``_build/claims``, ``_build/results``). ``perturbation`` is
set by the robustness check alone (``eos-book robustness``): ``{"theta0": seed}`` moves every network's
initial parameters by one float32 rounding unit (:func:`eos_support.profiles.perturb`), ``{"threads": n}``
runs torch on ``n`` CPU threads, so that the chapter's trajectories differ as another CPU's would.
Every run the chapter asks its profile for leaves its summary in ``runs/`` beside the claims folder
(:mod:`eos_support.profiles.summary`): the paper profile's record commits them.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import torch

from ..figures import plots
from .. import profiles
from ..data.common import DEFAULT_DATA_DIR
from .claims import ClaimBook
from .toc import default_build_dir

PERTURBATIONS = ("theta0", "threads")


CPU_THREADS = torch.get_num_threads()
"""torch's CPU threads when the kernel started (its default, or ``OMP_NUM_THREADS``): the most a chapter uses."""


def use_threads(n, perturbation=None) -> int:
    """Run torch on ``n`` CPU threads (at most :data:`CPU_THREADS`) from here on, or on the robustness check's
    number where its ``perturbation`` sets one; returns the number set. A chapter caps small-tensor work at
    1 and lets its large runs use every core.
    """
    n = dict(perturbation or {}).get("threads", n)
    torch.set_num_threads(max(1, min(int(n), CPU_THREADS)))
    return torch.get_num_threads()


def start(
    name: str, profile: str = "quick", claims_dir=None, results_dir=None, *, threads=None, perturbation=None, data=None
):
    """``(profile, claims)`` for chapter ``name``; ``threads`` caps torch's CPU threads (small tensors).

    ``data`` says where the data sets are, as the runner found them (``{"paper": name, "dir": folder}``:
    the paper profile's data set and the folder data sets are read from; the runner reads
    ``$EOS_PAPER_DATASET`` and ``$EOS_DATA_DIR``, a chapter's kernel reads no environment variable).
    Without it, CIFAR-10 in ``~/.cache/eos-book/data``.
    """
    perturbation = dict(perturbation or {})
    unknown = set(perturbation) - set(PERTURBATIONS)
    if unknown:
        raise ValueError(f"unknown perturbation {sorted(unknown)}: the robustness check knows {PERTURBATIONS}")
    plots.style()
    if threads is not None or "threads" in perturbation:
        use_threads(threads, perturbation)
    results_dir = Path(results_dir) if results_dir is not None else default_build_dir() / "results"
    claims = ClaimBook(name, profile, claims_dir)
    data = {"paper": "cifar10-5k", "dir": DEFAULT_DATA_DIR, **(data or {})}
    prof = profiles.get(
        profile, results_dir, theta0_seed=perturbation.get("theta0"), paper_data=data["paper"], data_dir=data["dir"]
    )
    return replace(prof, summaries_dir=claims.out_dir.parent / "runs"), claims
