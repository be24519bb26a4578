"""Committed records of a profile's execution: ``book/records/<profile>/``.

A profile that this machine cannot execute on every build (the paper profile: hours on 2 CPU cores)
is executed once, and its products are committed: every chapter's claims (``claims/``), the summaries
of the runs its figures need (``runs/``, :mod:`eos_support.profiles.summary`), each chapter's wall time
(``timings.json``) and ``record.json``: where the record was executed (the device, the CPU, torch's and
Python's versions, the data source), each reduction of measurement density against the paper's settings,
and for each chapter the commit, the date and the torch threads of its execution. ``eos-book record``
adds a build folder's chapters to it; the scorecard's column for that profile and each chapter's section
on it read it (:func:`outcomes`, :func:`runs`).
"""

from __future__ import annotations

import datetime as _dt
import json
import platform
import shutil
from pathlib import Path

from ..readings.tables import Markdown
from ..system import atomic_write, device_name, git_commit
from .claims import load_claims
from .report import claims_table, load_json

FOLDER = Path("records")
"""Where a chapter finds the records: ``records/<profile>`` beside it (``book/`` and its staged copy)."""

def _cpu() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def write(root, build_dir, profile: str, out, *, data_source: str, reductions: dict) -> Path:
    """Add ``build_dir``'s chapters of ``profile`` to the record in ``out``: their claims, run summaries and
    timings, and in ``record.json`` the commit, date and torch threads of each one's execution (from the
    build's ``timings.json``; where it does not name them, the commit at ``root`` and this process's threads).

    A chapter already in the record is replaced. A build on another device, CPU, torch, Python or data
    than the record's raises ``ValueError``: one record, one machine.
    """
    import torch

    build_dir, out = Path(build_dir), Path(out)
    records = [r for r in load_claims(build_dir / "claims") if r.get("profile") == profile]
    if not records:
        raise ValueError(f"no claims of the {profile} profile in {build_dir / 'claims'}: execute it first")
    machine = {
        "device": device_name(),
        "cpu": _cpu(),
        "torch": torch.__version__,
        "python": platform.python_version(),
        "data": data_source,
    }
    before = _read(out)
    mine = {"profile": profile, **machine}
    if before is not None and (differ := {k: (before.get(k), v) for k, v in mine.items() if before.get(k) != v}):
        named = "; ".join(f"{k}: {was!r} in the record, {now!r} here" for k, (was, now) in differ.items())
        raise ValueError(
            f"the record in {out} was executed elsewhere ({named}): execute every chapter where it was, or "
            f"move {out} away and record this execution as a new record"
        )
    timings = load_json(build_dir / "timings.json", {})
    chapters = dict(before["chapters"]) if before else {}
    here = {
        "commit": git_commit(root),
        "date": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "threads": torch.get_num_threads(),
    }
    (out / "claims").mkdir(parents=True, exist_ok=True)
    for chapter in sorted({r["chapter"] for r in records}):
        shutil.copy2(build_dir / "claims" / f"{chapter}.json", out / "claims" / f"{chapter}.json")
        timing = timings.get(chapter, {})
        chapters[chapter] = {key: timing.get(key) or value for key, value in here.items()}
    if (build_dir / "runs").is_dir():
        shutil.copytree(build_dir / "runs", out / "runs", dirs_exist_ok=True)
    recorded = load_json(out / "timings.json", {}) | {c: t for c, t in timings.items() if c in chapters}
    atomic_write(out / "timings.json", json.dumps(recorded, indent=1) + "\n")
    meta = {**mine, "reductions": reductions, "chapters": dict(sorted(chapters.items()))}
    path = out / "record.json"
    atomic_write(path, json.dumps(meta, indent=1, ensure_ascii=False) + "\n")
    return path


def read(profile: str, folder=FOLDER) -> dict | None:
    """``record.json`` of ``profile``'s committed record, or None when there is none.

    A record written before chapters had their own entries (one commit, date and thread count at its top)
    reads as that entry for each of its chapters, dated by the chapter's timing where the record has one.
    """
    return _read(Path(folder) / profile)


