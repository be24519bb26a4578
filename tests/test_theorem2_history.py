"""eos_support.theorem2: Theorem 2, Experiment 5 and (4.3) read off a run's history, against closed forms.

On a quadratic ½θᵀPθ the directional smoothness L(θ; ητ∇f(θ)) = gᵀPg/‖g‖² does not depend on τ, so the
profiles are flat and (4.3) is exact: the readers must report zero spread and zero error there.
"""

from types import SimpleNamespace

import numpy as np
import pytest
import torch
from cases import random_spd
from histories import recorded_run

from eos_support.diagnostics import directional_smoothness, relative_progress, smoothness_profile
from eos_support.theorem2 import approximation, approximation_table, identity_check, profile_spread
from eos_support.toy import gd, quadratic


def quadratic_run(eta_scale=1.8, steps=30, d=6, seed=3):
    """GD on ½θᵀPθ at η = eta_scale/λ_max(P) (unstable for eta_scale > 2 only), with its history."""
    P = random_spd(d, seed)
    eta = eta_scale / float(torch.linalg.eigvalsh(P)[-1])
    f = quadratic(P)
    thetas = gd(f, torch.ones(d, dtype=torch.float64), eta, steps)
    rp = np.array([relative_progress(f, th, eta) for th in thetas[:-1]])
    g = [th @ P for th in thetas[:-1]]  # ∇f(θ) = Pθ
    ds = np.array([directional_smoothness(f, th, eta * gi) for th, gi in zip(thetas[:-1], g)])
    taus = torch.linspace(0.1, 1, 10, dtype=torch.float64)
    profile = np.stack([smoothness_profile(f, th, eta, taus).numpy() for th in thetas[::5]])
    history = dict(rp=rp, ds=ds, profile=profile, profile_step=np.arange(0, steps + 1, 5),
                   loss=np.array([float(f(th)) for th in thetas]))
    return SimpleNamespace(eta=eta, history=history, status="max_steps", steps=steps)


def test_approximation_is_exact_on_a_quadratic():
    a = approximation(quadratic_run())
    assert a.errors.max() < 1e-12 and a.median < 1e-12 and a.relative < 1e-10
    assert a.rp_range > 0


def test_profiles_on_a_quadratic_are_flat():
    assert profile_spread(quadratic_run()).max() < 1e-12


def test_approximation_reads_median_error_and_rp_range():
    r = recorded_run(eta=0.5, steps=40, onset=20)  # (4.3) exact, then perturbed by a known error
    r.history["rp"] = r.history["rp"] + np.where(np.arange(40) % 4 == 0, 0.04, 0.01).astype(np.float32)
    a = approximation(r)
    assert a.median == pytest.approx(0.01, abs=1e-6)
    rp = r.history["rp"]
    assert a.rp_range == pytest.approx(np.percentile(rp, 95) - np.percentile(rp, 5))
    assert a.relative == pytest.approx(0.01 / a.rp_range, rel=1e-5)


def test_profile_spread_is_std_over_mean():
    r = recorded_run()
    P = r.history["profile"][5]  # step 25, in the unstable phase: a linear profile in τ: c·(0.95 + 0.1τ)
    assert profile_spread(r)[5] == pytest.approx(P.std() / abs(P.mean()), rel=1e-6)
    assert 0 < profile_spread(r)[5] < 0.05


def test_identity_check_drops_the_iterate_without_a_successor():
    r = recorded_run(steps=40)  # float64 checks at 0, 10, …, 40; step 40 has no RP
    check = identity_check(r)
    np.testing.assert_array_equal(check.steps, [0, 10, 20, 30])
    assert check.diff.max() < 1e-14
    lines = check.table().splitlines()
    assert len(lines) == 5 and lines[1].split()[0] == "0"


def test_approximation_table_has_a_line_per_run():
    runs = {(2, 0.5): recorded_run(eta=0.5), (4, 2 / 7): recorded_run(eta=2 / 7, status="max_steps")}
    lines = approximation_table(runs).splitlines()
    assert len(lines) == 3 and "(4.3) error" in lines[0]
    assert lines[2].split()[:3] == ["4", "2/7", "max_steps"]
