"""Rows 4 and 5: Experiment 5's τ-profile and SGD's E[RP] against as many plain gradients."""

from __future__ import annotations

import time

import numpy as np
import torch
import torch.nn.functional as F
from record import fmt_mb, fmt_s
from reference import plain_grad_fn  # benchmarks/reference.py
from timing import PeakMemory
from torch.nn.utils import parameters_to_vector
from workload import TARGETS, cuda_graphed

from eos_support import diagnostics
from eos_support.diagnostics import sgd as sgd_diagnostics


class DiagnosticRows:
    """Rows 4 and 5, mixed into :class:`bench.Bench`."""

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
