"""Rows 1 and 1p: a train_gd step with its free RP and L against a plain step, at the run's size and the paper's."""

from __future__ import annotations

import torch
from record import fmt_s
from reference import plain_step_fn  # benchmarks/reference.py
from torch.func import grad_and_value
from workload import TARGETS, cuda_graphed, paper_problem, train, trainer_timer


class StepRows:
    """Rows 1 and 1p, mixed into :class:`bench.Bench`."""

    # row 1 --------------------------------------------------------------------------------------
    def row1(self):
        """A train_gd step with RP and L against a plain step (1), and the reference's step (1.ref)."""
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
        self._row1_gradient(base)

    def _row1_gradient(self, base):
        """Row 1.grad: how the trainer's gradient is computed, torch.func vs plain autograd on the same flat θ."""
        cfg, p, clock = self.cfg, self.p, self.clock
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

    # rows 1p and 2p: the paper's size on a smaller run's device (issue 21) --------------------------
    def paper_problem(self):
        """The paper's shapes (:func:`workload.paper_problem`), built once."""
        if getattr(self, "_paper", None) is None:
            self._paper = paper_problem(self.cfg, self.device)
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
