"""The edge-of-stability monitor (eos_support.monitor) on small float64 models."""

import copy
import math
import os
import re
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from cases import small_network
from eos_support.diagnostics import directional_smoothness, relative_progress
from eos_support.diagnostics.along import relative_progress_along
from eos_support.diagnostics.curvature import hessian
from eos_support.diagnostics.objective import ModuleLoss
from eos_support.monitor import BANDS, EdgeMonitor

REPO = Path(__file__).resolve().parents[1]


def _loop(model, opt, batches, steps, before=None, loss=nn.functional.cross_entropy):
    """The user's loop: ``steps`` optimizer steps on ``loss`` cycling through ``batches``; ``before(t)`` runs
    before step t."""
    for t in range(steps):
        x, y = batches[t % len(batches)]
        if before:
            before(t)
        opt.zero_grad()
        loss(model(x), y).backward()
        opt.step()


def _flat(model):
    return torch.cat([p.detach().reshape(-1) for p in model.parameters()])


def _trajectory(model, opt, batches, steps):
    thetas = []
    _loop(model, opt, batches, steps, before=lambda t: thetas.append(_flat(model)))
    return thetas + [_flat(model)]


# -- the numbers: against the core functions and dense references on the same θ and u ----------------


@pytest.mark.parametrize("momentum", [0.0, 0.9])
def test_rp_and_ds_match_the_core_functions_on_the_same_theta_and_u(momentum):
    model, x, y = small_network()
    opt = torch.optim.SGD(model.parameters(), lr=0.5, momentum=momentum)
    mon = EdgeMonitor(model, opt, (x, y), "ce", every=1, sharpness_every=None)
    thetas = _trajectory(model, opt, [(x, y)], 6)
    h, f = mon.history, ModuleLoss(model, x, y)
    assert list(h["step"]) == list(range(6))
    for t in range(6):
        u = thetas[t] - thetas[t + 1]
        assert h["loss"][t] == pytest.approx(float(f(thetas[t])), rel=1e-13)
        assert h["rp"][t] == pytest.approx(relative_progress_along(f, thetas[t], u), rel=1e-10)
        assert h["ds"][t] == pytest.approx(directional_smoothness(f, thetas[t], u), rel=1e-10)
        g = torch.func.grad(f)(thetas[t])
        assert h["eta_u"][t] == pytest.approx(float(u @ u / (g @ u)), rel=1e-10)
        if momentum == 0:  # full-batch GD: u = η∇f, RP_u is Definition 1 and η_u is η
            assert h["rp"][t] == pytest.approx(relative_progress(f, thetas[t], 0.5), rel=1e-10)
            assert h["eta_u"][t] == pytest.approx(0.5, rel=1e-10)
    assert np.all(np.isnan(h["sharpness"])) and np.all(h["threshold"] == (2 + 2 * momentum) / 0.5)


def test_probe_of_unequal_batches_is_the_exact_mean_and_its_sharpness_the_dense_one():
    model, x, y = small_network()
    opt = torch.optim.SGD(model.parameters(), lr=0.5)
    mon = EdgeMonitor(model, opt, [(x[:7], y[:7]), (x[7:], y[7:])], "ce", sharpness_every=1, sharpness_tol=1e-10)
    thetas = _trajectory(model, opt, [(x, y)], 2)
    f = ModuleLoss(model, x, y)
    for t in range(2):
        assert mon.history["loss"][t] == pytest.approx(float(f(thetas[t])), rel=1e-13)
        lam = float(torch.linalg.eigvalsh(hessian(f, thetas[t]))[-1])
        assert mon.history["sharpness"][t] == pytest.approx(lam, rel=1e-8)
    assert mon.history["ratio"] == pytest.approx(mon.history["sharpness"] / 4.0)


