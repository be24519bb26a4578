"""The monitor under torch.distributed: a sharded probe, global numbers, and no rank left waiting.

Each rank passes its own shard of the probe, weighed by the number of examples on all ranks
(:meth:`~eos_support.monitor.probe.Probe.shard_of`), so that a rank's f is its share of the global loss and
f, ∇f and every Hessian-vector product are sums over the ranks. :meth:`Ranks.sum` adds a tensor over
them in one ``torch.distributed.all_reduce``; :meth:`Ranks.spread` turns a rank's share into a
function whose gradient is summed inside autograd, so that its gradient and each Hessian-vector
product (Lanczos, in :func:`~eos_support.diagnostics.curvature.top_eigen`) are global at one all-reduce each.
θ and the Lanczos vectors stay replicated: an all-reduce hands every rank the same sum, which is what
DistributedDataParallel's own gradients rely on.

No rank is left waiting: every all-reduce carries the count of ranks that failed. A rank whose own
part raises joins the all-reduce the others wait in with that count raised (:meth:`Ranks.guard`), and
every rank then raises a :class:`RankError` that names the failed ranks and their errors. In one
process :data:`~eos_support.monitor.distributed.LOCAL` stands in, and none of this happens.
"""

import sys
from contextlib import contextmanager, nullcontext

import torch
import torch.distributed as dist
from torch.nn.parallel import DistributedDataParallel


class RankError(RuntimeError):
    """A rank of a distributed monitor failed: raised on every rank, naming the failed ranks and their errors."""


class Local:
    """One process: sums are the values themselves, nothing is guarded, and this is the main rank."""

    rank, world, main = 0, 1, True

    def agree(self, failure, same, size):
        """``size``; ``failure`` (an exception of this process's setup, or None) is raised as it is."""
        if failure is not None:
            raise failure
        return size

    def sum(self, values, what, replica=None):
        """``values`` (one process holds the whole probe)."""
        return values

    def guard(self, what, size, like):
        """Nothing to guard: an exception simply propagates."""
        return nullcontext()

    def spread(self, f, what):
        """``f`` itself."""
        return f


LOCAL = Local()
"""The one process of a run without torch.distributed."""


def _describe(exc):
    return f"{type(exc).__name__}: {exc}"


class Ranks:
    """The ranks of a process ``group`` (None: the default group), each holding a shard of the probe.

    ``rank`` and ``world`` are this rank and the group's size; ``main`` is True on rank 0, the one rank
    that draws.
    """

    def __init__(self, group=None):
        self.group = group
        self.rank, self.world = dist.get_rank(group), dist.get_world_size(group)
        self.main = self.rank == 0

    def agree(self, failure, same, size):
        """Σ ``size`` over the ranks, once every rank's setup succeeded and agrees: one ``all_gather_object``.

        ``failure`` is this rank's setup exception (None: it succeeded), ``same`` a dict that must be equal
        on every rank; else every rank raises a :class:`RankError` (chained to ``failure`` where it failed).
        """
        everyone = [None] * self.world
        mine = (None if failure is None else _describe(failure), same, size)
        dist.all_gather_object(everyone, mine, group=self.group)
        failed = [(r, error) for r, (error, _, _) in enumerate(everyone) if error]
        if failed:
            raise self._error("creating the monitor", failed) from failure
        for key in same:
            values = [theirs[key] for _, theirs, _ in everyone]
            if len(set(values)) > 1:
                raise RankError(
                    f"the ranks disagree on {key} ({', '.join(f'rank {r}: {v!r}' for r, v in enumerate(values))}): "
                    "create the monitor on every rank with the same model, optimizer and options"
                )
        return sum(n for _, _, n in everyone)

    def sum(self, values, what, replica=None):
        """Σ over the ranks of the 1-D tensor ``values``, in one all-reduce.

        The all-reduce also carries one number per rank for ``replica`` (a 0-dim tensor that must be equal
        on every rank; optional) and the count of failed ranks. Every rank raises a :class:`RankError` if
        a rank failed (:meth:`guard`) while ``what`` (a phrase: "measuring the sharpness"), or if
        ``replica`` differs between the ranks.
        """
        slots = values.new_zeros(self.world + 1)
        if replica is not None:
            slots[self.rank] = replica
        buffer = torch.cat([values, slots])
        dist.all_reduce(buffer, group=self.group)
        *replicas, failed = buffer[values.numel() :].tolist()  # the one host read
        if failed:
            raise self._gathered(what, None)
        if replica is not None:
            _check_replicated(replicas, values.dtype)
        return buffer[: values.numel()]

    @contextmanager
    def guard(self, what, size, like):
        """Run this rank's own part of a step whose next all-reduce (:meth:`sum`) sums ``size`` values.

        Should it raise, this rank joins that all-reduce (of ``like``'s dtype and device) with the failure
        count raised, and every rank raises a :class:`RankError` (chained to the exception on this rank).
        """
        try:
            yield
        except RankError:
            raise
        except Exception as exc:
            buffer = like.new_zeros(size + self.world + 1)
            buffer[-1] = 1
            dist.all_reduce(buffer, group=self.group)
            raise self._gathered(what, exc) from exc

    def spread(self, f, what):
        """θ ↦ f(θ) whose gradient is summed over the ranks inside autograd, at one all-reduce.

        With f a rank's share, its gradient and each Hessian-vector product are the global ones, under
        torch.func's transforms too (``_Spread``).
        """
        return lambda theta: f(_Spread.apply(theta, self, what))

    def _gathered(self, what, failure):
        """The failed ranks' errors, gathered on every rank (one ``all_gather_object``), as a RankError."""
        everyone = [None] * self.world
        dist.all_gather_object(everyone, None if failure is None else _describe(failure), group=self.group)
        return self._error(what, [(r, error) for r, error in enumerate(everyone) if error])

    def _error(self, what, failed):
        ranks = {}
        for r, error in failed:
            ranks.setdefault(error, []).append(str(r))
        causes = "; ".join(f"rank{'s' * (len(rs) > 1)} {', '.join(rs)} raised {error}" for error, rs in ranks.items())
        return RankError(
            f"the edge-of-stability monitor stopped on every rank while {what}: {causes}. Every rank (this is rank "
            f"{self.rank}) stops here, so that none waits for another forever: fix the error where it was raised"
        )


