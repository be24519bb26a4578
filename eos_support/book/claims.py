"""Claims: what a chapter checked against the paper, with the value it measured.

A chapter builds one :class:`ClaimBook`, calls :meth:`ClaimBook.check` once per claim with
the number it has just computed, shows :meth:`ClaimBook.table`, and ends with
:meth:`ClaimBook.finish`, which writes ``<out_dir>/<chapter>.json`` and raises
:class:`ClaimsFailed` if any claim failed, so that executing the notebook validates it::

    claims = ClaimBook("quadratics", profile)
    claims.check("Example 1", "η = 2/41 converges", measured=loss[-1],
                 expected="f(θ_T) < 1e-8", passed=loss[-1] < 1e-8)
    claims.table()
    claims.finish()

Where the records go: the ``out_dir`` argument (the book's runner passes ``<build>/claims``), else
``claims/`` in :func:`eos_support.book.toc.default_build_dir` (a chapter opened in Jupyter from
``book/`` writes where ``eos-book build`` reads).

Each file is a JSON list of records with the keys ``chapter, paper_item, claim, measured,
expected, passed, profile, device, date``; it is written to a temporary file in the same
folder and moved into place with :func:`os.replace`, so a reader never sees half a file.
"""

from __future__ import annotations

import datetime as _dt
import json
import math
import re
from pathlib import Path

from ..system import atomic_write, device_name
from .report import as_markdown, format_value, markdown_table
from .toc import default_build_dir

__all__ = ["ClaimBook", "ClaimsFailed", "RECORD_KEYS", "default_claims_dir", "load_claims", "mark_stale",
           "stale_chapters"]

RECORD_KEYS = (
    "chapter",
    "paper_item",
    "claim",
    "measured",
    "expected",
    "passed",
    "profile",
    "device",
    "date",
)
"""The keys of every claim record, in table order."""

_ITEM = re.compile(
    r"^(Fact|Example|Theorem|Proposition|Corollary|Lemma|Definition|Experiment|Remark|Figure"
    r"|Section|Appendix|Equation) \(?[A-Z]?[0-9]+(\.[0-9]+)*\)?$"
)
_CHAPTER = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")


class ClaimsFailed(AssertionError):
    """Raised by :meth:`ClaimBook.finish` when a claim failed (or none was checked)."""


def default_claims_dir() -> Path:
    """Where claims go when no folder is given: ``<build>/claims`` of the project (see the module docstring)."""
    return default_build_dir() / "claims"


