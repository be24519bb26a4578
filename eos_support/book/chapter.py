"""The one-line preamble of every chapter::

    prof, claims = chapter.start("relative_progress", profile, claims_dir, results_dir)

It applies the book's plot style, and returns the profile (its runs cached in ``results_dir``) and the
chapter's :class:`~eos_support.book.claims.ClaimBook`. The three values come from the chapter's
``parameters`` cell, which ``eos-book`` fills through papermill; a chapter opened by hand leaves them
``None`` and then uses the same folders as ``eos-book build`` (``_build/claims``, ``_build/results``).
"""

from __future__ import annotations

from pathlib import Path

from .. import plots, profiles
from .claims import ClaimBook
from .toc import default_build_dir


def start(name: str, profile: str = "quick", claims_dir=None, results_dir=None, *, threads: int | None = None):
    """``(profile, claims)`` for chapter ``name``; ``threads`` caps torch's CPU threads (small tensors)."""
    plots.style()
    if threads is not None:
        import torch

        torch.set_num_threads(min(threads, torch.get_num_threads()))
    results_dir = Path(results_dir) if results_dir is not None else default_build_dir() / "results"
    return profiles.get(profile, results_dir), ClaimBook(name, profile, claims_dir)
