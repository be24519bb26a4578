"""SGD's expected relative progress (Section 5): Definition 3, the approximation (5.1), Appendix A.

For SGD θ⁺ = θ − ηg with E[g] = ∇f(θ), the expectation over g is estimated from M sampled stochastic
gradients (minibatch gradients of a :class:`~eos_support.diagnostics.objective.ModuleLoss`); every estimate is a
sample mean and comes with its standard error.
"""

from dataclasses import dataclass

import torch
from torch.func import grad, grad_and_value, vmap

from ..checks import check_eta, check_finite, check_gradient, check_step, check_theta, positive_int, scalar
from .theorem2 import gauss_legendre


@dataclass(frozen=True)
class SGDProgress:
    """E[RP(θ)] of SGD θ⁺ = θ − η g (Definition 3) and the right sides of Appendix A and (5.1).

    The expectation over the stochastic gradient g is estimated from M samples g₁ … g_M (minibatch
    gradients at θ); each estimate is a mean over the samples and comes with its standard error
    (sample standard deviation / √M):

    - ``erp``:   E[RP(θ)] = [E f(θ − ηg) − f(θ)] / (η‖∇f(θ)‖²)                       (Definition 3)
    - ``rhs``:   −1 + (η/2) E[‖g‖²/‖∇f‖² · L(θ; ηg)]                                  ((5.1), right side)
    - ``exact``: −1 + η ∫₀¹ τ E[‖g‖²/‖∇f‖² · L(θ; ητg)] dτ by Gauss–Legendre quadrature
      (Appendix A; ``None`` unless ``nodes`` was given)
    - ``erp_cv``: E[RP(θ)] again, from rpᵢ + (⟨gᵢ, ∇f(θ)⟩/‖∇f(θ)‖² − 1): the added control variate
      has mean 0 because E[g] = ∇f(θ), and it cancels the first-order term −⟨gᵢ, ∇f⟩/‖∇f‖² that makes
      the plain estimate ``erp`` noisy (its variance grows like 1/‖∇f‖²).
    - ``gap``:   E[RP(θ)] minus the right side of (5.1), i.e. the error of the approximation (5.1),
      estimated sample by sample from rpᵢ + ⟨gᵢ, ∇f⟩/‖∇f‖² − 1 − rhsᵢ (both sides from the same
      samples: zero for every sample when f is quadratic); ``gap_se`` its standard error.
      ``combined_se`` = sqrt(erp_se² + rhs_se²) is the standard error of ``erp − rhs`` were the two
      sides estimated independently.

    ``exact`` equals E[RP] exactly when the samples' mean is ∇f(θ) (e.g. every minibatch, equally
    weighted); with sampled minibatches the two are different unbiased estimates of E[RP].
    ``loss`` is f(θ), ``grad_norm_sq`` ‖∇f(θ)‖², ``samples`` M.
    """

    erp: float
    erp_se: float
    erp_cv: float
    erp_cv_se: float
    rhs: float
    rhs_se: float
    gap: float
    gap_se: float
    exact: float | None
    exact_se: float | None
    loss: float
    grad_norm_sq: float
    samples: int

    @property
    def combined_se(self):
        """sqrt(erp_se² + rhs_se²): the standard error of erp − rhs were the two sides estimated independently."""
        return (self.erp_se**2 + self.rhs_se**2) ** 0.5


def _mean_se(x):
    """Mean of the samples ``x`` (last axis) and its standard error std/√M, as tensors."""
    m = x.shape[-1]
    return x.mean(-1), x.std(-1, correction=1) / m**0.5


def _along(value_and_grad, theta, g, G, scales, chunk_size):
    """f(θ − s·Gᵢ) and ⟨Gᵢ, ∇f(θ) − ∇f(θ − s·Gᵢ)⟩ for every sample i and scale s = scales[i, k].

    Returns two (M, K) tensors. The M·K full-batch evaluations run ``chunk_size`` at a time under
    ``vmap`` and only their scalars are kept, so memory does not grow with M·K.
    """
    m, k = scales.shape
    rows = torch.arange(m, device=theta.device).repeat_interleave(k)
    flat = scales.reshape(-1)
    size = m * k if not chunk_size else int(chunk_size)
    batched = vmap(value_and_grad)
    values, inner = [], []
    for start in range(0, m * k, size):
        i, s = rows[start : start + size], flat[start : start + size]
        d = G[i]
        grads, vals = batched(theta - s[:, None] * d)
        values.append(vals)
        inner.append(((g - grads) * d).sum(-1))
    return torch.cat(values).reshape(m, k), torch.cat(inner).reshape(m, k)


def sgd_progress_tensors(value_and_grad, theta, loss, g, eta, G, nodes=None, chunk_size=32):
    """The estimates of :class:`SGDProgress` as 0-dim tensors on θ's device (no checks, no host reads).

    ``value_and_grad`` = ``torch.func.grad_and_value(f)``; ``loss``, ``g`` = f(θ), ∇f(θ); ``G`` the
    (M, d) sampled gradients. Keys: erp, erp_se, erp_cv, erp_cv_se, rhs, rhs_se, gap, gap_se, and
    with ``nodes`` exact, exact_se. Used by the SGD trainer, which reads them once per epoch.
    """
    gg = torch.dot(g, g)
    one = torch.ones((G.shape[0], 1), dtype=theta.dtype, device=theta.device)
    values, inner = _along(value_and_grad, theta, g, G, eta * one, chunk_size)
    rp = (values[:, 0] - loss) / (eta * gg)  # Definition 3, sample by sample
    rhs = -1 + inner[:, 0] / (2 * gg)  # (η/2)‖g‖² L(θ; ηg) = ⟨g, ∇f(θ) − ∇f(θ − ηg)⟩ / 2
    out = {}
    out["erp"], out["erp_se"] = _mean_se(rp)
    rp_cv = rp + G @ g / gg - 1  # E[⟨g, ∇f⟩] = ‖∇f‖²: the control variate has mean 0
    out["erp_cv"], out["erp_cv_se"] = _mean_se(rp_cv)
    out["rhs"], out["rhs_se"] = _mean_se(rhs)
    out["gap"], out["gap_se"] = _mean_se(rp_cv - rhs)
    if nodes:
        tau, w = gauss_legendre(nodes, theta.dtype, theta.device)
        _, inner_tau = _along(value_and_grad, theta, g, G, eta * one * tau, chunk_size)
        # η τ ‖g‖² L(θ; ητg) = ⟨g, ∇f(θ) − ∇f(θ − ητg)⟩, so the integrand needs no division by τ
        exact = -1 + inner_tau @ w / gg
        out["exact"], out["exact_se"] = _mean_se(exact)
    return out


