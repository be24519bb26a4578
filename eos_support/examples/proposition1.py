"""Proposition 1 on a small network with a scale-invariant layer and weight decay.

With the normaliser a/‖a‖ (ε = 0) the loss has no stationary point; with a/(ε + ‖a‖), ε > 0, it has
some, and the paper argues that they are sharp, like 1/ε, and sit where ‖a‖ ≈ ε.
:class:`ScaleInvariantNet` is the network and its data (seeded), :func:`weight_decay_gd` follows GD with
ε = 0, :func:`minima_over_eps` finds a stationary point for each ε, :func:`minima_over_seeds` does so for
several seeds (data and initialisation), :func:`restarts_over_seeds` reruns each seed's search from
θ⁰ perturbed at rounding level (the solver may land on another stationary point), and
:func:`seed_summary` reads each seed's points: :func:`sharpness_growth`, :func:`weakest_growth`,
:func:`sharpness_slope` with :func:`slope_error`, and :func:`largest_ratio`.
"""

from dataclasses import dataclass

import numpy as np
import torch
from torch.func import grad, hessian

from ..diagnostics.curvature import sharpness
from ..diagnostics.objective import ModuleLoss
from ..readings.tables import Markdown, markdown_table
from ..readings.uncertainty import perturbed, spread
from ..train.models import normalized_net
from .stationary import saddle_free_newton


@dataclass(frozen=True)
class ScaleInvariantNet:
    """Proposition 1's network with weight decay: ℓ(θ) = f(θ) + γ‖θ‖².

    ζ (bias-free linear) → a/(ε + ‖a‖) → tanh → ξ (linear), with cross-entropy on (``inputs``,
    ``labels``) as the data loss f. With ε = 0 the loss of every example is invariant to the scale
    of ζ, so ⟨∇_ζ f, ζ⟩ = 0. The weights are :func:`~eos_support.train.models.normalized_net`'s (``seed``),
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


def minima_over_eps(net, epsilons, start=None):
    """A :class:`NormalizedMinimum` of ℓ for each ε of ``epsilons`` (Proposition 1 with ε > 0).

    Each is found by :func:`~eos_support.examples.stationary.saddle_free_newton`, started from ``start`` (default
    the initialisation θ⁰) for the first ε and from the previous minimum for the next ones, and measured:
    ‖∇ℓ‖, λ_max (Lanczos), λ_min (dense), ‖ζ‖ and min_i ‖a_i‖/ε.
    """
    theta, found = (net.losses()[0].theta0 if start is None else start), []
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


def restarts_over_seeds(seeds, epsilons, draws=2, seed=0, **options):
    """``{seed: [minima_over_eps(net, epsilons, start) for each start]}``: each seed's search rerun from
    ``draws`` copies of its θ⁰ perturbed by relative 2⁻⁵² (:func:`~eos_support.readings.uncertainty.perturbed`
    with ``seed``), the rounding by which another machine's solver may land on another stationary point.
    """
    nets = {s: ScaleInvariantNet.random(s, **options) for s in seeds}
    return {
        s: [minima_over_eps(net, epsilons, start) for start in perturbed(net.losses()[0].theta0, draws, seed=seed)]
        for s, net in nets.items()
    }


def _log_sharpness(minima):
    return np.log(np.array([m.eps for m in minima])), np.log(np.array([m.sharpness for m in minima]))


def sharpness_slope(minima):
    """``(slope, intercept)`` of the least-squares line through log λ_max against log ε of ``minima``."""
    slope, intercept = np.polyfit(*_log_sharpness(minima), 1)
    return float(slope), float(intercept)


def slope_error(minima):
    """The standard error of :func:`sharpness_slope`'s slope: √(Σ residual²/(n − 2) / Σ(log ε − mean)²)
    (NaN with fewer than 3 points); how far the points depart from a power law.
    """
    x, y = _log_sharpness(minima)
    if len(x) < 3:
        return float("nan")
    slope, intercept = np.polyfit(x, y, 1)
    residual = y - (slope * x + intercept)
    return float(np.sqrt(residual @ residual / (len(x) - 2) / np.sum((x - x.mean()) ** 2)))


def sharpness_growth(minima):
    """log10 λ_max(last ε)/λ_max(first ε): how many orders of magnitude the sharpness grows over the grid."""
    return float(np.log10(minima[-1].sharpness / minima[0].sharpness))


def weakest_growth(minima):
    """The smallest ratio λ_max(εₖ₊₁)/λ_max(εₖ) between neighbours of the grid (> 1: it grows at every step)."""
    lam = np.array([m.sharpness for m in minima])
    return float(np.min(lam[1:] / lam[:-1]))


def largest_ratio(minima):
    """The largest min_i ‖a_i‖/ε over ``minima``: how far above ε the normaliser's smallest input stays."""
    return float(max(m.a_min_over_eps for m in minima))


STATISTICS = {
    "growth (log10)": sharpness_growth,
    "weakest step ratio": weakest_growth,
    "slope": lambda minima: sharpness_slope(minima)[0],
    "max min_i ‖a_i‖/ε": largest_ratio,
}
"""The statistics of a seed's stationary points that the chapter's criteria read, by name."""


def seed_summary(by_seed, restarts=None):
    """What the stationary points of each seed of :func:`minima_over_seeds` say about Proposition 1.

    Per seed: each of :data:`STATISTICS` with its spread over the seed's ``restarts`` (of
    :func:`restarts_over_seeds`; 0 without), 2 × :func:`slope_error`, the largest ‖∇ℓ‖ and the smallest
    λ_min(∇²ℓ) over its stationary points.
    """
    summary = {}
    for seed, found in by_seed.items():
        again = (restarts or {}).get(seed, [])
        row = {}
        for name, statistic in STATISTICS.items():
            value = statistic(found)
            row[name] = value
            row[f"{name} spread"] = spread(value, [statistic(r) for r in again]) if again else 0.0
        row["2 SE slope"] = 2 * slope_error(found)
        row["max ‖∇ℓ‖"] = max(m.grad_norm for m in found)
        row["min λ_min"] = min(m.lambda_min for m in found)
        summary[seed] = row
    return summary


def summary_table(summary):
    """:func:`seed_summary` as a Markdown table, one row per seed: each statistic ± its spread over the
    solver restarts (the slope also ± 2 SE), then the solver's largest residual and smallest λ_min.
    """
    head = ["seed", "log10 growth of λ_max", "smallest λ_max ratio of neighbours", "slope of log λ_max vs log ε"]
    head += ["max min_i ‖a_i‖/ε", "max ‖∇ℓ‖", "min λ_min(∇²ℓ)"]

    def pm(row, name, digits):
        return f"{row[name]:.{digits}} ± {row[name + ' spread']:.2g}"

    rows = [
        (seed, pm(r, "growth (log10)", "3f"), pm(r, "weakest step ratio", "3f"))
        + (f"{pm(r, 'slope', '3f')} (2 SE {r['2 SE slope']:.2g})", pm(r, "max min_i ‖a_i‖/ε", "3g"))
        + (f"{r['max ‖∇ℓ‖']:.1e}", f"{r['min λ_min']:.2e}")
        for seed, r in summary.items()
    ]
    return Markdown(markdown_table(head, rows))
