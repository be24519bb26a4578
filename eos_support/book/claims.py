"""Claims: what a chapter checked against the paper, the value it measured and the outcome.

Each claim is an entry of the registry (:mod:`eos_support.book.registry`): its criterion, thresholds
and expected outcome per profile live there. A chapter builds one :class:`ClaimBook`, reads a claim's
thresholds, evaluates the criterion on the numbers it has just computed and records the result::

    claims = ClaimBook("quadratics", profile)
    claims.verdict("example1-converges", criteria.quadratics.converges(run, claims.thresholds("example1-converges")))
    claims.check("thm1-stationary", measured=residual, holds=residual < t["residual"])   # a check of the code
    claims.table()
    claims.finish()

A claim of the paper (or beyond it) is recorded with :meth:`ClaimBook.verdict` from a
:class:`~eos_support.book.criteria.verdict.Verdict`: the statistic, its measured uncertainty and the outcome, which
is "inconclusive" when the statistic lies within its uncertainty of the threshold. A check of the code
is recorded with :meth:`ClaimBook.check` and has no uncertainty. :meth:`ClaimBook.finish` writes
``<out_dir>/<chapter>.json`` and raises :class:`ClaimsFailed` when an outcome contradicts the expected
one (:func:`eos_support.book.registry.agreement`), a check failed, or a registry claim of the chapter was
not checked: executing the notebook validates it.

Where the records go: the ``out_dir`` argument (the book's runner passes ``<build>/claims``), else
``claims/`` in :func:`eos_support.book.toc.default_build_dir` (a chapter opened in Jupyter from
``book/`` writes where ``eos-book build`` reads). Each file is a JSON list of records with the keys
:data:`RECORD_KEYS`, written atomically.
"""

from __future__ import annotations

import datetime as _dt
import json
import math
import re
from pathlib import Path

from .. import profiles
from ..system import atomic_write, device_name
from ..readings.tables import Markdown
from . import registry as _registry
from .report import claims_table, format_value
from .toc import default_build_dir

__all__ = [
    "ClaimBook",
    "ClaimsFailed",
    "Outcome",
    "RECORD_KEYS",
    "default_claims_dir",
    "load_claims",
    "mark_stale",
    "stale_chapters",
]

RECORD_KEYS = (
    "chapter",
    "id",
    "paper_item",
    "kind",
    "claim",
    "criterion",
    "measured",
    "statistic",
    "uncertainty",
    "threshold",
    "method",
    "holds",
    "outcome",
    "expected",
    "agreement",
    "as_expected",
    "deviation",
    "decide",
    "profile",
    "device",
    "date",
)
"""The keys of every claim record."""

_CHAPTER = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")


class Outcome(str):
    """A claim's outcome, one of the registry's strings; a notebook shows it as a line that names the claim."""

    def __new__(cls, outcome: str, claim_id: str, agreement: str, text: str = ""):
        """``outcome`` of ``claim_id``, its ``agreement`` with the registry, ``text`` its comparison."""
        self = super().__new__(cls, outcome)
        self.claim_id, self.agreement, self.text = claim_id, agreement, text
        return self

    @property
    def as_expected(self) -> bool:
        """Whether the outcome is the registry's expected one."""
        return self.agreement == "as expected"

    def _repr_pretty_(self, printer, cycle) -> None:  # a cell that ends with a check shows this line
        tail = {
            "as expected": "as expected",
            "contradicts": "NOT the expected outcome: the chapter will fail",
        }.get(self.agreement, f"{self.agreement}: recorded as the registry's expected outcome differs")
        printer.text(f"{self.claim_id}: {self}{f' ({self.text})' if self.text else ''} ({tail})")


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


def _as_bool(holds) -> bool:
    if hasattr(holds, "item"):
        holds = holds.item()
    if not isinstance(holds, (bool, int)):
        raise ValueError(f"holds must be a bool (the criterion evaluated on the measurement), got {holds!r}")
    return bool(holds)


