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
import json
import os
import platform
import re
import statistics
import subprocess
import sys
import time
import traceback
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from reference import EIG_TOL, Reference, plain_grad_fn, plain_step_fn, synthetic_data  # benchmarks/reference.py
from torch.func import grad, grad_and_value, jvp
from torch.nn.utils import parameters_to_vector

from eos_support import diagnostics
from eos_support.data import Dataset
from eos_support.diagnostics import sgd as sgd_diagnostics
from eos_support.diagnostics.curvature import hessian_operator, lanczos, top_eigen
from eos_support.diagnostics.objective import ModuleLoss
from eos_support.train import train_gd
from eos_support.train.models import fully_connected

REPO = Path(__file__).resolve().parents[1]

# n examples x d inputs, d-width-width-classes tanh network, cross-entropy. ``chunk``: the reference's
# DataLoader batch; ``steps``: trainer steps per timing; ``train_steps``: row 3's run (sharpness every
# ``every``); ``batch``: SGD minibatch size of row 5; ``*_chunk``: vmap chunk sizes (memory bounds).
SIZES = {
    "smoke": dict(
        n=200,
        d=48,
        width=24,
        classes=10,
        chunk=100,
        eta=0.2,
        steps=10,
        check_steps=4,
        train_steps=10,
        every=5,
        taus=20,
        tau_chunk=None,
        samples=32,
        batch=20,
        sgd_chunk=16,
        repeats=3,
        heavy_repeats=1,
        tracking_calls=2,
    ),
    "cpu": dict(
        n=1000,
        d=784,
        width=200,
        classes=10,
        chunk=1000,
        eta=0.05,
        steps=20,
        check_steps=8,
        train_steps=40,
        every=20,
        taus=100,
        tau_chunk=25,
        samples=256,
        batch=50,
        sgd_chunk=32,
        repeats=5,
        heavy_repeats=1,
        tracking_calls=2,
    ),
    "paper": dict(
        n=5000,
        d=3072,
        width=200,
        classes=10,
        chunk=1000,
        eta=0.02,
        steps=200,
        check_steps=10,
        train_steps=100,
        every=20,
        taus=100,
        tau_chunk=50,
        samples=256,
        batch=128,
        sgd_chunk=64,
        repeats=7,
        heavy_repeats=2,
        tracking_calls=3,
    ),
}
TRUTH_TOL = 1e-8  # the float64 eigsh that checks it
TARGETS = {
    "1": "≤ 1.5 × plain step (CUDA-graphed on GPU)",
    "2c": "≤ 25 step-times",
    "2w": "≤ 6 products per call, error ≤ 1e-4",
    "3": "≥ 200 × (GPU), ≥ 6 × (2 CPU cores)",
    "4": "≤ 1.2 × {} gradients",
    "5": "≤ 1.2 × {} gradients",
    "7": "paper ≤ 10 min (GPU), quick ≤ 15 min (CPU)",
    "8": "≤ 2 × float32 (GPU)",
}


# -- timing ---------------------------------------------------------------------------------------


class Clock:
    """Medians of wall times on one device: CUDA events on a GPU, ``perf_counter`` on a CPU."""

    def __init__(self, device):
        self.device = torch.device(device)
        self.cuda = self.device.type == "cuda"

    def sync(self):
        if self.cuda:
            torch.cuda.synchronize(self.device)

    def once(self, fn, inner=1):
        """Seconds per call of ``fn`` over ``inner`` back-to-back calls (synchronised at both ends)."""
        self.sync()
        if self.cuda:
            start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
            start.record()
            for _ in range(inner):
                fn()
            end.record()
            end.synchronize()
            return start.elapsed_time(end) / 1e3 / inner
        t0 = time.perf_counter()
        for _ in range(inner):
            fn()
        return (time.perf_counter() - t0) / inner

    def interleaved(self, fns, repeats, warmup=1):
        """Medians of several timings taken in turns, so that a change of load hits them alike.

        ``fns``: name -> (fn, inner) timed by :meth:`once`, or name -> a callable returning its own
        seconds (e.g. a trainer's loop clock).
        """

        def one(entry):
            return self.once(*entry) if isinstance(entry, tuple) else entry()

        for _ in range(warmup):
            for entry in fns.values():
                one(entry)
        times = {name: [] for name in fns}
        for _ in range(max(1, repeats)):
            for name, entry in fns.items():
                times[name].append(one(entry))
        return {name: statistics.median(ts) for name, ts in times.items()}

    def median(self, fn, repeats, warmup=1, inner=1):
        for _ in range(warmup):
            fn()
        return statistics.median(self.once(fn, inner) for _ in range(max(1, repeats)))