def test_preconditioned_sharpness_against_dense_reference_with_p_after_the_step():
    model, x, y = small_network()
    opt = torch.optim.Adam(model.parameters(), lr=0.02, betas=(0.9, 0.99), eps=1e-6)
    mon = EdgeMonitor(model, opt, (x, y), "ce", sharpness_every=1, sharpness_tol=1e-10)
    f, v, thetas = ModuleLoss(model, x, y), torch.zeros_like(_flat(model)), []
    for t in range(1, 4):
        thetas.append(_flat(model))
        opt.zero_grad()
        nn.functional.cross_entropy(model(x), y).backward()
        grads = torch.cat([p.grad.reshape(-1) for p in model.parameters()])
        opt.step()
        v = 0.99 * v + 0.01 * grads**2  # Adam's second moment including this step's gradient
        P = (v / (1 - 0.99**t)).sqrt() + 1e-6
        expected = torch.linalg.eigvals(hessian(f, thetas[-1]) / P[:, None]).real.max()
        assert mon.history["sharpness"][t - 1] == pytest.approx(float(expected), rel=1e-8)
    assert mon.threshold == pytest.approx(38 / 0.02) and mon.threshold_info.sharpness == "preconditioned"


def test_batch_sharpness_against_dense_reference():
    model, x, y = small_network()
    batches = [(x[:10], y[:10]), (x[10:], y[10:])]
    opt = torch.optim.SGD(model.parameters(), lr=0.3)
    mon = EdgeMonitor(model, opt, batches, "ce", sharpness="batch", sharpness_every=1)
    theta = _trajectory(model, opt, batches, 1)[0]
    values = []
    for xb, yb in batches:
        fb = ModuleLoss(model, xb, yb)
        g = torch.func.grad(fb)(theta)
        values.append(float(g @ hessian(fb, theta) @ g / (g @ g)))
    assert mon.history["sharpness"][0] == pytest.approx(np.mean(values), rel=1e-10)
    assert mon.history["threshold"][0] == pytest.approx(2 / 0.3) and "Andreyev" in mon.threshold_info.source


def test_a_sharpness_that_did_not_converge_is_said_once():
    # It was recorded without a word: a Ritz value short of the tolerance is a lower bound on λ_max.
    model, x, y = small_network()
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    mon = EdgeMonitor(model, opt, (x, y), "ce", sharpness_every=1, sharpness_iters=2, sharpness_tol=1e-15)
    theta = _flat(model)
    with pytest.warns(UserWarning, match=r"did not converge .* > sharpness_tol 1e-15 .*lower bound") as caught:
        _loop(model, opt, [(x, y)], 3)
    assert sum("did not converge" in str(w.message) for w in caught) == 1  # once per monitor
    dense = float(torch.linalg.eigvalsh(hessian(ModuleLoss(model, x, y), theta))[-1])
    assert np.isfinite(mon.history["sharpness"]).all() and mon.history["sharpness"][0] <= dense * (1 + 1e-12)


def test_a_quadratic_at_the_edge_and_below_it():
    # f(w) = ½ mean‖Xw − y‖², Hessian diag(4, 1): GD with η = 2/4 oscillates along the top eigenvector
    # (RP → 0, L → 2/η, ratio 1); with η = 0.1 it is stable (RP ≈ −1 + ηλ/2 ≈ −0.8)
    x = torch.tensor([[8**0.5, 0.0], [0.0, 2**0.5]], dtype=torch.float64)
    y = torch.tensor([[1.0], [1.0]], dtype=torch.float64)
    for eta, verdict in [(0.5, "at the edge of stability"), (0.1, "stable")]:
        model = nn.Linear(2, 1, bias=False).double()
        with torch.no_grad():
            model.weight.fill_(0.0)
        opt = torch.optim.SGD(model.parameters(), lr=eta)
        mon = EdgeMonitor(model, opt, (x, y), "half_sq_sum", sharpness_every=5)
        for _ in range(60):
            opt.zero_grad()
            (0.5 * ((model(x) - y) ** 2).sum(-1).mean()).backward()
            opt.step()
        h = mon.history
        assert np.nanmax(np.abs(h["sharpness"] - 4)) < 1e-8
        assert mon.summary(last=20).split(": ")[1].startswith(verdict)
        if eta == 0.5:
            assert abs(h["rp"][-1]) < 1e-8 and h["ds"][-1] == pytest.approx(4.0) and h["ratio"][-5] == pytest.approx(1)
            assert "sharpness/threshold 1.00" in mon.summary()


