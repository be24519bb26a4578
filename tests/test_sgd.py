"""SGD's expected relative progress (Definition 3), (5.1) and Appendix A; the SGD trainer."""

import itertools
import math

import pytest
import torch
from torch import nn
from torch.func import grad, vmap

from cases import interrupt_once, small_network
from eos_support.diagnostics.curvature import hessian
from eos_support.diagnostics.objective import ModuleLoss
from eos_support.diagnostics.sgd import (
    batch_gradients,
    expected_relative_progress,
    minibatch_gradients,
    sample_minibatches,
)
from eos_support.train import train_sgd
from eos_support.train.models import fully_connected
from eos_support.train.sgd import SGDRule
from eos_support.train.store import RunStore
from factories import dataset

N, B = 12, 4  # a finite sum of 12 terms, minibatches of 4


def linear_least_squares(seed=0, n=N):
    """f(θ) = (1/n) Σⱼ ½‖W xⱼ + b − yⱼ‖²: a finite sum of quadratics in θ = (W, b)."""
    g = torch.Generator().manual_seed(seed)
    model = nn.Linear(3, 2).double()
    x = torch.randn(n, 3, generator=g, dtype=torch.float64)
    y = torch.randn(n, 2, generator=g, dtype=torch.float64)
    f = ModuleLoss(model, x, y, "half_sq_sum")
    theta = f.theta0 + torch.randn(f.theta0.shape, generator=g, dtype=torch.float64)
    return f, theta


def per_example_gradients(f, theta):
    return vmap(lambda x, y: grad(f.on(x[None], y[None]))(theta))(f.inputs, f.targets)


def second_moment(f, theta, b):
    """E[g gᵀ] of a minibatch gradient over b examples drawn uniformly without replacement.

    E[g] = ∇f and Cov(g) = (n − b) / (b (n − 1)) · S, S the per-example gradients' covariance (1/n).
    """
    a = per_example_gradients(f, theta)
    n = a.shape[0]
    mean = a.mean(0)
    centred = a - mean
    S = centred.T @ centred / n
    return torch.outer(mean, mean) + (n - b) / (b * (n - 1)) * S


def closed_form_erp(f, theta, eta, b):
    """For a quadratic f with Hessian H: E[RP] = −1 + (η/2) tr(H E[g gᵀ]) / ‖∇f‖² = right side of (5.1)."""
    H = hessian(f, theta)
    g = grad(f)(theta)
    return float(-1 + eta / 2 * torch.trace(H @ second_moment(f, theta, b)) / (g @ g))


def all_minibatches(n, b):
    return torch.tensor(list(itertools.combinations(range(n), b)))


def test_second_moment_formula_by_enumeration():
    f, theta = linear_least_squares()
    G = batch_gradients(f, theta, all_minibatches(N, B), chunk_size=None)
    assert torch.allclose(G.T @ G / len(G), second_moment(f, theta, B), atol=1e-12)


@pytest.mark.parametrize("seed", range(5))
@pytest.mark.parametrize("eta", [0.05, 0.5])
def test_estimates_match_closed_form_on_a_quadratic_finite_sum(seed, eta):
    f, theta = linear_least_squares(seed)
    expected = closed_form_erp(f, theta, eta, B)
    G = minibatch_gradients(f, theta, B, 400, torch.Generator().manual_seed(seed))
    p = expected_relative_progress(f, theta, eta, G, nodes=4)
    assert p.samples == 400
    for value, se in ((p.erp, p.erp_se), (p.erp_cv, p.erp_cv_se), (p.rhs, p.rhs_se), (p.exact, p.exact_se)):
        assert se > 0
        assert abs(value - expected) <= 3 * se, (value, se, expected)
    # on a quadratic, (5.1) and Appendix A are exact sample by sample
    assert abs(p.gap) < 1e-10 and p.gap_se < 1e-10
    assert p.exact == pytest.approx(p.rhs, abs=1e-12)


def test_appendix_a_is_an_identity_with_the_exact_expectation():
    """Non-quadratic finite sum, E over every minibatch of size 3 out of 8: Appendix A to 1e-8."""
    model, x, y = small_network(seed=3)
    f = ModuleLoss(model, x[:8], y[:8], "ce")
    theta = f.theta0 * 3  # larger weights: a clearly non-quadratic region
    G = batch_gradients(f, theta, all_minibatches(8, 3), chunk_size=None)  # all 56: mean = ∇f
    eta = 1.0
    p = expected_relative_progress(f, theta, eta, G, nodes=64, chunk_size=None)
    assert abs(p.exact - p.erp) < 1e-8
    assert abs(p.erp_cv - p.erp) < 1e-10  # the control variate vanishes when mean(G) = ∇f
    assert abs(p.rhs - p.erp) > 1e-4  # (5.1) is only an approximation here: the test is not vacuous


