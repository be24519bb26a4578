"""The robustness check: do the chapters' verdicts survive another CPU's rounding?

Training at the edge of stability is chaotic, so a machine whose arithmetic rounds differently follows
another trajectory. :func:`check` re-executes chapters under perturbations of that size — every
network's θ⁰ moved by one float32 rounding unit (``theta0``), torch on one CPU thread (``threads``) —
each in a folder of its own with its own run cache, and compares every claim's outcome with the
unperturbed execution's. It passes when no outcome differs; its record lists, claim by claim, the
statistic in each execution, its uncertainty, and the outcomes.
"""

from __future__ import annotations

import datetime as _dt
import json
from pathlib import Path

from ..system import atomic_write, device_name
from ..readings.tables import markdown_table
from .claims import load_claims

PERTURBATIONS = ({"theta0": 1}, {"threads": 1})
"""The default perturbations: θ⁰ moved by one rounding unit (seed 1), and one torch thread."""


def label(perturbation) -> str:
    """A perturbation as a folder name: ``theta0-1``, ``threads-1``."""
    return "_".join(f"{k}-{v}" for k, v in sorted(perturbation.items()))


def compare(base, perturbed) -> list[dict]:
    """One row per claim of ``base`` (claim records) found in ``perturbed``: both outcomes and statistics,
    the uncertainty, and whether the outcome is the same.
    """
    others = {r["id"]: r for r in perturbed}
    rows = []
    for r in base:
        other = others.get(r["id"])
        if other is None:
            continue
        rows.append(
            {
                "id": r["id"],
                "chapter": r["chapter"],
                "kind": r.get("kind"),
                "outcome": r["outcome"],
                "perturbed_outcome": other["outcome"],
                "statistic": r.get("statistic"),
                "perturbed_statistic": other.get("statistic"),
                "uncertainty": r.get("uncertainty"),
                "perturbed_uncertainty": other.get("uncertainty"),
                "same": r["outcome"] == other["outcome"] and (r.get("holds") == other.get("holds")),
            }
        )
    return rows


def check(
    root, build_dir, profile, chapters, *, perturbations=PERTURBATIONS, results_dir=None, timeout=None, log=print
) -> dict:
    """Execute ``chapters`` unperturbed (unless ``build_dir/claims`` holds their claims already) and under
    each perturbation, and return the record (see :func:`write_record`); ``ok`` is False if any outcome
    differs or an execution failed.
    """
    from .runner import execute
    from .toc import read_toc, select

    build_dir = Path(build_dir)
    limit = {} if timeout is None else {"timeout": timeout}
    names = [p.name for p in select(read_toc(root), chapters) if p.notebook and p.name != "scorecard"]
    base_claims = build_dir / "claims"
    have = {r["chapter"] for r in load_claims(base_claims) if r.get("profile") == profile}
    missing = [n for n in names if n not in have]
    failures = []
    if missing:
        log(f"[robustness] executing the unperturbed chapters first: {', '.join(missing)}")
        done = execute(root, build_dir, profile, missing, results_dir=results_dir, progress=False, log=log, **limit)
        failures += [f"unperturbed {r.chapter}" for r in done if not r.ok]
    base = [r for r in load_claims(base_claims) if r["chapter"] in names and r.get("profile") == profile]
    executions = []
    for perturbation in perturbations:
        folder = build_dir / "robustness" / label(perturbation)
        log(f"[robustness] executing {', '.join(names)} under {perturbation}")
        done = execute(root, folder, profile, names, progress=False, perturbation=perturbation, log=log, **limit)
        failures += [f"{label(perturbation)} {r.chapter}" for r in done if not r.ok]
        rows = compare(base, load_claims(folder / "claims"))
        executions.append({"perturbation": perturbation, "claims": rows})
    differing = [f"{label(e['perturbation'])}: {r['id']}" for e in executions for r in e["claims"] if not r["same"]]
    return {
        "profile": profile,
        "chapters": names,
        "device": device_name(),
        "date": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "executions": executions,
        "failures": failures,
        "differing": differing,
        "ok": not failures and not differing,
    }


def _number(value) -> str:
    return f"{value:.4g}" if isinstance(value, (int, float)) and not isinstance(value, bool) else "–"


def markdown(record) -> str:
    """The record as a Markdown page: the verdict, then one table per perturbation."""
    head = (
        f"Robustness check, profile {record['profile']}, {record['device']}, {record['date']}: "
        + ("**every outcome the same**" if record["ok"] else "**outcomes differ or executions failed**")
        + f" over {len(record['chapters'])} chapters ({', '.join(record['chapters'])})."
    )
    parts = [head]
    if record["failures"]:
        parts.append("Failed executions: " + ", ".join(record["failures"]) + ".")
    for e in record["executions"]:
        rows = [
            (
                r["id"],
                r["outcome"],
                r["perturbed_outcome"],
                _number(r["statistic"]),
                _number(r["perturbed_statistic"]),
                _number(r["uncertainty"]),
                "yes" if r["same"] else "**no**",
            )
            for r in e["claims"]
        ]
        heads = ("claim", "outcome", "perturbed", "statistic", "perturbed statistic", "uncertainty", "same")
        parts.append(f"### Perturbation {e['perturbation']}\n\n" + markdown_table(heads, rows))
    return "\n\n".join(parts) + "\n"


def write_record(record, folder) -> Path:
    """Write ``record`` as ``<folder>/<profile>.json`` and ``.md``; returns the JSON's path."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{record['profile']}.json"
    atomic_write(path, json.dumps(record, indent=1, ensure_ascii=False) + "\n")
    atomic_write(path.with_suffix(".md"), markdown(record))
    return path
