"""What the Theorem 2 and ReLU chapters read from a run: the trainer's float32 τ-profiles and its
float64 Theorem 2 columns, checked against the core diagnostics on the same θ (the run's snapshots)."""

import numpy as np
import pytest
import torch

from eos_support.data import Dataset
from eos_support.diagnostics import relative_progress, smoothness_profile, theorem2_rp
from eos_support.diagnostics.objective import ModuleLoss
from eos_support.train import train_gd
from eos_support.train.models import fully_connected

TAUS = np.arange(1, 11) / 10


def tiny_data(n=48, d=5, classes=3, seed=3):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, d, generator=g)
    y = torch.randint(0, classes, (n,), generator=g)
    return Dataset(x, y, None, None, classes, "tiny", "random", d)


def tiny_net(data, activation):
    return fully_connected(data, depth=2, width=8, activation=activation, seed=2)


def tiny_run(tmp_path, data, eta, activation="tanh", **options):
    """GD on the tiny network, no sharpness, with the float32 profiles or float64 columns in ``options``."""
    net = tiny_net(data, activation)
    return train_gd(net, data, "ce", eta=eta, sharpness_every=None, cache=tmp_path, progress=False, **options)


@pytest.mark.parametrize("activation", ["tanh", "relu"])
def test_float32_profile_equals_smoothness_profile_on_the_snapshot(tmp_path, activation):
    data, eta = tiny_data(), 0.8
    run = tiny_run(tmp_path, data, eta, activation, max_steps=12, profile_every=4, taus=TAUS, snapshot_every=4)
    h = run.history
    assert list(h["profile_step"]) == list(h["snapshot_step"]) == [0, 4, 8, 12]
    f = ModuleLoss(tiny_net(data, activation), data.x_train, data.y_train, "ce")
    for row, theta in enumerate(h["snapshot"]):
        expected = smoothness_profile(f, torch.tensor(theta), eta, TAUS).numpy()
        assert h["profile"][row].dtype == np.float32
        assert np.allclose(h["profile"][row], expected, rtol=1e-4, atol=1e-5)


def test_float64_columns_equal_the_core_functions_at_every_checked_step(tmp_path):
    data, eta = tiny_data(), 0.8
    run = tiny_run(tmp_path, data, eta, max_steps=10, float64_every=5, snapshot_every=5)
    h = run.history
    assert list(h["float64_step"]) == list(h["snapshot_step"]) == [0, 5, 10]
    f64 = ModuleLoss(tiny_net(data, "tanh"), data.x_train.double(), data.y_train, "ce")
    for row, theta in enumerate(h["snapshot"]):
        theta = torch.tensor(theta).double()  # the float32 iterate, evaluated in float64
        assert h["rp64"][row] == pytest.approx(relative_progress(f64, theta, eta), rel=1e-12, abs=1e-14)
        assert h["theorem2_rp64"][row] == pytest.approx(theorem2_rp(f64, theta, eta), rel=1e-12, abs=1e-14)
    # the chapter's claim: (4.2) to six digits or better at every checked iterate
    assert np.max(np.abs(h["rp64"] - h["theorem2_rp64"])) <= 1e-6


def test_profile_mean_and_endpoint_bound_the_approximation_error(tmp_path):
    """RP + 1 − (η/2)L(θ; η∇f) = η∫τ (L(θ; ητ∇f) − L(θ; η∇f)) dτ: the error of (4.3) is at most
    (η/2)·(max − min of the profile), which is how the chapter reads flat profiles as (4.3)."""
    data, eta = tiny_data(), 0.8
    taus = np.arange(1, 201) / 200
    run = tiny_run(tmp_path, data, eta, max_steps=10, profile_every=5, taus=taus, float64_every=5)
    h = run.history
    for row, t in enumerate(h["profile_step"]):
        if t >= len(h["rp"]):
            continue
        P = h["profile"][row]
        error = h["rp64"][row] + 1 - eta / 2 * h["ds"][t]
        spread = P.max() - P.min()
        assert abs(error) <= eta / 2 * spread + 1e-4
