import copy

import pytest
import torch
from torch import nn

from cases import small_network
from eos_support.data import Dataset
from eos_support.diagnostics import relative_progress
from eos_support.diagnostics.curvature import hessian, hessian_operator, top_eigen
from eos_support.diagnostics.objective import ModuleLoss, loss_function
from eos_support.train import train_gd


def test_module_loss_matches_the_module():
    model, x, y = small_network()
    f = ModuleLoss(model, x, y, "ce")
    assert f(f.theta0).item() == pytest.approx(nn.functional.cross_entropy(model(x), y).item(), rel=1e-12)
    onehot = nn.functional.one_hot(y, 3).double()
    g = ModuleLoss(model, x, onehot, "half_sq_sum")
    assert g(g.theta0).item() == pytest.approx((0.5 * ((model(x) - onehot) ** 2).sum(1).mean()).item(), rel=1e-12)


def test_a_loss_name_means_what_it_means_in_pytorch():
    torch.manual_seed(0)
    out, y = torch.randn(8, 10, dtype=torch.float64), torch.randn(8, 10, dtype=torch.float64)
    mse = float(nn.functional.mse_loss(out, y))
    assert float(loss_function("mse")(out, y)) == mse and loss_function("ce") is nn.functional.cross_entropy
    # the book's squared loss, ½‖·‖² summed over the 10 outputs, is 10/2 = 5 times mse_loss (issue 22)
    assert float(loss_function("half_sq_sum")(out, y)) == pytest.approx(5 * mse, rel=1e-14)
    for bad in ("MSE", "l2", ["ce"], None):
        with pytest.raises(ValueError, match="loss must be one of"):
            loss_function(bad)


@pytest.mark.parametrize("loss", ["mse", "half_sq_sum"])
def test_squared_losses_refuse_targets_of_another_shape(loss):
    # Broadcasting paired every output with every target: one regression output (n, 1) against targets
    # (n,) gave half_sq_sum 42.6 where the loss is 0.72, silently; class labels against n outputs too.
    x, y = torch.randn(64, 10, generator=torch.Generator().manual_seed(0)), torch.randn(64)
    for model, targets in ((nn.Linear(10, 1), y), (nn.Linear(10, 64), torch.arange(64) % 3)):
        f = ModuleLoss(model, x, targets, loss)
        with pytest.raises(ValueError, match=r"targets of the outputs' shape \(64, \d+\), got \(64,\)"):
            f(f.theta0)
    model = nn.Linear(10, 1)
    f = ModuleLoss(model, x, y.unsqueeze(-1), loss)  # the fix the message names
    mean_square = float(((model(x).squeeze(-1) - y) ** 2).mean().detach())
    assert float(f(f.theta0)) == pytest.approx(mean_square * (0.5 if loss == "half_sq_sum" else 1.0), rel=1e-6)


def test_frozen_parameters_are_refused():
    # θ holds every parameter: train_gd moved a frozen layer's weight, and the sharpness included it
    model, x, y = small_network()
    next(model.parameters()).requires_grad_(False)
    with pytest.raises(ValueError, match=r"frozen \(requires_grad False\).*requires_grad_\(True\)"):
        ModuleLoss(model, x, y, "ce")
    data = Dataset(x, y, None, None, 3, "tiny", "tests", x.shape[1])
    with pytest.raises(ValueError, match="frozen"):
        train_gd(model, data, "ce", eta=0.1, max_steps=2, progress=False)


def test_gradient_matches_autograd_on_the_module():
    model, x, y = small_network()
    f = ModuleLoss(model, x, y)
    nn.functional.cross_entropy(model(x), y).backward()
    expected = torch.cat([p.grad.reshape(-1) for p in model.parameters()])
    assert torch.allclose(torch.func.grad(f)(f.theta0), expected)


def test_theta_is_not_copied_into_the_module():
    model, x, y = small_network()
    f = ModuleLoss(model, x, y)
    before = f.theta0
    f(before + 1.0)
    assert torch.equal(f.theta0, before)


