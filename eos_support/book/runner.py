"""The book's runner: stage, execute (papermill) and render (Jupyter Book 1.x) the chapters.

The chapters are jupytext MyST-markdown notebooks under ``book/`` listed in ``_toc.yml``;
only those text files live in git. :func:`execute` writes a *staging copy* of the book to
``<build>/book/``: ``_config.yml``, ``_toc.yml``, the plain pages and other files of
``book/`` copied as they are, and each notebook chapter converted with jupytext and executed
with papermill into ``<build>/book/book/<name>.ipynb`` (no ``.md`` beside it, so Jupyter
Book never sees two sources for one page). :func:`render` then runs ``jupyter-book build``
on that copy with execution off, so the HTML shows exactly what was executed and checked.

Folders under ``<build>`` (default ``_build`` in the project root):

- ``book/``      the staged book; its HTML lands in ``book/_build/html``
- ``claims/``    one JSON file of claim records per chapter (:mod:`eos_support.book.claims`)
- ``results/``   the chapters' run cache (``eos-book --results-dir`` moves it)
- ``timings.json`` wall time, device, profile and status of each chapter's last execution

Every notebook chapter receives the papermill parameters ``profile``, ``claims_dir`` and
``results_dir`` (its first code cell, tagged ``parameters``, must define them); the
scorecard chapter, executed last, also gets ``timings_path``. Parameters are the only channel:
nothing reaches a chapter through the environment.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import json
import os
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from ..profiles import NAMES as PROFILES
from ..system import atomic_write, device_name
from .report import load_json
from .toc import SCORECARD, BookError, Page, find_root, read_toc, select

DEFAULT_TIMEOUT_S = 1800
"""Per-cell execution limit, generous: the paper profile trains networks in single cells."""
INJECTED_TAG = "injected-parameters"
HIDE_TAG = "remove-cell"


@dataclass
class ChapterResult:
    """How one chapter's execution went."""

    chapter: str
    ok: bool
    seconds: float
    started: float = 0.0
    """When the execution started (seconds since the epoch)."""
    output: Path | None = None
    cell: int | None = None
    """1-based position of the failing cell among the chapter's own cells."""
    line: int | None = None
    """Line of the failing cell in the chapter's ``.md`` source, when found."""
    cell_source: str | None = None
    error: str | None = None
    warnings: list[str] = field(default_factory=list)

    def describe(self) -> str:
        """One or two lines naming the chapter, the failing cell and the error."""
        if self.ok:
            return f"{self.chapter}: ok ({self.seconds:.1f} s)"
        where = []
        if self.cell is not None:
            where.append(f"cell {self.cell}")
        if self.line is not None:
            where.append(f"line {self.line} of its .md")
        head = f"{self.chapter}: FAILED" + (f" at {', '.join(where)}" if where else "")
        text = head + f": {self.error}"
        if self.cell_source:
            text += f"\n    > {self.cell_source}"
        return text


# ---------------------------------------------------------------------------------------
# Staging and execution


_SKIP_COPY = ("__pycache__", ".ipynb_checkpoints", "_build", ".jupyter_cache")


def stage(root, build_dir) -> Path:
    """Refresh ``<build_dir>/book``: config, toc and every non-notebook file of ``book/``.

    Executed notebooks already there are kept (chapters not re-executed keep their last
    output); a stale ``.md`` copy of a notebook chapter is removed.
    """
    root, staging = Path(root), Path(build_dir) / "book"
    chapters = read_toc(root)
    staging.mkdir(parents=True, exist_ok=True)
    for name in ("_config.yml", "_toc.yml"):
        shutil.copy2(root / name, staging / name)
    notebook_sources = {c.source.resolve() for c in chapters if c.notebook}
    for folder in {c.source.parent for c in chapters} | {root / "book"}:
        if not folder.is_dir():
            continue
        for path in folder.rglob("*"):
            rel = path.relative_to(root)
            if any(part in _SKIP_COPY for part in rel.parts) or path.is_dir():
                continue
            if path.suffix == ".ipynb" or path.resolve() in notebook_sources:
                continue
            target = staging / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(path, target)
    static = root / "book" / "_static"
    if static.is_dir():  # Jupyter Book reads _static/ beside _config.yml
        shutil.copytree(static, staging / "_static", dirs_exist_ok=True)
    _stage_mathjax(root, staging)
    for c in chapters:
        if c.notebook:
            stale = staging / c.source.relative_to(root)
            if stale.suffix != ".ipynb":
                stale.unlink(missing_ok=True)
    return staging