def _read(record):
    """The ``record.json`` in the folder ``record`` (see :func:`read`), or None."""
    path = Path(record) / "record.json"
    if not path.is_file():
        return None
    meta = json.loads(path.read_text(encoding="utf-8"))
    if "chapters" not in meta:
        execution = {key: meta.pop(key) for key in ("commit", "date", "threads")}
        own = {r.get("chapter") for r in load_claims(Path(record) / "claims")}
        timings = load_json(Path(record) / "timings.json", {})
        meta["chapters"] = {
            chapter: execution | {"date": timings.get(chapter, {}).get("date") or execution["date"]}
            for chapter in sorted(own)
        }
    return meta


def outcomes(profile: str, chapter: str, folder=FOLDER) -> Markdown:
    """The chapter's claims in ``profile``'s committed record, with where and how it was executed, and the
    claims of the paper that did not show in it, named in words.
    """
    meta = read(profile, folder)
    own = [r for r in load_claims(Path(folder) / profile / "claims") if r.get("chapter") == chapter]
    if meta is None or not own or chapter not in meta["chapters"]:
        return Markdown(
            f"*The {profile} profile has no committed record of this chapter yet* (`book/records/{profile}/`): "
            "its outcomes show here, and on the scorecard, once an execution of it is committed."
        )
    run = meta["chapters"][chapter]
    head = (
        f"The {profile} profile, executed on {meta['device']} ({meta['cpu']}, {run['threads']} threads, torch "
        f"{meta['torch']}) on {run['date'][:10]}, commit {run['commit'][:12]}; data: {meta['data']}."
    )
    reductions = [f"- {name}: {why}" for name, why in meta.get("reductions", {}).items()]
    parts = [head] + (["Where its settings depart from the paper's (measurement densities included):", "\n".join(reductions)] if reductions else [])
    parts.append(claims_table(own))
    missed = [f"- {r.get('paper_item')}: *{r.get('claim')}*" for r in own if r.get("outcome") == "not reproduced"]
    if missed:
        parts.append(
            f"What the {profile} profile showed where it differs from the claims: on this data, in these settings, "
            "these claims did not show (the registry's note on each records the observation):\n\n"
            + "\n".join(missed)
        )
    return Markdown("\n\n".join(parts))


def disagreements(profile: str, folder=FOLDER, registry=None) -> list[str]:
    """What in ``profile``'s committed record disagrees with the registry: claim ids it does not know,
    outcomes other than the expected one or "inconclusive", failed checks, records of another profile.
    """
    from . import registry as _registry

    reg = registry or _registry.load()
    problems = []
    for r in load_claims(Path(folder) / profile / "claims"):
        claim = reg.claims.get(r.get("id"))
        if claim is None:
            problems.append(f"{r.get('id')}: not a claim of the registry")
        elif r.get("profile") != profile:
            problems.append(f"{r['id']}: recorded for profile {r.get('profile')!r}, filed under {profile!r}")
        elif r.get("outcome") not in (claim.expected[profile], "inconclusive") or r.get("holds") is False and (
            claim.kind == "check"
        ):
            problems.append(f"{r['id']}: outcome {r.get('outcome')!r}, the registry expects {claim.expected[profile]!r}")
    return problems


def figures(profile: str, experiments, folder=FOLDER) -> None:
    """Draw the committed runs of each of ``experiments`` (:func:`eos_support.figures.networks.recorded_runs`), one
    figure per experiment, or say that the record has none.
    """
    import matplotlib.pyplot as plt

    from ..figures import recorded_runs

    for experiment in experiments:
        recorded = runs(profile, experiment, folder)
        if not recorded:
            print(f"No committed runs of {experiment} in the {profile} profile's record yet.")
            continue
        recorded_runs(recorded, title=f"{experiment}, {profile} profile (committed record)")
        plt.show()


def runs(profile: str, experiment: str, folder=FOLDER) -> dict:
    """``{label: RecordedRun}`` of ``experiment``'s committed run summaries (``{}`` when there are none)."""
    from ..profiles.summary import load

    return load(Path(folder) / profile / "runs", experiment)
