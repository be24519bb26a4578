"""The ``eos-book`` command line: its sub-commands, their options, help texts and exit codes."""

from __future__ import annotations

import argparse
import textwrap
from pathlib import Path

from .. import __version__

DESCRIPTION = """\
Execute, render and check the executable reproduction of Ahn, Zhang & Sra,
"Understanding the Unstable Convergence of Gradient Descent" (ICML 2022).

  eos-book execute   run the chapters with papermill; every chapter checks its claims
  eos-book build     execute, then render the HTML book with Jupyter Book
  eos-book claims    list every recorded claim and its verdict
  eos-book robustness  re-execute chapters under rounding-size perturbations; same verdicts?
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
    p.add_argument(
        "--no-progress", action="store_true", help="no progress bars (none either when stderr is no terminal)"
    )
    chapters = "chapters to execute, by name (quadratics) or path (book/quadratics.md); default: all"
    p.add_argument("chapters", nargs="*", metavar="CHAPTER", help=chapters + " (the scorecard always re-executes last)")


def _add_build(p: argparse.ArgumentParser):
    p.add_argument(
        "--no-execute",
        action="store_true",
        help="render the notebooks already executed in BUILD_DIR/book, executing nothing",
    )
    p.add_argument("--no-strict", action="store_true", help="do not treat Sphinx warnings as errors")


def _add_robustness(p: argparse.ArgumentParser):
    p.add_argument(
        "--perturb",
        action="append",
        default=None,
        metavar="KIND=N",
        help="a perturbation: theta0=SEED (every network's θ⁰ moved by one float32 rounding unit) or threads=N "
        "(torch on N CPU threads); repeat for several (default: theta0=1 and threads=1)",
    )
    p.add_argument(
        "--record",
        type=Path,
        default=None,
        metavar="DIR",
        help="also write the record to DIR/<profile>.json and .md (the book commits book/records/robustness)",
    )


def _add_record(p: argparse.ArgumentParser):
    from ..profiles import NAMES as PROFILES

    p.add_argument("--profile", choices=PROFILES, required=True, help="the profile whose execution to record")
    p.add_argument(
        "--out", type=Path, default=None, metavar="DIR", help="where to write it (default: ROOT/book/records/PROFILE)"
    )


def _add_notebooks(p: argparse.ArgumentParser):
    p.add_argument(
        "--out",
        type=Path,
        required=True,
        metavar="DIR",
        help="where to write book/<chapter>.ipynb (created if needed; not the repository itself)",
    )
    p.add_argument(
        "--ref",
        default=None,
        help="the branch, tag or commit of the repository that the install cell installs eos-book "
        "from (default: repository.branch of _config.yml)",
    )


def _add_lab(p: argparse.ArgumentParser):
    p.add_argument(
        "--pair-only",
        action="store_true",
        help="write the chapters' notebooks and exit, without starting JupyterLab (Binder's postBuild)",
    )
    lab = "options for JupyterLab, after '--' (e.g. eos-book lab -- --no-browser --port 8899)"
    p.add_argument("jupyterlab_args", nargs="*", metavar="JUPYTERLAB_OPTION", help=lab)


def _add_claims(p: argparse.ArgumentParser):
    p.add_argument(
        "--json",
        action="store_true",
        help="print a JSON list of claim records with keys chapter, id, paper_item, kind, claim, criterion, "
        "measured, statistic, uncertainty (null for a check), threshold, method (how the uncertainty was "
        "measured), holds (null: inconclusive), outcome (reproduced, deviation, not reproduced, inconclusive "
        "or check), expected, agreement (as expected, contradicts, undecided here, decided here), as_expected, "
        "deviation, decide (what would decide an inconclusive claim), profile, device, date",
    )


SUBCOMMANDS = {
    "execute": (
        "execute chapters with papermill and check their claims",
        """
        Convert each chapter (book/*.md, jupytext) to a notebook in BUILD_DIR/book and execute it with
        papermill, with the profile as a parameter. Every chapter checks the paper's claims on the numbers it
        computed and records them in BUILD_DIR/claims; the scorecard chapter runs last and tabulates them. A
        failing chapter does not stop the others; the closing summary names each failing chapter with its
        cell and error, and the exit code is 1.""",
        (_add_common, _add_execution),
    ),
    "build": (
        "execute the chapters, then render the HTML book",
        """
        Run 'execute' (same options), then 'jupyter-book build' on the executed notebooks with warnings as
        errors (execution is off at render time: the HTML shows exactly what was executed and checked).
        Prints the path of index.html. The HTML is rendered even when a chapter failed, so that the failure
        can be read; the exit code is then 1.""",
        (_add_common, _add_execution, _add_build),
    ),
    "claims": (
        "list every recorded claim and its verdict",
        """
        Print every claim recorded by the last executions (BUILD_DIR/claims): chapter, claim, paper item,
        outcome (reproduced, deviation, not reproduced, or check for a sanity check of the code) and
        measured value, and name every chapter of the table of contents that has no current claims. Exit
        code 1 if an outcome differs from the one the registry of claims expects, a check failed, or a
        chapter has no claims.""",
        (_add_common, _add_claims),
    ),
    "robustness": (
        "re-execute chapters under rounding-size perturbations and compare their verdicts",
        """
        Execute the chapters (default: all) unperturbed, unless BUILD_DIR/claims holds their claims already,
        then again under each perturbation, each in BUILD_DIR/robustness/<perturbation> with its own run
        cache: every network's θ⁰ moved by one float32 rounding unit, or torch on one CPU thread, the size of
        the differences by which another CPU's trajectory departs from this one's. Compares every claim's
        outcome with the unperturbed one and writes the record (BUILD_DIR/robustness/<profile>.json and .md).
        Exit code 1 if an outcome differs or an execution failed.""",
        (_add_common, _add_execution, _add_robustness),
    ),
    "record": (
        "commit a profile's execution: its claims, run summaries and timings",
        """
        Add the chapters of PROFILE in BUILD_DIR to the record in DIR (default book/records/PROFILE): their
        claims (BUILD_DIR/claims), the summaries of the runs they used (BUILD_DIR/runs) and their timings, with
        record.json: the machine, torch's version, the data source, each experiment's note on how its setting
        departs from the paper's (reductions of measurement density included), and for each chapter the commit,
        date and torch threads of its execution. A chapter already recorded is replaced. The scorecard's column
        for that profile, and each chapter's section on it, read the record. Exit code 1 if the build folder
        holds no claims of that profile, or was executed on another machine, torch or data than the record.""",
        (_add_common, _add_record),
    ),
    "notebooks": (
        "write the chapters as standalone notebooks, for Colab",
        """
        Write each notebook chapter of _toc.yml as DIR/book/<chapter>.ipynb: converted from its .md with
        jupytext, with a first cell that installs eos-book from the repository when it runs on Google Colab
        and does nothing elsewhere (tagged remove-cell). The chapter's parameters cell stays, so papermill
        can set the profile. CI publishes these notebooks to the branch that the book's Colab button opens
        (launch_buttons.colab_branch in _config.yml).""",
        (lambda p: _add_common(p, build=False), _add_notebooks),
    ),
    "lab": (
        "open the chapters as notebooks in JupyterLab",
        """
        Write book/<chapter>.ipynb beside each chapter's .md (a jupytext pair: the .md stays the source,
        JupyterLab saves both), then start JupyterLab on the repository with book/ open. A chapter run there
        writes its claims and runs where 'eos-book build' reads them (_build/claims, _build/results). A
        notebook newer than its .md is left as it is. Needs the notebook extra: pip install -e
        ".[notebook]".""",
        (lambda p: _add_common(p, build=False), _add_lab),
    ),
    "list": (
        "list the chapters in the table of contents",
        """
        List the pages of _toc.yml in order: the name to pass to 'execute', the source file, and whether it is
        an executed notebook or a plain page.""",
        (lambda p: _add_common(p, build=False),),
    ),
}


def build_parser() -> argparse.ArgumentParser:
    """The ``eos-book`` argument parser, one sub-command per entry of :data:`SUBCOMMANDS`."""
    parser = argparse.ArgumentParser(
        prog="eos-book", description=DESCRIPTION, epilog=EXIT_CODES, formatter_class=_Formatter
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, (summary, description, adders) in SUBCOMMANDS.items():
        p = sub.add_parser(name, help=summary, description=description, epilog=EXIT_CODES, formatter_class=_Formatter)
        for add in adders:
            add(p)
    return parser
