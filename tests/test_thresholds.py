"""Stability thresholds read from optimizers (eos_support.monitor.thresholds), checked against torch's iterations."""

import math

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from eos_support.monitor.thresholds import adam_preconditioner, momentum_threshold, stability_threshold


def _params():
    return [torch.nn.Parameter(torch.ones(3, dtype=torch.float64))]


@pytest.mark.parametrize(
    "make, expected",
    [
        (lambda p: torch.optim.SGD(p, lr=0.1), 20.0),
        (lambda p: torch.optim.SGD(p, lr=0.1, momentum=0.9), 38.0),
        (lambda p: torch.optim.SGD(p, lr=0.1, momentum=0.9, dampening=0.5), 76.0),
        (lambda p: torch.optim.SGD(p, lr=0.1, momentum=0.9, nesterov=True), 3.8 / 0.28),
        (lambda p: torch.optim.SGD(p, lr=0.1, momentum=0.5, weight_decay=0.25), 30.0 - 0.25),
        (lambda p: torch.optim.SGD(p, lr=torch.tensor(0.1, dtype=torch.float64)), 20.0),
        (lambda p: torch.optim.Adam(p, lr=1e-3), 38_000.0),
        (lambda p: torch.optim.AdamW(p, lr=0.01, betas=(0.8, 0.99), weight_decay=0.1), 3.6 / 0.002),
    ],
)
def test_thresholds_read_from_the_optimizer(make, expected):
    assert stability_threshold(make(_params())).value == pytest.approx(expected, rel=1e-12)


def test_which_sharpness_each_threshold_refers_to():
    sgd, adam = torch.optim.SGD(_params(), lr=0.5), torch.optim.Adam(_params(), lr=0.01)
    assert stability_threshold(sgd).sharpness == "hessian"
    batch = stability_threshold(sgd, "batch")
    assert batch.value == 4.0 and "Andreyev" in batch.source
    assert (
        stability_threshold(adam).sharpness == "preconditioned"
        and "Cohen et al. 2022" in stability_threshold(adam).source
    )
    assert stability_threshold(adam, "hessian").value is None
    rms = stability_threshold(torch.optim.RMSprop(_params(), lr=0.01))
    assert rms.value is None and "RMSprop" in rms.note
    with pytest.raises(ValueError, match="Adam's preconditioner"):
        stability_threshold(sgd, "preconditioned")
    with pytest.raises(ValueError, match="sharpness must be"):
        stability_threshold(sgd, "trace")
    assert stability_threshold(torch.optim.SGD(_params(), lr=0.0)).value == math.inf


def test_parameter_groups_must_agree_and_maximize_is_refused():
    a, b = _params(), _params()
    same = torch.optim.SGD([{"params": a}, {"params": b}], lr=0.1, momentum=0.9)
    assert stability_threshold(same).value == pytest.approx(38.0)
    differ = torch.optim.SGD([{"params": a}, {"params": b, "lr": 0.01}], lr=0.1)
    with pytest.raises(ValueError, match=r"groups 0 and 1 differ in \['lr'\]"):
        stability_threshold(differ)
    with pytest.raises(ValueError, match="maximize"):
        stability_threshold(torch.optim.SGD(a, lr=0.1, maximize=True))


def _final_sizes(lams, steps, **options):
    """|xᵢ| after ``steps`` steps of torch.optim.SGD(**options) on f(x) = Σᵢ ½λᵢxᵢ² from x = 1."""
    x = torch.nn.Parameter(torch.ones(len(lams), dtype=torch.float64))
    opt = torch.optim.SGD([x], **options)
    for _ in range(steps):
        x.grad = lams * x.detach()
        opt.step()
    return x.detach().abs()


@settings(max_examples=10, deadline=None)
@given(eta=st.floats(0.01, 1.0), beta=st.floats(0.0, 0.95), nesterov=st.booleans(), damp=st.booleans())
def test_threshold_is_where_torch_sgd_turns_unstable_on_a_quadratic(eta, beta, nesterov, damp):
    # Adam with a frozen preconditioner is SGD with dampening β₁ on P⁻¹H: the damp=True cases
    options = dict(
        lr=eta, momentum=beta, nesterov=nesterov and beta > 0, dampening=beta if damp and not nesterov else 0
    )
    lam = momentum_threshold(eta, beta, options["dampening"], options["nesterov"])
    assert stability_threshold(torch.optim.SGD(_params(), **options)).value == pytest.approx(lam, rel=1e-12)
    below, above = _final_sizes(torch.tensor([0.97, 1.03], dtype=torch.float64) * lam, 2000, **options)
    assert below < 1e-3 and above > 1e3


def test_adam_preconditioner_is_the_state_after_the_step():
    torch.manual_seed(0)
    w = torch.nn.Parameter(torch.randn(4, dtype=torch.float64))
    opt = torch.optim.Adam([w], lr=0.1, betas=(0.9, 0.99), eps=1e-6)
    v = torch.zeros(4, dtype=torch.float64)
    for t in range(1, 4):
        opt.zero_grad()
        (w**4).sum().backward()
        v = 0.99 * v + 0.01 * w.grad**2
        before = w.detach().clone()
        m_hat_over_p = w.grad  # check P through the update itself at t = 1, where m̂ = g
        opt.step()
        P = adam_preconditioner(opt, [w])
        assert torch.allclose(P, (v / (1 - 0.99**t)).sqrt() + 1e-6, rtol=1e-12)
        if t == 1:
            assert torch.allclose(before - w.detach(), 0.1 * m_hat_over_p / P, rtol=1e-10)
    with pytest.raises(ValueError, match="first step"):
        adam_preconditioner(torch.optim.Adam(_params()), _params())