def _conv_network():
    """A small CNN on 16 random 1 × 6 × 6 images with 10 one-hot classes: a dense Hessian of 350 × 350."""
    torch.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(1, 2, 3), nn.Tanh(), nn.Flatten(), nn.Linear(32, 10)).double()
    g = torch.Generator().manual_seed(0)
    x = torch.randn(16, 1, 6, 6, generator=g, dtype=torch.float64)
    y = nn.functional.one_hot(torch.randint(0, 10, (16,), generator=g), 10).double()
    return model, x, y


def _dense_hessian_of_mse(model, x, y, theta):
    """The Hessian at θ of θ ↦ nn.functional.mse_loss(model(x; θ), y), from torch.func alone."""
    names = [n for n, _ in model.named_parameters()]
    shapes = [p.shape for _, p in model.named_parameters()]

    def loss(theta):
        chunks = torch.split(theta, [s.numel() for s in shapes])
        params = {n: c.view(s) for n, c, s in zip(names, chunks, shapes)}
        return nn.functional.mse_loss(torch.func.functional_call(model, params, (x,)), y)

    return torch.func.hessian(loss)(theta)


@pytest.mark.parametrize(
    "make_opt",
    [
        lambda p: torch.optim.SGD(p, lr=0.5),
        lambda p: torch.optim.SGD(p, lr=0.5, momentum=0.9),
        lambda p: torch.optim.Adam(p, lr=2e-3),
    ],
    ids=["sgd", "heavy-ball", "adam"],
)
def test_the_sharpness_of_the_loss_the_loop_trains_on_against_a_dense_eigensolver(make_opt):
    # issue 22: a CNN trained on mse_loss, the loss passed to the monitor as the callable itself; the
    # reference is eigvalsh of P^{-1/2} H P^{-1/2} (P = 1 for SGD; for Adam √v̂ + ε, with v̂ kept here)
    model, x, y = _conv_network()
    opt = make_opt(model.parameters())
    adam = isinstance(opt, torch.optim.Adam)
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)  # plain SGD's first update is η∇f of this loss: no warning
        mon = EdgeMonitor(model, opt, (x, y), nn.functional.mse_loss, sharpness_every=1)
        v, expected = torch.zeros_like(_flat(model)), []
        for t in range(1, 4):
            theta = _flat(model)
            opt.zero_grad()
            nn.functional.mse_loss(model(x), y).backward()
            grads = torch.cat([p.grad.reshape(-1) for p in model.parameters()])
            opt.step()
            v = 0.999 * v + 0.001 * grads**2
            s = ((v / (1 - 0.999**t)).sqrt() + 1e-8).rsqrt() if adam else torch.ones_like(v)
            H = _dense_hessian_of_mse(model, x, y, theta)
            expected.append(float(torch.linalg.eigvalsh(s[:, None] * H * s[None, :])[-1]))
    assert mon.history["sharpness"] == pytest.approx(expected, rel=1e-3)


def test_a_loss_that_is_not_the_loops_is_named_with_its_factor():
    model, x, y = _conv_network()
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    mon = EdgeMonitor(model, opt, (x, y), "half_sq_sum", sharpness_every=None)
    with pytest.warns(UserWarning, match=r"update is 0\.2 × η∇f.*loss=nn\.functional\.mse_loss"):
        _loop(model, opt, [(x, y)], 2, loss=nn.functional.mse_loss)  # 10 outputs: mse_loss = half_sq_sum / 5
    mon.close()
    for loss, batches in [("mse", [(x, y)]), (nn.MSELoss(), [(x, y)]), ("half_sq_sum", [(x[:8], y[:8])])]:
        # the same loss, or a step on another batch than the probe (nothing to compare): silent
        model, x, y = _conv_network()
        opt = torch.optim.SGD(model.parameters(), lr=0.1)
        with warnings.catch_warnings():
            warnings.simplefilter("error", UserWarning)
            EdgeMonitor(model, opt, (x, y), loss, sharpness_every=None)
            _loop(model, opt, batches, 2, loss=nn.functional.mse_loss)


