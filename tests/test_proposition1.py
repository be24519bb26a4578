"""eos_support.examples.proposition1: Proposition 1's network, its GD run with ε = 0 and its stationary points
for ε > 0, against the chapter's former code and the proposition's identities."""

import numpy as np
import pytest
import torch
from torch.func import grad

from eos_support.examples.proposition1 import (
    NormalizedMinimum,
    ScaleInvariantNet,
    largest_ratio,
    minima_over_eps,
    minima_over_seeds,
    minima_table,
    restarts_over_seeds,
    seed_summary,
    sharpness_growth,
    sharpness_slope,
    slope_error,
    summary_table,
    weakest_growth,
    weight_decay_gd,
)
from eos_support.readings.uncertainty import perturbed

F64 = torch.float64


@pytest.fixture(scope="module")
def net():
    gen = torch.Generator().manual_seed(0)
    inputs = torch.randn(32, 4, generator=gen, dtype=F64)
    return ScaleInvariantNet(inputs, torch.randint(0, 3, (32,), generator=gen))


def test_scale_invariant_net_zeta_and_layer_norms(net):
    f, ell = net.losses(eps=0.0)
    assert net.zeta == slice(0, f.sizes[f.names.index("zeta.weight")]) and f.names[0] == "zeta.weight"
    theta = f.theta0
    expected = (net.inputs @ f.unflatten(theta)["zeta.weight"].T).norm(dim=1)
    assert torch.equal(net.layer_norms(theta), expected)
    assert ell(theta).item() == pytest.approx(f(theta).item() + 1e-3 * theta.pow(2).sum().item(), rel=1e-15)
    # scale invariance in ζ (Proposition 1), exactly up to rounding
    scaled = theta.clone()
    scaled[net.zeta] *= 3.0
    assert f(scaled).item() == pytest.approx(f(theta).item(), rel=1e-14)


def test_weight_decay_gd_is_the_chapters_former_loop(net):
    run = weight_decay_gd(net, eta=0.05, steps=5)
    f, _ = net.losses(eps=0.0)
    df, zeta, gamma, theta = grad(f), slice(0, 16), 1e-3, f.theta0
    for t in range(6):
        g_f = df(theta)
        g_ell = g_f + 2 * gamma * theta
        z = theta[zeta]
        assert run.cosine[t] == (g_f[zeta] @ z / (g_f[zeta].norm() * z.norm())).item()
        assert run.grad_norm[t] == g_ell.norm().item() and run.bound[t] == 2 * gamma * z.norm().item()
        theta = theta - 0.05 * g_ell
    assert np.abs(run.cosine).max() < 1e-12 and (run.grad_norm >= run.bound).all()


def test_minima_over_eps_finds_sharp_minima(net):
    (m,) = minima_over_eps(net, [1e-1])
    assert isinstance(m, NormalizedMinimum) and m.eps == 1e-1
    assert m.grad_norm < 1e-8 and m.lambda_min > 0 and m.sharpness > 1
    assert m.a_min_over_eps > 0 and m.zeta_norm > 0
    table = minima_table([m]).splitlines()
    assert len(table) == 3 and table[2].startswith("| 0.1 |")


def test_random_net_of_seed_0_is_the_chapters_former_data_and_seeds_change_data_and_weights(net):
    zero = ScaleInvariantNet.random(0)
    assert torch.equal(zero.inputs, net.inputs) and torch.equal(zero.labels, net.labels)
    assert (zero.width, zero.num_classes, zero.gamma, zero.seed) == (4, 3, 1e-3, 0)
    assert torch.equal(zero.losses()[0].theta0, net.losses()[0].theta0)
    one = ScaleInvariantNet.random(1)
    assert not torch.equal(one.inputs, zero.inputs) and not torch.equal(one.labels, zero.labels)
    assert not torch.equal(one.losses()[0].theta0, zero.losses()[0].theta0)
    assert one.inputs.dtype == F64 and one.losses()[0].theta0.dtype == F64
    wide = ScaleInvariantNet.random(2, samples=8, features=3, width=5, num_classes=2)
    assert wide.inputs.shape == (8, 3) and int(wide.labels.max()) <= 1 and wide.zeta == slice(0, 15)


def minimum(eps, sharpness, a=1.0):
    return NormalizedMinimum(
        eps=eps, grad_norm=1e-12 * eps, sharpness=sharpness, lambda_min=eps, zeta_norm=1.0, a_min_over_eps=a
    )


def test_statistics_and_seed_summary_against_a_power_law():
    eps = [1e-1, 1e-2, 1e-3]
    found = {
        0: [minimum(e, 3.0 * e**-1.2, a=2.0 + i) for i, e in enumerate(eps)],
        7: [minimum(e, 0.5 / e, a=1.5) for e in eps],
    }
    slope, intercept = sharpness_slope(found[0])
    assert slope == pytest.approx(-1.2, abs=1e-12) and intercept == pytest.approx(np.log(3.0), abs=1e-12)
    assert slope_error(found[0]) < 1e-12 and np.isnan(slope_error(found[0][:2]))
    bent = [minimum(e, e**-1.2 * (1.5 if i == 1 else 1.0)) for i, e in enumerate(eps)]
    assert slope_error(bent) > 0.05
    assert sharpness_growth(found[0]) == pytest.approx(2.4) and weakest_growth(found[0]) == pytest.approx(10**1.2)
    assert largest_ratio(found[0]) == 4.0
    restarts = {0: [[minimum(e, 3.0 * e**-1.0, a=2.0) for e in eps]], 7: []}
    summary = seed_summary(found, restarts)
    assert list(summary) == [0, 7] and summary[7]["slope"] == pytest.approx(-1.0, abs=1e-12)
    assert summary[0]["slope spread"] == pytest.approx(0.2) and summary[7]["slope spread"] == 0.0
    assert summary[0]["max min_i ‖a_i‖/ε spread"] == 2.0 and summary[0]["growth (log10) spread"] == pytest.approx(0.4)
    assert summary[0]["max ‖∇ℓ‖"] == 1e-13 and summary[0]["min λ_min"] == 1e-3
    lines = summary_table(summary).splitlines()
    assert len(lines) == 4 and lines[2].startswith("| 0 | 2.400 ± 0.4 |") and "-1.200 ± 0.2 (2 SE" in lines[2]


def test_restarts_over_seeds_rerun_the_search_from_theta0_perturbed_at_rounding_level():
    (again,) = restarts_over_seeds([3], [1e-1], draws=1)[3]
    net = ScaleInvariantNet.random(3)
    (start,) = perturbed(net.losses()[0].theta0, 1, seed=0)
    assert again == minima_over_eps(net, [1e-1], start)
    assert again[0].grad_norm < 1e-8


def test_minima_over_seeds_is_minima_over_eps_of_each_seeds_net():
    by_seed = minima_over_seeds([0, 1], [1e-1])
    assert list(by_seed) == [0, 1]
    assert by_seed[0] == minima_over_eps(ScaleInvariantNet.random(0), [1e-1])
    assert by_seed[1] == minima_over_eps(ScaleInvariantNet.random(1), [1e-1])
    assert by_seed[0] != by_seed[1]
