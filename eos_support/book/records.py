"""Committed records of a profile's execution: ``book/records/<profile>/``.

A profile that this machine cannot execute on every build (the paper profile: hours on 2 CPU cores)
is executed once, and its products are committed: every chapter's claims (``claims/``), the summaries
of the runs its figures need (``runs/``, :mod:`eos_support.profiles.summary`), each chapter's wall time
(``timings.json``) and ``record.json``: the machine, the date, the commit, torch's version, the data
source and each reduction of measurement density against the paper's settings. ``eos-book record``
writes it from a build folder; the scorecard's column for that profile and each chapter's section on it
read it (:func:`outcomes`, :func:`runs`).
"""

from __future__ import annotations

import datetime as _dt
import json
import platform
import shutil
import subprocess
from pathlib import Path

from ..system import atomic_write, device_name
from ..readings.tables import Markdown
from .claims import load_claims
from .report import claims_table

FOLDER = Path("records")
"""Where a chapter finds the records: ``records/<profile>`` beside it (``book/`` and its staged copy)."""


def _commit(root) -> str:
    try:
        out = subprocess.run(["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True, timeout=30)
        dirty = subprocess.run(["git", "status", "--porcelain"], cwd=root, capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return out.stdout.strip() + (" (with uncommitted changes)" if dirty.stdout.strip() else "") or "unknown"


def _cpu() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def write(root, build_dir, profile: str, out, *, data_source: str, reductions: dict) -> Path:
    """Copy ``build_dir``'s claims, run summaries and timings of ``profile`` to ``out`` with ``record.json``."""
    import torch

    build_dir, out = Path(build_dir), Path(out)
    records = [r for r in load_claims(build_dir / "claims") if r.get("profile") == profile]
    if not records:
        raise ValueError(f"no claims of the {profile} profile in {build_dir / 'claims'}: execute it first")
    (out / "claims").mkdir(parents=True, exist_ok=True)
    for chapter in sorted({r["chapter"] for r in records}):
        shutil.copy2(build_dir / "claims" / f"{chapter}.json", out / "claims" / f"{chapter}.json")
    if (build_dir / "runs").is_dir():
        shutil.copytree(build_dir / "runs", out / "runs", dirs_exist_ok=True)
    if (build_dir / "timings.json").is_file():
        shutil.copy2(build_dir / "timings.json", out / "timings.json")
    meta = {
        "profile": profile,
        "date": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "commit": _commit(root),
        "device": device_name(),
        "cpu": _cpu(),
        "threads": torch.get_num_threads(),
        "torch": torch.__version__,
        "python": platform.python_version(),
        "data": data_source,
        "reductions": reductions,
    }
    path = out / "record.json"
    atomic_write(path, json.dumps(meta, indent=1, ensure_ascii=False) + "\n")
    return path


def read(profile: str, folder=FOLDER) -> dict | None:
    """``record.json`` of ``profile``'s committed record, or None when there is none."""
    path = Path(folder) / profile / "record.json"
    return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else None


def outcomes(profile: str, chapter: str, folder=FOLDER) -> Markdown:
    """The chapter's claims in ``profile``'s committed record, with where and how it was executed, and the
    claims of the paper that did not show in it, named in words.
    """
    meta = read(profile, folder)
    own = [r for r in load_claims(Path(folder) / profile / "claims") if r.get("chapter") == chapter]
    if meta is None or not own:
        return Markdown(
            f"*The {profile} profile has no committed record of this chapter yet* (`book/records/{profile}/`): "
            "its outcomes show here, and on the scorecard, once an execution of it is committed."
        )
    head = (
        f"The {profile} profile, executed on {meta['device']} ({meta['cpu']}, {meta['threads']} threads, torch "
        f"{meta['torch']}) on {meta['date'][:10]}, commit {meta['commit'][:12]}; data: {meta['data']}."
    )
    reductions = [f"- {name}: {why}" for name, why in meta.get("reductions", {}).items()]
    parts = [head] + (["Measured less often than the paper's settings:", "\n".join(reductions)] if reductions else [])
    parts.append(claims_table(own))
    missed = [f"- {r.get('paper_item')}: *{r.get('claim')}*" for r in own if r.get("outcome") == "not reproduced"]
    if missed:
        parts.append(
            f"What the {profile} profile showed where it differs from the paper: on this data, in these settings, "
            "these claims of the paper did not show (the registry's note on each records the observation):\n\n"
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
