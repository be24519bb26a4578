import numpy as np
import pytest
import torch

from cases import interrupt_once
from eos_support.data import Dataset
from eos_support.diagnostics import gd_step, smoothness_profile, theorem2_rp
from eos_support.diagnostics.curvature import top_eigen
from eos_support.diagnostics.objective import ModuleLoss
from eos_support.train import train_gd
from eos_support.train.gd import GDRule
from eos_support.train.models import fully_connected


def tiny_data(n=64, d=6, classes=3, seed=0, dtype=torch.float64):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, d, generator=g, dtype=dtype)
    y = torch.randint(0, classes, (n,), generator=g)
    return Dataset(x, y, None, None, classes, "tiny", "random", d)


def net(data, activation="tanh", dtype=torch.float64):
    return fully_connected(data, depth=2, width=8, activation=activation, seed=1, dtype=dtype)


def test_per_step_diagnostics_match_the_core_functions(tmp_path):
    data, eta = tiny_data(), 0.5
    taus = [0.25, 0.5, 1.0]
    run = train_gd(
        net(data),
        data,
        "ce",
        eta=eta,
        max_steps=12,
        sharpness_every=4,
        profile_every=6,
        taus=taus,
        snapshot_every=3,
        cache=tmp_path,
        progress=False,
    )
    h = run.history
    f = ModuleLoss(net(data), data.x_train, data.y_train, "ce")
    theta = f.theta0
    for t in range(12):
        step = gd_step(f, theta, eta)
        assert h["loss"][t] == pytest.approx(step.loss, rel=1e-10)
        assert h["rp"][t] == pytest.approx(step.rp, rel=1e-8, abs=1e-10)
        assert h["ds"][t] == pytest.approx(step.ds, rel=1e-8)
        if t in h["sharpness_step"]:
            row = list(h["sharpness_step"]).index(t)
            # within the error bound the Lanczos call reports, itself within the run's tolerance (1e-4)
            exact, bound = top_eigen(f, theta, tol=1e-12).value, h["sharpness_residual"][row]
            assert abs(h["sharpness"][row] - exact) <= bound * abs(exact) + 1e-12 and bound <= 1e-4
        if t in h["profile_step"]:
            row = list(h["profile_step"]).index(t)
            assert np.allclose(h["profile"][row], smoothness_profile(f, theta, eta, taus).numpy())
        if t in h["snapshot_step"]:
            assert np.allclose(h["snapshot"][list(h["snapshot_step"]).index(t)], theta.numpy())
        theta = step.next_theta
    assert run.status == "max_steps" and run.steps == 12
    assert np.allclose(run.theta.numpy(), theta.numpy())


def test_the_sharpness_call_is_hinted_with_the_gradient(monkeypatch):
    # The trainer's gradient at θᵗ is its sharpness call's hint (a cold start's draw plus ∇f(θᵗ)).
    from eos_support.train import gd as trainer

    seen, real = [], trainer.top_eigen

    def spy(f, theta, **options):
        seen.append((theta.detach().clone(), options["hint"].detach().clone()))
        return real(f, theta, **options)

    monkeypatch.setattr(trainer, "top_eigen", spy)
    data = tiny_data()
    train_gd(net(data), data, "ce", eta=0.5, max_steps=6, sharpness_every=3, progress=False)
    f = ModuleLoss(net(data), data.x_train, data.y_train, "ce")
    assert len(seen) == 3
    for theta, hint in seen:
        torch.testing.assert_close(hint, torch.func.grad(f)(theta))


def test_float64_theorem2_columns(tmp_path):
    data = tiny_data(dtype=torch.float32)
    run = train_gd(
        net(data, dtype=torch.float32),
        data,
        "ce",
        eta=0.5,
        max_steps=10,
        float64_every=5,
        cache=tmp_path,
        progress=False,
    )
    h = run.history
    assert list(h["float64_step"]) == [0, 5, 10]
    assert np.allclose(h["rp64"], h["theorem2_rp64"], rtol=1e-9, atol=1e-12)
    f = ModuleLoss(net(data, dtype=torch.float32), data.x_train.double(), data.y_train)
    assert h["theorem2_rp64"][0] == pytest.approx(theorem2_rp(f, f.theta0.double(), 0.5), rel=1e-9)