def test_an_optimizer_without_a_known_threshold_is_still_monitored_and_says_so():
    model, x, y = small_network()
    opt = torch.optim.RMSprop(model.parameters(), lr=0.01)
    mon = EdgeMonitor(model, opt, (x, y), sharpness_every=2)
    thetas = _trajectory(model, opt, [(x, y)], 3)
    h, f = mon.history, ModuleLoss(model, x, y)
    assert mon.threshold is None and np.isnan(h["threshold"]).all() and np.isnan(h["ratio"]).all()
    assert h["rp"][2] == pytest.approx(relative_progress_along(f, thetas[2], thetas[2] - thetas[3]), rel=1e-10)
    assert np.isfinite(h["sharpness"][[0, 2]]).all()
    assert "no stability threshold is known for RMSprop (sharpness" in mon.summary()


def test_bands_are_the_documented_heuristics():
    assert [BANDS.verdict(r) for r in (-1.0, -0.5, -0.3, -0.2, 0.0, 0.2, 0.5)] == [
        "stable",
        "stable",
        "approaching the edge of stability",
        "at the edge of stability",
        "at the edge of stability",
        "at the edge of stability",
        "unstable: the probe loss is rising",
    ]


# -- leaving the user's training alone ---------------------------------------------------------------


def _bn_model(dropout=False):
    torch.manual_seed(1)
    layers = (
        [nn.Linear(4, 8), nn.BatchNorm1d(8), nn.Tanh()] + ([nn.Dropout(0.3)] if dropout else []) + [nn.Linear(8, 3)]
    )
    return nn.Sequential(*layers).double()


def _data(n=48, seed=2):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(n, 4, generator=g, dtype=torch.float64), torch.randint(0, 3, (n,), generator=g)


@pytest.mark.parametrize(
    "make_opt, dropout",
    [
        (lambda p: torch.optim.SGD(p, lr=0.2, momentum=0.9, nesterov=True), False),
        (lambda p: torch.optim.AdamW(p, lr=0.01, weight_decay=0.1), True),
    ],
)
def test_training_is_bit_identical_with_and_without_the_monitor(make_opt, dropout):
    # minibatches from a shuffling DataLoader, the probe its first two batches: the monitor must not
    # change the parameters, their .grad, the optimizer state, the running statistics or the RNG
    x, y = _data()
    runs = []
    for monitored in (False, True):
        model = _bn_model(dropout)
        opt = make_opt(model.parameters())
        torch.manual_seed(3)
        loader = DataLoader(TensorDataset(x, y), batch_size=12, shuffle=True)
        if monitored:
            mon = EdgeMonitor(
                model,
                opt,
                loader,
                "ce",
                every=2,
                sharpness_every=4,
                probe_batches=2,
                dropout="eval" if dropout else "error",
            )
        for _ in range(2):
            _loop(model, opt, list(loader), 4)
        runs.append(
            (
                copy.deepcopy(model.state_dict()),
                [p.grad.clone() for p in model.parameters()],
                copy.deepcopy(opt.state_dict()),
                torch.rand(1),
            )
        )
    (s0, g0, o0, r0), (s1, g1, o1, r1) = runs
    assert all(torch.equal(s0[k], s1[k]) for k in s0) and all(torch.equal(a, b) for a, b in zip(g0, g1))
    assert all(torch.equal(a, o1["state"][i][k]) for i, st in o0["state"].items() for k, a in st.items())
    assert torch.equal(r0, r1)
    assert list(mon.history["step"]) == [0, 2, 4, 6] and np.isfinite(mon.history["rp"]).all()


def test_batchnorm_running_statistics_are_untouched_by_records():
    x, y = _data()
    model = _bn_model()
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    mon = EdgeMonitor(model, opt, (x, y), "ce", every=1, sharpness_every=1)
    with torch.no_grad():
        model(x)  # running statistics away from their initial values
    stats = {k: v.clone() for k, v in model.state_dict().items() if "running" in k or "num_batches" in k}
    mon._record(_flat(model), _flat(model) - 1e-3)  # a record: two gradients and a Lanczos call
    assert all(torch.equal(v, model.state_dict()[k]) for k, v in stats.items())
    assert mon.probe.losses[0].batch_statistics == ("1",)


