"""Corollary 1 at the iterates a GD run stored: (2/η)(RP(θᵗ) + 1) ≤ Lₜ = sup of λ_max(∇²f) on [θᵗ, θᵗ⁺¹].

A run trained with ``snapshot_every`` keeps θᵗ every few steps (history ``snapshot``, ``snapshot_step``).
:func:`check_run` picks some of them in the run's unstable phase, recomputes θᵗ⁺¹ = θᵗ − η∇f(θᵗ), and
estimates Lₜ with :func:`eos_support.diagnostics.curvature.segment_sharpness`, a lower bound on Lₜ: finding the left
side below it verifies the inequality.
"""

from dataclasses import dataclass

import numpy as np
import torch

from ..diagnostics.curvature import SegmentSharpness, segment_sharpness
from .phases import unstable_onset
from .tables import eta_name


def checked_snapshots(run, k):
    """Up to ``k`` stored iterates of the run's unstable phase, evenly spread: ``[(step, row), ...]``.

    Only iterates with a successor count (t < len(RP)); a run without an unstable phase gives none.
    """
    h = run.history
    onset = unstable_onset(run)
    steps = h["snapshot_step"]
    rows = np.flatnonzero((steps >= (onset if onset is not None else np.inf)) & (steps < len(h["rp"])))
    if len(rows):
        rows = rows[np.unique(np.linspace(0, len(rows) - 1, min(k, len(rows))).round().astype(int))]
    return [(int(steps[i]), i) for i in rows]


@dataclass(frozen=True)
class Corollary1Check:
    """Corollary 1 at one iterate θᵗ of a run with step size ``eta``.

    ``lhs`` = (2/η)(RP(θᵗ) + 1) from the run's RP; ``segment`` the sharpness along [θᵗ, θᵗ⁺¹], whose
    largest value estimates Lₜ from below.
    """

    eta: float
    step: int
    lhs: float
    segment: SegmentSharpness

    Lt = property(lambda self: self.segment.value, doc="The estimate of Lₜ (a lower bound).")

    @property
    def margin(self) -> float:
        """Lₜ's estimate minus the left side: ≥ 0 verifies Corollary 1 at this iterate."""
        return self.Lt - self.lhs

    def __str__(self):
        seg = self.segment
        return (
            f"η = {eta_name(self.eta):>5}, t = {self.step:5d}: (2/η)(RP + 1) = {self.lhs:9.3f}  ≤?  "
            f"L_t ≥ {seg.value:9.3f} (max at s = {seg.argmax:.2f}; 2/η = {2 / self.eta:.3g}; {seg.hvps} HVPs; "
            f"converged: {seg.converged})"
        )


def check_run(run, per_run, points, iters, tol):
    """Corollary 1 at up to ``per_run`` stored iterates of ``run``'s unstable phase (:func:`checked_snapshots`),
    on the loss the run descended (``run.f``, :class:`~eos_support.train.Run`).

    ``points``, ``iters`` and ``tol`` go to :func:`~eos_support.diagnostics.curvature.segment_sharpness`.
    Returns a list of :class:`Corollary1Check`.
    """
    f = run.f
    if f is None:
        raise ValueError("check_run needs the run's loss f: pass a Run from train_gd (a recorded summary has none)")
    checks = []
    for t, row in checked_snapshots(run, per_run):
        theta = torch.as_tensor(run.history["snapshot"][row]).to(f.inputs.device)
        nxt = theta - run.eta * torch.func.grad(f)(theta)
        seg = segment_sharpness(f, theta, nxt, points=points, iters=iters, tol=tol)
        lhs = 2 / run.eta * (float(run.history["rp"][t]) + 1)
        checks.append(Corollary1Check(run.eta, t, lhs, seg))
    return checks
