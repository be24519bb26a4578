"""Several gradient-descent runs at once, one vmapped computation per step (Experiments 3 and 8).

k runs of GD θᵢᵗ⁺¹ = θᵢᵗ − ηᵢ∇f(θᵢᵗ) on the same loss f, e.g. one initial θ⁰ and k step sizes, share
every step: ∇f at the k points is one ``vmap``-batched evaluation, so small networks use the device
as one larger one would. As in :func:`eos_support.train.train_gd`, RP(θᵢᵗ) (Definition 1) and
L(θᵢᵗ; ηᵢ∇f(θᵢᵗ)) (Definition 2) come free from f and ∇f at θᵢᵗ⁺¹, which step t+1 computes anyway,
and the host reads nothing inside the loop.
"""

from dataclasses import dataclass

import torch
from torch.func import grad_and_value, vmap

from ._checks import check_eta


@dataclass(frozen=True)
class EnsembleRun:
    """The histories of k GD runs, row i for step size ``etas[i]``, all on the runs' device.

    ``loss`` (k, T+1): f(θᵢᵗ) for t = 0..T; ``rp`` and ``ds`` (k, T): RP(θᵢᵗ) and L(θᵢᵗ; ηᵢ∇f(θᵢᵗ))
    for t = 0..T−1; ``theta`` (k, d): θᵢᵀ. A run that diverges shows non-finite values from then on;
    it does not stop the others.
    """

    etas: torch.Tensor
    loss: torch.Tensor
    rp: torch.Tensor
    ds: torch.Tensor
    theta: torch.Tensor


def gd_ensemble(f, thetas, etas, steps):
    """``steps`` GD steps of k runs side by side from ``thetas`` (k, d) with step sizes ``etas`` (k).

    ``f`` maps a 1-D θ to a scalar and must work under ``torch.func.vmap`` (e.g. a
    :class:`~eos_support.objective.ModuleLoss`). Returns an :class:`EnsembleRun`.
    """
    if not isinstance(thetas, torch.Tensor) or thetas.dim() != 2 or not thetas.is_floating_point():
        shape = tuple(thetas.shape) if isinstance(thetas, torch.Tensor) else type(thetas).__name__
        raise ValueError(f"thetas must be a floating-point (k, d) tensor, one θ per row, got {shape}: "
                         "e.g. theta0.expand(k, -1).clone()")
    k = thetas.shape[0]
    etas = [check_eta(e) for e in (etas.tolist() if isinstance(etas, torch.Tensor) else list(etas))]
    if len(etas) != k:
        raise ValueError(f"need one step size per run: {k} rows in thetas, {len(etas)} etas")
    if int(steps) < 1:
        raise ValueError(f"steps must be >= 1, got {steps}")
    steps = int(steps)
    eta = torch.tensor(etas, dtype=thetas.dtype, device=thetas.device)
    value_and_grad = vmap(grad_and_value(f))
    loss = torch.full((k, steps + 1), float("nan"), dtype=thetas.dtype, device=thetas.device)
    rp = torch.full((k, steps), float("nan"), dtype=thetas.dtype, device=thetas.device)
    ds = torch.full_like(rp, float("nan"))
    theta = thetas.detach()
    g_prev = gg_prev = None
    for t in range(steps + 1):
        g, value = value_and_grad(theta)
        loss[:, t] = value
        if t > 0:
            rp[:, t - 1] = (value - loss[:, t - 1]) / (eta * gg_prev)
            ds[:, t - 1] = (g_prev * (g_prev - g)).sum(-1) / (eta * gg_prev)
        if t == steps:
            break
        g_prev, gg_prev = g, (g * g).sum(-1)
        theta = theta - eta[:, None] * g
    return EnsembleRun(eta, loss, rp, ds, theta)