def test_active_dropout_is_a_clear_error_and_eval_makes_f_deterministic():
    x, y = _data()
    model = _bn_model(dropout=True)
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    with pytest.raises(ValueError, match=r"'3' \(Dropout\).*dropout='eval'"):
        EdgeMonitor(model, opt, (x, y))
    mon = EdgeMonitor(model, opt, (x, y), dropout="eval")
    theta = _flat(model)
    assert torch.equal(mon.probe(theta), mon.probe(theta)) and model[3].training


def test_non_record_steps_do_not_evaluate_the_probe():
    model, x, y = small_network()
    opt = torch.optim.SGD(model.parameters(), lr=0.5)
    mon = EdgeMonitor(model, opt, (x, y), every=5, sharpness_every=None)
    counts = []
    _loop(model, opt, [(x, y)], 12, before=lambda t: counts.append(mon.probe.evaluations))
    counts.append(mon.probe.evaluations)
    assert counts == [0, 2, 2, 2, 2, 2, 4, 4, 4, 4, 4, 6, 6]  # two gradients at steps 0, 5 and 10 only
    assert list(mon.history["step"]) == [0, 5, 10]


def test_steps_count_from_the_monitor_and_close_removes_the_hooks():
    model, x, y = small_network()
    opt = torch.optim.SGD(model.parameters(), lr=0.5)
    _loop(model, opt, [(x, y)], 3)  # steps before the monitor exists are not counted
    with EdgeMonitor(model, opt, (x, y), every=2, sharpness_every=None) as mon:
        _loop(model, opt, [(x, y)], 5)
    _loop(model, opt, [(x, y)], 4)
    assert list(mon.history["step"]) == [0, 2, 4] and not opt._optimizer_step_pre_hooks
    assert not opt._optimizer_step_post_hooks


def test_a_monitor_saved_with_the_model_and_optimizer_continues_with_identical_records():
    model, x, y = small_network()
    batches = [(x[:10], y[:10]), (x[10:], y[10:])]
    opt = torch.optim.SGD(model.parameters(), lr=0.5, momentum=0.9)
    reference = EdgeMonitor(model, opt, (x, y), every=2, sharpness_every=4)
    start = (copy.deepcopy(model.state_dict()), copy.deepcopy(opt.state_dict()))
    _loop(model, opt, batches, 12)

    reference.close()
    model.load_state_dict(start[0]), opt.load_state_dict(start[1])
    first = EdgeMonitor(model, opt, (x, y), every=2, sharpness_every=4)
    _loop(model, opt, batches, 6)
    saved = copy.deepcopy((model.state_dict(), opt.state_dict(), first.state_dict()))
    first.close()
    model2, _, _ = small_network(seed=1)  # another process: a fresh model, optimizer and monitor
    opt2 = torch.optim.SGD(model2.parameters(), lr=0.5, momentum=0.9)
    model2.load_state_dict(saved[0]), opt2.load_state_dict(saved[1])
    second = EdgeMonitor(model2, opt2, (x, y), every=2, sharpness_every=4)
    second.load_state_dict(saved[2])
    _loop(model2, opt2, batches, 6)  # steps 6..11 see batches 0, 1, 0, … as in the reference's loop
    for key, value in reference.history.items():
        np.testing.assert_array_equal(value, second.history[key], err_msg=key)
    assert list(second.history["step"]) == [0, 2, 4, 6, 8, 10]
    with pytest.raises(ValueError, match="fresh monitor"):
        second.load_state_dict(saved[2])


