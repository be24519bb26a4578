"""An executed chapter as the book shows it: papermill's cells hidden, widgets made static, and a
failure traced back to its cell and its line in the chapter's ``.md`` source.
"""

from __future__ import annotations

from .toc import Page

INJECTED_TAG = "injected-parameters"
HIDE_TAG = "remove-cell"


def _cell_status(cell) -> str | None:
    return cell.get("metadata", {}).get("papermill", {}).get("status")


def _tags(cell) -> list:
    return cell.setdefault("metadata", {}).setdefault("tags", [])


def _own_cells(nb):
    """The chapter's own cells: without papermill's injected-parameters and error cells."""
    return [c for c in nb.cells if INJECTED_TAG not in _tags(c) and "papermill-error-cell-tag" not in _tags(c)]


def hide_injected(nb) -> None:
    """Tag papermill's injected-parameters cell ``remove-cell``, and the chapter's own
    ``parameters`` cell too when one was injected (its defaults no longer apply).
    """
    injected = any(INJECTED_TAG in _tags(cell) for cell in nb.cells)
    for cell in nb.cells:
        tags = _tags(cell)
        hide = INJECTED_TAG in tags or (injected and "parameters" in tags)
        if hide and HIDE_TAG not in tags:
            tags.append(HIDE_TAG)


WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"


def drop_widget_state(nb) -> None:
    """Make the page static: a widget needs a kernel to do anything, and its saved state makes
    myst-nb load require.js and the widget manager from CDNs on the page (failing offline with
    console errors). Drop the state, and show a widget's output as a pointer to the launch
    buttons; the chapter's figures are the static version.
    """
    nb.metadata.pop("widgets", None)
    for cell in nb.cells:
        for output in cell.get("outputs", []):
            data = output.get("data")
            if isinstance(data, dict) and WIDGET_VIEW in data:
                output["data"] = {
                    "text/plain": "(an interactive widget: launch this page as a notebook, "
                    "with the rocket button at the top, to use it)"
                }


def error_line(text: str, limit: int = 300) -> str:
    """The first line of ``text``, cut to ``limit`` characters: an error as the summary shows it."""
    text = " ".join(str(text).strip().splitlines()[:1]) if text else ""
    return text if len(text) <= limit else text[: limit - 1] + "…"


def locate_failure(result, nb, chapter: Page) -> None:
    """Fill a failed :class:`~eos_support.book.runner.ChapterResult`'s ``cell``, ``line``, ``cell_source``
    and (if missing) ``error`` from the executed notebook ``nb``.
    """
    cells = _own_cells(nb)
    failed = None
    for cell in cells:
        if cell.get("cell_type") != "code":
            continue
        errors = [o for o in cell.get("outputs", []) if o.get("output_type") == "error"]
        if errors or _cell_status(cell) in ("failed", "running"):
            failed = cell
            if errors and not result.error:
                result.error = error_line(f"{errors[0].get('ename')}: {errors[0].get('evalue')}")
            break
    if failed is None and result.error and result.error.startswith("DeadKernelError"):
        # papermill marks the cell whose kernel died "completed": the last cell that started
        started = [c for c in cells if c.get("cell_type") == "code" and _cell_status(c) not in (None, "pending")]
        failed = started[-1] if started else None
        result.error += " (the kernel process ended: out of memory, or a crash in native code?)"
    if failed is None:
        return
    result.cell = cells.index(failed) + 1
    source = failed.get("source", "")
    first = next((ln for ln in source.splitlines() if ln.strip()), "")
    result.cell_source = error_line(first, 160) or None
    try:
        text = chapter.source.read_text(encoding="utf-8")
    except OSError:
        return
    at = text.find(source.strip()) if source.strip() else -1
    if at >= 0:
        result.line = text.count("\n", 0, at) + 1