MATHJAX_ENTRY = "tex-mml-chtml.js"


def _local_mathjax(root: Path) -> Path | None:
    """A local MathJax 3 ``es5`` folder: ``$EOS_MATHJAX_DIR``, or ``ROOT/node_modules/mathjax/es5``
    (``npm install mathjax@3``); None when there is none (the HTML then loads MathJax's CDN)."""
    for folder in (os.environ.get("EOS_MATHJAX_DIR"), root / "node_modules" / "mathjax" / "es5"):
        if folder and (Path(folder) / MATHJAX_ENTRY).is_file():
            return Path(folder)
    return None


def _stage_mathjax(root: Path, staging: Path) -> None:
    """Serve MathJax from the book itself when a local copy exists, so that the HTML renders
    its math offline: the copy goes to ``html/mathjax/`` (``html_extra_path``, not ``_static``,
    where Jupyter Book would load every .js file on every page) and the staged ``_config.yml``
    points ``mathjax_path`` at it."""
    import yaml

    source = _local_mathjax(root)
    if source is None:
        return
    target = staging / "_mathjax" / "mathjax"
    if not (target / MATHJAX_ENTRY).is_file():
        shutil.copytree(source, target, dirs_exist_ok=True)
    config_path = staging / "_config.yml"
    config = yaml.safe_load(config_path.read_text(encoding="utf-8")) or {}
    sphinx_config = config.setdefault("sphinx", {}).setdefault("config", {})
    sphinx_config["html_extra_path"] = list(sphinx_config.get("html_extra_path", [])) + ["_mathjax"]
    sphinx_config["mathjax_path"] = f"../mathjax/{MATHJAX_ENTRY}"  # relative to _static/
    excluded = list(config.get("exclude_patterns", []))
    config["exclude_patterns"] = excluded + ["_mathjax"]
    config_path.write_text(yaml.safe_dump(config, sort_keys=False, allow_unicode=True),
                           encoding="utf-8")


def _to_notebook(chapter: Page):
    import jupytext

    nb = jupytext.read(chapter.source)
    nb.metadata.setdefault(
        "kernelspec", {"name": "python3", "display_name": "Python 3", "language": "python"}
    )
    nb.metadata.pop("jupytext", None)  # the staged .ipynb is not paired with anything
    return nb


@contextlib.contextmanager
def _chapter_lock(build_dir: Path, name: str, log):
    """Serialise executions of one chapter across processes (``fcntl.flock``)."""
    locks = build_dir / "locks"
    locks.mkdir(parents=True, exist_ok=True)
    with open(locks / f"{name}.lock", "w") as fh:
        try:
            import fcntl
        except ImportError:  # pragma: no cover - not POSIX
            yield
            return
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            log(f"{name}: another eos-book process is executing it; waiting for it to finish")
            fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def _cell_status(cell) -> str | None:
    return cell.get("metadata", {}).get("papermill", {}).get("status")


def _tags(cell) -> list:
    return cell.setdefault("metadata", {}).setdefault("tags", [])


def _own_cells(nb):
    """The chapter's own cells: without papermill's injected-parameters and error cells."""
    return [
        c
        for c in nb.cells
        if INJECTED_TAG not in _tags(c) and "papermill-error-cell-tag" not in _tags(c)
    ]


def _hide_injected(nb) -> None:
    """Tag papermill's injected-parameters cell ``remove-cell``, and the chapter's own
    ``parameters`` cell too when one was injected (its defaults no longer apply)."""
    injected = any(INJECTED_TAG in _tags(cell) for cell in nb.cells)
    for cell in nb.cells:
        tags = _tags(cell)
        hide = INJECTED_TAG in tags or (injected and "parameters" in tags)
        if hide and HIDE_TAG not in tags:
            tags.append(HIDE_TAG)


WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"


def _drop_widget_state(nb) -> None:
    """Make the page static: a widget needs a kernel to do anything, and its saved state makes
    myst-nb load require.js and the widget manager from CDNs on the page (failing offline with
    console errors). Drop the state, and show a widget's output as a pointer to the launch
    buttons; the chapter's figures are the static version."""
    nb.metadata.pop("widgets", None)
    for cell in nb.cells:
        for output in cell.get("outputs", []):
            data = output.get("data")
            if isinstance(data, dict) and WIDGET_VIEW in data:
                output["data"] = {
                    "text/plain": "(an interactive widget: launch this page as a notebook, "
                    "with the rocket button at the top, to use it)"
                }


