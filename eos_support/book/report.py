"""The book's reports: claims and timings as Markdown tables, for the chapters, the scorecard and the CLI
(the scorecard itself: :mod:`~eos_support.book.scorecard`)."""

from __future__ import annotations

import json
from pathlib import Path

from ..readings.tables import Markdown, markdown_table
from .toc import toc_order


def format_value(value) -> str:
    """A measured value as short text: floats to 6 significant digits, long lists elided.

    A dict (one entry per case) reads as ``{key: value; …}``, its values formatted alike.
    """
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, float):
        return f"{value:.6g}"
    if isinstance(value, list):
        shown = ", ".join(format_value(v) for v in value[:6])
        return f"[{shown}, …]" if len(value) > 6 else f"[{shown}]"
    if isinstance(value, dict):
        return "{" + "; ".join(f"{k}: {format_value(v)}" for k, v in value.items()) + "}"
    return str(value)


def outcome_text(record) -> str:
    """A record's outcome as text that reads without an emoji font; one that differs from the registry's
    expected outcome says so (see :func:`eos_support.book.registry.agreement`).
    """
    outcome = str(record.get("outcome", "?"))
    text = f"**{outcome}**" if outcome in ("not reproduced", "inconclusive") else outcome
    if record.get("kind") == "check" and not record.get("holds", True):
        text = "**check failed**"
    agreement = record.get("agreement", "as expected" if record.get("as_expected", True) else "contradicts")
    if agreement == "contradicts":
        text += f" (expected: {record.get('expected')})"
    elif agreement != "as expected":
        text += f" ({agreement}; recorded: {record.get('expected')})"
    return text


def statistic_text(record) -> str:
    """A record's statistic with its uncertainty and the threshold it was compared with, or "" (a check)."""
    if record.get("statistic") is None:
        return ""
    statistic, u = record["statistic"], record.get("uncertainty")
    shown = format_value(statistic) if not isinstance(statistic, (int, float)) else f"{statistic:.4g}"
    return f"{shown} ± {u:.2g} ({record.get('threshold', '')})" if isinstance(u, (int, float)) else shown


def claims_table(records) -> str:
    """A chapter's claims as a Markdown table (paper item, claim, statistic ± uncertainty against its
    threshold, what was measured, outcome), then what would decide each inconclusive claim.
    """
    rows = []
    for r in records:
        claim = r.get("claim", "") + (f" *(deviation: {r['deviation']})*" if r.get("deviation") else "")
        measured = format_value(r.get("measured", ""))
        rows.append((r.get("paper_item", ""), claim, statistic_text(r), measured, outcome_text(r)))
    table = markdown_table(("paper item", "claim", "statistic ± uncertainty", "measured", "outcome"), rows)
    open_ = [f"- `{r['id']}`: {r['decide']}" for r in records if r.get("outcome") == "inconclusive" and r.get("decide")]
    return table + ("\n\nWhat would decide the inconclusive claims:\n\n" + "\n".join(open_) if open_ else "")


def load_json(path: Path, default):
    """``path``'s JSON, or ``default`` when it is missing or unreadable."""
    try:
        return json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return default


def _fmt_seconds(s) -> str:
    try:
        s = float(s)
    except (TypeError, ValueError):
        return "?"
    return f"{s:.1f} s" if s < 120 else f"{s / 60:.1f} min"


def timings(timings_path, start=None):
    """Each chapter's last execution (wall time, device, profile, status, date) as Markdown."""
    data = load_json(Path(timings_path), {}) if timings_path else {}
    order = toc_order(start)
    rows = sorted(
        ((n, t) for n, t in (data.items() if isinstance(data, dict) else []) if isinstance(t, dict)),
        key=lambda kv: order.get(kv[0], len(order)),
    )
    if not rows:
        return Markdown("*No timings recorded yet.*")
    table = []
    for name, t in rows:
        status = "✅ executed" if t.get("ok") else "❌ failed"
        date = str(t.get("date", "?"))[:16].replace("T", " ")
        table.append([name, _fmt_seconds(t.get("seconds")), t.get("device", "?"), t.get("profile", "?"), status, date])
    return markdown_table(["chapter", "wall time", "device", "profile", "status", "date"], table)
