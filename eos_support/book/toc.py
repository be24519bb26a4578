"""The book's table of contents: which pages ``_toc.yml`` lists, which of them are executed notebooks.

The chapters are jupytext MyST-markdown notebooks under ``book/`` listed in ``_toc.yml`` (Jupyter Book
1.x, ``jb-book``); plain pages are copied as they are.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

SCORECARD = "scorecard"
"""The chapter that tabulates every claim; always executed last."""


class BookError(Exception):
    """A problem with the book's files or the request (bad chapter name, missing file)."""


@dataclass(frozen=True)
class Page:
    """One page of ``_toc.yml``: ``name`` (file stem), ``docname`` (toc entry), ``source``."""

    name: str
    docname: str
    source: Path
    notebook: bool
    """Whether the page is a jupytext notebook (executed) rather than a plain page (copied)."""


# ---------------------------------------------------------------------------------------
# The book's files


def find_root(start=None) -> Path:
    """The project folder: the first at or above ``start`` (default: cwd) with ``_toc.yml``
    and ``_config.yml``. Raises :class:`BookError` if there is none.
    """
    here = Path(start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        if (folder / "_toc.yml").is_file() and (folder / "_config.yml").is_file():
            return folder
    raise BookError(
        f"no _toc.yml and _config.yml in {here} or above it: run eos-book inside the "
        "eos-book repository, or pass --root"
    )


def default_build_dir() -> Path:
    """``_build`` in the project: the first folder at or above the current one with ``pyproject.toml`` and
    ``_toc.yml`` (the repository root), else in the current folder. ``eos-book`` uses the same by default.
    """
    here = Path.cwd().resolve()
    for folder in (here, *here.parents):
        if (folder / "pyproject.toml").is_file() and (folder / "_toc.yml").is_file():
            return folder / "_build"
    return here / "_build"


def _toc_files(entries, out):
    for entry in entries or []:
        if not isinstance(entry, dict):
            raise BookError(f"_toc.yml: unexpected entry {entry!r}")
        if "glob" in entry:
            raise BookError("_toc.yml: 'glob' entries are not supported; list each file")
        if "file" in entry:
            out.append(str(entry["file"]))
        for key in ("chapters", "sections", "parts"):
            _toc_files(entry.get(key), out)
    return out


def _is_notebook(path: Path) -> bool:
    """Whether ``path`` is a notebook: an .ipynb, or text with a jupytext/kernelspec header."""
    if path.suffix == ".ipynb":
        return True
    if path.suffix != ".md":
        return False
    text = path.read_text(encoding="utf-8")
    if not text.startswith("---"):
        return False
    end = text.find("\n---", 3)
    header = text[3:end] if end > 0 else ""
    import yaml

    try:
        meta = yaml.safe_load(header) or {}
    except yaml.YAMLError as error:
        raise BookError(f"{path}: the YAML front matter does not parse: {error}") from error
    return isinstance(meta, dict) and ("jupytext" in meta or "kernelspec" in meta)


def docnames(root) -> list[str]:
    """The toc entries of ``root/_toc.yml`` in order (``book/intro``, ...), files not checked."""
    import yaml

    root = Path(root)
    try:
        toc = yaml.safe_load((root / "_toc.yml").read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as error:
        raise BookError(f"cannot read {root / '_toc.yml'}: {error}") from error
    if not isinstance(toc, dict) or "root" not in toc:
        raise BookError(f"{root / '_toc.yml'} must have a 'root:' entry (format: jb-book)")
    entries = [str(toc["root"])] + _toc_files([{"chapters": toc.get("chapters"), "parts": toc.get("parts")}], [])
    return [str(Path(e).with_suffix("")) if Path(e).suffix in (".md", ".ipynb") else e for e in entries]


def read_toc(root) -> list[Page]:
    """The pages of ``root/_toc.yml`` in order; a listed file that is missing raises
    :class:`BookError` naming it.
    """
    root = Path(root)
    pages, seen = [], set()
    for docname in docnames(root):
        stem = Path(docname)
        candidates = [root / f"{stem}{s}" for s in (".md", ".ipynb")]
        source = next((c for c in candidates if c.is_file()), None)
        if source is None:
            raise BookError(f"_toc.yml lists {docname!r} but {candidates[0].relative_to(root)} does not exist")
        if stem.name in seen:
            raise BookError(f"_toc.yml lists two pages named {stem.name!r}; names must be unique")
        seen.add(stem.name)
        pages.append(Page(stem.name, str(stem), source, _is_notebook(source)))
    return pages


def select(chapters, names=None) -> list[Page]:
    """The notebook chapters named in ``names`` (stem, ``book/stem`` or ``book/stem.md``), in
    toc order with the scorecard last; all of them when ``names`` is empty. When some are
    named, the scorecard is added so that it reflects the new claims. Unknown names raise
    :class:`BookError` listing the valid ones.
    """
    notebooks = [c for c in chapters if c.notebook]
    by_name = {c.name: c for c in notebooks}
    if names:
        wanted = []
        for raw in names:
            name = Path(raw).name
            for suffix in (".md", ".ipynb"):
                name = name.removesuffix(suffix)
            if name not in by_name:
                pages = sorted(c.name for c in chapters if not c.notebook)
                hint = f" ({', '.join(pages)} are plain pages, not executed)" if pages else ""
                raise BookError(f"unknown chapter {raw!r}; valid chapters: {', '.join(by_name) or '(none)'}" + hint)
            wanted.append(name)
        if SCORECARD in by_name:
            wanted.append(SCORECARD)
        chosen = [c for c in notebooks if c.name in wanted]
    else:
        chosen = list(notebooks)
    return sorted(chosen, key=lambda c: c.name == SCORECARD)


def toc_order(start=None) -> dict[str, int]:
    """Each toc entry's position by page name (read from _toc.yml alone: pages need not exist yet)."""
    try:
        return {Path(d).name: i for i, d in enumerate(docnames(find_root(start)))}
    except BookError:
        return {}