class PeakMemory:
    """Peak memory of a block above what was in use before it: the CUDA allocator's peak on a GPU,
    the process's peak resident set (VmHWM, reset through /proc/self/clear_refs) on a CPU.
    """

    def __init__(self, device):
        self.cuda = torch.device(device).type == "cuda"
        self.device = device
        self.mb = None

    @staticmethod
    def _status(key):
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith(key):
                    return int(line.split()[1]) * 1024
        raise OSError(key)

    def __enter__(self):
        if self.cuda:
            torch.cuda.synchronize(self.device)
            torch.cuda.reset_peak_memory_stats(self.device)
            self.base = torch.cuda.memory_allocated(self.device)
        else:
            try:
                with open("/proc/self/clear_refs", "w") as fh:
                    fh.write("5")
                self.base = self._status("VmRSS")
            except OSError:
                self.base = None
        return self

    def __exit__(self, *exc):
        if self.cuda:
            torch.cuda.synchronize(self.device)
            self.mb = (torch.cuda.max_memory_allocated(self.device) - self.base) / 2**20
        elif self.base is not None:
            self.mb = (self._status("VmHWM") - self.base) / 2**20
        return False


# -- problem -----------------------------------------------------------------------------------------


class Problem:
    def __init__(self, cfg, device, dtype=torch.float32):
        self.cfg, self.device, self.dtype = cfg, torch.device(device), dtype
        self.x_host, self.y_host = synthetic_data(cfg["n"], cfg["d"], cfg["classes"], dtype=dtype)
        self.x, self.y = self.x_host.to(self.device), self.y_host.to(self.device)
        self.data = Dataset(
            self.x,
            self.y,
            None,
            None,
            cfg["classes"],
            f"synthetic-{cfg['n']}x{cfg['d']}",
            "benchmarks/bench.py synthetic_data",
            cfg["d"],
        )

    def model(self, dtype=None):
        return fully_connected(
            self.cfg["d"],
            depth=2,
            width=self.cfg["width"],
            activation="tanh",
            num_classes=self.cfg["classes"],
            seed=0,
            dtype=dtype or self.dtype,
            device=self.device,
        )

    def loss(self, dtype=None):
        dtype = dtype or self.dtype
        return ModuleLoss(self.model(dtype), self.x.to(dtype), self.y, "ce")

    def reference(self, dtype=None):
        dtype = dtype or self.dtype
        return Reference(self.model(dtype), self.x_host.to(dtype), self.y_host, self.device, self.cfg["chunk"])


def train(problem, steps, dtype=None, **options):
    """The package's trainer, uncached, silent; a Run."""
    dtype = dtype or problem.dtype
    data = (
        problem.data
        if dtype == problem.dtype
        else Dataset(
            problem.x.to(dtype),
            problem.y,
            None,
            None,
            problem.cfg["classes"],
            problem.data.name + f"-{dtype}",
            problem.data.source,
            problem.cfg["d"],
        )
    )
    options.setdefault("sharpness_every", None)
    return train_gd(
        problem.model(dtype), data, "ce", eta=problem.cfg["eta"], max_steps=steps, progress=False, **options
    )


def trainer_timer(problem, dtype=None):
    """For :meth:`Clock.interleaved`: seconds per step of train_gd, from its own loop clock
    (``Run.wall_s``, which ends with a host read of the last loss) over steps + 1 evaluations.
    """
    steps = problem.cfg["steps"]
    return lambda: train(problem, steps, dtype).wall_s / (steps + 1)


def cuda_graphed(fn):
    """``fn`` captured in a CUDA graph (warm-up on a side stream, as in PyTorch's whole-network recipe);
    returns the replay.
    """
    s = torch.cuda.Stream()
    s.wait_stream(torch.cuda.current_stream())
    with torch.cuda.stream(s):
        for _ in range(3):
            fn()
    torch.cuda.current_stream().wait_stream(s)
    graph = torch.cuda.CUDAGraph()
    with torch.cuda.graph(graph):
        fn()
    return graph.replay


# -- checks and rows ------------------------------------------------------------------------------


