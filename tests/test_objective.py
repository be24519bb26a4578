import pytest
import torch
from torch import nn

from eos_support.objective import ModuleLoss

from cases import small_network


def test_module_loss_matches_the_module():
    model, x, y = small_network()
    f = ModuleLoss(model, x, y, "ce")
    assert float(f(f.theta0)) == pytest.approx(float(nn.functional.cross_entropy(model(x), y)), rel=1e-12)
    onehot = nn.functional.one_hot(y, 3).double()
    g = ModuleLoss(model, x, onehot, "mse")
    assert float(g(g.theta0)) == pytest.approx(float(0.5 * ((model(x) - onehot) ** 2).sum(1).mean()), rel=1e-12)


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
    assert float(f.on(x[:5], y[:5])(f.theta0)) == pytest.approx(float(nn.functional.cross_entropy(model(x[:5]), y[:5])))
    with pytest.raises(ValueError, match="entries"):
        f(torch.zeros(3, dtype=torch.float64))
    with pytest.raises(ValueError, match="loss must be"):
        ModuleLoss(model, x, y, "hinge")
