"""eos_support.readings.corollary1: Corollary 1 at the iterates a GD run stored, on a small network.

The selection of iterates is checked against the chapter's former code; each check against Definition 1
computed afresh (the left side) and a dense-Hessian reference for Lₜ (the right side, which the check
may only underestimate).
"""

from types import SimpleNamespace

import numpy as np
import pytest
import torch
from torch.func import hessian as dense_hessian

from cases import small_network
from eos_support.diagnostics import relative_progress
from eos_support.diagnostics.curvature import sharpness
from eos_support.diagnostics.objective import ModuleLoss
from eos_support.readings.corollary1 import check_run, checked_snapshots
from eos_support.readings.phases import unstable_onset


def former_checked_snapshots(run, k):
    """The sharpness chapter's own function before it moved into the package (the reference)."""
    h = run.history
    onset = unstable_onset(run)
    steps = h["snapshot_step"]
    rows = np.flatnonzero((steps >= (onset if onset is not None else np.inf)) & (steps < len(h["rp"])))
    rows = rows[np.unique(np.linspace(0, len(rows) - 1, min(k, len(rows))).round().astype(int))] if len(rows) else rows
    return [(int(steps[i]), i) for i in rows]


@pytest.mark.parametrize("seed", range(12))
def test_checked_snapshots_match_the_former_chapter_code(seed):
    rng = np.random.default_rng(seed)
    T = int(rng.integers(5, 80))
    rp = rng.choice([-1.0, 0.3], size=T, p=[0.8, 0.2])
    every = int(rng.integers(1, 12))
    history = dict(
        rp=rp,
        sharpness_step=np.arange(0, T + 1, 5),
        sharpness=rng.uniform(0, 8, len(range(0, T + 1, 5))),
        snapshot_step=np.arange(0, T + 1, every),
    )
    run = SimpleNamespace(eta=0.5, history=history)
    for k in (1, 2, 3, 8, 100):
        assert checked_snapshots(run, k) == former_checked_snapshots(run, k)


def test_no_unstable_phase_no_snapshots():
    history = dict(
        rp=np.full(10, -1.0),
        sharpness_step=np.array([0, 5]),
        sharpness=np.array([1.0, 1.0]),
        snapshot_step=np.arange(0, 11, 2),
    )
    assert checked_snapshots(SimpleNamespace(eta=0.5, history=history), 4) == []


def dense_segment_sup(f, theta, theta_next, points=51):
    """λ_max of the dense Hessian at ``points`` points of the segment: a reference for Lₜ."""
    s = torch.linspace(0, 1, points, dtype=theta.dtype)
    return max(float(torch.linalg.eigvalsh(dense_hessian(f)(theta + si * (theta_next - theta)))[-1]) for si in s)


@pytest.fixture(scope="module")
def unstable_network_run():
    """GD on a 4-6-3 tanh network at η = 2.5/λ_max(θ⁰), recorded as a trainer would (RP every step,
    sharpness and snapshots every 2 steps)."""
    model, x, y = small_network(seed=1)
    f = ModuleLoss(model, x, y, "ce")
    theta = f.theta0
    eta = 2.5 / sharpness(f, theta, iters=51, tol=1e-10)
    thetas, rp = [theta], []
    for _ in range(24):
        rp.append(relative_progress(f, thetas[-1], eta))
        thetas.append(thetas[-1] - eta * torch.func.grad(f)(thetas[-1]))
    steps = np.arange(0, 25, 2)
    lam = [sharpness(f, thetas[t], iters=51, tol=1e-10) for t in steps]
    history = dict(
        rp=np.array(rp),
        sharpness_step=steps,
        sharpness=np.array(lam),
        snapshot_step=steps,
        snapshot=torch.stack([thetas[t] for t in steps]).numpy(),
    )
    return f, SimpleNamespace(eta=eta, history=history, f=f), thetas


def test_check_run_verifies_corollary1_with_a_lower_bound_on_Lt(unstable_network_run):
    f, run, thetas = unstable_network_run
    onset = unstable_onset(run)
    assert onset is not None, "the test run must have an unstable phase"
    checks = check_run(run, per_run=3, points=5, iters=51, tol=1e-8)
    assert 1 <= len(checks) <= 3
    for c in checks:
        assert c.step >= onset and c.eta == run.eta
        assert c.lhs == pytest.approx(2 / run.eta * (relative_progress(f, thetas[c.step], run.eta) + 1), rel=1e-10)
        assert c.segment.converged and c.margin >= 0  # Corollary 1
        nxt = thetas[c.step] - run.eta * torch.func.grad(f)(thetas[c.step])
        assert c.Lt <= dense_segment_sup(f, thetas[c.step], nxt) + 1e-8
        assert "L_t ≥" in str(c) and f"t = {c.step:5d}" in str(c)


def test_check_run_refuses_a_run_without_its_loss(unstable_network_run):
    _, run, _ = unstable_network_run
    recorded = SimpleNamespace(eta=run.eta, history=run.history, f=None)
    with pytest.raises(ValueError, match="needs the run's loss f"):
        check_run(recorded, per_run=1, points=3, iters=11, tol=1e-6)
