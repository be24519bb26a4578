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
- ``timings.json`` wall time, device, commit, torch threads, profile and status of each chapter's last
  execution

Every notebook chapter receives the papermill parameters ``profile``, ``claims_dir``,
``results_dir`` and ``data`` (its first code cell, tagged ``parameters``, must define them); the
scorecard chapter, executed last, also gets ``timings_path``. Parameters are the only channel:
nothing reaches a chapter through the environment (``data`` carries what ``$EOS_PAPER_DATASET`` and
``$EOS_DATA_DIR`` say, read here).
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import json
import logging
import os
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from ..data.common import data_dir
from ..profiles import check_name, paper_dataset
from ..system import atomic_write, device_name, git_commit
from .notebook import drop_widget_state, error_line, hide_injected, locate_failure
from .report import load_json
from .stage import stage
from .toc import SCORECARD, BookError, Page, find_root, read_toc, select

DEFAULT_TIMEOUT_S = 1800
"""Per-cell execution limit, generous: the paper profile trains networks in single cells."""


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
# Execution


def _to_notebook(chapter: Page):
    import jupytext

    nb = jupytext.read(chapter.source)
    nb.metadata.setdefault("kernelspec", {"name": "python3", "display_name": "Python 3", "language": "python"})
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


def _record_timing(build_dir: Path, result: ChapterResult, profile: str, where: dict) -> None:
    """The chapter's entry in ``timings.json``: its wall time and status, the date, and ``where`` it ran
    (device, commit, torch threads: what a committed record names, :func:`eos_support.book.records.write`)."""
    path = build_dir / "timings.json"
    table = load_json(path, {})
    if not isinstance(table, dict):
        table = {}
    table[result.chapter] = {
        "seconds": round(result.seconds, 2),
        **where,
        "profile": profile,
        "ok": result.ok,
        "date": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
    }
    atomic_write(path, json.dumps(table, indent=1) + "\n")


def writable_folder(path, what="build folder") -> Path:
    """``path`` resolved and created, after checking that files can be written in it; else a
    :class:`~eos_support.book.toc.BookError` that says why and what to pass instead.
    """
    path = Path(path).expanduser().resolve()
    try:
        path.mkdir(parents=True, exist_ok=True)
        atomic_write(path / ".eos-book-write-test", "").unlink()
    except OSError as error:
        raise BookError(
            f"cannot use {path} as the {what} ({error.strerror or error}): "
            "pass a writable folder (--build-dir, --results-dir)"
        ) from None
    return path


def _not_an_abandoned_cell(record) -> bool:
    """A logging filter: False for asyncio's "Task exception was never retrieved" about a cell whose kernel
    died (nbclient's DeadKernelError) while no one awaited it any more. After Ctrl-C the clean-up shuts the
    kernel down under the running cell, and the process is ending because the user asked it to; a kernel
    that dies during an execution is the chapter's error, reported once as such.
    """
    error = record.exc_info[1] if record.exc_info else None
    return not (type(error).__name__ == "DeadKernelError" and type(error).__module__.startswith("nbclient"))


def _kernel_writing_to(log_path: Path):
    """A kernel manager whose kernels write their own stderr (start-up notices, the noise of a shutdown
    on Ctrl-C) to ``log_path`` instead of the terminal; a chapter's output still reaches its notebook.
    """
    from jupyter_client.manager import AsyncKernelManager

    class ChapterKernel(AsyncKernelManager):
        async def start_kernel(self, **kw):
            with open(log_path, "a", encoding="utf-8") as log:  # the kernel keeps its own copy of the handle
                kw.setdefault("stderr", log)
                return await super().start_kernel(**kw)

    return ChapterKernel


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
    kernel_log = build_dir / "logs" / f"{chapter.name}.kernel.log"
    kernel_log.parent.mkdir(parents=True, exist_ok=True)
    try:
        nb = _to_notebook(chapter)
        if not any("parameters" in c.get("metadata", {}).get("tags", []) for c in nb.cells):
            result.warnings.append("no cell tagged 'parameters': papermill put the parameters at the top")
        nbformat.write(nb, source_nb)
        target.parent.mkdir(parents=True, exist_ok=True)
        logging.getLogger("asyncio").addFilter(_not_an_abandoned_cell)  # added once, however many chapters
        papermill.execute_notebook(
            str(source_nb),
            str(output_nb),
            parameters=parameters,
            progress_bar=progress,
            request_save_on_cell_execute=True,
            execution_timeout=timeout,
            start_timeout=120,
            cwd=str(target.parent),
            kernel_manager_class=_kernel_writing_to(kernel_log),
        )
        result.ok = True
    except Exception as error:  # noqa: BLE001 - every failure is reported, none stops the run
        ename = getattr(error, "ename", None)
        evalue = getattr(error, "evalue", None)
        if ename:
            result.error = error_line(f"{ename}: {evalue}")
        else:
            result.error = error_line(f"{type(error).__name__}: {error}")
    except BaseException:  # Ctrl-C: the last complete execution stays the staged one
        output_nb.unlink(missing_ok=True)
        raise
    finally:
        result.seconds = time.perf_counter() - start
        source_nb.unlink(missing_ok=True)
    if output_nb.is_file():
        _stage(output_nb, target, chapter, result)
    return result