class Bench:
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

    # row 1 --------------------------------------------------------------------------------------
    def row1(self):
        cfg, p, clock = self.cfg, self.p, self.clock
        k = cfg["check_steps"]
        run = train(p, k)
        ref = p.reference()
        hist = [ref.step_with_diagnostics(cfg["eta"]) for _ in range(k)]
        h = run.history
        for key in ("loss", "rp", "ds"):
            self.check_close(
                "1",
                f"trainer {key} vs reference extra passes, {k} steps",
                h[key][:k],
                [r[key] for r in hist],
                self.tol(),
            )
        fns = dict(
            plain=(plain_step_fn(p.model(), p.x, p.y, cfg["eta"]), 5),
            trainer=trainer_timer(p),
            ref=(lambda: ref.step(cfg["eta"]), 1),
            ref_eval=(lambda: ref.step_with_diagnostics(cfg["eta"]), 1),
        )
        if self.device.type == "cuda":
            fns["graphed"] = (cuda_graphed(plain_step_fn(p.model(), p.x, p.y, cfg["eta"])), 20)
        t = clock.interleaved(fns, cfg["repeats"])
        t_plain, t_pkg, t_ref, t_ref_eval = t["plain"], t["trainer"], t["ref"], t["ref_eval"]
        self.base.update(plain_step=t_plain, step=t.get("graphed", t_plain), trainer_step=t_pkg)
        base = self.base["step"]
        ratio = t_pkg / base
        label = "CUDA-graphed plain step" if self.device.type == "cuda" else "plain step"
        self.add(
            "1",
            f"GD step with RP, L (train_gd) vs {label}",
            TARGETS["1"],
            t_pkg,
            base,
            ratio,
            self.met(ratio <= 1.5, ratio / 1.5),
            f"plain autograd step {fmt_s(t_plain)}"
            + (f", graphed {fmt_s(base)}" if self.device.type == "cuda" else ""),
        )
        self.add(
            "1.ref",
            "reference GD step (DataLoader), without / with RP, L",
            "info",
            t_pkg,
            t_ref_eval,
            t_ref_eval / t_pkg,
            "info",
            f"reference step without diagnostics {fmt_s(t_ref)}; ratio = reference with RP, L / train_gd",
        )

        # how the trainer's gradient is computed: torch.func vs plain autograd on the same flat θ
        f = p.loss()
        theta, y = f.theta0, f.targets

        def loss_and_correct(th):
            out = f.outputs(th)
            return f.loss(out, y), (out.argmax(-1) == y).sum()

        func = grad_and_value(loss_and_correct, has_aux=True)

        def autograd_flat():
            th = theta.detach().requires_grad_()
            loss, correct = loss_and_correct(th)
            return torch.autograd.grad(loss, th)[0], (loss.detach(), correct)

        self.check_close(
            "1",
            "gradient: autograd on flat θ vs torch.func",
            autograd_flat()[0].cpu(),
            func(theta)[0].cpu(),
            1e-5,
            1e-6 * float(func(theta)[0].abs().max()),
        )
        t = clock.interleaved(dict(func=(lambda: func(theta), 5), autograd=(autograd_flat, 5)), cfg["repeats"])
        self.add(
            "1.grad",
            "trainer's gradient: torch.func grad_and_value vs autograd.grad on the flat θ",
            "info",
            t["func"],
            t["autograd"],
            t["autograd"] / t["func"],
            "info",
            f"{t['func'] / base:.2f} / {t['autograd'] / base:.2f} step-times",
        )

    # row 2 --------------------------------------------------------------------------------------
    def row2(self):
        cfg, p, clock = self.cfg, self.p, self.clock
        step = self.base.get("step") or clock.median(plain_step_fn(p.model(), p.x, p.y, cfg["eta"]), cfg["repeats"])
        f = p.loss()
        theta = f.theta0
        ref64 = p.reference(torch.float64)
        lam64, vec64, hv64 = ref64.top_eigen(tol=TRUTH_TOL)
        ref = p.reference()
        ref.top_eigen(tol=1e-2)  # warm-up
        clock.sync()
        t0 = time.perf_counter()
        lam_ref, _, hv_ref = ref.top_eigen()
        clock.sync()
        t_ref = time.perf_counter() - t0
        self.check(
            "2",
            "reference eigsh (float32, tol 1e-4) vs float64 eigsh, rel. error",
            abs(lam_ref - lam64) / lam64,
            EIG_TOL,
            abs(lam_ref - lam64) <= EIG_TOL * lam64,
        )
        eig = top_eigen(f, theta, iters=20, tol=EIG_TOL)
        ok = self.check(
            "2",
            f"top_eigen cold ({eig.hvps} HVPs) vs float64 eigsh, rel. error",
            abs(eig.value - lam64) / lam64,
            EIG_TOL,
            abs(eig.value - lam64) <= EIG_TOL * lam64 and eig.converged,
        )
        t_pkg = clock.median(lambda: top_eigen(f, theta, iters=20, tol=EIG_TOL), cfg["heavy_repeats"] + 1)
        n_steps = t_pkg / step
        self.add(
            "2c",
            f"top eigenvalue to 1e-4, cold ({eig.hvps} HVPs; eigsh {hv_ref})",
            TARGETS["2c"],
            t_pkg,
            t_ref,
            t_ref / t_pkg,
            self.met(ok and n_steps <= 25, n_steps / 25),
            f"{n_steps:.1f} step-times; λ = {eig.value:.6g}, float64 λ = {lam64:.6g}",
        )

        # warm-started while tracking: GD for `every` steps between calls, each call from the last vector
        df = grad(f)
        v_trainer = eig.vector  # tracking: the previous call converged
        v_ref = vec64
        fixed = (4, 6)  # HVPs of the fixed-length warm variants (row 2w')
        times, products = {m: [] for m in ("trainer", *fixed)}, []
        worst = {m: 0.0 for m in ("trainer", *fixed)}
        th = theta
        for _call in range(cfg["tracking_calls"]):
            for _ in range(cfg["every"]):
                th = th - cfg["eta"] * df(th)
            ref64.set_theta(th.double())
            lam64, v_ref, _ = ref64.top_eigen(tol=TRUTH_TOL, v0=v_ref)
            calls = {m: (lambda m=m, v0=v_trainer, th=th: lanczos(hessian_operator(f, th), v0, m)) for m in fixed}
            # train_gd's own call: 20 Lanczos steps from the last vector, restarted to the tolerance
            calls["trainer"] = lambda v0=v_trainer, th=th: top_eigen(f, th, iters=20, tol=EIG_TOL, v0=v0)
            results = {m: c() for m, c in calls.items()}
            products.append(results["trainer"].hvps)
            results["trainer"] = (results["trainer"].value, results["trainer"].vector, results["trainer"].residual)
            for m, (value, _, _) in results.items():
                worst[m] = max(worst[m], abs(float(value) - lam64) / lam64)
            for m, seconds in clock.interleaved({m: (c, 1) for m, c in calls.items()}, 1).items():
                times[m].append(seconds)
            v_trainer = results["trainer"][1]
        ok_t = self.check(
            "2",
            "tracking, train_gd's warm Lanczos vs float64 eigsh, worst rel. error",
            worst["trainer"],
            EIG_TOL,
            worst["trainer"] <= EIG_TOL,
        )
        t_tr = statistics.median(times["trainer"])
        n_tr = t_tr / step
        self.add(
            "2w",
            "top eigenvalue, warm while tracking: train_gd's call (residual test per product, cold fallback)",
            TARGETS["2w"],
            t_tr,
            t_ref,
            t_ref / t_tr,
            self.met(ok_t and max(products) <= 6, max(products) / 6),
            f"{n_tr:.1f} step-times; products per call {products} (target ≤ 6); worst rel. error vs float64 "
            f"{worst['trainer']:.1e}; reference = cold eigsh",
        )
        for m in fixed:
            t_m = statistics.median(times[m])
            n_m = t_m / step
            self.add(
                f"2w.{m}",
                f"top eigenvalue, warm: Lanczos with {m} HVPs from the last vector (measured, not a check)",
                TARGETS["2w"],
                t_m,
                t_ref,
                t_ref / t_m,
                self.met(worst[m] <= EIG_TOL and m <= 6, max(m / 6, worst[m] / EIG_TOL)),
                f"{n_m:.1f} step-times; worst rel. error vs float64 {worst[m]:.1e}",
            )

        # how a Hessian-vector product is computed
        v = torch.randn(theta.numel(), generator=torch.Generator().manual_seed(1)).to(theta)

        def fwd_rev():
            return jvp(df, (theta,), (v,))[1]

        def rev_rev():
            t = theta.detach().requires_grad_()
            (g,) = torch.autograd.grad(f(t), t, create_graph=True)
            return torch.autograd.grad(g, t, v)[0]

        self.check_close(
            "2",
            "HVP reverse-over-reverse vs forward-over-reverse",
            rev_rev().cpu(),
            fwd_rev().cpu(),
            1e-4,
            1e-5 * float(fwd_rev().abs().max()),
        )
        ref.set_theta(theta)
        t = clock.interleaved(dict(fr=(fwd_rev, 1), rr=(rev_rev, 1), ref=(lambda: ref.hvp(v), 1)), cfg["repeats"])
        t_fr, t_rr, t_ref_hvp = t["fr"], t["rr"], t["ref"]
        op = hessian_operator(f, theta)
        t_pkg = clock.median(lambda: op(v), cfg["repeats"])
        self.add(
            "2.hvp",
            "one HVP: package hessian_operator (graph reused) vs jvp∘grad (fwd-over-rev)",
            "info",
            t_pkg,
            t_fr,
            t_fr / t_pkg,
            "info",
            f"{t_pkg / step:.1f} / {t_fr / step:.1f} step-times; autograd double backward "
            f"{fmt_s(t_rr)}; reference's chunked HVP {fmt_s(t_ref_hvp)}",
        )

    # rows 1p and 2p: the paper's size on a smaller run's device (issue 21) --------------------------
    def paper_problem(self):
        """The paper's shapes: 5,000 × 3,072 synthetic data, or the first 5,000 images of
        ``$EOS_PAPER_DATASET`` when it is set (the real spectrum matters for row 2p's warm starts).
        """
        if getattr(self, "_paper", None) is None:
            cfg = {**self.cfg, **{k: SIZES["paper"][k] for k in ("n", "d", "width", "classes", "chunk")}}
            self._paper = Problem(cfg, self.device)
            if os.environ.get("EOS_PAPER_DATASET"):
                from eos_support.data import load_dataset

                data = load_dataset(os.environ["EOS_PAPER_DATASET"], n_train=cfg["n"], device=self.device)
                self._paper.data, self._paper.x, self._paper.y = data, data.x_train, data.y_train
        return self._paper

    def row1p(self):
        p, steps = self.paper_problem(), 5
        p.cfg = {**p.cfg, "steps": steps}
        fns = dict(plain=(plain_step_fn(p.model(), p.x, p.y, self.cfg["eta"]), 2), trainer=trainer_timer(p))
        t = self.clock.interleaved(fns, 3)
        ratio = t["trainer"] / t["plain"]
        self.add(
            "1p",
            f"GD step with RP, L (train_gd) vs plain step, paper size {p.cfg['n']} × {p.cfg['d']} ({p.data.name})",
            "≤ 1.2 × plain step (2 CPU cores)",
            t["trainer"],
            t["plain"],
            ratio,
            self.met(ratio <= 1.2, ratio / 1.2),
            f"{steps} steps per timing, 3 repeats interleaved",
        )

    def row2p(self):
        """The trainer's sharpness calls along a GD run at the paper size, η = 2/30, every 20 steps:
        products per call and the worst error against float64 Lanczos to 1e-10.
        """
        p, every, calls = self.paper_problem(), 20, 3
        f, eta = p.loss(), 2 / 30
        f64 = f.on(f.inputs.double(), f.targets)
        df, theta, v, products, worst, seconds = grad(f), f.theta0, None, [], 0.0, []
        for call in range(calls + 1):
            t0 = time.perf_counter()
            eig = top_eigen(f, theta, iters=20, tol=EIG_TOL, v0=v)
            if call:  # the first call is cold
                seconds.append(time.perf_counter() - t0)
                products.append(eig.hvps)
                truth = top_eigen(f64, theta.double(), iters=30, tol=1e-10, v0=eig.vector.double()).value
                worst = max(worst, abs(eig.value - truth) / truth)
            v = eig.vector
            for _ in range(every):
                theta = theta - eta * df(theta)
        ok = self.check(
            "2p", "tracking at the paper size, worst rel. error vs float64", worst, EIG_TOL, worst <= EIG_TOL
        )
        self.add(
            "2p",
            f"top eigenvalue, warm while tracking at the paper size ({p.data.name}, η = 2/30, every {every} steps)",
            TARGETS["2w"],
            statistics.median(seconds),
            None,
            None,
            self.met(ok and max(products) <= 6, max(products) / 6),
            f"products per call {products}; worst rel. error vs float64 {worst:.1e}",
        )

    # row 3 --------------------------------------------------------------------------------------
    def row3(self):
        cfg, p, clock = self.cfg, self.p, self.clock
        T, every = cfg["train_steps"], cfg["every"]
        ref = p.reference()
        hist, sharp = [], []
        clock.sync()
        t0 = time.perf_counter()
        v0 = None
        for t in range(T + 1):
            if t % every == 0:
                lam, v0, _ = ref.top_eigen(v0=v0)
                sharp.append(lam)
            if t < T:
                hist.append(ref.step_with_diagnostics(cfg["eta"]))
        clock.sync()
        t_ref = time.perf_counter() - t0
        run = train(p, T, sharpness_every=every, sharpness_iters=20)
        h = run.history
        for key in ("loss", "rp", "ds"):
            self.check_close(
                "3", f"train_gd {key} vs reference, {T} steps", h[key][:T], [r[key] for r in hist], self.tol()
            )
        self.check_close(
            "3",
            f"train_gd sharpness vs reference eigsh at steps {[int(s) for s in h['sharpness_step']]}",
            h["sharpness"],
            sharp,
            1e-3,
        )
        t_pkg = statistics.median(
            train(p, T, sharpness_every=every, sharpness_iters=20).wall_s for _ in range(cfg["heavy_repeats"])
        )
        ratio = t_ref / t_pkg
        goal = 200 if self.device.type == "cuda" else 6
        self.add(
            "3",
            f"training {T} steps, RP and L every step, sharpness every {every}",
            TARGETS["3"],
            t_pkg,
            t_ref,
            ratio,
            self.met(ratio >= goal, goal / ratio),
            f"target here ≥ {goal} ×",
        )

    # row 4 --------------------------------------------------------------------------------------
    def row4(self):
        cfg, p, clock = self.cfg, self.p, self.clock
        f, eta = p.loss(), cfg["eta"]
        theta = f.theta0
        taus = torch.linspace(0.01, 1.0, cfg["taus"], dtype=theta.dtype, device=theta.device)
        prof = diagnostics.smoothness_profile(f, theta, eta, taus, chunk_size=cfg["tau_chunk"])
        ref = p.reference()
        clock.sync()
        t0 = time.perf_counter()
        loss, _, g = ref.grad_at(theta)
        gg = float(g @ g)
        ref_prof = []
        for tau in taus.tolist():
            _, _, g1 = ref.grad_at(theta - eta * tau * g)
            ref_prof.append(float(g @ (g - g1)) / (eta * tau * gg))
        clock.sync()
        t_ref = time.perf_counter() - t0
        self.check_close(
            "4", f"τ-profile ({len(taus)} values) vs reference gradients", prof.cpu(), ref_prof, self.tol()
        )

        def package():
            return diagnostics.smoothness_profile(f, theta, eta, taus, chunk_size=cfg["tau_chunk"])

        with PeakMemory(self.device) as mem:
            package()
        t_pkg = clock.median(package, cfg["heavy_repeats"], warmup=1)
        base, how = self._gradients(len(taus))
        ratio = t_pkg / base
        self.add(
            "4",
            f"τ-profile, {len(taus)} values, one batched call (chunk {cfg['tau_chunk']})",
            TARGETS["4"].format(len(taus)),
            t_pkg,
            base,
            ratio,
            self.met(ratio <= 1.2, ratio / 1.2),
            f"baseline = {len(taus)} {how} gradients; reference loop {fmt_s(t_ref)}; peak memory {fmt_mb(mem.mb)}",
        )

    def _gradients(self, count):
        """Seconds for ``count`` full-batch gradients, data on device (graphed on CUDA), and how."""
        p, clock = self.p, self.clock
        fn = plain_grad_fn(p.model(), p.x, p.y)
        how = "plain"
        if self.device.type == "cuda":
            fn, how = cuda_graphed(fn), "CUDA-graphed"
        return clock.median(fn, self.cfg["repeats"], warmup=2, inner=10) * count, how

    # row 5 --------------------------------------------------------------------------------------
    def row5(self):
        cfg, p, clock = self.cfg, self.p, self.clock
        f, eta, M, b = p.loss(), cfg["eta"], cfg["samples"], cfg["batch"]
        theta = f.theta0
        idx = sgd_diagnostics.sample_minibatches(cfg["n"], b, M, torch.Generator().manual_seed(0), self.device)

        def package():
            G = sgd_diagnostics.batch_gradients(f, theta, idx, cfg["sgd_chunk"])
            return sgd_diagnostics.expected_relative_progress(f, theta, eta, G, chunk_size=cfg["sgd_chunk"])

        out = package()
        ref = p.reference()
        loss, _, g = ref.grad_at(theta)
        gg = float(g @ g)
        rps, rhss = [], []
        idx_host = idx.cpu()
        for rows in idx_host:
            ref.set_theta(theta)
            for q in ref.params:
                q.grad = None
            xb, yb = ref.x[rows].to(self.device), ref.y[rows].to(self.device)
            F.cross_entropy(ref.model(xb), yb).backward()
            gi = parameters_to_vector([q.grad for q in ref.params]).detach().clone()
            loss_i, _, g_i = ref.grad_at(theta - eta * gi)
            rps.append((loss_i - loss) / (eta * gg))
            rhss.append(-1 + float(gi @ (g - g_i)) / (2 * gg))
        self.check_close(
            "5", "E[RP] vs reference loop", out.erp, np.mean(rps), self.tol(), atol=1e-5 * float(np.std(rps))
        )
        self.check_close("5", "(5.1) right side vs reference loop", out.rhs, np.mean(rhss), self.tol())
        with PeakMemory(self.device) as mem:
            package()
        t_pkg = clock.median(package, cfg["heavy_repeats"], warmup=0)
        base, how = self._gradients(M)
        ratio = t_pkg / base
        self.add(
            "5",
            f"E[RP] and (5.1), {M} minibatches of {b} (chunk {cfg['sgd_chunk']})",
            TARGETS["5"].format(M),
            t_pkg,
            base,
            ratio,
            self.met(ratio <= 1.2, ratio / 1.2),
            f"baseline = {M} {how} full-batch gradients; peak memory {fmt_mb(mem.mb)}",
        )

    # row 8 --------------------------------------------------------------------------------------
    def row8(self):
        cfg, p = self.cfg, self.p
        K = cfg["check_steps"]
        h32 = train(p, K).history
        h64 = train(p, K, torch.float64).history
        for key in ("loss", "rp", "ds"):
            self.check_close("8", f"float64 vs float32 trainer {key}, {K} steps", h32[key], h64[key], self.tol())
        t = self.clock.interleaved(dict(f32=trainer_timer(p), f64=trainer_timer(p, torch.float64)), cfg["repeats"])
        t32, t64 = t["f32"], t["f64"]
        ratio = t64 / t32
        self.add(
            "8",
            "train_gd step, float64 vs float32",
            TARGETS["8"],
            t64,
            t32,
            ratio,
            self.met(ratio <= 2, ratio / 2, gpu_only=True),
            f"ratio = float64 / float32 ({ratio:.2f} ×)",
        )

    def row7(self):
        self.add(
            "7",
            "whole book profile",
            TARGETS["7"],
            None,
            None,
            None,
            "n.a. (not measured here)",
            "timed by `eos-book execute --profile …` (CI log, book status page)",
        )

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

    # row 9 --------------------------------------------------------------------------------------
    def row9(self):
        """The edge-of-stability monitor (eos_support.monitor) on the user's own loop: minibatch SGD steps
        of the MLP with an EdgeMonitor recording RP_u and L on the full training set (the probe; sharpness
        off) at every=1 and every=10, against the same loop without it. Checked first: the monitored run's
        parameters equal the plain run's bit for bit, and every record's loss, RP_u and L equal the
        reference's extra passes at the same θᵗ and u = θᵗ − θᵗ⁺¹. Target: a record costs ≤ 3 probe
        gradients (two, plus the hooks).
        """
        from eos_support.monitor import EdgeMonitor

        cfg, p, clock = self.cfg, self.p, self.clock
        b, K, inner = cfg["batch"], cfg["check_steps"], 20  # inner: a multiple of 10, one timing holds whole cycles
        batches = [(p.x[i : i + b], p.y[i : i + b]) for i in range(0, cfg["n"], b)]

        def setup(every):
            model = p.model()
            opt = torch.optim.SGD(model.parameters(), lr=cfg["eta"])
            mon = EdgeMonitor(model, opt, (p.x, p.y), "ce", every=every, sharpness_every=None) if every else None
            count = iter(range(10**9))

            def step():
                x, y = batches[next(count) % len(batches)]
                opt.zero_grad(set_to_none=True)
                F.cross_entropy(model(x), y).backward()
                opt.step()

            return model, mon, step

        plain, (model, mon, step) = setup(None), setup(1)
        thetas = []
        for _ in range(K):
            thetas.append(parameters_to_vector(model.parameters()).detach().clone())
            step()
            plain[2]()
        thetas.append(parameters_to_vector(model.parameters()).detach().clone())
        diff = float((parameters_to_vector(plain[0].parameters()).detach() - thetas[-1]).abs().max())
        self.check("9", f"parameters after {K} steps with the monitor vs without, max abs diff", diff, 0.0, diff == 0)
        ref, expected = p.reference(), {"loss": [], "rp": [], "ds": []}
        for t in range(K):
            u = thetas[t] - thetas[t + 1]
            loss, _, g = ref.grad_at(thetas[t])
            loss1, _, g1 = ref.grad_at(thetas[t + 1])
            expected["loss"].append(loss)
            expected["rp"].append((loss1 - loss) / float(g @ u))
            expected["ds"].append(float(u @ (g - g1)) / float(u @ u))
        for key, values in expected.items():
            self.check_close(
                "9", f"monitor {key} vs reference extra passes, {K} records", mon.history[key], values, self.tol()
            )
        value_and_grad = grad_and_value(mon.probe)
        probe_grad = clock.median(lambda: value_and_grad(thetas[-1]), cfg["repeats"], inner=5)
        fns = {"plain": (plain[2], inner), "every1": (step, inner), "every10": (setup(10)[2], inner)}
        t = clock.interleaved(fns, cfg["repeats"])
        for every in (1, 10):
            per_record = (t[f"every{every}"] - t["plain"]) * every / probe_grad
            ratio = t[f"every{every}"] / t["plain"]
            self.add(
                f"9.{every}",
                f"minibatch SGD step with EdgeMonitor(every={every}) vs without (probe: {cfg['n']} "
                f"examples, batch {b})",
                "record ≤ 3 probe gradients",
                t[f"every{every}"],
                t["plain"],
                ratio,
                self.met(per_record <= 3, per_record / 3),
                f"a record costs {per_record:.2f} probe gradients (one: {fmt_s(probe_grad)})",
            )


