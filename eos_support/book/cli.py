"""``eos-book``: execute, render and check the book from the command line.

Exit codes: 0 success; 1 a chapter, a claim or the render failed (or nothing was recorded);
2 a bad request (unknown chapter, bad option, missing data for the paper profile).
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

from .parser import build_parser

__all__ = ["build_parser", "main"]


def _err(message: str) -> None:
    print(f"eos-book: error: {message}", file=sys.stderr)


def _choose_profile(requested: str | None) -> str:
    from ..profiles import default_profile

    if requested:
        print(f"[eos-book] profile: {requested} (requested)", flush=True)
        return requested
    profile, why = default_profile()
    print(f"[eos-book] profile: {profile} (default: {why}; choose with --profile)", flush=True)
    return profile


def _execute(args) -> tuple[int, object]:
    from .runner import execute, summary, writable_folder
    from .toc import find_root, read_toc, select

    root = find_root(args.root)
    build_dir = writable_folder(args.build_dir or root / "_build")  # checked before anything slow
    select(read_toc(root), args.chapters)
    profile = _choose_profile(args.profile)
    if profile == "paper":
        from ..profiles import paper_data_problem

        problem = paper_data_problem(log=lambda text: print(f"[eos-book] {text}", flush=True))
        if problem:
            _err(problem)
            return 2, build_dir
    start = time.perf_counter()
    results = execute(
        root,
        build_dir,
        profile,
        args.chapters,
        timeout=args.timeout,
        results_dir=args.results_dir or os.environ.get("EOS_RESULTS_DIR"),
        progress=False if args.no_progress else None,  # None: bars on a terminal only
    )
    print(summary(results))
    print(
        f"[eos-book] {time.perf_counter() - start:.1f} s; notebooks in {build_dir / 'book'}; "
        f"claims in {build_dir / 'claims'}"
    )
    return (0 if all(r.ok for r in results) else 1), build_dir


def cmd_execute(args) -> int:
    """The ``execute`` command: execute chapters, check their claims; the exit code."""
    return _execute(args)[0]


def cmd_build(args) -> int:
    """The ``build`` command: execute (unless ``--no-execute``), then render the HTML; the exit code."""
    from .runner import html_index, render, stage, writable_folder
    from .toc import find_root

    if args.no_execute:
        root = find_root(args.root)
        build_dir = writable_folder(args.build_dir or root / "_build")
        stage(root, build_dir)  # pages and config as they are now; notebooks as executed
        code = 0
    else:
        code, build_dir = _execute(args)
        if code == 2:
            return code
    rendered = render(build_dir, strict=not args.no_strict)
    index = html_index(build_dir)
    if rendered != 0:
        _err(f"jupyter-book build failed (exit code {rendered}); see the messages above")
        return 1
    print(f"[eos-book] the book: {index}")
    if code:
        _err("some chapters failed (see the summary above); their pages show the error")
    return code


def _text_table(records) -> str:
    from .report import format_value, statistic_text

    columns = ("chapter", "id", "paper_item", "outcome", "statistic", "measured")
    heads = ("chapter", "claim", "paper item", "outcome", "statistic ± uncertainty", "measured")

    def text(r, c):
        if c == "outcome":
            agreement = r.get("agreement", "as expected" if r.get("as_expected") else "contradicts")
            tail = {"as expected": "", "contradicts": " (EXPECTED {})"}.get(agreement, f" ({agreement}; recorded {{}})")
            return r.get("outcome", "?") + tail.format(r.get("expected"))
        if c == "statistic":
            return statistic_text(r)
        return format_value(r.get(c, ""))

    rows = [[text(r, c) for c in columns] for r in records]
    widths = [min(60, max(len(h), *(len(row[i]) for row in rows))) for i, h in enumerate(heads)]

    def line(cells):
        return "  ".join(
            (cell if len(cell) <= w else cell[: w - 1] + "…").ljust(w) for cell, w in zip(cells, widths)
        ).rstrip()

    return "\n".join([line(heads), line(["-" * w for w in widths])] + [line(r) for r in rows])


def _chapters_without_claims(root, records) -> list[str]:
    """The claiming chapters of the table of contents that have no current claims (none when the book
    cannot be found: ``--build-dir`` alone names no table of contents).
    """
    from .toc import SCORECARD, BookError, find_root, read_toc

    try:
        pages = read_toc(find_root(root))
    except BookError:
        return []
    recorded = {r.get("chapter") for r in records}
    return [p.name for p in pages if p.notebook and p.name != SCORECARD and p.name not in recorded]


def cmd_claims(args) -> int:
    """The ``claims`` command: every recorded claim, its outcome, the chapters without claims; the exit code."""
    from .claims import RECORD_KEYS, load_claims, stale_chapters
    from .report import load_json
    from .toc import find_root

    build_dir = args.build_dir if args.build_dir is not None else find_root(args.root) / "_build"
    claims_dir = Path(build_dir) / "claims"
    try:
        records = load_claims(claims_dir)
    except ValueError as error:
        _err(str(error))
        return 1
    if args.json:
        print(json.dumps([{k: r.get(k) for k in RECORD_KEYS} for r in records], indent=1, ensure_ascii=False))
    elif records:
        print(_text_table(records))
    missing = _chapters_without_claims(args.root, records)
    timings = load_json(Path(build_dir) / "timings.json", {})
    failed_runs = set(stale_chapters(claims_dir)) | {n for n, t in timings.items() if not t.get("ok", True)}
    for name in missing:
        why = "its last execution failed" if name in failed_runs else "it has not been executed"
        _err(f"chapter {name!r} has no current claims ({why}): eos-book execute {name}")
    if not records:
        _err(f"no claims recorded in {claims_dir}: run 'eos-book execute' first")
        return 1
    unexpected = [
        r for r in records if r.get("agreement", "contradicts" if not r.get("as_expected") else "") == "contradicts"
    ]
    moved = [r for r in records if r.get("agreement") in ("undecided here", "decided here")]
    if not args.json:
        counts = {
            o: sum(r.get("outcome") == o for r in records)
            for o in ("reproduced", "deviation", "not reproduced", "inconclusive", "check")
        }
        print(
            f"\n{len(records)} claims: "
            + ", ".join(f"{n} {o}" for o, n in counts.items())
            + f"; {len(unexpected)} contradicting the expected outcome"
            + (f"; {len(moved)} inconclusive on one side of the record" if moved else "")
            + (f"; {len(missing)} chapter(s) without claims" if missing else "")
        )
    return 1 if unexpected or missing else 0


def _perturbations(texts):
    """``["theta0=1", "threads=1"]`` as ``[{"theta0": 1}, {"threads": 1}]``; a bad one raises ``ValueError``."""
    from .chapter import PERTURBATIONS

    out = []
    for text in texts:
        kind, _, value = text.partition("=")
        if kind not in PERTURBATIONS or not value.isdigit():
            raise ValueError(f"--perturb {text!r}: write theta0=SEED or threads=N (N ≥ 1)")
        if kind == "threads" and int(value) < 1:
            raise ValueError(f"--perturb {text!r}: threads must be at least 1")
        out.append({kind: int(value)})
    return out


def cmd_robustness(args) -> int:
    """The ``robustness`` command: execute, perturb, compare; the exit code (1 if an outcome differs)."""
    from .robustness import PERTURBATIONS, check, write_record
    from .runner import writable_folder
    from .toc import find_root, read_toc, select

    try:
        perturbations = _perturbations(args.perturb) if args.perturb else list(PERTURBATIONS)
    except ValueError as error:
        _err(str(error))
        return 2
    root = find_root(args.root)
    build_dir = writable_folder(args.build_dir or root / "_build")
    select(read_toc(root), args.chapters)
    profile = _choose_profile(args.profile)
    record = check(
        root,
        build_dir,
        profile,
        args.chapters,
        perturbations=perturbations,
        results_dir=args.results_dir or os.environ.get("EOS_RESULTS_DIR"),
        timeout=args.timeout,
        log=lambda text: print(text, flush=True),
    )
    path = write_record(record, build_dir / "robustness")
    if args.record is not None:
        write_record(record, args.record)
    print(f"[robustness] record: {path}")
    for line in record["failures"]:
        _err(f"execution failed: {line}")
    for line in record["differing"]:
        _err(f"outcome differs: {line}")
    print("[robustness] " + ("every outcome the same" if record["ok"] else "NOT robust"))
    return 0 if record["ok"] else 1


def cmd_record(args) -> int:
    """The ``record`` command: a build's claims, run summaries and timings as the profile's committed record."""
    from .. import profiles
    from .records import write
    from .toc import find_root

    root = find_root(args.root)
    build_dir = args.build_dir or root / "_build"
    out = args.out or root / "book" / "records" / args.profile
    prof = profiles.get(args.profile)
    notes = {name: e.note for name, e in prof.experiments.items() if e.note}
    try:
        path = write(root, build_dir, args.profile, out, data_source=prof.dataset, reductions=notes)
    except ValueError as error:
        _err(str(error))
        return 1
    print(f"[eos-book] record of the {args.profile} profile: {path.parent}")
    return 0


def cmd_list(args) -> int:
    """The ``list`` command: the pages of the table of contents; the exit code."""
    from .toc import find_root, read_toc

    root = find_root(args.root)
    chapters = read_toc(root)
    width = max(len(c.name) for c in chapters)
    for c in chapters:
        kind = "notebook" if c.notebook else "page"
        print(f"{c.name.ljust(width)}  {kind:8}  {c.source.relative_to(root)}")
    return 0


def cmd_notebooks(args) -> int:
    """``eos-book notebooks``: the chapters as standalone notebooks for Colab."""
    from .notebooks import package_requirement, write_notebooks
    from .toc import find_root

    root = find_root(args.root)
    written = write_notebooks(root, args.out, args.ref)
    print(
        f"[eos-book] {len(written)} notebooks in {Path(args.out).resolve() / 'book'}; on Colab, their first "
        f"cell runs: pip install {package_requirement(root, args.ref)!r}"
    )
    return 0


def cmd_lab(args) -> int:
    """``eos-book lab``: pair the chapters with their notebooks and start JupyterLab (does not return)."""
    from .lab import lab_command, pair_notebooks, require_jupyterlab
    from .toc import find_root

    root = find_root(args.root)
    if not args.pair_only:
        require_jupyterlab()
    notebooks = pair_notebooks(root)
    print(f"[eos-book] {len(notebooks)} chapters paired with their notebooks (book/<chapter>.ipynb)", flush=True)
    if args.pair_only:
        return 0
    command = lab_command(root, args.jupyterlab_args)
    print(f"[eos-book] {' '.join(command)}", flush=True)
    os.execv(command[0], command)  # JupyterLab takes over this process, its Ctrl-C and its exit code


COMMANDS = {
    "execute": cmd_execute,
    "build": cmd_build,
    "claims": cmd_claims,
    "robustness": cmd_robustness,
    "record": cmd_record,
    "list": cmd_list,
    "notebooks": cmd_notebooks,
    "lab": cmd_lab,
}


def main(argv=None) -> int:
    """Entry point of ``eos-book``; returns the exit code."""
    from ..system import exit_after_interrupt
    from .toc import BookError

    parser = build_parser()
    args = parser.parse_args(argv)
    if not args.command:
        parser.print_help(sys.stderr)
        return 2
    try:
        with exit_after_interrupt():
            return COMMANDS[args.command](args)
    except BookError as error:
        _err(str(error))
        return 2
    except KeyboardInterrupt:
        _err("interrupted")
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