def _stage(output_nb, target, chapter, result):
    """Move papermill's output (complete or up to the failing cell) to the staged book, tidied."""
    import nbformat

    try:
        out = nbformat.read(output_nb, as_version=4)
        hide_injected(out)
        drop_widget_state(out)
        if not result.ok:
            locate_failure(result, out, chapter)
        atomic_write(target, nbformat.writes(out))
        result.output = target
    except Exception as error:  # noqa: BLE001
        result.warnings.append(f"could not read the executed notebook: {error}")
    finally:
        output_nb.unlink(missing_ok=True)


def execute(
    root=None,
    build_dir=None,
    profile: str = "quick",
    chapters=None,
    *,
    timeout: int = DEFAULT_TIMEOUT_S,
    results_dir=None,
    progress: bool | None = None,
    perturbation=None,
    log=None,
) -> list[ChapterResult]:
    """Stage the book and execute the notebook ``chapters`` (names; all when empty).

    One chapter's failure does not stop the others. A chapter's claims file is replaced only when
    its new claims are complete (:meth:`~eos_support.book.claims.ClaimBook.finish` writes it atomically): an interrupted
    execution leaves the old claims in place, and a failed one marks them stale (see
    :func:`eos_support.book.claims.mark_stale`), so the scorecard never shows old claims as current.
    ``progress``: bars for the chapters and their cells; None: only when stderr is a terminal (a log
    file gets the per-chapter lines alone). ``perturbation`` (the robustness check's, see
    :func:`eos_support.book.chapter.start`) reaches every chapter but the scorecard as a parameter.
    Returns one :class:`ChapterResult` per executed chapter.
    """
    from tqdm.auto import tqdm

    from .claims import mark_stale

    try:
        check_name(profile)
    except ValueError as error:
        raise BookError(str(error)) from None
    if not (isinstance(timeout, int) and timeout > 0):
        raise BookError(f"timeout must be a positive number of seconds, got {timeout!r}")
    root = find_root(root)
    build_dir = writable_folder(build_dir or root / "_build")
    chosen = select(read_toc(root), chapters)
    results_dir = writable_folder(results_dir or build_dir / "results", "run cache")
    staging = stage(root, build_dir)
    claims_dir = build_dir / "claims"
    claims_dir.mkdir(exist_ok=True)
    data = {"paper": paper_dataset(), "dir": str(data_dir())}
    import torch

    where = {"device": device_name(), "commit": git_commit(root), "threads": torch.get_num_threads()}
    log = log or _say
    if progress is None:
        progress = sys.stderr.isatty()
    results = []
    bar = tqdm(chosen, desc="chapters", unit="chapter", disable=not progress)
    for chapter in bar:
        bar.set_postfix_str(chapter.name)
        log(f"[eos-book] executing {chapter.name} ({chapter.source.relative_to(root)})")
        parameters = {"profile": profile, "claims_dir": str(claims_dir), "results_dir": str(results_dir), "data": data}
        if chapter.name == SCORECARD:
            parameters["timings_path"] = str(build_dir / "timings.json")
        elif perturbation:
            parameters["perturbation"] = dict(perturbation)
        with _chapter_lock(build_dir, chapter.name, log):
            result = _execute_one(chapter, root, build_dir, staging, parameters, timeout, progress)
            if not result.ok:
                mark_stale(claims_dir, chapter.name, since=result.started)
            _record_timing(build_dir, result, profile, where)
        log(f"[eos-book] {result.describe()}")
        results.append(result)
    return results


def _say(text) -> None:
    """A line of the run's log, on stdout past any progress bar, flushed: a log file follows it line by line."""
    from tqdm.auto import tqdm

    tqdm.write(text)
    sys.stdout.flush()


def summary(results) -> str:
    """A closing report: every chapter with its time; failures with their cell and error."""
    failed = [r for r in results if not r.ok]
    lines = [f"executed {len(results)} chapter(s): {len(results) - len(failed)} ok, {len(failed)} failed"]
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


def render(build_dir, *, strict: bool = True, quiet: bool = False) -> int:
    """``jupyter-book build`` the staged book (execution off, every page rebuilt).

    ``strict`` turns warnings into errors (``-W --keep-going``: all are listed, then the
    build fails); ``_config.yml`` sets ``nitpicky``, so an unresolved reference is one of them.
    Returns the exit code of ``jupyter-book``.
    """
    staging = Path(build_dir) / "book"
    if not (staging / "_toc.yml").is_file():
        raise BookError(f"nothing staged in {staging}: run eos-book execute first")
    cmd = _jupyter_book_command() + ["build", str(staging), "--all"]
    if strict:
        cmd += ["--warningiserror", "--keep-going"]
    if quiet:
        cmd.append("-q")
    return subprocess.run(cmd, check=False).returncode