def test_divergence_is_a_result(tmp_path):
    data = tiny_data()
    y = torch.nn.functional.one_hot(data.y_train, 3).double()
    onehot = Dataset(data.x_train * 10, y, None, None, 3, "tiny-squared", "random", 6)
    model = net(onehot, activation=None)
    run = train_gd(model, onehot, "half_sq_sum", eta=5.0, max_steps=200, cache=tmp_path, progress=False)
    assert run.status == "diverged"
    loss = run.history["loss"]
    assert not (np.isfinite(loss[-1]) and loss[-1] <= 1e3 * loss[0])
    assert np.all(np.isfinite(loss[:-1]))


def test_accuracy_goal_stops_the_run(tmp_path):
    data = tiny_data()
    run = train_gd(net(data), data, "ce", eta=0.5, max_steps=2000, acc_goal=0.9, cache=tmp_path, progress=False)
    assert run.status == "acc_goal"
    acc = run.history["accuracy"]
    assert acc[run.goal_step] >= 0.9 and np.all(acc[: run.goal_step] < 0.9)
    assert run.steps - run.goal_step < 10  # checked every 10 steps


def test_cached_run_is_reused_and_config_changes_recompute(tmp_path):
    data = tiny_data()
    first = train_gd(net(data), data, "ce", eta=0.5, max_steps=20, cache=tmp_path, progress=False)
    again = train_gd(net(data), data, "ce", eta=0.5, max_steps=20, cache=tmp_path, progress=False)
    assert again.wall_s == first.wall_s and np.array_equal(again.history["loss"], first.history["loss"])
    other = train_gd(net(data), data, "ce", eta=0.4, max_steps=20, cache=tmp_path, progress=False)
    assert not np.array_equal(other.history["loss"], first.history["loss"])


def test_resume_after_interrupt_gives_the_same_run(tmp_path, monkeypatch):
    data = tiny_data()
    options = dict(sharpness_every=5, profile_every=7, taus=[0.5, 1.0], cache=tmp_path, progress=False)
    reference = train_gd(net(data), data, "ce", eta=0.5, max_steps=40, **(options | {"cache": None}))

    interrupt_once(monkeypatch, GDRule, lambda rule: rule.cursor.t, 23)
    with pytest.raises(KeyboardInterrupt):
        train_gd(net(data), data, "ce", eta=0.5, max_steps=40, **options)
    assert list(tmp_path.glob("*.partial.pt"))
    resumed = train_gd(net(data), data, "ce", eta=0.5, max_steps=40, **options)
    assert resumed.source == "resumed" and not list(tmp_path.glob("*.partial.pt"))
    for key, value in reference.history.items():
        assert np.array_equal(value, resumed.history[key], equal_nan=True), key


def test_corrupted_result_is_recomputed(tmp_path):
    data = tiny_data()
    first = train_gd(net(data), data, "ce", eta=0.5, max_steps=10, cache=tmp_path, progress=False)
    (path,) = tmp_path.glob("*.pt")
    path.write_bytes(path.read_bytes()[:100])
    with pytest.warns(UserWarning, match="cannot be read"):
        again = train_gd(net(data), data, "ce", eta=0.5, max_steps=10, cache=tmp_path, progress=False)
    assert np.array_equal(first.history["loss"], again.history["loss"])


def test_bad_arguments_are_named(tmp_path):
    data = tiny_data()
    with pytest.raises(ValueError, match="step size"):
        train_gd(net(data), data, "ce", eta=-1, max_steps=10, cache=tmp_path)
    with pytest.raises(ValueError, match="max_steps"):
        train_gd(net(data), data, "ce", eta=0.1, max_steps=0, cache=tmp_path)
    with pytest.raises(ValueError, match="taus"):
        train_gd(net(data), data, "ce", eta=0.1, max_steps=5, profile_every=2, cache=tmp_path)
    with pytest.raises(ValueError, match="acc_goal"):
        train_gd(net(data), data, "ce", eta=0.1, max_steps=5, acc_goal=95, cache=tmp_path)


def test_trainers_run_outside_the_main_thread(tmp_path):
    # Signal handlers can only be set in the main thread: the trainers must leave them alone elsewhere.
    import threading

    from eos_support.train import train_sgd

    data, results = tiny_data(), {}

    def work():
        results["gd"] = train_gd(net(data), data, "ce", eta=0.5, max_steps=5, cache=tmp_path, progress=False)
        results["sgd"] = train_sgd(
            net(data), data, "ce", eta=0.5, batch_size=16, epochs=2, samples=4, cache=tmp_path, progress=False
        )

    thread = threading.Thread(target=work)
    thread.start()
    thread.join()
    assert results["gd"].status == "max_steps" and results["sgd"].status == "max_epochs"
