"""Proposition 1 on a small network with a scale-invariant layer and weight decay.

With the normaliser a/‖a‖ (ε = 0) the loss has no stationary point; with a/(ε + ‖a‖), ε > 0, it has
some, and the paper argues that they are sharp, like 1/ε, and sit where ‖a‖ ≈ ε.
:class:`ScaleInvariantNet` is the network and its data (seeded), :func:`weight_decay_gd` follows GD with
ε = 0, :func:`minima_over_eps` finds a stationary point for each ε, :func:`minima_over_seeds` does so for
several seeds (data and initialisation) and :func:`seed_summary` reads each seed's points.
"""

from dataclasses import dataclass

import numpy as np
import torch
from torch.func import grad, hessian

from .curvature import sharpness
from .models import normalized_net
from .objective import ModuleLoss
from .stationary import saddle_free_newton
from .tables import Markdown, markdown_table


@dataclass(frozen=True)
class ScaleInvariantNet:
    """Proposition 1's network with weight decay: ℓ(θ) = f(θ) + γ‖θ‖².

    ζ (bias-free linear) → a/(ε + ‖a‖) → tanh → ξ (linear), with cross-entropy on (``inputs``,
    ``labels``) as the data loss f. With ε = 0 the loss of every example is invariant to the scale
    of ζ, so ⟨∇_ζ f, ζ⟩ = 0. The weights are :func:`~eos_support.models.normalized_net`'s (``seed``),
    in the inputs' dtype; ζ comes first in θ.
    """

    inputs: torch.Tensor
    labels: torch.Tensor
    width: int = 4
    num_classes: int = 3
    gamma: float = 1e-3
    seed: int = 0

    @classmethod
    def random(cls, seed, samples=32, features=4, **options):
        """The network on ``samples`` standard Gaussian inputs (float64) with uniformly random labels.

        The data and the initial weights are both drawn from ``seed``; ``options``: width, num_classes, gamma.
        """
        gen = torch.Generator().manual_seed(seed)
        inputs = torch.randn(samples, features, generator=gen, dtype=torch.float64)
        labels = torch.randint(0, options.get("num_classes", cls.num_classes), (samples,), generator=gen)
        return cls(inputs, labels, seed=seed, **options)

    def losses(self, eps=0.0):
        """``(f, ℓ)`` for the normaliser a/(ε + ‖a‖): the data loss (a ModuleLoss) and the regularised loss."""
        net = normalized_net(
            self.inputs.shape[1],
            width=self.width,
            num_classes=self.num_classes,
            eps=eps,
            seed=self.seed,
            dtype=self.inputs.dtype,
        )
        f = ModuleLoss(net, self.inputs, self.labels, loss="ce")
        return f, (lambda theta: f(theta) + self.gamma * theta.pow(2).sum())

    @property
    def zeta(self):
        """The slice of θ that holds ζ."""
        return slice(0, self.width * self.inputs.shape[1])

    def layer_norms(self, theta):
        """‖a_i‖ = ‖ζ x_i‖ for every example: the input of the normaliser."""
        return (self.inputs @ theta[self.zeta].view(self.width, -1).T).norm(dim=1)


@dataclass(frozen=True)
class WeightDecayRun:
    """GD on ℓ with ε = 0, at every iterate: cos(∇_ζ f, ζ), ‖∇ℓ‖ and the bound 2γ‖ζ‖ (Proposition 1)."""

    cosine: np.ndarray
    grad_norm: np.ndarray
    bound: np.ndarray


def weight_decay_gd(net, eta, steps):
    """GD on ``net``'s ℓ with ε = 0: the :class:`WeightDecayRun` of its ``steps`` + 1 iterates.

    By ⟨∇_ζ f, ζ⟩ = 0, ‖∇ℓ‖ ≥ ‖∇_ζ f + 2γζ‖ ≥ 2γ‖ζ‖ > 0 at every one of them (Proposition 1).
    """
    f, _ = net.losses(eps=0.0)
    df, zeta, gamma = grad(f), net.zeta, net.gamma
    theta = f.theta0
    cosine, grad_ell, bound = [], [], []
    for _ in range(int(steps) + 1):
        g_f = df(theta)
        g_ell = g_f + 2 * gamma * theta
        z = theta[zeta]
        cosine.append((g_f[zeta] @ z / (g_f[zeta].norm() * z.norm())).item())
        grad_ell.append(g_ell.norm().item())
        bound.append(2 * gamma * z.norm().item())
        theta = theta - eta * g_ell
    return WeightDecayRun(*map(np.array, (cosine, grad_ell, bound)))


