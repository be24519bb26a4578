"""eos_support.readings.theorem2: Theorem 2, Experiment 5 and (4.3) read off a run's history, against closed forms.

On a quadratic ½θᵀPθ the directional smoothness L(θ; ητ∇f(θ)) = gᵀPg/‖g‖² does not depend on τ, so the
profiles are flat and (4.3) is exact: the readers must report zero spread and zero error there.
"""

from types import SimpleNamespace

import numpy as np
import pytest
import torch

from cases import random_spd
from eos_support.diagnostics import directional_smoothness, relative_progress, smoothness_profile
from eos_support.examples.toy import gd, quadratic
from eos_support.readings.theorem2 import (
    approximation,
    approximation_table,
    identity_check,
    profile_spread,
    rp_precision,
)
from histories import recorded_run, table_rows


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
    lam = float(torch.linalg.eigvalsh(P)[-1])
    history = dict(
        rp=rp,
        ds=ds,
        profile=profile,
        profile_step=np.arange(0, steps + 1, 5),
        loss=np.array([float(f(th)) for th in thetas]),
        sharpness_step=np.arange(0, steps + 1, 5),
        sharpness=np.full(steps // 5 + 1, lam),
    )
    return SimpleNamespace(eta=eta, history=history, status="max_steps", steps=steps)


def test_approximation_is_exact_on_a_quadratic():
    a = approximation(quadratic_run())
    assert a.errors.max() < 1e-12 and a.median < 1e-12
    assert a.onset is None and a.stable_median < 1e-12  # η < 2/λ_max(P): stable throughout


def test_profiles_on_a_quadratic_are_flat():
    assert profile_spread(quadratic_run()).max() < 1e-12


def test_approximation_splits_the_errors_at_the_unstable_onset():
    r = recorded_run(eta=0.5, steps=40, onset=20)  # (4.3) exact, then perturbed by a known error per phase
    r.history["rp"] = r.history["rp"] + np.where(np.arange(40) < 20, 0.01, 0.04).astype(np.float32)
    a = approximation(r)
    assert a.onset == 20 and len(a.stable) == 20 and len(a.unstable) == 20
    assert a.stable_median == pytest.approx(0.01, abs=1e-6) and a.unstable_median == pytest.approx(0.04, abs=1e-6)
    assert a.median == pytest.approx(0.025, abs=1e-6)


def test_approximation_without_an_unstable_phase_is_all_stable():
    a = approximation(recorded_run(eta=0.5, steps=40, onset=100))
    assert a.onset is None and len(a.stable) == 40 and len(a.unstable) == 0
    assert np.isnan(a.unstable_median) and a.stable_median < 1e-6


def test_rp_precision_compares_float32_rp_with_float64_at_the_recomputed_steps():
    r = recorded_run(steps=40)  # float64 RP at 0, 10, 20, 30 (40 has no successor), equal to RP up to float32
    r.history["rp"] = r.history["rp"].copy()
    r.history["rp"][10] += 0.25
    steps, err, rp64 = rp_precision(r)
    np.testing.assert_array_equal(steps, [0, 10, 20, 30])
    np.testing.assert_allclose(err, [0, 0.25, 0, 0], atol=1e-7)
    np.testing.assert_array_equal(rp64, r.history["rp64"][:4])


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
    rows = table_rows(check.table())
    assert len(rows) == 5 and rows[0][-1] == "\\|difference\\|" and rows[1][0] == "0"


def test_approximation_table_has_a_line_per_run():
    runs = {(2, 0.5): recorded_run(eta=0.5), (4, 2 / 7): recorded_run(eta=2 / 7, status="max_steps")}
    rows = table_rows(approximation_table(runs))
    assert len(rows) == 3 and "(4.3) error" in rows[0][6]
    assert rows[2][:3] == ["4", "2/7", "max_steps"]
    assert " ± " in rows[1][6] and " ± " in rows[1][7]  # each median with its uncertainty