def _error_line(text: str, limit: int = 300) -> str:
    text = " ".join(str(text).strip().splitlines()[:1]) if text else ""
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _locate_failure(result: ChapterResult, nb, chapter: Page) -> None:
    """Fill ``result.cell``, ``line``, ``cell_source`` and (if missing) ``error`` from ``nb``."""
    cells = _own_cells(nb)
    failed = None
    for cell in cells:
        if cell.get("cell_type") != "code":
            continue
        errors = [o for o in cell.get("outputs", []) if o.get("output_type") == "error"]
        if errors or _cell_status(cell) in ("failed", "running"):
            failed = cell
            if errors and not result.error:
                result.error = _error_line(f"{errors[0].get('ename')}: {errors[0].get('evalue')}")
            break
    if failed is None and result.error and result.error.startswith("DeadKernelError"):
        # papermill marks the cell whose kernel died "completed": the last cell that started
        started = [c for c in cells if c.get("cell_type") == "code"
                   and _cell_status(c) not in (None, "pending")]
        failed = started[-1] if started else None
        result.error += " (the kernel process ended: out of memory, or a crash in native code?)"
    if failed is None:
        return
    result.cell = cells.index(failed) + 1
    source = failed.get("source", "")
    first = next((ln for ln in source.splitlines() if ln.strip()), "")
    result.cell_source = _error_line(first, 160) or None
    try:
        text = chapter.source.read_text(encoding="utf-8")
    except OSError:
        return
    at = text.find(source.strip()) if source.strip() else -1
    if at >= 0:
        result.line = text.count("\n", 0, at) + 1


def _record_timing(build_dir: Path, result: ChapterResult, profile: str, device: str) -> None:
    path = build_dir / "timings.json"
    table = load_json(path, {})
    if not isinstance(table, dict):
        table = {}
    table[result.chapter] = {
        "seconds": round(result.seconds, 2),
        "device": device,
        "profile": profile,
        "ok": result.ok,
        "date": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
    }
    atomic_write(path, json.dumps(table, indent=1) + "\n")


def _execute_one(chapter, root, build_dir, staging, parameters, timeout, progress):
    import nbformat
    import papermill

    rel = chapter.source.relative_to(root).with_suffix(".ipynb")
    target = staging / rel
    work = build_dir / "executing"
    work.mkdir(parents=True, exist_ok=True)
    for stale in work.glob(f"{chapter.name}.*.ipynb"):  # left by a killed run (we hold the chapter's lock)
        stale.unlink(missing_ok=True)
    tag = f"{chapter.name}.{os.getpid()}"
    source_nb, output_nb = work / f"{tag}.input.ipynb", work / f"{tag}.ipynb"
    result = ChapterResult(chapter.name, ok=False, seconds=0.0, started=time.time())
    start = time.perf_counter()
    try:
        nb = _to_notebook(chapter)
        if not any("parameters" in c.get("metadata", {}).get("tags", []) for c in nb.cells):
            result.warnings.append(
                "no cell tagged 'parameters': papermill put the parameters at the top"
            )
        nbformat.write(nb, source_nb)
        target.parent.mkdir(parents=True, exist_ok=True)
        papermill.execute_notebook(
            str(source_nb),
            str(output_nb),
            parameters=parameters,
            progress_bar=progress,
            request_save_on_cell_execute=True,
            execution_timeout=timeout,
            start_timeout=120,
            cwd=str(target.parent),
        )
        result.ok = True
    except Exception as error:  # noqa: BLE001 - every failure is reported, none stops the run
        ename = getattr(error, "ename", None)
        evalue = getattr(error, "evalue", None)
        if ename:
            result.error = _error_line(f"{ename}: {evalue}")
        else:
            result.error = _error_line(f"{type(error).__name__}: {error}")
    finally:
        result.seconds = time.perf_counter() - start
        source_nb.unlink(missing_ok=True)
    if output_nb.is_file():
        try:
            out = nbformat.read(output_nb, as_version=4)
            _hide_injected(out)
            _drop_widget_state(out)
            if not result.ok:
                _locate_failure(result, out, chapter)
            atomic_write(target, nbformat.writes(out))
            result.output = target
        except Exception as error:  # noqa: BLE001
            result.warnings.append(f"could not read the executed notebook: {error}")
        finally:
            output_nb.unlink(missing_ok=True)
    return result


