#!/usr/bin/env python
"""What the paper profile costs on this machine: each chapter's wall time, estimated from short timings.

    python benchmarks/paper_cost.py [--threads N] [--steps K] [--out FILE.md]

Times, at the paper's size (the first 5,000 images of ``$EOS_PAPER_DATASET``, else synthetic data of
CIFAR-10's shape) and on this machine's CPU or GPU: ``K`` GD steps of each network the profile trains
(``train_gd`` with RP and L, sharpness off), one cold and one warm sharpness call of the trainer (after
``K`` steps), one τ-profile per number of τ values used, one float64 evaluation of RP and (4.2), one SGD
epoch with its E[RP] and (5.1) samples, ``K`` steps of each monitored run and one Corollary 1 segment.
Each run's cost is then its number of steps times its step, plus its periodic measurements times their
cost. A GD run to 95 % train accuracy takes the steps named in ``STEPS_TO_GOAL`` (measured, issue 21)
and, at other step sizes, as many as the nearest measured step size at or above it times the ratio of
the step sizes (progress per stable step is proportional to η); a run without that goal, its
``max_steps`` (an upper bound: Remark 4's and the linear network's runs diverge sooner). Estimates, not
measurements: the table says which counts are which.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import time
from collections import defaultdict
from pathlib import Path

import torch

from eos_support import profiles
from eos_support.data import Dataset
from eos_support.diagnostics import relative_progress, smoothness_profile, theorem2_rp
from eos_support.diagnostics.curvature import segment_sharpness, top_eigen
from eos_support.diagnostics.objective import ModuleLoss
from eos_support.train import train_gd, train_sgd
from eos_support.train.models import fully_connected

sys.path.insert(0, str(Path(__file__).resolve().parent))
from reference import synthetic_data  # noqa: E402  (benchmarks/reference.py)

STEPS_TO_GOAL = {2 / 30: 777, 2 / 60: 1334}
"""GD steps to 95 % train accuracy, tanh, cross-entropy, the CIFAR-10 stand-in's first 5,000 images (issue 21)."""

CHAPTERS = {
    "causes": ("experiment1",),
    "relative_progress": ("experiment2", "experiment3", "remark4"),
    "directional_smoothness": (),  # the runs of Experiments 2 and 3, read from the run cache
    "theorem2": ("experiment5",),
    "relu_depth": ("experiment6",),
    "sharpness": ("corollary1",),  # and the runs of Experiment 3, cached
    "sgd": ("experiment7", "experiment8", "experiment9"),
    "beyond": ("beyond-momentum", "beyond-adam", "beyond-sgd"),
}


def steps_to_goal(eta):
    """(steps, how): a GD run's steps to 95 % accuracy at ``eta``, measured or scaled from a measurement."""
    for known, steps in STEPS_TO_GOAL.items():
        if math.isclose(eta, known):
            return steps, "measured"
    above = [k for k in STEPS_TO_GOAL if k >= eta]
    known = min(above) if above else max(STEPS_TO_GOAL)
    return round(STEPS_TO_GOAL[known] * known / eta), f"scaled from η = 2/{2 / known:.0f}"