def _check_replicated(values, dtype):
    """The per-rank copies of a quantity that must be replicated agree to rounding, or RankError."""
    if max(values) - min(values) > 64 * torch.finfo(dtype).eps * max(map(abs, values)):
        raise RankError(
            f"the parameters differ between the ranks (‖θ‖² = {', '.join(f'{v:.17g}' for v in values)} on ranks "
            f"0 to {len(values) - 1}): the monitor needs the same θ on every rank, as DistributedDataParallel "
            "keeps it; wrap the model in DistributedDataParallel, or synchronise the parameters before each step"
        )


class _Summed(torch.autograd.Function):
    """x ↦ Σ over the ranks of x (:meth:`Ranks.sum`); a replicated cotangent passes back unchanged."""

    @staticmethod
    def forward(x, ranks, what):
        return ranks.sum(x.reshape(-1), what).view_as(x)

    @staticmethod
    def setup_context(ctx, inputs, output):
        """Nothing to keep."""

    @staticmethod
    def backward(ctx, cotangent):
        return cotangent, None, None


class _Spread(torch.autograd.Function):
    """The identity on a replicated θ whose backward sums the cotangent over the ranks (:class:`_Summed`).

    For a rank's share f_r, ∇(f_r ∘ spread) = Σ_r ∇f_r, and differentiating that along v, back through
    the sum, gives Σ_r ∇²f_r v: both global, at one all-reduce each.
    """

    @staticmethod
    def forward(x, ranks, what):
        return x.view_as(x)

    @staticmethod
    def setup_context(ctx, inputs, output):
        """Keep the ranks and the phrase for the backward's all-reduce."""
        ctx.ranks, ctx.what = inputs[1], inputs[2]

    @staticmethod
    def backward(ctx, cotangent):
        return _Summed.apply(cotangent, ctx.ranks, ctx.what), None, None


def ranks_for(model):
    """The ranks that monitor ``model`` together.

    DDP's process group for a DistributedDataParallel model, the default group wherever torch.distributed
    is initialized, else :data:`~eos_support.monitor.distributed.LOCAL` (one process).
    """
    if isinstance(model, DistributedDataParallel):
        return Ranks(model.process_group)
    if dist.is_available() and dist.is_initialized():
        return Ranks()
    return LOCAL


def unwrap(model):
    """The module the probe evaluates: DDP's wrapped ``module``, or ``model`` itself.

    Through the wrapped module the probe never runs DDP's forward or its gradient hooks and leaves the
    user's gradient buckets alone. A model with sharded parameters (FSDP, DTensor) is refused with a
    ValueError.
    """
    if not isinstance(model, torch.nn.Module):
        raise ValueError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    fsdp, tensor = sys.modules.get("torch.distributed.fsdp"), sys.modules.get("torch.distributed.tensor")
    sharded = fsdp is not None and any(
        isinstance(m, (fsdp.FullyShardedDataParallel, fsdp.FSDPModule)) for m in model.modules()
    )
    if sharded or (tensor is not None and any(isinstance(p, tensor.DTensor) for p in model.parameters())):
        raise ValueError(
            "the model's parameters are sharded across ranks (FSDP or DTensor), which the monitor does not support: "
            "it needs the whole θ on every rank, as DistributedDataParallel keeps it; monitor a DDP or plain model"
        )
    return model.module if isinstance(model, DistributedDataParallel) else model
