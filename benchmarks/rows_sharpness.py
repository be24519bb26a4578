"""Rows 2, 2p and 3: the top eigenvalue cold, warm while tracking and per HVP, and a whole tracked run."""

from __future__ import annotations

import statistics
import time

import torch
from record import fmt_s
from reference import EIG_TOL, plain_step_fn  # benchmarks/reference.py
from torch.func import grad, jvp
from workload import TARGETS, TRUTH_TOL, train

from eos_support.diagnostics.curvature import hessian_operator, lanczos, top_eigen


class SharpnessRows:
    """Rows 2, 2p and 3, mixed into :class:`bench.Bench`."""

    # row 2 --------------------------------------------------------------------------------------
    def row2(self):
        """The top eigenvalue: cold (2c), warm while tracking (2w, 2w.m), one HVP (2.hvp)."""
        cfg, p, clock = self.cfg, self.p, self.clock
        step = self.base.get("step") or clock.median(plain_step_fn(p.model(), p.x, p.y, cfg["eta"]), cfg["repeats"])
        f = p.loss()
        eig, vec64, t_ref = self._row2_cold(f, step)
        self._row2_warm(f, step, eig.vector, vec64, t_ref)
        self._row2_hvp(f, step)

    def _row2_cold(self, f, step):
        """Row 2c, checked against float64 eigsh; returns the cold result, the float64 vector, eigsh's time."""
        cfg, p, clock = self.cfg, self.p, self.clock
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
        return eig, vec64, t_ref

    def _row2_warm(self, f, step, v_trainer, v_ref, t_ref):
        """Rows 2w and 2w.m: GD for ``every`` steps between calls, each call from the last vector (tracking:
        the previous call converged), against float64 eigsh warm-started the same way.
        """
        cfg, p, clock = self.cfg, self.p, self.clock
        df, theta = grad(f), f.theta0
        ref64 = p.reference(torch.float64)
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
            # train_gd's own call: 20 Lanczos steps from the last vector, restarted to the tolerance from a
            # draw plus the gradient (which the trainer has computed already)
            g = df(th)
            calls["trainer"] = lambda v0=v_trainer, th=th, g=g: top_eigen(f, th, iters=20, tol=EIG_TOL, v0=v0, hint=g)
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

    def _row2_hvp(self, f, step):
        """Row 2.hvp: how a Hessian-vector product is computed."""
        cfg, p, clock = self.cfg, self.p, self.clock
        df, theta = grad(f), f.theta0
        ref = p.reference()
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

    def row2p(self):
        """The trainer's sharpness calls along a GD run at the paper size, η = 2/30, every 20 steps:
        products per call and the worst error against float64 Lanczos to 1e-10.
        """
        p, every, calls = self.paper_problem(), 20, 3
        f, eta = p.loss(), 2 / 30
        f64 = f.on(f.inputs.double(), f.targets)
        df, theta, v, products, worst, seconds = grad(f), f.theta0, None, [], 0.0, []
        for call in range(calls + 1):
            g = df(theta)  # the trainer's gradient at θ, its hint (computed for its step anyway)
            t0 = time.perf_counter()
            eig = top_eigen(f, theta, iters=20, tol=EIG_TOL, v0=v, hint=g)
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