def test_batched_evaluations_match_a_loop_of_definitions():
    model, x, y = small_network(seed=1)
    f = ModuleLoss(model, x, y, "ce")
    theta, eta = f.theta0, 0.7
    G = minibatch_gradients(f, theta, 5, 6, torch.Generator().manual_seed(0))
    df = grad(f)
    g = df(theta)
    gg = g @ g
    rp = torch.stack([(f(theta - eta * gi) - f(theta)) / (eta * gg) for gi in G])
    ds = torch.stack([(eta * gi) @ (g - df(theta - eta * gi)) / (eta * gi @ (eta * gi)) for gi in G])  # Def. 2
    rhs = -1 + eta / 2 * (G * G).sum(1) / gg * ds
    for chunk in (1, 4, None):
        p = expected_relative_progress(f, theta, eta, G, chunk_size=chunk)
        assert p.erp == pytest.approx(float(rp.mean()), abs=1e-12)
        assert p.erp_se == pytest.approx(float(rp.std() / math.sqrt(len(G))), abs=1e-12)
        assert p.rhs == pytest.approx(float(rhs.mean()), abs=1e-12)
        assert p.loss == pytest.approx(float(f(theta)))


def test_minibatch_gradients_are_the_minibatches_gradients():
    model, x, y = small_network(seed=2)
    f = ModuleLoss(model, x, y, "ce")
    theta = f.theta0
    idx = sample_minibatches(len(y), 4, 7, torch.Generator().manual_seed(5))
    assert idx.shape == (7, 4)
    assert all(len(set(row.tolist())) == 4 for row in idx)  # without replacement
    G = batch_gradients(f, theta, idx, chunk_size=3)
    for row, gi in zip(idx, G):
        assert torch.allclose(gi, grad(f.on(x[row], y[row]))(theta), atol=1e-12)
    # a callable works too, and the same generator seed gives the same draws
    sampler = lambda th: minibatch_gradients(f, th, 4, 7, torch.Generator().manual_seed(5), chunk_size=3)  # noqa: E731
    assert torch.equal(sampler(theta), G)
    assert expected_relative_progress(f, theta, 0.1, sampler) == expected_relative_progress(f, theta, 0.1, G)


def test_bad_inputs_are_named():
    f, theta = linear_least_squares()
    G = minibatch_gradients(f, theta, B, 5)
    with pytest.raises(ValueError, match="M >= 2"):
        expected_relative_progress(f, theta, 0.1, G[:1])
    with pytest.raises(ValueError, match=r"\(M, 8\)"):
        expected_relative_progress(f, theta, 0.1, G[:, :3])
    with pytest.raises(ValueError, match="non-finite"):
        expected_relative_progress(f, theta, 0.1, G * math.nan)
    with pytest.raises(ValueError, match="step size"):
        expected_relative_progress(f, theta, 0.0, G)
    with pytest.raises(ValueError, match="chunk_size"):
        expected_relative_progress(f, theta, 0.1, G, chunk_size=0)
    for b in (0, N + 1):
        with pytest.raises(ValueError, match="batch_size"):
            minibatch_gradients(f, theta, b, 5)
    with pytest.raises(ValueError, match="ModuleLoss"):
        minibatch_gradients(lambda th: th @ th, theta, 2, 5)


# -- the trainer -------------------------------------------------------------------------------------


def toy_data(n=40, seed=0, loss="ce"):
    return dataset(n, 5, seed=seed, loss=loss, labels=lambda x: (x[:, 0] > 0).long() + (x[:, 1] > 0).long(), name="toy")


def toy_model(seed=0):
    return fully_connected(5, depth=1, width=8, activation="tanh", num_classes=3, seed=seed)


OPTIONS = dict(batch_size=8, epochs=5, samples=4, progress=False)


