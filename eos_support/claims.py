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

Where the records go (``out_dir``), first match wins:

1. the ``out_dir`` argument (the book's runner passes ``<build>/claims``);
2. the environment variable ``EOS_CLAIMS_DIR``;
3. ``<project>/_build/claims``, where ``<project>`` is the first folder at or above the
   current directory that holds both ``pyproject.toml`` and ``_toc.yml`` (the repository
   root: a chapter opened in Jupyter from ``book/`` writes where the runner reads);
4. ``_build/claims`` under the current directory.

Each file is a JSON list of records with the keys ``chapter, paper_item, claim, measured,
expected, passed, profile, device, date``; it is written to a temporary file in the same
folder and moved into place with :func:`os.replace`, so a reader never sees half a file.
"""

from __future__ import annotations

import datetime as _dt
import json
import math
import os
import re
import tempfile
from pathlib import Path

__all__ = ["ClaimBook", "ClaimsFailed", "RECORD_KEYS", "default_claims_dir", "load_claims"]

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
    """Where claims go when no folder is given (see the module docstring)."""
    env = os.environ.get("EOS_CLAIMS_DIR")
    if env:
        return Path(env).expanduser()
    here = Path.cwd().resolve()
    for folder in (here, *here.parents):
        if (folder / "pyproject.toml").is_file() and (folder / "_toc.yml").is_file():
            return folder / "_build" / "claims"
    return here / "_build" / "claims"


def _device_name() -> str:
    """``"cuda:<GPU name>"`` when torch sees a GPU, else ``"cpu"``."""
    try:
        import torch

        if torch.cuda.is_available():
            return f"cuda:{torch.cuda.get_device_name()}"
    except Exception:  # noqa: BLE001 - a claim must be recordable without torch/CUDA
        pass
    return "cpu"


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


def _format(value) -> str:
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, float):
        return f"{value:.6g}"
    if isinstance(value, list) and len(value) > 6:
        return "[" + ", ".join(_format(v) for v in value[:6]) + ", …]"
    if isinstance(value, list):
        return "[" + ", ".join(_format(v) for v in value) + "]"
    return str(value)


def _cell(text) -> str:
    """Text safe inside a Markdown table cell."""
    return str(text).replace("|", "\\|").replace("\n", " ")


def markdown_table(records, columns=("paper_item", "claim", "measured", "expected", "passed")):
    """A Markdown table of claim ``records`` (dicts) over ``columns``; verdicts as ✅/❌."""
    names = {
        "chapter": "chapter",
        "paper_item": "paper item",
        "claim": "claim",
        "measured": "measured",
        "expected": "expected",
        "passed": "verdict",
        "profile": "profile",
        "device": "device",
        "date": "date",
    }
    lines = [
        "| " + " | ".join(names.get(c, c) for c in columns) + " |",
        "|" + "---|" * len(columns),
    ]
    for r in records:
        cells = []
        for c in columns:
            v = r.get(c, "")
            if c == "passed":
                cells.append("✅" if v else "❌")
            else:
                cells.append(_cell(_format(v)))
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


def _markdown(text: str):
    try:
        from IPython.display import Markdown

        return Markdown(text)
    except ImportError:  # pragma: no cover - IPython comes with ipykernel
        return _Markdown(text)


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
        self.device = device or _device_name()
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
            return _markdown("*No claims checked yet.*")
        return _markdown(markdown_table(self.records))

    def write(self) -> Path:
        """Write the records to :attr:`path` atomically and return the path."""
        self.out_dir.mkdir(parents=True, exist_ok=True)
        text = json.dumps(self.records, indent=1, ensure_ascii=False, allow_nan=False)
        fd, tmp = tempfile.mkstemp(prefix=f".{self.chapter}.", suffix=".tmp", dir=self.out_dir)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                fh.write(text + "\n")
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, self.path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
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
                f"- {r['paper_item']}: {r['claim']} (measured {_format(r['measured'])}, "
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
