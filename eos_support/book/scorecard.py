"""The scorecard: every paper item's outcome in each profile, then each chapter's claims (the book's last page)."""

from __future__ import annotations

from pathlib import Path

from ..readings.tables import Markdown, markdown_table
from .claims import load_claims, stale_chapters
from ..profiles import NAMES as PROFILES
from .registry import item_outcome, load
from .report import claims_table
from .toc import toc_order


def _outcomes_by_item(records) -> dict:
    """{paper item: its outcome} over ``records`` (see :func:`eos_support.book.registry.item_outcome`)."""
    items = {}
    for r in records:
        items.setdefault(r.get("paper_item"), []).append(r.get("outcome"))
    return {item: item_outcome(outcomes) for item, outcomes in items.items()}


def scorecard(claims_dir=None, records_dir=None, start=None):
    """The scorecard as Markdown: one row per paper item with its outcome in each profile (this build's
    claims in ``claims_dir``; another profile's from its committed record in ``records_dir/<profile>``),
    then each chapter's claims.
    """
    records = load_claims(claims_dir)
    order = toc_order(start)
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