@dataclass(frozen=True)
class NormalizedMinimum:
    """A stationary point of ℓ for the normaliser a/(ε + ‖a‖), ε > 0, and its curvature."""

    eps: float
    grad_norm: float
    sharpness: float
    lambda_min: float
    zeta_norm: float
    a_min_over_eps: float


def minima_over_eps(net, epsilons):
    """A :class:`NormalizedMinimum` of ℓ for each ε of ``epsilons`` (Proposition 1 with ε > 0).

    Each is found by :func:`~eos_support.stationary.saddle_free_newton`, started from the
    initialisation for the first ε and from the previous minimum for the next ones, and measured:
    ‖∇ℓ‖, λ_max (Lanczos), λ_min (dense), ‖ζ‖ and min_i ‖a_i‖/ε.
    """
    theta, found = net.losses()[0].theta0, []
    for eps in epsilons:
        _, ell = net.losses(eps)
        theta = saddle_free_newton(ell, theta)
        found.append(
            NormalizedMinimum(
                eps=eps,
                grad_norm=grad(ell)(theta).norm().item(),
                sharpness=sharpness(ell, theta, iters=31),
                lambda_min=torch.linalg.eigvalsh(hessian(ell)(theta))[0].item(),
                zeta_norm=theta[net.zeta].norm().item(),
                a_min_over_eps=(net.layer_norms(theta).min() / eps).item(),
            )
        )
    return found


def minima_table(minima):
    """The minima of :func:`minima_over_eps` as a Markdown table."""
    head = ["ε", "‖∇ℓ‖", "λ_max(∇²ℓ)", "λ_min(∇²ℓ)", "‖ζ‖", "min_i ‖a_i‖ / ε", "λ_max · ε"]
    rows = [
        (f"{m.eps:g}", f"{m.grad_norm:.1e}", f"{m.sharpness:.4g}", f"{m.lambda_min:.2e}", f"{m.zeta_norm:.3f}")
        + (f"{m.a_min_over_eps:.3g}", f"{m.sharpness * m.eps:.3g}")
        for m in minima
    ]
    return markdown_table(head, rows)


def minima_over_seeds(seeds, epsilons, **options):
    """``{seed: minima_over_eps(ScaleInvariantNet.random(seed, **options), epsilons)}`` for each of ``seeds``."""
    return {seed: minima_over_eps(ScaleInvariantNet.random(seed, **options), epsilons) for seed in seeds}


def sharpness_slope(minima):
    """``(slope, intercept)`` of the least-squares line through log λ_max against log ε of ``minima``."""
    eps, lam = np.array([m.eps for m in minima]), np.array([m.sharpness for m in minima])
    slope, intercept = np.polyfit(np.log(eps), np.log(lam), 1)
    return float(slope), float(intercept)


def seed_summary(by_seed):
    """What the stationary points of each seed of :func:`minima_over_seeds` say about Proposition 1.

    Per seed: the slope of :func:`sharpness_slope`, the largest ‖∇ℓ‖, the smallest λ_min(∇²ℓ) and the
    largest min_i ‖a_i‖/ε over its stationary points.
    """
    return {
        seed: {
            "slope": sharpness_slope(found)[0],
            "max ‖∇ℓ‖": max(m.grad_norm for m in found),
            "min λ_min": min(m.lambda_min for m in found),
            "max min_i ‖a_i‖/ε": max(m.a_min_over_eps for m in found),
        }
        for seed, found in by_seed.items()
    }


def summary_table(summary):
    """:func:`seed_summary` as a Markdown table, one row per seed, and the slopes' min, median and max."""
    head = ["seed", "slope of log λ_max against log ε", "max ‖∇ℓ‖", "min λ_min(∇²ℓ)", "max min_i ‖a_i‖/ε"]
    rows = [
        (seed, f"{r['slope']:.3f}", f"{r['max ‖∇ℓ‖']:.1e}", f"{r['min λ_min']:.2e}", f"{r['max min_i ‖a_i‖/ε']:.3g}")
        for seed, r in summary.items()
    ]
    slopes = [r["slope"] for r in summary.values()]
    return Markdown(
        markdown_table(head, rows)
        + f"\n\nSlopes over the seeds: min {min(slopes):.3f}, median {np.median(slopes):.3f}, max {max(slopes):.3f}."
    )