class Timer:
    """Short timings on the profile's data, each measured once and remembered."""

    def __init__(self, profile, steps, given=None):
        self.P, self.K, self.memo, self.given = profile, steps, dict(given or {}), set(given or {})
        try:
            self.data = profile.data(5000)
            self.source = profile.dataset
        except Exception as error:  # noqa: BLE001 - any missing data: time the same shapes on synthetic data
            x, y = synthetic_data(5000, 3072, 10)
            dev = profile.device
            self.data = Dataset(x.to(dev), y.to(dev), None, None, 10, "synthetic-5000x3072", "synthetic", 3072)
            self.source = f"synthetic data of CIFAR-10's shape ({type(error).__name__}: {error})"

    def once(self, key, fn):
        if key not in self.memo:
            t0 = time.perf_counter()
            self.memo[key] = fn()
            print(f"  timed {key}: {self.memo[key]} ({time.perf_counter() - t0:.0f} s)", flush=True)
        return self.memo[key]

    def model(self, activation="tanh", depth=2):
        return fully_connected(self.data, depth=depth, width=200, activation=activation, seed=0, device=self.P.device)

    def step(self, activation, depth):
        """Seconds per train_gd step (RP and L included, sharpness off), after one warm-up run."""

        def measure():
            run = lambda k: train_gd(  # noqa: E731
                self.model(activation, depth), self.data, "ce", eta=2 / 60, max_steps=k, sharpness_every=None
            )
            run(2)
            return run(self.K).wall_s / (self.K + 1)

        return self.once(("step", activation, depth), measure)

    def sharpness(self):
        """(cold s, cold products, warm s, warm products): the trainer's calls at θ⁰ and K steps later."""

        def measure():
            model = self.model()
            f = ModuleLoss(model, self.data.x_train, self.data.y_train, "ce")
            t0 = time.perf_counter()
            cold = top_eigen(f, f.theta0, iters=20, tol=1e-4)
            t1 = time.perf_counter()
            run = train_gd(model, self.data, "ce", eta=2 / 60, max_steps=self.K, sharpness_every=None)
            theta = run.theta.to(f.theta0)
            t2 = time.perf_counter()
            warm = top_eigen(f, theta, iters=20, tol=1e-4, v0=cold.vector)
            return t1 - t0, cold.hvps, time.perf_counter() - t2, warm.hvps

        return self.once("sharpness", measure)

    def profile(self, n_taus):
        def measure():
            f = ModuleLoss(self.model(), self.data.x_train, self.data.y_train, "ce")
            taus = torch.arange(1, n_taus + 1, dtype=f.theta0.dtype, device=f.theta0.device) / n_taus
            smoothness_profile(f, f.theta0, 2 / 60, taus[:2])
            t0 = time.perf_counter()
            smoothness_profile(f, f.theta0, 2 / 60, taus)
            return time.perf_counter() - t0

        return self.once(("profile", n_taus), measure)

    def float64(self):
        def measure():
            f = ModuleLoss(self.model(), self.data.x_train, self.data.y_train, "ce")
            f64, theta = f.on(f.inputs.double(), f.targets), f.theta0.double()
            t0 = time.perf_counter()
            relative_progress(f64, theta, 2 / 60), theorem2_rp(f64, theta, 2 / 60)
            return time.perf_counter() - t0

        return self.once("float64", measure)

    def sgd_epoch(self, activation, options):
        key = ("sgd", activation, tuple(sorted(options.items())))

        def measure():
            opts = {**options, "epochs": 1}
            return train_sgd(self.model(activation), self.data, "ce", eta=2 / 100, **opts).wall_s

        return self.once(key, measure)

    def monitored(self, name, sharpness):
        """Seconds per step of a monitored run, its sharpness records excluded (they are counted apart)."""

        def measure():
            run = self.P.run(name, steps=self.K, sharpness_every=self.K * 10, snapshot_every=None)
            return run.wall_s / self.K if hasattr(run, "wall_s") else None

        return self.once(("monitor", name), measure)

    def segment(self, points, iters, tol):
        def measure():
            f = ModuleLoss(self.model(), self.data.x_train, self.data.y_train, "ce")
            theta = f.theta0
            nxt = theta - 2 / 60 * torch.func.grad(f)(theta)
            t0 = time.perf_counter()
            seg = segment_sharpness(f, theta, nxt, points=points, iters=iters, tol=tol)
            return time.perf_counter() - t0, seg.hvps

        return self.once(("segment", points), measure)


def _key(x):
    """A memo key or value read back from JSON: lists become tuples, all the way down."""
    return tuple(_key(y) for y in x) if isinstance(x, list) else x


def periodic(every, steps):
    return 0 if not every else steps // every + 1


def gd_run_cost(T, e, eta, activation, depth):
    """(steps, how, seconds, what) of one GD run of experiment ``e``."""
    o = e.options
    if o.get("acc_goal"):
        steps, how = steps_to_goal(eta)
        steps = min(steps, o["max_steps"])
    else:
        steps, how = o["max_steps"], "max_steps (upper bound)"
    parts = {"steps": steps * T.step(activation, depth)}
    if n := periodic(o.get("sharpness_every", 20), steps):
        cold_s, _, warm_s, _ = T.sharpness()
        parts["sharpness"] = cold_s + (n - 1) * warm_s
    if n := periodic(o.get("profile_every"), steps):
        parts["τ-profiles"] = n * T.profile(len(o["taus"]))
    if n := periodic(o.get("float64_every"), steps):
        parts["float64"] = n * T.float64()
    return steps, how, sum(parts.values()), parts


