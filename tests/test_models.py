"""Shapes, seeding and the scale invariance of Proposition 1."""

import pytest
import torch

from eos_support.data import Dataset
from eos_support.train.models import fully_connected, normalized_net


def params(model):
    return torch.cat([p.detach().flatten() for p in model.parameters()])


def test_shapes_and_sizes_from_data():
    x = torch.randn(4, 12)
    assert fully_connected(12, num_classes=3)(x).shape == (4, 3)
    deep = fully_connected(12, depth=4, width=7, activation="relu")
    assert deep(x).shape == (4, 10) and sum(isinstance(m, torch.nn.Linear) for m in deep) == 5
    d = Dataset(x, None, None, None, num_classes=5, name="t", source="t", n_features=12)
    assert fully_connected(d, width=8)(x).shape == (4, 5)
    assert normalized_net(d, width=8)(x).shape == (4, 5)


def test_seed_determinism_and_global_rng_untouched():
    torch.manual_seed(123)
    before = torch.rand(3)
    torch.manual_seed(123)
    a = fully_connected(6, width=5, seed=1)
    assert torch.equal(torch.rand(3), before)
    assert torch.equal(params(a), params(fully_connected(6, width=5, seed=1)))
    assert not torch.equal(params(a), params(fully_connected(6, width=5, seed=2)))
    wide = fully_connected(6, width=5, seed=1, dtype=torch.float64)
    assert wide[0].weight.dtype == torch.float64 and torch.equal(params(wide).float(), params(a))


def test_no_activation_is_linear():
    net = fully_connected(6, width=5, activation=None, dtype=torch.float64)
    x, y = torch.randn(3, 6, dtype=torch.float64), torch.randn(3, 6, dtype=torch.float64)
    bias = net(torch.zeros(1, 6, dtype=torch.float64))
    assert torch.allclose(net(2 * x - y) - bias, 2 * (net(x) - bias) - (net(y) - bias))
    assert len(net) == 3


def test_bad_activation():
    with pytest.raises(ValueError, match="'tanh', 'relu', None"):
        fully_connected(6, activation="sigmoid")
    with pytest.raises(ValueError, match="activation"):
        normalized_net(6, activation="gelu")


def test_normalized_net_is_scale_invariant_in_zeta():
    net = normalized_net(6, width=4, dtype=torch.float64)
    x = torch.randn(5, 6, dtype=torch.float64)
    out = net(x)
    with torch.no_grad():
        net.zeta.weight.mul_(3.7)
    assert torch.allclose(net(x), out, atol=1e-12)
    zeta = net.zeta.weight
    (grad,) = torch.autograd.grad(net(x).square().sum(), zeta)
    assert abs((grad * zeta).sum().item()) < 1e-10 * grad.norm().item() * zeta.norm().item()
    assert {n for n, _ in net.named_parameters()} == {"zeta.weight", "xi.weight", "xi.bias"}


def test_normalized_net_with_eps_is_not_scale_invariant():
    net = normalized_net(6, width=4, eps=1.0, dtype=torch.float64)
    x = torch.randn(5, 6, dtype=torch.float64)
    out = net(x)
    with torch.no_grad():
        net.zeta.weight.mul_(0.1)
    assert not torch.allclose(net(x), out)
