"""The monitor's probe set: fixed batches, their loss f(θ) summed exactly over them, and its sharpnesses.

f(θ) = Σ_b n_b ℓ_b(θ) / N over the batches b (n_b examples each, ℓ_b the mean loss on b, N the number of
probe examples), so f is the mean loss over every probe example whatever the batching. Under
torch.distributed each rank holds a shard of the probe and N counts every rank's examples
(:meth:`Probe.shard_of`): a rank's f is then its share of the global loss, and the global f, ∇f and
Hessian-vector products are sums over the ranks (:mod:`eos_support.monitor.distributed`).
"""

import torch
from torch.func import grad, vjp

from ..diagnostics.curvature import top_eigen
from ..diagnostics.objective import ModuleLoss


def _as_pair(batch, i):
    if not (isinstance(batch, (tuple, list)) and len(batch) == 2 and all(isinstance(t, torch.Tensor) for t in batch)):
        raise ValueError(
            f"probe batch {i} must be a pair of tensors (inputs, targets), got {type(batch).__name__}"
            + (f" of length {len(batch)}" if isinstance(batch, (tuple, list)) else "")
        )
    x, y = batch
    if x.dim() == 0 or y.dim() == 0 or len(x) != len(y) or len(x) == 0:
        raise ValueError(
            f"probe batch {i}: inputs and targets must hold the same number (> 0) of examples along "
            f"their first dimension, got shapes {tuple(x.shape)} and {tuple(y.shape)}"
        )
    return x, y


def as_batches(probe, batches=None, device=None):
    """The probe as a list of (inputs, targets) on ``device``.

    From a pair ``(x, y)``, a list of pairs, or the first ``batches`` batches of an iterable such as a
    DataLoader (drawn without touching the global RNG, so a shuffling loader gives the user's loop the
    same batches as without the probe).
    """
    if isinstance(probe, (tuple, list)) and probe and isinstance(probe[0], torch.Tensor):
        pairs = [probe]
    elif isinstance(probe, (tuple, list)):
        pairs = list(probe)
    elif hasattr(probe, "__iter__"):
        if batches is None or int(batches) < 1:
            raise ValueError(
                "the probe is an iterable (a DataLoader?): pass probe_batches=k to use its first k batches"
            )
        with torch.random.fork_rng(devices=[]):
            pairs = []
            for batch in probe:
                pairs.append(batch)
                if len(pairs) == int(batches):
                    break
    else:
        raise ValueError(f"probe must be a pair (x, y), a list of pairs or a DataLoader, got {type(probe).__name__}")
    if not pairs:
        raise ValueError("the probe holds no batches: give at least one pair (inputs, targets)")
    return [tuple(t.to(device) for t in _as_pair(b, i)) for i, b in enumerate(pairs)]


class Probe:
    """f(θ) on a fixed set of batches of ``model``'s data (see the module docstring).

    ``loss`` and ``dropout`` as in :class:`~eos_support.diagnostics.objective.ModuleLoss`; ``evaluations`` counts
    the calls of f (each gradient is one); ``size`` is the number of examples in these batches.
    """

    def __init__(self, model, batches, loss="ce", dropout="error"):
        first = ModuleLoss(model, *batches[0], loss, dropout)
        self.losses = [first] + [first.on(x, y) for x, y in batches[1:]]
        self.sizes = [len(y) for _, y in batches]
        self.size = sum(self.sizes)
        self.shard_of(self.size)
        self.evaluations = 0

    def shard_of(self, total):
        """Make these batches a shard of a probe of ``total`` examples: batch b weighs n_b / ``total``."""
        self.weights = [n / total for n in self.sizes]

    def reduce(self, values):
        """Σ_b w_b·values_b over the batches, w_b = n_b / N."""
        return sum(w * v for w, v in zip(self.weights, values))

    def __call__(self, theta):
        """f(θ), this rank's share of the probe loss (all of it in one process)."""
        self.evaluations += 1
        return self.reduce([f(theta) for f in self.losses])

    def batch_sharpnesses(self, theta):
        """gᵦᵀHᵦgᵦ/‖gᵦ‖² for each batch b, as a 1-D tensor.

        gᵦ and Hᵦ are the gradient and Hessian of batch b's loss; the mean over the batches is the batch
        sharpness (Andreyev & Beneventano 2024).
        """
        values = []
        for f in self.losses:
            g, hessian_times = vjp(grad(f), theta)
            values.append(torch.dot(g, hessian_times(g)[0]) / torch.dot(g, g))
        return torch.stack(values)


def preconditioned_sharpness(f, theta, P, **options):
    """λ_max(P⁻¹∇²f(θ)) for a positive diagonal P (a vector), as an :class:`~eos_support.diagnostics.curvature.Eigen`.

    The top eigenvalue of the symmetric P^{-1/2}∇²f(θ)P^{-1/2}: the Hessian at z = 0 of
    z ↦ f(θ + P^{-1/2}z), by :func:`~eos_support.diagnostics.curvature.top_eigen` (``options``; a warm start
    ``v0`` is in the z coordinates).
    """
    s = P.rsqrt()
    return top_eigen(lambda z: f(theta + s * z), torch.zeros_like(theta), **options)
