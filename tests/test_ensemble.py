"""gd_ensemble: k GD runs in one vmapped computation equal k separate runs, with RP and L per step."""

import pytest
import torch

from eos_support.diagnostics import gd_step
from eos_support.ensemble import gd_ensemble
from eos_support.models import fully_connected
from eos_support.objective import ModuleLoss


def tiny_loss():
    g = torch.Generator().manual_seed(0)
    x = torch.randn(40, 5, generator=g, dtype=torch.float64)
    y = torch.randint(0, 3, (40,), generator=g)
    return ModuleLoss(fully_connected(5, depth=2, width=6, num_classes=3, seed=2, dtype=torch.float64), x, y)


def test_each_member_is_the_gd_run_with_its_step_size():
    f = tiny_loss()
    etas = [0.1, 0.5, 2.0]
    run = gd_ensemble(f, f.theta0.expand(3, -1).clone(), etas, 5)
    assert run.loss.shape == (3, 6) and run.rp.shape == (3, 5) and run.theta.shape == (3, f.theta0.numel())
    for i, eta in enumerate(etas):
        theta = f.theta0
        for t in range(5):
            step = gd_step(f, theta, eta)
            assert float(run.loss[i, t]) == pytest.approx(step.loss, rel=1e-12)
            assert float(run.rp[i, t]) == pytest.approx(step.rp, rel=1e-9, abs=1e-12)
            assert float(run.ds[i, t]) == pytest.approx(step.ds, rel=1e-9)
            theta = step.next_theta
        assert torch.allclose(run.theta[i], theta, rtol=1e-12, atol=1e-14)


def test_bad_input_names_the_fix():
    f = tiny_loss()
    with pytest.raises(ValueError, match="one θ per row"):
        gd_ensemble(f, f.theta0, [0.1], 3)
    with pytest.raises(ValueError, match="one step size per run"):
        gd_ensemble(f, f.theta0.expand(2, -1).clone(), [0.1], 3)
    with pytest.raises(ValueError, match="eta"):
        gd_ensemble(f, f.theta0.expand(1, -1).clone(), [-1.0], 3)
    with pytest.raises(ValueError, match="steps"):
        gd_ensemble(f, f.theta0.expand(1, -1).clone(), [0.1], 0)