def _check_samples(G, theta):
    if not isinstance(G, torch.Tensor) or G.dim() != 2 or G.shape[1] != theta.numel():
        shape = tuple(G.shape) if isinstance(G, torch.Tensor) else type(G).__name__
        raise ValueError(
            f"sample_gradients must be an (M, {theta.numel()}) tensor of M stochastic gradients at theta "
            f"(or a callable theta -> such a tensor), got {shape}"
        )
    if G.shape[0] < 2:
        raise ValueError(f"need M >= 2 sampled gradients for a standard error, got M = {G.shape[0]}")
    G = G.to(dtype=theta.dtype, device=theta.device)
    if not bool(torch.isfinite(G).all()):
        raise ValueError("sample_gradients contains non-finite entries: check the loss at theta")
    return G


def expected_relative_progress(f, theta, eta, sample_gradients, nodes=None, chunk_size=32):
    """E[RP(θ)] of SGD (Definition 3), the right side of (5.1) and, with ``nodes``, of Appendix A.

    ``sample_gradients``: an (M, d) tensor of M stochastic gradients g at θ with E[g] = ∇f(θ) (for
    minibatches use :func:`minibatch_gradients`), or a callable θ -> such a tensor. M >= 2.
    The M evaluations of f and ∇f at θ − ηgᵢ are batched with ``vmap``, ``chunk_size`` at a time
    (``None``: all at once); ``nodes`` Gauss–Legendre nodes in τ for the exact form of Appendix A
    cost M·nodes more. Returns an :class:`SGDProgress`.
    """
    theta, eta = check_finite(check_theta(theta), "expected relative progress"), check_eta(eta)
    chunk_size = positive_int("chunk_size (None: all at once)", chunk_size, allow_none=True)
    nodes = positive_int("nodes (Gauss–Legendre nodes; None: skip Appendix A)", nodes, allow_none=True)
    G = _check_samples(sample_gradients(theta) if callable(sample_gradients) else sample_gradients, theta)
    value_and_grad = grad_and_value(scalar(f))
    g, loss = value_and_grad(theta)
    gg = check_gradient(g, "expected relative progress", loss)
    out = sgd_progress_tensors(value_and_grad, theta, loss, g, eta, G, nodes, chunk_size)
    check_step([eta * gg, *out.values()], "expected relative progress", f"θ − η gᵢ with eta={eta:g}")
    values = {k: float(v) for k, v in out.items()}
    return SGDProgress(
        **{k: values[k] for k in ("erp", "erp_se", "erp_cv", "erp_cv_se", "rhs", "rhs_se", "gap", "gap_se")},
        exact=values.get("exact"),
        exact_se=values.get("exact_se"),
        loss=float(loss),
        grad_norm_sq=float(gg),
        samples=G.shape[0],
    )


def sample_minibatches(n, batch_size, samples, generator=None, device=None):
    """``samples`` × ``batch_size`` indices: each row a uniform draw of distinct examples out of n."""
    n, b, m = int(n), positive_int("batch_size", batch_size), positive_int("samples", samples)
    if b > n:
        raise ValueError(f"batch_size must be between 1 and the number of examples {n}, got {batch_size}")
    keys = torch.rand(m, n, generator=generator)  # a random permutation per row, truncated to b
    return keys.argsort(dim=1)[:, :b].to(device)


def minibatch_gradients(f, theta, batch_size, samples, generator=None, chunk_size=32):
    """M = ``samples`` minibatch gradients at θ, as an (M, d) tensor (the g of SGD).

    ``f`` is a :class:`~eos_support.diagnostics.objective.ModuleLoss` (anything with ``inputs``, ``targets`` and
    ``on(inputs, targets)``); each minibatch holds ``batch_size`` distinct examples drawn uniformly
    (without replacement), independently across the M samples, so E[g] = ∇f(θ). The M gradients are
    computed under ``vmap``, ``chunk_size`` minibatches at a time. ``generator``: a CPU
    ``torch.Generator`` for reproducible draws.
    """
    theta = check_theta(theta)
    if not all(hasattr(f, a) for a in ("inputs", "targets", "on")):
        raise ValueError("f must be a ModuleLoss (with inputs, targets and on()) to sample minibatches from")
    idx = sample_minibatches(len(f.targets), batch_size, samples, generator, f.targets.device)
    return batch_gradients(f, theta, idx, chunk_size)


def batch_gradients(f, theta, idx, chunk_size=32):
    """∇ of ``f``'s loss on the minibatches ``idx`` (rows of example indices, equal sizes) at θ: (rows, d)."""

    def one(x, y):
        return grad(f.on(x, y))(theta)

    batched = vmap(one, chunk_size=chunk_size)
    return batched(f.inputs[idx], f.targets[idx])
