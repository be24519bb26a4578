"""``eos-book``: execute, render and check the book from the command line.

Exit codes: 0 success; 1 a chapter, a claim or the render failed (or nothing was recorded);
2 a bad request (unknown chapter, bad option, missing data for the paper profile).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
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
EOS_RESULTS_DIR (the run cache), EOS_MATHJAX_DIR (a local MathJax 3 es5 folder, so that the
HTML renders its math offline).

Start with:  eos-book build --profile quick
"""


class _Formatter(argparse.RawDescriptionHelpFormatter):
    pass


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


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="eos-book", description=DESCRIPTION, formatter_class=_Formatter
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    p = sub.add_parser(
        "execute",
        help="execute chapters with papermill and check their claims",
        description="Convert each chapter (book/*.md, jupytext) to a notebook in "
        "BUILD_DIR/book and execute it with papermill, with the profile as a parameter. "
        "Every chapter checks the paper's claims on the numbers it computed and records them "
        "in BUILD_DIR/claims; the scorecard chapter runs last and tabulates them. A failing "
        "chapter does not stop the others; the closing summary names each failing chapter "
        "with its cell and error, and the exit code is 1.",
        formatter_class=_Formatter,
    )
    _add_common(p)
    _add_execution(p)

    p = sub.add_parser(
        "build",
        help="execute the chapters, then render the HTML book",
        description="Run 'execute' (same options), then 'jupyter-book build' on the executed "
        "notebooks with warnings as errors (execution is off at render time: the HTML shows "
        "exactly what was executed and checked). Prints the path of index.html. The HTML is "
        "rendered even when a chapter failed, so that the failure can be read; the exit code "
        "is then 1.",
        formatter_class=_Formatter,
    )
    _add_common(p)
    _add_execution(p)
    p.add_argument(
        "--no-execute",
        action="store_true",
        help="render the notebooks already executed in BUILD_DIR/book, executing nothing",
    )
    p.add_argument(
        "--no-strict",
        action="store_true",
        help="do not treat Sphinx warnings as errors",
    )
    p.add_argument("--nitpick", action="store_true", help="warn about every missing reference")

    p = sub.add_parser(
        "claims",
        help="list every recorded claim and its verdict",
        description="Print every claim recorded by the last executions (BUILD_DIR/claims): "
        "chapter, paper item, claim, measured value, expectation, verdict and profile. Exit "
        "code 1 if any claim failed or none was recorded.",
        formatter_class=_Formatter,
    )
    _add_common(p)
    p.add_argument(
        "--json",
        action="store_true",
        help="print a JSON list of objects with keys chapter, paper_item, claim, measured, "
        "expected, passed, profile, device, date",
    )

    p = sub.add_parser(
        "list",
        help="list the chapters in the table of contents",
        description="List the pages of _toc.yml in order: the name to pass to 'execute', the "
        "source file, and whether it is an executed notebook or a plain page.",
        formatter_class=_Formatter,
    )
    _add_common(p, build=False)
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
    from .runner import execute, summary
    from .toc import find_root, read_toc, select

    root = find_root(args.root)
    build_dir = (args.build_dir or root / "_build").resolve()
    select(read_toc(root), args.chapters)  # validate names before anything slow
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
    from .runner import html_index, render, stage
    from .toc import find_root

    if args.no_execute:
        root = find_root(args.root)
        build_dir = (args.build_dir or root / "_build").resolve()
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

    columns = ("chapter", "paper_item", "passed", "measured", "expected", "claim", "profile")
    heads = ("chapter", "paper item", "verdict", "measured", "expected", "claim", "profile")
    rows = [
        [
            ("PASS" if r.get("passed") else "FAIL") if c == "passed" else format_value(r.get(c, ""))
            for c in columns
        ]
        for r in records
    ]
    widths = [min(60, max(len(h), *(len(row[i]) for row in rows))) for i, h in enumerate(heads)]

    def line(cells):
        return "  ".join(
            (cell if len(cell) <= w else cell[: w - 1] + "…").ljust(w)
            for cell, w in zip(cells, widths)
        ).rstrip()

    return "\n".join([line(heads), line(["-" * w for w in widths])] + [line(r) for r in rows])


def cmd_claims(args) -> int:
    from .claims import RECORD_KEYS, load_claims
    from .toc import find_root

    if args.build_dir is not None:
        build_dir = args.build_dir
    else:
        build_dir = find_root(args.root) / "_build"
    claims_dir = Path(build_dir) / "claims"
    try:
        records = load_claims(claims_dir)
    except ValueError as error:
        _err(str(error))
        return 1
    if args.json:
        print(json.dumps([{k: r.get(k) for k in RECORD_KEYS} for r in records], indent=1,
                         ensure_ascii=False))
    elif records:
        print(_text_table(records))
    if not records:
        _err(f"no claims recorded in {claims_dir}: run 'eos-book execute' first")
        return 1
    failed = [r for r in records if not r.get("passed")]
    if not args.json:
        print(f"\n{len(records)} claims: {len(records) - len(failed)} passed, "
              f"{len(failed)} failed")
    return 1 if failed else 0


def cmd_list(args) -> int:
    from .toc import find_root, read_toc

    root = find_root(args.root)
    chapters = read_toc(root)
    width = max(len(c.name) for c in chapters)
    for c in chapters:
        kind = "notebook" if c.notebook else "page"
        print(f"{c.name.ljust(width)}  {kind:8}  {c.source.relative_to(root)}")
    return 0


COMMANDS = {"execute": cmd_execute, "build": cmd_build, "claims": cmd_claims, "list": cmd_list}


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
