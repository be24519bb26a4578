"""Standalone notebooks of the chapters, for Colab: ``eos-book notebooks --out DIR``.

Git keeps the chapters as MyST Markdown only; Colab opens ``.ipynb`` files from GitHub. For each notebook
chapter of ``_toc.yml``, :func:`write_notebooks` writes ``DIR/book/<chapter>.ipynb`` (the path of the
chapter's source, so the Colab button's ``book/<chapter>.ipynb`` finds it on the branch the notebooks are
published to), converted with jupytext, unpaired, and with one cell added in front: on Colab it installs
eos-book from the repository (:func:`package_requirement`), anywhere else it does nothing. That cell is
tagged ``remove-cell``, hidden wherever the notebook is rendered; the chapter's ``parameters`` cell stays,
so that papermill can still set the profile.
"""

from __future__ import annotations

from pathlib import Path

from ..system import atomic_write
from .notebook import HIDE_TAG
from .toc import BookError, Page, read_toc

INSTALL_CELL = """\
# On Google Colab this cell installs eos-book, the book's package; anywhere else it does nothing.
# The paper profile wants a GPU: Runtime > Change runtime type, then set profile = "paper" below.
import sys

if "google.colab" in sys.modules:
    import subprocess

    requirement = "{requirement}"
    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", requirement], check=True)"""
"""The first cell of every generated notebook; ``{requirement}`` is what pip installs."""


def package_requirement(root, ref=None) -> str:
    """``eos-book[book] @ git+<repository.url>@<ref>``, read from ``_config.yml``.

    ``ref`` (a branch, tag or commit) defaults to ``repository.branch``.
    """
    import yaml

    config = yaml.safe_load((Path(root) / "_config.yml").read_text(encoding="utf-8")) or {}
    repository = config.get("repository") or {}
    if not repository.get("url"):
        raise BookError(
            f"{Path(root) / '_config.yml'} has no repository.url: the notebooks would not know "
            "where to install eos-book from"
        )
    return f"eos-book[book] @ git+{repository['url']}@{ref or repository.get('branch', 'main')}"


def colab_notebook(page: Page, requirement: str):
    """Chapter ``page`` as a standalone notebook whose first cell installs ``requirement`` on Colab."""
    import jupytext
    import nbformat

    nb = jupytext.read(page.source)
    nb.metadata.pop("jupytext", None)  # not paired with anything
    nb.metadata.setdefault("kernelspec", {"name": "python3", "display_name": "Python 3", "language": "python"})
    install = nbformat.v4.new_code_cell(INSTALL_CELL.format(requirement=requirement), metadata={"tags": [HIDE_TAG]})
    nb.cells.insert(0, install)
    return nb


def write_notebooks(root, out, ref=None) -> list[Path]:
    """Write every notebook chapter of ``root`` as ``out/<its path>.ipynb``; returns the notebooks written.

    ``out`` must not be the repository itself, where the chapters' paired notebooks live.
    """
    import nbformat

    root, out = Path(root).resolve(), Path(out).resolve()
    requirement = package_requirement(root, ref)
    written = []
    for page in (p for p in read_toc(root) if p.notebook):
        target = out / page.source.relative_to(root).with_suffix(".ipynb")
        if target == page.source.with_suffix(".ipynb"):
            raise BookError(
                f"{target} is the chapter's own notebook, paired with its .md: pass --out another "
                "folder than the repository"
            )
        nb = colab_notebook(page, requirement)
        nbformat.validate(nb)
        atomic_write(target, nbformat.writes(nb))
        written.append(target)
    return written
