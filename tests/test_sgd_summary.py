"""eos_support.readings.sgd: the SGD chapter's statistics over the window, by hand and against numpy."""

import numpy as np
import pytest
import torch

from eos_support.diagnostics.objective import ModuleLoss
from eos_support.diagnostics.sgd import expected_relative_progress, minibatch_gradients
from eos_support.readings import sgd as sgd_summary
from eos_support.readings.significance import run_chance, wilson_interval
from eos_support.train import SGDOptions
from histories import sgd_history, sgd_run


def test_window_leaves_out_the_transient():
    assert sgd_summary.window(25, 0.2) == range(6, 26)  # ⌈0.2 · 25⌉ + 1 = 6
    assert sgd_summary.window(100, 0.2) == range(21, 101)
    assert sgd_summary.window(10, 0.25) == range(4, 11)  # ⌈2.5⌉ + 1
    assert sgd_summary.window(4, 0) == range(1, 5)
    for bad in ((25, 1.0), (1, 0.5), (25, -0.1)):
        with pytest.raises(ValueError, match="transient"):
            sgd_summary.window(*bad)


def test_in_window_pads_a_run_that_stopped_early():
    h = {"x": np.arange(8.0)}  # epochs 0..7 of a run planned for 10
    values = sgd_summary.in_window(sgd_run(epochs=10, **h), "x", 0.2)  # window 3..10
    np.testing.assert_array_equal(values[:5], [3, 4, 5, 6, 7])
    assert np.isnan(values[5:]).all() and len(values) == 8


def test_long_run_loss_by_hand():
    h = {"epoch": np.arange(11), "loss": np.array([4.0, 3, 2, 3, 2, 1, 1, 1, 1, 1, 0.5])}
    loss = sgd_summary.long_run_loss(sgd_run(**h), 0.2)  # window: 3..10
    assert (loss.initial, loss.last, loss.first) == (4.0, 0.5, 3)
    assert loss.early == 3.0 and loss.late == pytest.approx((3 + 2 + 1 * 5 + 0.5) / 8)
    assert loss.as_measured()["last / initial loss"] == 0.125
    stopped = sgd_summary.long_run_loss(sgd_run(epochs=12, **h), 0.2)
    assert np.isnan(stopped.last) and not stopped.last < 0.5 * stopped.initial


@pytest.mark.parametrize("seed", range(4))
def test_progress_signs_against_numpy(seed):
    h = sgd_history(seed=seed)
    s = sgd_summary.progress_signs(sgd_run(**h), 0.2, 0.023)
    erp, se = h["erp_cv"][6:].astype(float), h["erp_cv_se"][6:].astype(float)
    assert (s.first, s.last, s.ends) == (6, 25, 20)
    assert s.median == np.median(erp) and s.at_or_above == np.sum(erp >= 0)
    assert s.share == np.mean(erp >= 0) and s.wilson == wilson_interval(np.sum(erp >= 0), 20)
    significant = "".join("1" if x else "0" for x in erp - 2 * se > 0)
    longest = max(len(r) for r in significant.split("0"))
    assert s.longest == longest and s.chance == run_chance(20, longest, 0.023)
    if longest:
        assert significant[s.longest_from - 6 :].startswith("1" * longest)
    assert str(s).startswith("window: epoch ends 6–25 (20); median E[RP]")


def test_progress_signs_by_hand():
    erp = np.array([-1.0, -0.9, 0.3, 0.2, -0.01, 0.25, 0.3, 0.4, 0.0])
    se = np.full(9, 0.1)  # significant where erp > 0.2: epochs 2, 5, 6, 7
    s = sgd_summary.progress_signs(sgd_run(**{"epoch": np.arange(9), "erp_cv": erp, "erp_cv_se": se}), 0.2, 0.023)
    assert (s.first, s.ends, s.at_or_above) == (3, 6, 5)  # window 3..8: 0.2, −0.01, 0.25, 0.3, 0.4, 0.0
    assert (s.longest, s.longest_from) == (3, 5)
    assert s.chance == pytest.approx(run_chance(6, 3, 0.023)) and s.chance < 1e-4
    assert s.as_measured() == {
        "window": "epoch ends 3–8",
        "median": s.median,
        "longest run with estimate − 2 SE > 0": 3,
        "from epoch": 5,
        "chance of one as long": s.chance,
    }
    none = sgd_summary.progress_signs(sgd_run(**{"epoch": np.arange(9), "erp_cv": -erp, "erp_cv_se": se}), 0.2, 0.023)
    assert (none.longest, none.longest_from, none.chance) == (0, -1, 1.0)