def test_minibatch_view_and_bad_inputs():
    model, x, y = small_network()
    f = ModuleLoss(model, x, y)
    assert f.on(x[:5], y[:5])(f.theta0).item() == pytest.approx(nn.functional.cross_entropy(model(x[:5]), y[:5]).item())
    with pytest.raises(ValueError, match="entries"):
        f(torch.zeros(3, dtype=torch.float64))
    with pytest.raises(ValueError, match="loss must be"):
        ModuleLoss(model, x, y, "hinge")


# -- dropout and BatchNorm: f is a deterministic function of θ that never changes the model ---------


def bn_network(seed=0, dtype=torch.float64):
    """4-6-3 network with a BatchNorm layer, in train mode, and 20 examples."""
    torch.manual_seed(seed)
    model = nn.Sequential(nn.Linear(4, 6), nn.BatchNorm1d(6), nn.Tanh(), nn.Linear(6, 3)).to(dtype)
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(20, 4, generator=g, dtype=dtype)
    y = torch.randint(0, 3, (20,), generator=g)
    with torch.no_grad():  # running statistics away from their initial values, so a change would show
        model(x)
    return model, x, y


def test_float64_casts_the_buffers_too():
    # BatchNorm's running statistics stayed float32 under a float64 θ, and evaluation raised a dtype error
    model, x, y = bn_network(dtype=torch.float32)
    f = ModuleLoss(model.eval(), x, y)
    f64 = f.float64()
    assert f64(f.theta0.double()).dtype == torch.float64
    assert float(f64(f.theta0.double())) == pytest.approx(float(f(f.theta0)), rel=1e-5)
    assert f.buffers["1.running_mean"].dtype == torch.float32  # the original is untouched


def _state(model):
    return {k: v.clone() for k, v in model.state_dict().items()}


def test_batchnorm_leaves_running_statistics_bit_for_bit_unchanged():
    model, x, y = bn_network()
    before = _state(model)
    f = ModuleLoss(model, x, y)
    theta = f.theta0
    assert f.batch_statistics == ("1",)
    for k in range(5):
        f(theta + 0.01 * k)
    relative_progress(f, theta, 0.1)
    top_eigen(f, theta, iters=10)
    torch.func.vmap(f)(torch.stack([theta, 1.1 * theta]))
    after = model.state_dict()
    assert before.keys() == after.keys()
    for k, v in before.items():
        assert torch.equal(v, after[k]), k
    assert model[1].training


def test_batchnorm_in_train_mode_normalises_with_the_batch_statistics():
    model, x, y = bn_network()
    f = ModuleLoss(model, x, y)
    twin = copy.deepcopy(model)  # the module's own train-mode output (it updates the twin's statistics)
    assert f(f.theta0).item() == pytest.approx(nn.functional.cross_entropy(twin(x), y).item(), rel=1e-13)
    grad = torch.func.grad(f)(f.theta0)
    twin = copy.deepcopy(model)
    nn.functional.cross_entropy(twin(x), y).backward()
    assert torch.allclose(grad, torch.cat([p.grad.reshape(-1) for p in twin.parameters()]))


def test_batchnorm_hessian_against_finite_differences_and_under_vmap():
    # torch's fused batch_norm gets torch.func.hessian wrong (an asymmetric Hessian) and crashes under
    # vmap of Hessian-vector products: check the dense Hessian against central differences of ∇f
    model, x, y = bn_network()
    f = ModuleLoss(model, x, y)
    theta = f.theta0
    H = hessian(f, theta)
    df, E = torch.func.vmap(torch.func.grad(f)), 1e-6 * torch.eye(len(theta), dtype=torch.float64)
    fd = (df(theta + E) - df(theta - E)) / 2e-6
    assert torch.allclose(H, fd, atol=1e-7) and torch.allclose(H, H.T, atol=1e-12)
    assert top_eigen(f, theta, iters=40, tol=1e-10).value == pytest.approx(
        float(torch.linalg.eigvalsh(H)[-1]), rel=1e-8
    )
    V = torch.randn(3, len(theta), dtype=torch.float64)
    assert torch.allclose(torch.func.vmap(hessian_operator(f, theta))(V), V @ H)