def _json_safe(value):
    """``value`` as JSON: tensors and numpy scalars as Python numbers, non-finite floats as text."""
    if hasattr(value, "detach"):  # torch tensor
        value = value.detach().cpu()
        value = value.item() if value.numel() == 1 else value.tolist()
    elif hasattr(value, "tolist") and not isinstance(value, (str, bytes)):  # numpy
        value = value.tolist()
    if value is None or isinstance(value, (bool, str, int)):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else str(value)  # "nan", "inf", "-inf"
    if isinstance(value, (list, tuple)):
        return [_json_safe(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _json_safe(v) for k, v in value.items()}
    return str(value)


def _as_bool(passed) -> bool:
    if hasattr(passed, "item"):
        passed = passed.item()
    if not isinstance(passed, (bool, int)):
        raise ValueError(
            f"passed must be a bool (the verdict computed from the measurement), got {passed!r}"
        )
    return bool(passed)


class ClaimBook:
    """The claims one chapter checks, written to ``<out_dir>/<chapter>.json`` by :meth:`finish`.

    ``chapter`` is the chapter's file stem ("quadratics"); ``profile`` the run profile
    ("quick" or "paper"); ``out_dir`` see the module docstring; ``device`` defaults to
    ``"cuda:<GPU name>"`` when torch sees a GPU, else ``"cpu"``.
    """

    def __init__(self, chapter: str, profile: str, out_dir=None, *, device: str | None = None):
        if not isinstance(chapter, str) or not _CHAPTER.match(chapter):
            raise ValueError(
                f"chapter must be the chapter's file stem (letters, digits, '_', '-', '.'), "
                f"got {chapter!r}"
            )
        if not isinstance(profile, str) or not profile:
            raise ValueError(f"profile must be a non-empty string such as 'quick', got {profile!r}")
        self.chapter = chapter
        self.profile = profile
        self.out_dir = Path(out_dir).expanduser() if out_dir is not None else default_claims_dir()
        self.device = device or device_name()
        self.records: list[dict] = []

    @property
    def path(self) -> Path:
        """The JSON file :meth:`finish` writes."""
        return self.out_dir / f"{self.chapter}.json"

    def check(self, paper_item: str, claim: str, measured, expected: str, passed) -> bool:
        """Record one claim and return its verdict.

        ``paper_item`` as spelled in the paper ("Example 1", "Theorem 2", "Experiment 5");
        ``claim`` what is checked, in words; ``measured`` the value this run computed (number,
        bool, text, tensor or array); ``expected`` what the paper leads us to expect, in
        words or as a condition; ``passed`` the verdict computed from ``measured``. Checking
        the same (paper_item, claim) again replaces the earlier record, so re-running a cell
        does not duplicate it.
        """
        if not isinstance(paper_item, str) or not _ITEM.match(paper_item):
            raise ValueError(
                f"paper_item must be spelled as in the paper, e.g. 'Example 1', 'Theorem 2', "
                f"'Experiment 5', 'Figure 1'; got {paper_item!r}"
            )
        if not isinstance(claim, str) or not claim.strip():
            raise ValueError("claim must be a non-empty sentence saying what is checked")
        verdict = _as_bool(passed)
        record = {
            "chapter": self.chapter,
            "paper_item": paper_item,
            "claim": claim,
            "measured": _json_safe(measured),
            "expected": str(expected),
            "passed": verdict,
            "profile": self.profile,
            "device": self.device,
            "date": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        }
        self.records = [
            r for r in self.records if (r["paper_item"], r["claim"]) != (paper_item, claim)
        ]
        self.records.append(record)
        return verdict

    @property
    def failed(self) -> list[dict]:
        """The records whose verdict is False."""
        return [r for r in self.records if not r["passed"]]

    def table(self):
        """The chapter's claims as a Markdown table (item, claim, measured, expected, verdict)."""
        if not self.records:
            return as_markdown("*No claims checked yet.*")
        return as_markdown(markdown_table(self.records))

    def write(self) -> Path:
        """Write the records to :attr:`path` atomically (dropping a stale copy) and return the path."""
        text = json.dumps(self.records, indent=1, ensure_ascii=False, allow_nan=False) + "\n"
        atomic_write(self.path, text)
        self.path.with_suffix(STALE).unlink(missing_ok=True)
        return self.path

    def finish(self) -> None:
        """Write the records (see :meth:`write`), then raise :class:`ClaimsFailed` if any failed.

        A chapter that checked nothing fails too: the book validates itself only through claims.
        Returns nothing, so that a notebook's last cell shows no output when all is well.
        """
        self.write()
        if not self.records:
            raise ClaimsFailed(f"chapter {self.chapter!r} checked no claims")
        failed = self.failed
        if failed:
            lines = [
                f"- {r['paper_item']}: {r['claim']} (measured {format_value(r['measured'])}, "
                f"expected {r['expected']})"
                for r in failed
            ]
            raise ClaimsFailed(
                f"{len(failed)} of {len(self.records)} claims failed in chapter "
                f"{self.chapter!r}:\n" + "\n".join(lines)
            )


def load_claims(directory=None) -> list[dict]:
    """Every record in ``directory``'s ``*.json`` claim files (sorted by file name).

    ``directory`` defaults to :func:`default_claims_dir`; a missing folder gives ``[]``.
    A file that is not a JSON list of records raises ``ValueError`` naming the file.
    """
    folder = Path(directory).expanduser() if directory is not None else default_claims_dir()
    if not folder.is_dir():
        return []
    records = []
    for path in sorted(folder.glob("*.json")):
        if path.name.endswith(STALE):
            continue
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
            raise ValueError(
                f"claims file {path} is unreadable ({error}); delete it and re-execute "
                f"chapter {path.stem!r}"
            ) from error
        if not isinstance(data, list) or not all(
            isinstance(r, dict) and {"chapter", "paper_item", "claim", "passed"} <= r.keys()
            for r in data
        ):
            raise ValueError(
                f"claims file {path} is not a list of claim records; delete it and re-execute "
                f"chapter {path.stem!r}"
            )
        records.extend(data)
    return records


STALE = ".stale.json"


def mark_stale(directory, chapter: str, since: float) -> None:
    """After a failed execution: set ``chapter``'s claims aside as ``<chapter>.stale.json`` unless
    the execution wrote them (modified after ``since``, seconds since the epoch)."""
    path = Path(directory) / f"{chapter}.json"
    if path.is_file() and path.stat().st_mtime < since:
        path.replace(path.with_suffix(STALE))


def stale_chapters(directory=None) -> list[str]:
    """The chapters whose last execution failed and left no current claims."""
    folder = Path(directory).expanduser() if directory is not None else default_claims_dir()
    return sorted(p.name[: -len(STALE)] for p in folder.glob(f"*{STALE}")) if folder.is_dir() else []
