"""The book's reports: claims and timings as Markdown tables, for the chapters, the scorecard and the CLI."""

from __future__ import annotations

import json
from pathlib import Path

from .toc import BookError, docnames, find_root

COLUMN_NAMES = {"chapter": "chapter", "paper_item": "paper item", "claim": "claim", "measured": "measured",
                "expected": "expected", "passed": "verdict", "profile": "profile", "device": "device",
                "date": "date"}


def format_value(value) -> str:
    """A measured value as short text: floats to 6 significant digits, long lists elided."""
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, float):
        return f"{value:.6g}"
    if isinstance(value, list):
        shown = ", ".join(format_value(v) for v in value[:6])
        return f"[{shown}, …]" if len(value) > 6 else f"[{shown}]"
    return str(value)


def _cell(text) -> str:
    """Text safe inside a Markdown table cell."""
    return str(text).replace("|", "\\|").replace("\n", " ")


def markdown_table(records, columns=("paper_item", "claim", "measured", "expected", "passed")) -> str:
    """A Markdown table of claim ``records`` (dicts) over ``columns``; verdicts as ✅/❌."""
    lines = ["| " + " | ".join(COLUMN_NAMES.get(c, c) for c in columns) + " |", "|" + "---|" * len(columns)]
    for r in records:
        cells = [("✅" if r.get(c) else "❌") if c == "passed" else _cell(format_value(r.get(c, ""))) for c in columns]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


class _Markdown:
    """Fallback display object when IPython is absent: Markdown for Jupyter, text for print."""

    def __init__(self, data: str):
        self.data = data

    def _repr_markdown_(self):
        return self.data

    def __str__(self):
        return self.data

    __repr__ = __str__


def as_markdown(text: str):
    """``text`` as an object that Jupyter shows as Markdown (IPython's when it is there)."""
    try:
        from IPython.display import Markdown

        return Markdown(text)
    except ImportError:  # pragma: no cover - IPython comes with ipykernel
        return _Markdown(text)


def load_json(path: Path, default):
    """``path``'s JSON, or ``default`` when it is missing or unreadable."""
    try:
        return json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return default


def _toc_order(start=None) -> dict[str, int]:
    """Each toc entry's position by page name (read from _toc.yml alone: pages need not exist yet)."""
    try:
        return {Path(d).name: i for i, d in enumerate(docnames(find_root(start)))}
    except BookError:
        return {}


def _fmt_seconds(s) -> str:
    try:
        s = float(s)
    except (TypeError, ValueError):
        return "?"
    return f"{s:.1f} s" if s < 120 else f"{s / 60:.1f} min"


def scorecard(claims_dir=None, start=None):
    """Every claim of every chapter as Markdown: a summary line, then a table (chapter, paper
    item, claim, measured, expected, verdict, profile, device, date) in the toc's order."""
    from .claims import load_claims, stale_chapters

    records = load_claims(claims_dir)
    order = _toc_order(start)
    records.sort(key=lambda r: order.get(r.get("chapter"), len(order)))
    stale = stale_chapters(claims_dir)
    note = (f"\n\n**No current claims** from {', '.join(stale)}: its last execution failed."
            if stale else "")
    if not records:
        return as_markdown("*No claims recorded yet: execute the chapters with `eos-book execute`.*" + note)
    failed = [r for r in records if not r.get("passed")]
    chapters = list(dict.fromkeys(r.get("chapter") for r in records))
    verdict = "all passed ✅" if not failed else f"**{len(failed)} failed** ❌"
    columns = ("chapter", "paper_item", "claim", "measured", "expected", "passed", "profile", "device", "date")
    return as_markdown(f"**{len(records)} claims** from {len(chapters)} chapter(s): {verdict}.{note}\n\n"
                       + markdown_table(records, columns=columns))


def timings(timings_path, start=None):
    """Each chapter's last execution (wall time, device, profile, status, date) as Markdown."""
    data = load_json(Path(timings_path), {}) if timings_path else {}
    order = _toc_order(start)
    rows = sorted(((n, t) for n, t in (data.items() if isinstance(data, dict) else []) if isinstance(t, dict)),
                  key=lambda kv: order.get(kv[0], len(order)))
    if not rows:
        return as_markdown("*No timings recorded yet.*")
    lines = ["| chapter | wall time | device | profile | status | date |", "|---|---|---|---|---|---|"]
    for name, t in rows:
        status = "✅ executed" if t.get("ok") else "❌ failed"
        lines.append(f"| {name} | {_fmt_seconds(t.get('seconds'))} | {t.get('device', '?')} | "
                     f"{t.get('profile', '?')} | {status} | {t.get('date', '?')} |")
    return as_markdown("\n".join(lines))