def test_batchnorm_in_eval_mode_uses_running_statistics_even_after_model_train():
    model, x, y = bn_network()
    model.eval()
    expected = nn.functional.cross_entropy(model(x), y).item()
    f = ModuleLoss(model, x, y)
    model.train()  # the user's loop switches back: f keeps the mode it was created with
    before = _state(model)
    assert f(f.theta0).item() == pytest.approx(expected, rel=1e-14)
    torch.func.grad(f)(f.theta0)
    assert all(torch.equal(v, model.state_dict()[k]) for k, v in before.items())


@pytest.mark.parametrize("layer", [nn.Dropout(0.5), nn.Dropout1d(0.2), nn.AlphaDropout(0.1), nn.RReLU()])
def test_active_dropout_is_a_clear_error(layer):
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 6), nn.Tanh(), layer, nn.Linear(6, 3)).double()
    x, y = torch.randn(20, 4, dtype=torch.float64), torch.randint(0, 3, (20,))
    with pytest.raises(ValueError, match=r"'2' \(" + type(layer).__name__ + r"\).*model\.eval\(\).*dropout='eval'"):
        ModuleLoss(model, x, y)


def test_dropout_eval_option_is_deterministic_and_leaves_the_model_in_train_mode():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 6), nn.Dropout(0.5), nn.BatchNorm1d(6), nn.Tanh(), nn.Linear(6, 3)).double()
    x, y = torch.randn(20, 4, dtype=torch.float64), torch.randint(0, 3, (20,))
    f = ModuleLoss(model, x, y, dropout="eval")
    assert f.dropout_off == ("1",) and f.batch_statistics == ("2",)
    theta = f.theta0
    assert torch.equal(f(theta), f(theta))
    reference = copy.deepcopy(model)
    reference[1].eval()  # dropout off, BatchNorm still on batch statistics
    with torch.no_grad():
        expected = nn.functional.cross_entropy(reference(x), y).item()
    assert f(theta).item() == pytest.approx(expected, rel=1e-13)
    rps = [relative_progress(f, theta, 0.5) for _ in range(3)]
    assert rps[0] == rps[1] == rps[2]
    assert model[1].training and model[2].training


def test_dropout_in_eval_mode_or_with_p_zero_needs_nothing():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 6), nn.Dropout(0.0), nn.Linear(6, 3)).double()
    x, y = torch.randn(20, 4, dtype=torch.float64), torch.randint(0, 3, (20,))
    assert ModuleLoss(model, x, y).dropout_off == ()
    model[1].p = 0.5
    model.eval()
    f = ModuleLoss(model, x, y)
    model.train()  # the mode at creation is the one f keeps
    assert torch.equal(f(f.theta0), f(f.theta0))
    with pytest.raises(ValueError, match="dropout must be"):
        ModuleLoss(model, x, y, dropout="off")


def test_train_gd_runs_on_a_batchnorm_network_and_leaves_it_alone():
    # issue 10: train_gd crashed with "mutate a captured Tensor"; full-batch GD on the BN network's
    # train-mode loss must now run, match the core functions, and leave the model's statistics alone
    model, x, y = bn_network()
    before = _state(model)
    data = Dataset(x, y, None, None, 3, "bn-tiny", "random", 4)
    run = train_gd(model, data, "ce", eta=0.5, max_steps=3, sharpness_every=2, progress=False)
    f = ModuleLoss(model, x, y)
    assert run.history["rp"][0] == pytest.approx(relative_progress(f, f.theta0, 0.5), rel=1e-10)
    assert all(torch.equal(v, model.state_dict()[k]) for k, v in before.items())