def test_the_threshold_follows_a_learning_rate_schedule_and_zero_steps_give_nan():
    model, x, y = small_network()
    opt = torch.optim.SGD(model.parameters(), lr=0.4, momentum=0.5)
    schedule = torch.optim.lr_scheduler.LambdaLR(opt, lambda t: [1.0, 0.5, 0.0][min(t, 2)])
    mon = EdgeMonitor(model, opt, (x, y), sharpness_every=1)
    for _ in range(3):
        _loop(model, opt, [(x, y)], 1)
        schedule.step()
    opt.param_groups[0]["momentum"] = 0.0
    _loop(model, opt, [(x, y)], 1)  # lr 0: u = 0, RP_u and L undefined, nothing unstable
    h = mon.history
    assert h["threshold"][:2] == pytest.approx([3 / 0.4, 3 / 0.2]) and h["threshold"][3] == math.inf
    assert np.isnan(h["rp"][3]) and np.isnan(h["ds"][3]) and h["ratio"][3] == 0


def test_float32_model_works_and_agrees_with_float64():
    model, x, y = small_network(dtype=torch.float32)
    model64 = copy.deepcopy(model).double()
    results = []
    for m, xs in ((model, x.float()), (model64, x.double())):
        opt = torch.optim.SGD(m.parameters(), lr=0.5)
        mon = EdgeMonitor(m, opt, (xs, y), sharpness_every=2)
        _loop(m, opt, [(xs, y)], 4)
        results.append(mon.history)
    for key in ("loss", "ds", "sharpness"):
        assert np.allclose(results[0][key], results[1][key], rtol=1e-3, equal_nan=True)
    assert np.allclose(results[0]["rp"], results[1]["rp"], atol=1e-2)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_on_cuda_the_data_stays_put_and_non_record_steps_never_synchronise():
    model, x, y = small_network(dtype=torch.float32)
    model.cuda()
    opt = torch.optim.SGD(model.parameters(), lr=0.5)
    mon = EdgeMonitor(model, opt, (x.float(), y), every=4, sharpness_every=4)  # the probe starts on the CPU
    xc, yc = x.float().cuda(), y.cuda()
    _loop(model, opt, [(xc, yc)], 1)
    torch.cuda.synchronize()
    torch.cuda.set_sync_debug_mode("error")
    try:
        _loop(model, opt, [(xc, yc)], 3)  # steps 1-3: no record, no synchronisation
    finally:
        torch.cuda.set_sync_debug_mode("default")
    assert x.device.type == "cpu" and mon.history["loss"].shape == (1,)


# -- bad input ---------------------------------------------------------------------------------------


def test_bad_arguments_are_named():
    model, x, y = small_network()
    opt = torch.optim.SGD(model.parameters(), lr=0.5)
    cases = [
        (dict(every=0), "every must be"),
        (dict(every=1.5), "every must be"),
        (dict(every=2, sharpness_every=3), "multiple of every"),
        (dict(probe=(x, y[:5])), "same number"),
        (dict(probe=(x,)), "probe must be|pair of tensors"),
        (dict(probe=[(x, y), (x, y, y)]), "probe batch 1 must be a pair"),
        (dict(probe=DataLoader(TensorDataset(x, y), batch_size=5)), "probe_batches=k"),
        (dict(probe=(x[:, :3], y)), "cannot evaluate the probe"),
        (dict(loss="hinge"), "loss must be"),
        (dict(sharpness="preconditioned"), "Adam's preconditioner"),
        (dict(sharpness="trace"), "sharpness must be"),
    ]
    for kwargs, message in cases:
        options = {"probe": (x, y), **kwargs}
        with pytest.raises(ValueError, match=message):
            EdgeMonitor(model, opt, options.pop("probe"), **options)
    with pytest.raises(ValueError, match="no parameters"):
        EdgeMonitor(nn.ReLU(), opt, (x, y))
    with pytest.raises(ValueError, match="not in the optimizer"):
        EdgeMonitor(model, torch.optim.SGD(model[0].parameters(), lr=0.5), (x, y))
    groups = torch.optim.SGD([{"params": model[0].parameters()}, {"params": model[2].parameters(), "lr": 0.1}], lr=0.5)
    with pytest.raises(ValueError, match="differ in"):
        EdgeMonitor(model, groups, (x, y))


# -- plot, summary, import and the README example -------------------------------------------------------


