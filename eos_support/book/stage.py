"""The staging copy of the book that ``jupyter-book`` renders: config, toc, plain pages and assets.

The executed chapters land in the same folder (:mod:`eos_support.book.runner`); only text sources live
in git, so the staged copy never holds a chapter's ``.md`` beside its executed ``.ipynb``. A marker file
(:data:`STAGED_MARKER`) tells the book's Sphinx extension that it renders this copy, not the sources.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from .toc import read_toc

SKIP_COPY = ("__pycache__", ".ipynb_checkpoints", "_build", ".jupyter_cache")

STAGED_MARKER = ".eos-book-staged"
"""Written into every staged copy: :mod:`eos_support.book.sphinx_ext` refuses to render a folder without
it (a plain ``jupyter-book build .`` of the sources would show the chapters without outputs or claims)."""


def stage(root, build_dir) -> Path:
    """Refresh ``<build_dir>/book``: config, toc and every non-notebook file of ``book/``.

    Executed notebooks already there are kept (chapters not re-executed keep their last
    output); a stale ``.md`` copy of a notebook chapter is removed.
    """
    root, staging = Path(root), Path(build_dir) / "book"
    chapters = read_toc(root)
    staging.mkdir(parents=True, exist_ok=True)
    (staging / STAGED_MARKER).write_text("staged by eos-book from " + str(root.resolve()) + "\n")
    for name in ("_config.yml", "_toc.yml"):
        shutil.copy2(root / name, staging / name)
    notebook_sources = {c.source.resolve() for c in chapters if c.notebook}
    for folder in {c.source.parent for c in chapters} | {root / "book"}:
        if not folder.is_dir():
            continue
        for path in folder.rglob("*"):
            rel = path.relative_to(root)
            if any(part in SKIP_COPY for part in rel.parts) or path.is_dir():
                continue
            if path.suffix == ".ipynb" or path.resolve() in notebook_sources:
                continue
            target = staging / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(path, target)
    static = root / "book" / "_static"
    if static.is_dir():  # Jupyter Book reads _static/ beside _config.yml
        shutil.copytree(static, staging / "_static", dirs_exist_ok=True)
    for c in chapters:
        if c.notebook:
            stale = staging / c.source.relative_to(root)
            if stale.suffix != ".ipynb":
                stale.unlink(missing_ok=True)
    return staging
