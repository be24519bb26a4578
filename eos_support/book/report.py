"""The book's reports: claims and timings as Markdown tables, for the chapters, the scorecard and the CLI."""

from __future__ import annotations

import json
from pathlib import Path

from ..tables import Markdown, markdown_table
from .toc import BookError, docnames, find_root


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


def _outcomes_by_item(records) -> dict:
    """{paper item: its outcome} over ``records`` (see :func:`eos_support.book.registry.item_outcome`)."""
    from .registry import item_outcome

    items = {}
    for r in records:
        items.setdefault(r.get("paper_item"), []).append(r.get("outcome"))
    return {item: item_outcome(outcomes) for item, outcomes in items.items()}


def scorecard(claims_dir=None, records_dir=None, start=None):
    """The scorecard as Markdown: one row per paper item with its outcome in each profile (this build's
    claims in ``claims_dir``; another profile's from its committed record in ``records_dir/<profile>``),
    then each chapter's claims.
    """
    from .claims import load_claims, stale_chapters
    from .registry import PROFILES, load

    records = load_claims(claims_dir)
    order = _toc_order(start)
    records.sort(key=lambda r: order.get(r.get("chapter"), len(order)))
    current = {r.get("profile") for r in records}
    by_profile = {p: _outcomes_by_item([r for r in records if r.get("profile") == p]) for p in current}
    for profile in PROFILES:
        if profile not in by_profile and records_dir is not None:
            by_profile[profile] = _outcomes_by_item(load_claims(Path(records_dir) / profile / "claims"))
    items = [item.item for item in load().items]
    items += [i for i in dict.fromkeys(r.get("paper_item") for r in records) if i not in items]
    rows = []
    for item in items:
        cells = [by_profile.get(p, {}).get(item, "not run") for p in PROFILES]
        rows.append([item, *("**not reproduced**" if c == "not reproduced" else c for c in cells)])
    stale = stale_chapters(claims_dir)
    parts = [_summary_line(records), markdown_table(["paper item", *PROFILES], rows)]
    if stale:
        parts.append(f"**No current claims** from {', '.join(stale)}: its last execution failed.")
    for chapter in dict.fromkeys(r.get("chapter") for r in records):
        own = [r for r in records if r.get("chapter") == chapter]
        first = own[0]
        parts.append(
            f"### {chapter}\n\nProfile {first.get('profile')}, {first.get('device')}, "
            f"{first.get('date')}.\n\n" + claims_table(own)
        )
    return Markdown("\n\n".join(parts))


def _summary_line(records) -> str:
    if not records:
        return "*No claims recorded yet: execute the chapters with `eos-book execute`.*"
    counts = {
        o: sum(r.get("outcome") == o and r.get("kind") != "check" for r in records)
        for o in ("reproduced", "deviation", "not reproduced", "inconclusive")
    }
    checks = sum(r.get("kind") == "check" for r in records)
    agreements = [r.get("agreement", "as expected" if r.get("as_expected") else "contradicts") for r in records]
    contradicts, moved = (
        agreements.count("contradicts"),
        sum(a in ("undecided here", "decided here") for a in agreements),
    )
    tail = "every outcome as expected." if not contradicts + moved else ""
    if contradicts:
        tail += f"**{contradicts} outcome(s) contradict the expected one.** "
    if moved:
        tail += f"{moved} outcome(s) inconclusive here where the record has a verdict, or the reverse."
    return (
        f"**{len(records)} claims** from {len({r.get('chapter') for r in records})} chapter(s): "
        + ", ".join(f"{n} {o}" for o, n in counts.items())
        + f"; {checks} checks of the code; "
        + tail
    )


def timings(timings_path, start=None):
    """Each chapter's last execution (wall time, device, profile, status, date) as Markdown."""
    data = load_json(Path(timings_path), {}) if timings_path else {}
    order = _toc_order(start)
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