def test_plot_draws_the_threshold_dashed_and_labels_the_axes():
    import matplotlib

    matplotlib.use("Agg")
    model, x, y = small_network()
    opt = torch.optim.SGD(model.parameters(), lr=0.5, momentum=0.9)
    mon = EdgeMonitor(model, opt, (x, y), sharpness_every=2)
    _loop(model, opt, [(x, y)], 4)
    fig = mon.plot()
    top, mid, low = fig.axes[:3]
    assert [a.get_ylabel() for a in (top, mid, low)] == ["probe loss", "RP_u", "sharpness"]
    assert low.get_xlabel() == "optimizer step t"
    dashed = [line for line in low.get_lines() if line.get_linestyle() == "--"]
    assert len(dashed) == 1 and np.allclose(dashed[0].get_ydata(), 3.8 / 0.5)
    assert "(2 + 2β)/η" in dashed[0].get_label()
    assert re.fullmatch(
        r"RP_u median [+-]\d\.\d\d over the last 4 records: [a-z :]+; sharpness/threshold \d\.\d\d", mon.summary()
    )


def test_the_documented_example_runs_as_written_and_imports_matplotlib_only_to_plot(tmp_path):
    text = (REPO / "README.md").read_text()
    (block,) = [
        b
        for b in re.findall(r"```python\n(.*?)```", text, flags=re.S)
        if "EdgeMonitor(" in b and "DistributedDataParallel" not in b
    ]  # the one-process example
    script = tmp_path / "example.py"
    check = (
        "import sys, eos_support.monitor\nassert 'matplotlib' not in sys.modules, 'the monitor imported matplotlib'\n"
    )
    script.write_text(check + block)
    env = {**os.environ, "PYTHONPATH": str(REPO), "MPLBACKEND": "Agg"}
    out = subprocess.run(
        [sys.executable, str(script)], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300
    )
    assert out.returncode == 0, out.stderr[-3000:]
    assert "RP_u median" in out.stdout and (tmp_path / "monitor.png").exists()


def test_a_diverging_run_is_recorded_not_stopped():
    # a step size far past the edge: the loss overflows to inf/NaN; the user's loop must go on, the
    # records show it (non-finite loss, no sharpness) instead of Lanczos raising inside optimizer.step()
    torch.manual_seed(0)
    x, y = torch.randn(64, 4), torch.randint(0, 3, (64,))
    model = nn.Sequential(nn.Linear(4, 16), nn.Linear(16, 3))
    opt = torch.optim.SGD(model.parameters(), lr=50.0)
    mon = EdgeMonitor(model, opt, (x, y), "ce", every=1, sharpness_every=1)
    for _ in range(40):
        opt.zero_grad()
        nn.functional.cross_entropy(model(x), y).backward()
        opt.step()
    h = mon.history
    mon.close()
    assert len(h["step"]) == 40 and not np.isfinite(h["loss"][-1])
    assert np.isnan(h["sharpness"][~np.isfinite(h["loss"])]).all()


def test_a_hessian_that_is_not_finite_where_the_loss_is_records_nan_and_warns():
    # |r|^1.5 at r = 0: f and ∇f finite, ∇²f not. Lanczos used to raise inside the user's optimizer.step().
    torch.manual_seed(0)
    x, y = torch.randn(32, 4), torch.stack([torch.zeros(32), torch.ones(32)], 1)
    model = nn.Linear(4, 2)
    with torch.no_grad():
        model.weight.zero_(), model.bias.zero_()
    opt = torch.optim.SGD(model.parameters(), lr=0.1)

    def loss(out, target):
        return (out - target).abs().pow(1.5).mean()

    mon = EdgeMonitor(model, opt, (x, y), loss, every=1, sharpness_every=1)
    with pytest.warns(UserWarning, match="Hessian-vector product of the probe loss is not finite"):
        _loop(model, opt, [(x, y)], 5, loss=loss)
    h = mon.history
    mon.close()
    assert len(h["step"]) == 5 and np.isfinite(h["loss"]).all() and np.isnan(h["sharpness"]).all()