def test_train_sgd_records_every_epoch_and_is_cached(tmp_path):
    data = toy_data()
    run = train_sgd(toy_model(), data, "ce", eta=0.5, cache=tmp_path, **OPTIONS)
    h = run.history
    assert run.status == "max_epochs" and run.steps == 5
    assert h["epoch"].tolist() == list(range(6)) and h["step"].tolist() == [0, 5, 10, 15, 20, 25]
    for key in ("loss", "accuracy", "grad_norm_sq", "erp", "erp_se", "erp_cv", "rhs", "rhs_se", "gap", "gap_se"):
        assert len(h[key]) == 6 and all(map(math.isfinite, h[key])), key
    assert math.isnan(h["minibatch_loss"][0]) and all(map(math.isfinite, h["minibatch_loss"][1:]))
    assert h["loss"][-1] < h["loss"][0]
    # the stored estimates are those of expected_relative_progress at the stored θ
    f = ModuleLoss(toy_model(), data.x_train, data.y_train, "ce")
    assert float(f(run.theta)) == pytest.approx(float(h["loss"][-1]), rel=1e-5)
    again = train_sgd(toy_model(), data, "ce", eta=0.5, cache=tmp_path, **OPTIONS)
    assert again.source == "stored" and again.wall_s == run.wall_s
    assert all((again.history[k] == h[k]).all() or k == "minibatch_loss" for k in h)


def test_train_sgd_resumes_after_an_interrupt_with_identical_history(tmp_path, monkeypatch):
    data = toy_data()
    reference = train_sgd(toy_model(), data, "ce", eta=0.5, cache=None, **OPTIONS)
    calls = interrupt_once(monkeypatch, SGDRule, lambda rule: rule.epoch + 1, 3)
    with pytest.raises(KeyboardInterrupt):
        train_sgd(toy_model(), data, "ce", eta=0.5, cache=tmp_path, checkpoint_s=1e9, **OPTIONS)
    assert list(tmp_path.glob("*.partial.pt"))
    resumed = train_sgd(toy_model(), data, "ce", eta=0.5, cache=tmp_path, **OPTIONS)
    assert resumed.source == "resumed" and calls == [0, 1, 2, 3, 3, 4, 5]
    assert torch.equal(resumed.theta, reference.theta)
    for key, value in reference.history.items():
        assert value.shape == resumed.history[key].shape
        assert ((value == resumed.history[key]) | (value != value)).all(), key
    assert not list(tmp_path.glob("*.partial.pt"))


def test_a_full_disk_costs_the_cache_never_the_run(tmp_path, monkeypatch):
    # an OSError (ENOSPC) while checkpointing used to end a run of hours, and one while storing lost its result
    data = toy_data()
    reference = train_sgd(toy_model(), data, "ce", eta=0.5, cache=None, **OPTIONS)

    def full(self, state):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(RunStore, "save_checkpoint", full)
    monkeypatch.setattr(RunStore, "save", full)
    with pytest.warns(UserWarning, match="could not write the") as seen:
        run = train_sgd(toy_model(), data, "ce", eta=0.5, cache=tmp_path, checkpoint_s=0.0, **OPTIONS)
    said = [str(w.message) for w in seen]
    assert any("the checkpoint" in m for m in said) and any("the finished run" in m for m in said)
    assert "No space left on device" in str(seen[0].message) and str(tmp_path) in str(seen[0].message)
    assert run.source == "computed" and torch.equal(run.theta, reference.theta) and not list(tmp_path.glob("*.pt"))


def test_train_sgd_divergence_is_a_status(tmp_path):
    run = train_sgd(toy_model(), toy_data(loss="half_sq_sum"), "half_sq_sum", eta=50.0, cache=tmp_path, **OPTIONS)
    h = run.history
    assert run.status == "diverged"
    last = h["loss"][-1]
    assert not math.isfinite(last) or last > 1e3 * h["loss"][0]
    assert run.steps < OPTIONS["epochs"] or math.isnan(h["erp"][-1])


@pytest.mark.parametrize(
    "option, match",
    [
        (dict(batch_size=0), "batch_size"),
        (dict(batch_size=41), "batch_size"),
        (dict(samples=1), "samples"),
        (dict(epochs=0), "epochs"),
        (dict(eta=-1.0), "step size"),
    ],
)
def test_train_sgd_bad_inputs_are_named(option, match):
    kwargs = dict(eta=0.1, batch_size=8, epochs=2, samples=4, cache=None, progress=False)
    kwargs.update(option)
    with pytest.raises(ValueError, match=match):
        train_sgd(toy_model(), toy_data(), "ce", **kwargs)
