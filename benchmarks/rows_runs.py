"""Rows 7, 8 and 9: the book's profiles, float64 against float32, and the monitor on a user's loop."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from record import fmt_s
from torch.func import grad_and_value
from torch.nn.utils import parameters_to_vector
from workload import TARGETS, train, trainer_timer


class RunRows:
    """Rows 7, 8 and 9, mixed into :class:`bench.Bench`."""

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
