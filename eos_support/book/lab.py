"""The chapters as notebooks in JupyterLab: ``eos-book lab``.

Every chapter is a jupytext pair (``formats: ipynb,md:myst`` in its header, ``jupytext.toml``): the
``.md`` is the source that git keeps, the ``.ipynb`` beside it (ignored by git) is what JupyterLab
opens, and jupytext, a server extension of JupyterLab once installed, saves both at every save.
:func:`pair_notebooks` writes each chapter's ``.ipynb`` from its ``.md``, keeping the outputs a notebook
already has; :func:`lab_command` is the JupyterLab that ``eos-book lab`` then starts, on the repository
with ``book/`` open, so that a chapter run there writes its claims and runs where ``eos-book build``
reads them (``_build/claims``, ``_build/results``: :mod:`eos_support.book.chapter`).
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

from .toc import BookError, read_toc

MARGIN_S = 1.0
"""A notebook modified this much later than its ``.md`` holds edits that the ``.md`` lacks (jupytext's
own margin, ``outdated_text_notebook_margin``)."""


def _needs_update(source: Path, notebook: Path) -> bool:
    """Whether ``notebook`` must be (re)written from ``source``: it is missing or not newer."""
    return not notebook.is_file() or notebook.stat().st_mtime <= source.stat().st_mtime + MARGIN_S


def pair_notebooks(root, log=print) -> list[Path]:
    """Write ``book/<chapter>.ipynb`` from each notebook chapter's ``.md``; returns the notebooks.

    Inputs come from the ``.md``, outputs stay, and the notebook gets the ``.md``'s timestamp, as
    jupytext's contents manager expects of a pair. The ``.md`` is never written. A notebook newer than
    its ``.md`` (edited without jupytext) is left as it is, and ``log`` says so.
    """
    from jupytext.cli import jupytext

    notebooks = []
    for page in (p for p in read_toc(root) if p.notebook and p.source.suffix == ".md"):
        notebook = page.source.with_suffix(".ipynb")
        if _needs_update(page.source, notebook):
            jupytext(["--to", "ipynb", "--update", "--use-source-timestamp", "--quiet", str(page.source)])
        else:
            log(
                f"[eos-book] {notebook} is newer than {page.source.name}: left as it is (open it in "
                "JupyterLab, whose jupytext saves both, or run 'jupytext --sync' on it)"
            )
        notebooks.append(notebook)
    return notebooks


def require_jupyterlab() -> None:
    """Raise :class:`BookError` saying how to install JupyterLab, if it is not installed."""
    if importlib.util.find_spec("jupyterlab") is None:
        raise BookError(
            'JupyterLab is not installed: pip install -e ".[notebook]" (the notebook extra '
            "brings JupyterLab with the book's packages)"
        )


def lab_command(root, extra=()) -> list[str]:
    """The JupyterLab command line of ``eos-book lab``, with ``extra`` options (``--no-browser``, ``--port``).

    JupyterLab serves the repository ``root``, where ``jupytext.toml`` is, and opens on ``book/``.
    """
    return [
        sys.executable,
        "-m",
        "jupyterlab",
        f"--ServerApp.root_dir={Path(root).resolve()}",
        "--ContentsManager.preferred_dir=book",
        *extra,
    ]