# -- output ------------------------------------------------------------------------------------------


def fmt_s(s):
    if s is None:
        return "–"
    if s >= 1:
        return f"{s:.2f} s"
    if s >= 1e-3:
        return f"{s * 1e3:.1f} ms"
    return f"{s * 1e6:.0f} µs"


def fmt_x(x):
    return "–" if x is None else f"{x:.2f} ×"


def fmt_mb(mb):
    return "n.a." if mb is None else f"{mb:.0f} MiB"


def table(rows):
    head = "| row | what | target | package | reference / baseline | ratio | target met? | note |"
    lines = [head, "|---|---|---|---|---|---|---|---|"]
    for r in rows:
        cells = [
            r["row"],
            r["what"],
            r["target"],
            fmt_s(r["package_s"]),
            fmt_s(r["reference_s"]),
            fmt_x(r["ratio"]),
            r["met"],
            r["note"],
        ]
        lines.append("| " + " | ".join(str(c).replace("|", "/") for c in cells) + " |")
    return "\n".join(lines)


def machine(device):
    info = dict(
        platform=platform.platform(),
        python=platform.python_version(),
        torch=torch.__version__,
        numpy=np.__version__,
        threads=torch.get_num_threads(),
        cpu_count=os.cpu_count(),
    )
    try:
        with open("/proc/cpuinfo") as fh:
            names = [line.split(":", 1)[1].strip() for line in fh if line.startswith("model name")]
        info["cpu"] = names[0] if names else platform.processor()
    except OSError:
        info["cpu"] = platform.processor()
    if torch.device(device).type == "cuda":
        info.update(
            gpu=torch.cuda.get_device_name(device),
            cuda=torch.version.cuda,
            allow_tf32=torch.backends.cuda.matmul.allow_tf32,
        )
    return info


