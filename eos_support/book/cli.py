"""``eos-book``: execute, render and check the book from the command line.

Exit codes: 0 success; 1 a chapter, a claim or the render failed (or nothing was recorded);
2 a bad request (unknown chapter, bad option, missing data for the paper profile).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import textwrap
import time
from pathlib import Path

from .. import __version__

DESCRIPTION = """\
Execute, render and check the executable reproduction of Ahn, Zhang & Sra,
"Understanding the Unstable Convergence of Gradient Descent" (ICML 2022).

  eos-book execute   run the chapters with papermill; every chapter checks its claims
  eos-book build     execute, then render the HTML book with Jupyter Book
  eos-book claims    list every recorded claim and its verdict
  eos-book list      list the chapters

Profiles: 'quick' (Fashion-MNIST, a laptop's CPU, minutes) and 'paper' (CIFAR-10 5k as in
the paper, a GPU). The default is 'paper' when torch sees a GPU and CIFAR-10 is on disk,
'quick' otherwise; the choice is printed first. Run 'eos-book COMMAND --help' for each
command's options.

Environment: EOS_DATA_DIR (where CIFAR-10 is read or downloaded), EOS_PAPER_DATASET
(npz:PATH, the paper profile's images from an .npz with x_train and y_train),
EOS_RESULTS_DIR (the run cache).

Start with:  eos-book build --profile quick
"""


EXIT_CODES = """exit codes:
  0    success
  1    a chapter, a claim or the render failed, or a chapter has no claims
  2    a bad request: an unknown chapter or option, missing or bad paper data
  130  interrupted (Ctrl-C): finished runs and checkpoints are kept"""


class _Formatter(argparse.HelpFormatter):
    """Wraps each paragraph of a description to the terminal; indented lines (lists) stay as written."""

    def _fill_text(self, text, width, indent):
        def fill(paragraph):
            if paragraph.startswith("  ") or paragraph.startswith("exit codes:"):
                return "\n".join(indent + line for line in paragraph.splitlines())
            return textwrap.fill(" ".join(paragraph.split()), width, initial_indent=indent, subsequent_indent=indent)

        return "\n\n".join(fill(p) for p in text.strip().split("\n\n"))


def _add_common(p: argparse.ArgumentParser, build=True):
    p.add_argument(
        "--root",
        type=Path,
        default=None,
        help="the book's project folder (default: the first folder at or above the current "
        "one with _toc.yml and _config.yml)",
    )
    if build:
        p.add_argument(
            "--build-dir",
            type=Path,
            default=None,
            help="where staged notebooks, claims, results and HTML go (default: ROOT/_build)",
        )


def _add_execution(p: argparse.ArgumentParser):
    from ..profiles import NAMES as PROFILES
    from .runner import DEFAULT_TIMEOUT_S

    p.add_argument(
        "--profile",
        choices=PROFILES,
        default=None,
        help="'quick': Fashion-MNIST sized for 2 CPU cores; 'paper': CIFAR-10 5k as in the "
        "paper, for a GPU (default: paper if a GPU and CIFAR-10 are present, else quick)",
    )
    p.add_argument(
        "--timeout",
        type=int,
        default=DEFAULT_TIMEOUT_S,
        metavar="SECONDS",
        help=f"limit for one notebook cell (default {DEFAULT_TIMEOUT_S})",
    )
    p.add_argument(
        "--results-dir",
        type=Path,
        default=None,
        help="the chapters' run cache (default: $EOS_RESULTS_DIR if set, else BUILD_DIR/results)",
    )
    p.add_argument("--no-progress", action="store_true", help="no progress bars")
    p.add_argument(
        "chapters",
        nargs="*",
        metavar="CHAPTER",
        help="chapters to execute, by name (e.g. quadratics) or path (book/quadratics.md); "
        "default: all. The scorecard is always re-executed last.",
    )


def _add_build(p: argparse.ArgumentParser):
    p.add_argument("--no-execute", action="store_true",
                   help="render the notebooks already executed in BUILD_DIR/book, executing nothing")
    p.add_argument("--no-strict", action="store_true", help="do not treat Sphinx warnings as errors")
    p.add_argument("--nitpick", action="store_true", help="warn about every missing reference")


def _add_notebooks(p: argparse.ArgumentParser):
    p.add_argument("--out", type=Path, required=True, metavar="DIR",
                   help="where to write book/<chapter>.ipynb (created if needed; not the repository itself)")
    p.add_argument("--ref", default=None,
                   help="the branch, tag or commit of the repository that the install cell installs eos-book "
                   "from (default: repository.branch of _config.yml)")


def _add_lab(p: argparse.ArgumentParser):
    p.add_argument("--pair-only", action="store_true",
                   help="write the chapters' notebooks and exit, without starting JupyterLab (Binder's postBuild)")
    p.add_argument("jupyterlab_args", nargs="*", metavar="JUPYTERLAB_OPTION",
                   help="options for JupyterLab, after '--' (e.g. eos-book lab -- --no-browser --port 8899)")


def _add_claims(p: argparse.ArgumentParser):
    p.add_argument("--json", action="store_true",
                   help="print a JSON list of claim records with keys chapter, id, paper_item, kind, claim, criterion, "
                   "measured, holds, outcome (reproduced, deviation, not reproduced or check), expected, "
                   "as_expected, deviation, profile, device, date")


SUBCOMMANDS = {
    "execute": ("execute chapters with papermill and check their claims", """
        Convert each chapter (book/*.md, jupytext) to a notebook in BUILD_DIR/book and execute it with
        papermill, with the profile as a parameter. Every chapter checks the paper's claims on the numbers it
        computed and records them in BUILD_DIR/claims; the scorecard chapter runs last and tabulates them. A
        failing chapter does not stop the others; the closing summary names each failing chapter with its
        cell and error, and the exit code is 1.""", (_add_common, _add_execution)),
    "build": ("execute the chapters, then render the HTML book", """
        Run 'execute' (same options), then 'jupyter-book build' on the executed notebooks with warnings as
        errors (execution is off at render time: the HTML shows exactly what was executed and checked).
        Prints the path of index.html. The HTML is rendered even when a chapter failed, so that the failure
        can be read; the exit code is then 1.""", (_add_common, _add_execution, _add_build)),
    "claims": ("list every recorded claim and its verdict", """
        Print every claim recorded by the last executions (BUILD_DIR/claims): chapter, claim, paper item,
        outcome (reproduced, deviation, not reproduced, or check for a sanity check of the code) and
        measured value, and name every chapter of the table of contents that has no current claims. Exit
        code 1 if an outcome differs from the one the registry of claims expects, a check failed, or a
        chapter has no claims.""",
               (_add_common, _add_claims)),
    "notebooks": ("write the chapters as standalone notebooks, for Colab", """
        Write each notebook chapter of _toc.yml as DIR/book/<chapter>.ipynb: converted from its .md with
        jupytext, with a first cell that installs eos-book from the repository when it runs on Google Colab
        and does nothing elsewhere (tagged remove-cell). The chapter's parameters cell stays, so papermill
        can set the profile. CI publishes these notebooks to the branch that the book's Colab button opens
        (launch_buttons.colab_branch in _config.yml).""", (lambda p: _add_common(p, build=False), _add_notebooks)),
    "lab": ("open the chapters as notebooks in JupyterLab", """
        Write book/<chapter>.ipynb beside each chapter's .md (a jupytext pair: the .md stays the source,
        JupyterLab saves both), then start JupyterLab on the repository with book/ open. A chapter run there
        writes its claims and runs where 'eos-book build' reads them (_build/claims, _build/results). A
        notebook newer than its .md is left as it is. Needs the notebook extra: pip install -e
        ".[notebook]".""", (lambda p: _add_common(p, build=False), _add_lab)),
    "list": ("list the chapters in the table of contents", """
        List the pages of _toc.yml in order: the name to pass to 'execute', the source file, and whether it is
        an executed notebook or a plain page.""", (lambda p: _add_common(p, build=False),)),
}


def build_parser() -> argparse.ArgumentParser:
    """The ``eos-book`` argument parser, one sub-command per entry of :data:`SUBCOMMANDS`."""
    parser = argparse.ArgumentParser(prog="eos-book", description=DESCRIPTION, epilog=EXIT_CODES,
                                     formatter_class=_Formatter)
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, (summary, description, adders) in SUBCOMMANDS.items():
        p = sub.add_parser(name, help=summary, description=description, epilog=EXIT_CODES,
                           formatter_class=_Formatter)
        for add in adders:
            add(p)
    return parser


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
        progress=not args.no_progress,
    )
    print(summary(results))
    print(f"[eos-book] {time.perf_counter() - start:.1f} s; notebooks in {build_dir / 'book'}; "
          f"claims in {build_dir / 'claims'}")
    return (0 if all(r.ok for r in results) else 1), build_dir


def cmd_execute(args) -> int:
    return _execute(args)[0]


def cmd_build(args) -> int:
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
    rendered = render(build_dir, strict=not args.no_strict, nitpick=args.nitpick)
    index = html_index(build_dir)
    if rendered != 0:
        _err(f"jupyter-book build failed (exit code {rendered}); see the messages above")
        return 1
    print(f"[eos-book] the book: {index}")
    if code:
        _err("some chapters failed (see the summary above); their pages show the error")
    return code


def _text_table(records) -> str:
    from .report import format_value

    columns = ("chapter", "id", "paper_item", "outcome", "measured")
    heads = ("chapter", "claim", "paper item", "outcome", "measured")

    def text(r, c):
        if c == "outcome":
            return r.get("outcome", "?") + ("" if r.get("as_expected") else f" (EXPECTED {r.get('expected')})")
        return format_value(r.get(c, ""))

    rows = [[text(r, c) for c in columns] for r in records]
    widths = [min(60, max(len(h), *(len(row[i]) for row in rows))) for i, h in enumerate(heads)]

    def line(cells):
        return "  ".join((cell if len(cell) <= w else cell[: w - 1] + "…").ljust(w)
                         for cell, w in zip(cells, widths)).rstrip()

    return "\n".join([line(heads), line(["-" * w for w in widths])] + [line(r) for r in rows])


def _chapters_without_claims(root, records) -> list[str]:
    """The claiming chapters of the table of contents that have no current claims (none when the book
    cannot be found: ``--build-dir`` alone names no table of contents)."""
    from .toc import SCORECARD, BookError, find_root, read_toc

    try:
        pages = read_toc(find_root(root))
    except BookError:
        return []
    recorded = {r.get("chapter") for r in records}
    return [p.name for p in pages if p.notebook and p.name != SCORECARD and p.name not in recorded]


def cmd_claims(args) -> int:
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
    unexpected = [r for r in records if not r.get("as_expected")]
    if not args.json:
        counts = {o: sum(r.get("outcome") == o for r in records)
                  for o in ("reproduced", "deviation", "not reproduced", "check")}
        print(f"\n{len(records)} claims: " + ", ".join(f"{n} {o}" for o, n in counts.items())
              + f"; {len(unexpected)} not as expected"
              + (f"; {len(missing)} chapter(s) without claims" if missing else ""))
    return 1 if unexpected or missing else 0


def cmd_list(args) -> int:
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
    print(f"[eos-book] {len(written)} notebooks in {Path(args.out).resolve() / 'book'}; on Colab, their first "
          f"cell runs: pip install {package_requirement(root, args.ref)!r}")
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


COMMANDS = {"execute": cmd_execute, "build": cmd_build, "claims": cmd_claims, "list": cmd_list,
            "notebooks": cmd_notebooks, "lab": cmd_lab}


def main(argv=None) -> int:
    """Entry point of ``eos-book``; returns the exit code."""
    from .toc import BookError

    parser = build_parser()
    args = parser.parse_args(argv)
    if not args.command:
        parser.print_help(sys.stderr)
        return 2
    try:
        return COMMANDS[args.command](args)
    except BookError as error:
        _err(str(error))
        return 2
    except KeyboardInterrupt:
        _err("interrupted")
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