class ClaimBook:
    """The claims one chapter checks, written to ``<out_dir>/<chapter>.json`` by :meth:`finish`.

    ``chapter`` is the chapter's file stem ("quadratics"); ``profile`` the run profile ("quick" or
    "paper"); ``out_dir`` see the module docstring; ``device`` defaults to the GPU's name or "cpu";
    ``registry`` defaults to the book's (:func:`eos_support.book.registry.load`).
    """

    def __init__(self, chapter: str, profile: str, out_dir=None, *, device: str | None = None, registry=None):
        if not isinstance(chapter, str) or not _CHAPTER.match(chapter):
            raise ValueError(
                f"chapter must be the chapter's file stem (letters, digits, '_', '-', '.'), got {chapter!r}"
            )
        self.chapter, self.profile = chapter, profiles.check_name(profile)
        self.out_dir = Path(out_dir).expanduser() if out_dir is not None else default_claims_dir()
        self.device = device or device_name()
        self.registry = registry or _registry.load()
        self.records: dict[str, dict] = {}

    @property
    def path(self) -> Path:
        """The JSON file :meth:`finish` writes."""
        return self.out_dir / f"{self.chapter}.json"

    def _own(self, claim_id):
        claim = self.registry.claim(claim_id)
        if claim.chapter != self.chapter:
            raise _registry.RegistryError(
                f"claim {claim_id!r} belongs to chapter {claim.chapter!r}, not {self.chapter!r}"
            )
        return claim

    def thresholds(self, claim_id: str) -> dict:
        """The thresholds of ``claim_id``'s criterion, as the registry fixes them."""
        return dict(self._own(claim_id).thresholds)

    def check(self, claim_id: str, measured, holds) -> Outcome:
        """Record that the check of the code ``claim_id`` ``holds`` (or not) on ``measured``.

        Only for claims of kind ``check``: a claim of the paper is decided by :meth:`verdict`, which
        carries the statistic's uncertainty. ``measured`` is what this run computed (number, text, list,
        dict per case, tensor, array). Checking a claim again replaces its record (re-running a cell).
        """
        claim, holds = self._own(claim_id), _as_bool(holds)
        if claim.kind != "check":
            raise _registry.RegistryError(
                f"claim {claim_id!r} is a {claim.kind} claim, not a check: decide it with claims.verdict(claim_id, "
                "verdict), a criterion's Verdict that carries the statistic's measured uncertainty"
            )
        return self._record(claim, measured, holds, None)

    def verdict(self, claim_id: str, verdict) -> Outcome:
        """Record ``claim_id``'s :class:`~eos_support.book.criteria.verdict.Verdict`: its statistic, the statistic's
        measured uncertainty, and the outcome (inconclusive when within the uncertainty of the threshold).
        """
        from .criteria import Verdict

        claim = self._own(claim_id)
        if not isinstance(verdict, Verdict):
            raise TypeError(f"verdict must be an eos_support.book.criteria.Verdict, got {type(verdict).__name__}")
        if claim.kind == "check":
            return self._record(claim, verdict.detail or verdict.statistic, bool(verdict.holds), None)
        problem = _registry.unregistered_uncertainty(claim)
        if problem:
            raise _registry.RegistryError(problem)
        return self._record(claim, verdict.detail, verdict.holds, verdict)

    def _record(self, claim, measured, holds, verdict) -> Outcome:
        outcome = claim.outcome(holds, self.profile)
        expected = claim.expected[self.profile]
        agreement = _registry.agreement(outcome, expected)
        if claim.kind == "check" and not holds:
            agreement = "contradicts"
        self.records[claim.id] = {
            "chapter": self.chapter,
            "id": claim.id,
            "paper_item": claim.item,
            "kind": claim.kind,
            "claim": claim.claim,
            "criterion": claim.criterion,
            "measured": _json_safe(measured),
            "statistic": None if verdict is None else _json_safe(verdict.statistic),
            "uncertainty": None if verdict is None else verdict.uncertainty,
            "threshold": None if verdict is None else f"{verdict.sense} {verdict.threshold:g}",
            "method": None if verdict is None else verdict.method,
            "holds": holds,
            "outcome": outcome,
            "expected": expected,
            "agreement": agreement,
            "as_expected": agreement == "as expected",
            "deviation": claim.deviation.get(self.profile) or None,
            "decide": claim.decide or None if outcome == "inconclusive" else None,
            "profile": self.profile,
            "device": self.device,
            "date": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        }
        text = "" if verdict is None else verdict.text() + (f" ({verdict.case})" if verdict.case else "")
        return Outcome(outcome, claim.id, agreement, text)

    @property
    def unexpected(self) -> list[dict]:
        """The records whose outcome contradicts the expected one (or whose check failed)."""
        return [r for r in self.records.values() if r["agreement"] == "contradicts"]

    @property
    def unchecked(self) -> list[str]:
        """The registry's claims of this chapter that it has not checked."""
        return [c.id for c in self.registry.for_chapter(self.chapter) if c.id not in self.records]

    def criteria(self):
        """What the chapter checks, for its opening: one line per claim in the paper's words, then, in a
        collapsed block, each claim's criterion with its thresholds, how its uncertainty is measured and
        the outcome expected in this profile (with the stated change of setting, for a deviation).
        """
        own = self.registry.for_chapter(self.chapter)
        if not own:
            return Markdown("*No claims in the registry for this chapter.*")
        claims = [f"- *{c.item}*{' (a check of the code)' if c.kind == 'check' else ''}: {c.claim}." for c in own]
        rules = []
        for c in own:
            values = ", ".join(f"{k} = {v:g}" for k, v in c.thresholds.items())
            expected = c.expected[self.profile] + (
                f" ({c.deviation[self.profile]})" if c.deviation.get(self.profile) else ""
            )
            rules.append(
                f"- `{c.id}`: {c.criterion}"
                + (f" [{values}]" if values else "")
                + (f". Uncertainty: {c.uncertainty}" if c.uncertainty else "")
                + f". Expected in the {self.profile} profile: {expected}."
            )
        return Markdown(
            "\n".join(claims)
            + "\n\n<details>\n<summary>Criteria, thresholds and uncertainties (fixed in the registry before the"
            " runs)</summary>\n\n" + "\n".join(rules) + "\n\n</details>"
        )

    def table(self):
        """The chapter's claims as a Markdown table: item, claim, criterion, measured, outcome."""
        if not self.records:
            return Markdown("*No claims checked yet.*")
        return Markdown(claims_table(list(self.records.values())))

    def write(self) -> Path:
        """Write the records to :attr:`path` atomically (dropping a stale copy) and return the path."""
        text = json.dumps(list(self.records.values()), indent=1, ensure_ascii=False, allow_nan=False) + "\n"
        atomic_write(self.path, text)
        self.path.with_suffix(STALE).unlink(missing_ok=True)
        return self.path

    def finish(self) -> None:
        """Write the records, then raise :class:`ClaimsFailed` if an outcome is not the expected one, a
        check failed, or a claim of the registry was not checked (so executing the chapter validates it).
        """
        self.write()
        problems = [
            f"- {r['id']} ({r['paper_item']}): outcome {r['outcome']!r}"
            + (" (the check failed)" if r["kind"] == "check" and not r["holds"] else "")
            + f", expected {r['expected']!r}; measured {format_value(r['measured'])}; criterion: {r['criterion']}"
            for r in self.unexpected
        ]
        problems += [f"- {claim_id}: in the registry for this chapter, never checked" for claim_id in self.unchecked]
        if not self.records and not problems:
            problems.append("- the chapter checked no claims")
        if problems:
            raise ClaimsFailed(f"chapter {self.chapter!r}, profile {self.profile!r}:\n" + "\n".join(problems))


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
                f"claims file {path} is unreadable ({error}); delete it and re-execute chapter {path.stem!r}"
            ) from error
        if not isinstance(data, list) or not all(
            isinstance(r, dict) and {"chapter", "id", "paper_item", "outcome", "as_expected"} <= r.keys() for r in data
        ):
            raise ValueError(
                f"claims file {path} is not a list of claim records; delete it and re-execute chapter {path.stem!r}"
            )
        records.extend(data)
    return records


STALE = ".stale.json"


def mark_stale(directory, chapter: str, since: float) -> None:
    """After a failed execution: set ``chapter``'s claims aside as ``<chapter>.stale.json`` unless
    the execution wrote them (modified after ``since``, seconds since the epoch).
    """
    path = Path(directory) / f"{chapter}.json"
    if path.is_file() and path.stat().st_mtime < since:
        path.replace(path.with_suffix(STALE))


def stale_chapters(directory=None) -> list[str]:
    """The chapters whose last execution failed and left no current claims."""
    folder = Path(directory).expanduser() if directory is not None else default_claims_dir()
    return sorted(p.name[: -len(STALE)] for p in folder.glob(f"*{STALE}")) if folder.is_dir() else []
