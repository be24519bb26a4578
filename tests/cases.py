"""Test cases shared across test modules: small costs with known answers."""

import torch
from torch import nn


def random_spd(d, seed, dtype=torch.float64):
    """A random symmetric positive-definite matrix with spread-out eigenvalues."""
    g = torch.Generator().manual_seed(seed)
    Q, _ = torch.linalg.qr(torch.randn(d, d, generator=g, dtype=dtype))
    lam = torch.logspace(-1, 1.5, d, dtype=dtype)
    return Q @ torch.diag(lam) @ Q.T


def smooth_cost(d, seed, dtype=torch.float64):
    """A random non-quadratic analytic cost: log-sum-exp of a linear map plus a quartic."""
    g = torch.Generator().manual_seed(seed)
    A = torch.randn(3 * d, d, generator=g, dtype=dtype) / d**0.5
    b = torch.randn(3 * d, generator=g, dtype=dtype)

    def f(theta):
        return torch.logsumexp(A @ theta + b, 0) + 0.1 * (theta @ theta) ** 2 + torch.sin(theta).sum()

    return f


def small_network(seed=0, dtype=torch.float64, activation=nn.Tanh):
    """A 4-6-3 network on 20 random examples: small enough for a dense Hessian."""
    torch.manual_seed(seed)
    model = nn.Sequential(nn.Linear(4, 6), activation(), nn.Linear(6, 3)).to(dtype)
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(20, 4, generator=g, dtype=dtype)
    y = torch.randint(0, 3, (20,), generator=g)
    return model, x, y


def interrupt_once(monkeypatch, rule_class, unit, at):
    """Make ``rule_class.advance`` raise KeyboardInterrupt (as Ctrl-C would) the first time the unit it
    is about to run, ``unit(rule)`` (a step, an epoch), is ``at``; returns the list of units it ran."""
    original, calls = rule_class.advance, []

    def advance(self):
        calls.append(unit(self))
        if calls[-1] == at and calls.count(at) == 1:
            raise KeyboardInterrupt
        return original(self)

    monkeypatch.setattr(rule_class, "advance", advance)
    return calls