def execute(
    root=None,
    build_dir=None,
    profile: str = "quick",
    chapters=None,
    *,
    timeout: int = DEFAULT_TIMEOUT_S,
    results_dir=None,
    progress: bool = True,
    log=None,
) -> list[ChapterResult]:
    """Stage the book and execute the notebook ``chapters`` (names; all when empty).

    One chapter's failure does not stop the others. A chapter's claims file is replaced only when
    its new claims are complete (:meth:`ClaimBook.finish` writes it atomically): an interrupted
    execution leaves the old claims in place, and a failed one marks them stale (see
    :func:`eos_support.book.claims.mark_stale`), so the scorecard never shows old claims as current.
    Returns one :class:`ChapterResult` per executed chapter.
    """
    from tqdm.auto import tqdm

    from .claims import mark_stale

    if profile not in PROFILES:
        raise BookError(f"unknown profile {profile!r}; choose one of {', '.join(PROFILES)}")
    if not (isinstance(timeout, int) and timeout > 0):
        raise BookError(f"timeout must be a positive number of seconds, got {timeout!r}")
    root = find_root(root)
    build_dir = Path(build_dir or root / "_build").resolve()
    chosen = select(read_toc(root), chapters)
    staging = stage(root, build_dir)
    claims_dir = build_dir / "claims"
    results_dir = Path(results_dir or build_dir / "results").resolve()
    for folder in (claims_dir, results_dir):
        folder.mkdir(parents=True, exist_ok=True)
    device = device_name()
    log = log or tqdm.write
    results = []
    bar = tqdm(chosen, desc="chapters", unit="chapter", disable=not progress)
    for chapter in bar:
        bar.set_postfix_str(chapter.name)
        log(f"[eos-book] executing {chapter.name} ({chapter.source.relative_to(root)})")
        parameters = {"profile": profile, "claims_dir": str(claims_dir), "results_dir": str(results_dir)}
        if chapter.name == SCORECARD:
            parameters["timings_path"] = str(build_dir / "timings.json")
        with _chapter_lock(build_dir, chapter.name, log):
            result = _execute_one(chapter, root, build_dir, staging, parameters, timeout, progress)
            if not result.ok:
                mark_stale(claims_dir, chapter.name, since=result.started)
            _record_timing(build_dir, result, profile, device)
        log(f"[eos-book] {result.describe()}")
        results.append(result)
    return results


def summary(results) -> str:
    """A closing report: every chapter with its time; failures with their cell and error."""
    failed = [r for r in results if not r.ok]
    lines = [f"executed {len(results)} chapter(s): {len(results) - len(failed)} ok, "
             f"{len(failed)} failed"]
    for r in results:
        lines.append("  " + r.describe().replace("\n", "\n  "))
        lines.extend(f"    warning: {w}" for w in r.warnings)
    return "\n".join(lines)


# ---------------------------------------------------------------------------------------
# Rendering


def html_index(build_dir) -> Path:
    """Where :func:`render` puts the book's front page."""
    return Path(build_dir) / "book" / "_build" / "html" / "index.html"


def _jupyter_book_command() -> list[str]:
    exe = Path(sys.executable).parent / "jupyter-book"
    if exe.is_file():
        return [str(exe)]
    found = shutil.which("jupyter-book")
    if found:
        return [found]
    raise BookError("jupyter-book is not installed: pip install -e '.[dev]'")


def render(build_dir, *, strict: bool = True, nitpick: bool = False, quiet: bool = False) -> int:
    """``jupyter-book build`` the staged book (execution off, every page rebuilt).

    ``strict`` turns warnings into errors (``-W --keep-going``: all are listed, then the
    build fails); ``nitpick`` adds ``-n`` (every unresolved reference warns). Returns the
    exit code of ``jupyter-book``.
    """
    staging = Path(build_dir) / "book"
    if not (staging / "_toc.yml").is_file():
        raise BookError(f"nothing staged in {staging}: run eos-book execute first")
    cmd = _jupyter_book_command() + ["build", str(staging), "--all"]
    if strict:
        cmd += ["--warningiserror", "--keep-going"]
    if nitpick:
        cmd.append("-n")
    if quiet:
        cmd.append("-q")
    return subprocess.run(cmd, check=False).returncode