def test_agreement_by_hand():
    h = {
        "epoch": np.arange(6),
        "gap": np.array([0.5, 0.0, -0.03, 0.01, 0.02, -0.01]),
        "gap_se": np.array([0.1, 0.01, 0.005, 0.002, 0.001, 0.0]),
        "erp_cv": np.array([-1.0, -0.2, 0.1, -0.1, 0.2, 0.0]),
    }
    a = sgd_summary.agreement(sgd_run(**h), 0.2)  # window 2..5: epoch 0's 0.5 + 0.2 is left out
    assert a.bound == pytest.approx(0.04) and a.bound_at == 2
    assert a.positive == 0.5  # 0.1 and 0.2 of 0.1, −0.1, 0.2, 0.0
    assert a.as_measured() == {"max |gap| + 2 SE": a.bound, "at epoch": 2, "share with E[RP] > 0": 0.5}
    assert a.describe("relu") == (
        " relu  η = 2/100: max |gap| + 2 SE 0.0400 (epoch 2); E[RP] estimate > 0 at 50% of the window"
    )


def test_agreement_is_inf_for_a_diverged_short_or_non_finite_run():
    assert sgd_summary.agreement(sgd_run(status="diverged"), 0.2).bound == np.inf
    assert sgd_summary.agreement(sgd_run(epochs=30), 0.2).bound == np.inf
    h = sgd_history()
    h["gap"][10] = np.nan
    assert sgd_summary.agreement(sgd_run(**h), 0.2).bound == np.inf


def test_identity_at_is_appendix_a_from_fresh_minibatches():
    torch.manual_seed(0)
    x, y = torch.randn(40, 5, dtype=torch.float64), torch.randint(0, 3, (40,))
    model = torch.nn.Sequential(torch.nn.Linear(5, 8), torch.nn.Tanh(), torch.nn.Linear(8, 3)).double()
    f = ModuleLoss(model, x, y, "ce")
    options = SGDOptions(eta=0.5, batch_size=4, samples=16, chunk_size=8)
    p = sgd_summary.identity_at(f, f.theta0, options, nodes=16, seed=3)
    G = minibatch_gradients(f, f.theta0, 4, 16, torch.Generator().manual_seed(3), chunk_size=8)
    assert p == expected_relative_progress(f, f.theta0, 0.5, G, nodes=16, chunk_size=8)
    assert p.samples == 16 and abs(p.exact - p.erp_cv) < 1e-10  # the same samples' exact identity


def test_identity_at_evaluates_in_float64_whatever_the_model():
    # Near a minimum the control-variate side divides a loss difference by η‖∇f‖²: in float32 its
    # rounding alone moved E[RP] by 1e-3 at Experiment 7's last epoch end on CIFAR-10.
    torch.manual_seed(0)
    x, y = torch.randn(40, 5), torch.randint(0, 3, (40,))
    model = torch.nn.Sequential(torch.nn.Linear(5, 8), torch.nn.Tanh(), torch.nn.Linear(8, 3))
    f = ModuleLoss(model, x, y, "ce")
    theta = f.theta0.detach().clone()
    gradient = torch.func.grad(f)
    for _ in range(100):  # towards a minimum: ‖∇f‖² ≈ 8e-4, where float32 is 0.02 off (tested before the fix)
        theta = theta - 2.0 * gradient(theta)
    options = SGDOptions(eta=1e-3, batch_size=4, samples=16, chunk_size=8)
    p = sgd_summary.identity_at(f, theta, options, nodes=16, seed=3)
    wide = f.on(x.double(), y)
    assert p == sgd_summary.identity_at(wide, theta.double(), options, nodes=16, seed=3)
    assert abs(p.exact - p.erp_cv) < 1e-6 and p.grad_norm_sq < 1e-3