def experiment_cost(T, profile, name):
    """[(label, steps, how, seconds, parts)] for every run of experiment ``name``."""
    e = profile[name]
    rows = []
    if name == "corollary1":  # segments along the runs of Experiment 3 (an Experiment with no step sizes)
        x = e.extra
        seconds, _ = T.segment(x["points"], x["iters"], x["tol"])
        runs = len(profile["experiment3"].etas)
        total = runs * x["per_run"] * seconds
        rows.append((f"{runs} runs × {x['per_run']} segments", runs * x["per_run"], "segments", total, {}))
    elif e.trainer == "gd":
        for act in e.activations:
            for depth in e.depths:
                for eta in e.etas:
                    rows.append((f"{act or 'linear'} d{depth} η={eta:.4g}", *gd_run_cost(T, e, eta, act, depth)))
        if name == "remark4":  # the chapter also continues the run until the loss is not finite
            rows.append(("continued", *rows[0][1:]))
    elif e.trainer == "sgd":
        opts = {k: v for k, v in e.options.items() if k != "epochs"}
        for act in e.activations:
            per_epoch = T.sgd_epoch(act, opts)
            for eta in e.etas:
                s = e.options["epochs"] * per_epoch
                rows.append((f"{act} η={eta:.4g}", e.options["epochs"], "epochs", s, {"epochs": s}))
    elif e.trainer == "monitor":
        o = e.options
        per_step = T.monitored(name, o["sharpness_every"]) or 0.0
        cold_s, _, warm_s, _ = T.sharpness()
        sharp = cold_s + periodic(o["sharpness_every"], o["steps"]) * warm_s
        rows.append((f"η={e.etas[0]:.4g}", o["steps"], "steps", o["steps"] * per_step + sharp, {"sharpness": sharp}))
    return rows


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--steps", type=int, default=20, help="GD steps per timing (default 20)")
    parser.add_argument("--out", default=None, help="also write the table (markdown) here")
    parser.add_argument(
        "--timings",
        default=None,
        help="a JSON list of [key, seconds] pairs (keys as printed by an earlier run): use these, time the rest",
    )
    parser.add_argument(
        "--idle-step",
        type=float,
        default=0.086,
        help="also show every estimate at this tanh step time (s): the machine idle (default 0.086, issue 21)",
    )
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    P = profiles.get("paper")
    given = {}
    if args.timings:
        given = {_key(k): _key(v) for k, v in json.loads(Path(args.timings).read_text())}
    T = Timer(P, args.steps, given)
    started, load = time.strftime("%Y-%m-%d %H:%M"), os.getloadavg()[0]
    idle = args.idle_step / T.step("tanh", 2)  # every cost is a multiple of the step's arithmetic
    lines = [
        f"| chapter | experiment | run | steps | steps from | estimate | at {args.idle_step} s a step | of which |",
        "|---|---|---|---|---|---|---|---|",
    ]
    totals = defaultdict(float)
    for chapter, names in CHAPTERS.items():
        for name in names:
            for label, steps, how, seconds, parts in experiment_cost(T, P, name):
                totals[chapter] += seconds
                detail = ", ".join(f"{k} {v / seconds:.0%}" for k, v in parts.items() if k != "steps" and seconds)
                lines.append(
                    f"| {chapter} | {name} | {label} | {steps:,} | {how} | {seconds / 3600:.2f} h "
                    f"| {seconds * idle / 3600:.2f} h | {detail} |"
                )
    lines += ["", f"| chapter | estimate | at {args.idle_step} s a step |", "|---|---|---|"]
    lines += [f"| {c} | {totals[c] / 3600:.2f} h | {totals[c] * idle / 3600:.2f} h |" for c in CHAPTERS]
    total = sum(totals.values())
    lines.append(f"| **all** | **{total / 3600:.1f} h** | **{total * idle / 3600:.1f} h** |")
    cold_s, cold_n, warm_s, warm_n = T.sharpness()
    header = [
        f"Paper profile cost estimate, {started}, {P.device}, {torch.get_num_threads()} torch threads, "
        f"load average {load:.1f} at the start; data: {T.source}",
        f"step (tanh, depth 2) {T.step('tanh', 2):.3f} s; sharpness cold {cold_s:.1f} s ({cold_n} products), "
        f"warm after {args.steps} steps {warm_s:.1f} s ({warm_n} products)",
        *([f"timings given (--timings), not measured in this run: {sorted(map(str, T.given))}"] if T.given else []),
        "",
    ]
    text = "\n".join(header + lines)
    print(text)
    if args.out:
        Path(args.out).write_text(text + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