def git_state():
    def git(*a):
        return subprocess.run(["git", *a], cwd=REPO, capture_output=True, text=True, timeout=30).stdout.strip()

    try:
        return dict(commit=git("rev-parse", "HEAD"), dirty=bool(git("status", "--porcelain", "--untracked-files=no")))
    except (OSError, subprocess.SubprocessError):
        return dict(commit=None, dirty=None)


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
        out = Path(args.out)
        out.mkdir(parents=True, exist_ok=True)
        dev = record["machine"].get("gpu", "cpu")
        stem = f"{started:%Y-%m-%d}-{re.sub(r'[^A-Za-z0-9]+', '-', dev).strip('-').lower()}-{args.size}"
        (out / f"{stem}.json").write_text(json.dumps(record, indent=1, default=str) + "\n")
        m = record["machine"]
        header = (
            f"# Benchmark, size `{args.size}`, device `{args.device}` ({dev})\n\n"
            f"- date: {record['date']}\n- command: `{record['command']}`\n"
            f"- git commit: {record['git']['commit']}"
            f"{' (with uncommitted changes)' if record['git']['dirty'] else ''}\n"
            f"- machine: {m['cpu']}, {m['cpu_count']} CPUs, {m['threads']} torch threads, torch {m['torch']}"
            + (f", CUDA {m.get('cuda')}" if "gpu" in m else "")
            + "\n"
            f"- load average (1 min) before / after: {load_before[0]:.2f} / {load_after[0]:.2f}\n"
            f"- total {record['total_s']:.0f} s; {summary}\n\n"
        )
        (out / f"{stem}.md").write_text(header + text + "\n")
        print(f"record: {out / stem}.json, .md")
    return 0 if record["all_checks_passed"] else 1


if __name__ == "__main__":
    sys.exit(main())
