#!/usr/bin/env python
"""The speed benchmark of issue 5: the package's fast paths against the obvious reference, side by side.

    python benchmarks/bench.py [--device cpu|cuda] [--size smoke|cpu|paper] [--out DIR] [--threads N]

Everything runs in one process on one device. The REFERENCE is written the way the original research
code does it: an ``nn.Module`` with autograd, the data on the host and moved to the device through a
``DataLoader`` in chunks of 1,000 at every step, the top eigenvalue from
``scipy.sparse.linalg.eigsh`` on Hessian-vector products with a host round trip per product, and RP and
L from extra loss and gradient passes. Every fast path is first checked against the reference's
numbers (and eigenvalues against a float64 reference), then timed (CUDA events on a GPU,
``perf_counter`` on a CPU; warm-ups, medians over repeats). The script prints one table and, with
``--out``, writes it as ``.md`` and ``.json`` with the machine, date, git commit and command. It exits
with status 1 when a check failed or a row raised, after printing everything else.
"""

from __future__ import annotations

import argparse
import datetime as _dt
import os
import sys
import time
import traceback
from pathlib import Path

import numpy as np
import torch
from record import fmt_s, fmt_x, git_state, machine, table, write
from rows_diagnostics import DiagnosticRows
from rows_runs import RunRows
from rows_sharpness import SharpnessRows
from rows_step import StepRows
from timing import Clock
from workload import SIZES, Problem


class Bench(StepRows, SharpnessRows, DiagnosticRows, RunRows):
    """The rows, their checks and their table; one method per row lives in the rows_* modules."""

    def __init__(self, args):
        self.args = args
        self.device = torch.device(args.device)
        self.cfg = SIZES[args.size]
        self.clock = Clock(self.device)
        self.rows, self.checks, self.errors = [], [], []
        self.p = Problem(self.cfg, self.device)
        self.base = {}  # shared timings

    # checks -------------------------------------------------------------------------------------
    def check(self, row, what, measured, tolerance, passed):
        self.checks.append(
            dict(row=row, what=what, measured=float(measured), tolerance=float(tolerance), passed=bool(passed))
        )
        mark = "ok  " if passed else "FAIL"
        print(f"  check {mark} [{row}] {what}: {measured:.3g} (tolerance {tolerance:.3g})", flush=True)
        return passed

    def check_close(self, row, what, a, b, rtol, atol=0.0):
        a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
        err = np.abs(a - b) - (rtol * np.abs(b) + atol)
        worst = int(np.argmax(err))
        rel = np.max(np.abs(a - b) / np.maximum(np.abs(b), 1e-300))
        return self.check(
            row, f"{what} (max rel. diff.)", rel, rtol, bool(np.all(np.isfinite(a)) and err.flat[worst] <= 0)
        )

    def tol(self, dtype=None):
        """Agreement expected between two float computations of the same numbers along a short run."""
        return 1e-3 if (dtype or self.p.dtype) == torch.float32 else 1e-8

    # rows ---------------------------------------------------------------------------------------
    def add(self, row, what, target, package, reference, ratio, met, note=""):
        self.rows.append(
            dict(
                row=row,
                what=what,
                target=target,
                package_s=package,
                reference_s=reference,
                ratio=ratio,
                met=met,
                note=note,
            )
        )
        print(
            f"[{row}] {what}: package {fmt_s(package)}, reference {fmt_s(reference)}, ratio {fmt_x(ratio)}, "
            f"met: {met} {note}",
            flush=True,
        )

    def run(self, name, fn):
        print(f"-- {name}", flush=True)
        t0 = time.perf_counter()
        try:
            fn()
            print(f"   ({time.perf_counter() - t0:.1f} s)", flush=True)
        except Exception as exc:  # record and go on: one broken row must not hide the others
            traceback.print_exc()
            self.errors.append(f"{name}: {type(exc).__name__}: {exc}")
            self.add(name.split()[0], name, "", None, None, None, "error", f"{type(exc).__name__}: {exc}"[:200])

    def met(self, ok, ratio_over=None, gpu_only=False):
        if gpu_only and self.device.type != "cuda":
            return "n.a. (GPU target)"
        if ok:
            return "yes"
        return f"no ({ratio_over:.2f} × the target)" if ratio_over is not None else "no"

    def all(self, only=None):
        for name, fn in (
            ("1 step", self.row1),
            ("1p paper-size step", self.row1p),
            ("2 eigen", self.row2),
            ("2p paper-size tracking", self.row2p),
            ("3 training", self.row3),
            ("4 profile", self.row4),
            ("5 E[RP]", self.row5),
            ("7 book", self.row7),
            ("8 float64", self.row8),
            ("9 monitor", self.row9),
        ):
            paper_rows = name.split()[0] in ("1p", "2p")  # the paper's size beside the cpu size's rows
            if (only is None and (not paper_rows or self.args.size == "cpu")) or (only and name.split()[0] in only):
                self.run(name, fn)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--device", default="cpu", help="cpu or cuda (default cpu)")
    parser.add_argument("--size", default="cpu", choices=sorted(SIZES), help="workload (default cpu)")
    parser.add_argument("--out", default=None, help="write the record (.json and .md) into this folder")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's own)")
    parser.add_argument("--rows", default=None, help="comma-separated subset of rows 1-8 (default: all)")
    args = parser.parse_args(argv)
    if args.device.startswith("cuda") and not torch.cuda.is_available():
        parser.error("--device cuda, but torch sees no CUDA device here")
    if args.threads:
        torch.set_num_threads(args.threads)
    started = _dt.datetime.now(_dt.timezone.utc)
    load_before = os.getloadavg()
    bench = Bench(args)
    print(
        f"eos-book benchmark: size {args.size} {bench.cfg}, device {args.device}, torch {torch.__version__}, "
        f"{torch.get_num_threads()} threads, load {load_before[0]:.2f}",
        flush=True,
    )
    t0 = time.perf_counter()
    bench.all(None if args.rows is None else set(args.rows.split(",")))
    load_after = os.getloadavg()
    text = table(bench.rows)
    failed = [c for c in bench.checks if not c["passed"]]
    summary = (
        f"{len(bench.checks) - len(failed)}/{len(bench.checks)} checks passed"
        + (f"; FAILED: {', '.join(c['row'] + ' ' + c['what'] for c in failed)}" if failed else "")
        + (f"; ERRORS: {'; '.join(bench.errors)}" if bench.errors else "")
    )
    print()
    print(text)
    print()
    print(summary)
    record = dict(
        date=started.isoformat(timespec="seconds"),
        command=" ".join(["python", "benchmarks/bench.py", *sys.argv[1:]]),
        git=git_state(),
        device=args.device,
        size=args.size,
        config=bench.cfg,
        machine=machine(args.device),
        load_average_before=load_before,
        load_average_after=load_after,
        total_s=time.perf_counter() - t0,
        rows=bench.rows,
        checks=bench.checks,
        errors=bench.errors,
        all_checks_passed=not failed and not bench.errors,
    )
    if args.out:
        write(Path(args.out), record, text, summary, started)
    return 0 if record["all_checks_passed"] else 1


if __name__ == "__main__":
    sys.exit(main())
