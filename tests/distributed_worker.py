"""The distributed monitor's checks, run on every rank: ``torchrun --nproc-per-node W distributed_worker.py OUT``.

Each rank trains the same small float64 network with DistributedDataParallel on its share of each
global batch, monitors it with its shard of the probe, and writes ``OUT/rank{r}.json``: the histories,
whether the training is bit-identical without the monitor, the all-reduces each step made, and the
errors each injected failure raised. The test (tests/test_distributed.py) runs :func:`results` itself
for one rank, and computes the one-process references with :func:`train` without torch.distributed.
"""

import functools
import json
import sys
import warnings
from datetime import timedelta
from pathlib import Path

import torch
import torch.distributed as dist
from torch import nn
from torch.nn.parallel import DistributedDataParallel

import eos_support.monitor
import eos_support.monitor.probe
from eos_support.monitor import EdgeMonitor
from eos_support.monitor.distributed import RankError, Ranks

STEPS, BATCH, PROBE, CHUNK = 6, 8, 20, 4
"""Optimizer steps, global training batch (a multiple of every world size), probe examples, and the size
of the probe's batches in the "batch" scenario."""

SCENARIOS = {
    "momentum": dict(opt=lambda p: torch.optim.SGD(p, lr=0.3, momentum=0.9), sharpness=None, split="even"),
    "adam": dict(opt=lambda p: torch.optim.Adam(p, lr=0.01), sharpness=None, split="uneven"),
    "batch": dict(opt=lambda p: torch.optim.SGD(p, lr=0.3), sharpness="batch", split="uneven"),
}
OPTIONS = dict(every=1, sharpness_every=2, sharpness_iters=20, sharpness_tol=1e-8)


def network():
    """The 4-6-3 tanh network, the same on every rank."""
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(4, 6), nn.Tanh(), nn.Linear(6, 3)).double()


def data():
    """(probe x, probe y, training x, training y): the global probe and STEPS global batches."""
    g = torch.Generator().manual_seed(1)
    n = PROBE + STEPS * BATCH
    x, y = torch.randn(n, 4, generator=g, dtype=torch.float64), torch.randint(0, 3, (n,), generator=g)
    return x[:PROBE], y[:PROBE], x[PROBE:], y[PROBE:]


def bounds(n, world, split):
    """Where rank r's shard of n examples starts and ends: equal shards, or shards growing as 1, 2, …, world."""
    weights = [1] * world if split == "even" else list(range(1, world + 1))
    cuts = [round(n * sum(weights[:k]) / sum(weights)) for k in range(world + 1)]
    return list(zip(cuts[:-1], cuts[1:]))


def shard(name, world, rank):
    """Rank ``rank``'s probe in scenario ``name``: its shard as one pair, or ("batch") in batches of CHUNK."""
    x, y, _, _ = data()
    a, b = bounds(PROBE, world, SCENARIOS[name]["split"])[rank]
    if SCENARIOS[name]["sharpness"] != "batch":
        return x[a:b], y[a:b]
    return [(x[i : min(i + CHUNK, b)], y[i : min(i + CHUNK, b)]) for i in range(a, b, CHUNK)]


def train(name, probe, world=1, rank=0, wrap=None, monitor=True, loss="ce", before=None):
    """STEPS steps of scenario ``name``, each rank on its 1/world of every global batch (the model wrapped by
    ``wrap``); returns (model, optimizer, monitor or None). ``before(t)`` runs before step t."""
    model = network()
    model = wrap(model) if wrap else model
    opt = SCENARIOS[name]["opt"](model.parameters())
    mon = EdgeMonitor(model, opt, probe, loss, sharpness=SCENARIOS[name]["sharpness"], **OPTIONS) if monitor else None
    _, _, x, y = data()
    share = BATCH // world
    for t in range(STEPS):
        if before:
            before(t)
        start = t * BATCH + rank * share
        opt.zero_grad()
        nn.functional.cross_entropy(model(x[start : start + share]), y[start : start + share]).backward()
        opt.step()
    return model, opt, mon


def state(model, opt):
    """Everything the monitor must leave alone: parameters, buffers, gradients and the optimizer's state."""
    tensors = list(model.state_dict().values()) + [p.grad for p in model.parameters()]
    return tensors + [v for s in opt.state_dict()["state"].values() for v in s.values() if torch.is_tensor(v)]


def history(mon):
    return {k: v.tolist() for k, v in mon.history.items()}


def counting(function, seen):
    """``function`` appending the Hessian-vector products of each Lanczos call to ``seen``."""

    @functools.wraps(function)
    def wrapped(*args, **kwargs):
        eig = function(*args, **kwargs)
        seen.append(eig.hvps)
        return eig

    return wrapped


def monitored(name, world, rank):
    """Scenario ``name`` under DDP: its history, bit-identity without the monitor, and the all-reduces per step."""
    ddp = DistributedDataParallel
    plain_model, plain_opt, _ = train(name, None, world, rank, wrap=ddp, monitor=False)
    calls, steps, hvps = [0], [], []
    all_reduce = dist.all_reduce

    def count(*args, **kwargs):
        calls[0] += 1
        return all_reduce(*args, **kwargs)

    dist.all_reduce = count
    eos_support.monitor.edge_monitor.top_eigen = counting(eos_support.monitor.edge_monitor.top_eigen, hvps)
    eos_support.monitor.probe.top_eigen = counting(eos_support.monitor.probe.top_eigen, hvps)
    try:
        model, opt, mon = train(
            name, shard(name, world, rank), world, rank, wrap=ddp, before=lambda t: steps.append(calls[0])
        )
        steps.append(calls[0])
    finally:
        dist.all_reduce = all_reduce
        eos_support.monitor.edge_monitor.top_eigen = eos_support.monitor.edge_monitor.top_eigen.__wrapped__
        eos_support.monitor.probe.top_eigen = eos_support.monitor.probe.top_eigen.__wrapped__
    identical = all(torch.equal(a, b) for a, b in zip(state(plain_model, plain_opt), state(model, opt)))
    per_step = [b - a for a, b in zip(steps, steps[1:])]
    return dict(
        history=history(mon),
        identical=identical,
        all_reduces=per_step,
        hvps=hvps,
        plot_is_none=mon.plot() is None if rank else None,
    )


def failing_loss(rank, failing, fail_at):
    """Cross-entropy that raises on rank ``failing`` at its ``fail_at``-th call after ``armed[0]`` is set."""
    calls, armed = [0], [False]

    def loss(out, y):
        if armed[0] and rank == failing:
            calls[0] += 1
            if calls[0] == fail_at:
                raise FloatingPointError(f"injected on call {fail_at}")
        return nn.functional.cross_entropy(out, y)

    return loss, armed


def error_of(run):
    """The message of the RankError ``run()`` raised, or what went wrong instead."""
    try:
        run()
    except RankError as exc:
        return str(exc)
    except Exception as exc:  # noqa: BLE001 - reported to the test, which names it
        return f"not a RankError: {type(exc).__name__}: {exc}"
    return "no error"


def momentum_ddp(world, rank, **options):
    """The "momentum" scenario under DDP on this rank's shard (``options`` go to :func:`train`)."""
    train("momentum", shard("momentum", world, rank), world, rank, wrap=DistributedDataParallel, **options)


def in_a_record(world, rank, failing, fail_at):
    """Train with a loss that fails on one rank at its ``fail_at``-th call after the monitor is created."""
    loss, armed = failing_loss(rank, failing, fail_at)
    momentum_ddp(world, rank, loss=loss, before=lambda t: armed.__setitem__(0, True))


def injected(world, rank, failing, owner, name, at):
    """Train with ``owner.name`` raising on rank ``failing`` at its ``at``-th call (the others call it through)."""
    original, calls = getattr(owner, name), [0]

    def method(self, *args, **kwargs):
        calls[0] += 1
        if rank == failing and calls[0] == at:
            raise MemoryError(f"injected in {name}, call {at}")
        return original(self, *args, **kwargs)

    setattr(owner, name, method)
    try:
        momentum_ddp(world, rank)
    finally:
        setattr(owner, name, original)


def errors(world, rank):
    """Every injected failure's RankError on this rank, and that the process group still works after them."""
    failing, (x, y) = world - 1, shard("momentum", world, rank)
    probe = (x[:, :3], y) if rank == failing else (x, y)  # a wrong shape on one rank

    def fully_sharded():
        from torch.distributed.fsdp import fully_shard

        EdgeMonitor(fully_shard(network()), torch.optim.SGD(network().parameters(), lr=0.1), (x, y))

    def diverged():
        def perturb(model):
            with torch.no_grad():
                model[0].bias.add_(1e-3 * rank)
            return model

        train("momentum", (x, y), world, rank, wrap=perturb)

    out = dict(
        probe_shape=error_of(lambda: train("momentum", probe, world, rank, wrap=DistributedDataParallel)),
        record=error_of(lambda: in_a_record(world, rank, failing, 1)),
        sharpness=error_of(lambda: in_a_record(world, rank, failing, 3)),
        lanczos=error_of(lambda: injected(world, rank, failing, Ranks, "sum", 5)),  # Lanczos's 3rd product
        before_step=error_of(lambda: injected(world, rank, failing, EdgeMonitor, "_flat", 2)),  # θ⁰, pre-hook
        fsdp=error_of(fully_sharded),
        diverged=error_of(diverged),
    )
    alive = torch.ones(1)
    dist.all_reduce(alive)
    out["alive"] = alive.item()
    return out


def nonfinite_hessian(world, rank):
    """The "momentum" scenario monitored on a loss whose Hessian is not finite where f and ∇f are (|0·out|^1.5)."""

    def loss(out, y):
        return nn.functional.cross_entropy(out, y) + (0 * out).abs().pow(1.5).sum()

    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        mon = train("momentum", shard("momentum", world, rank), world, rank, wrap=DistributedDataParallel, loss=loss)[2]
    h = history(mon)
    return dict(sharpness=h["sharpness"], loss=h["loss"], warned=sum("not finite" in str(w.message) for w in seen))


def results(world, rank):
    """Everything this rank checks, in a process group of ``world`` ranks that is initialized already."""
    out = {name: monitored(name, world, rank) for name in SCENARIOS}
    # the plain model on every rank, each training on the whole global batch: θ replicated without DDP
    out["plain"] = dict(history=history(train("momentum", shard("momentum", world, rank))[2]))
    out["errors"] = errors(world, rank)
    out["nonfinite_hessian"] = nonfinite_hessian(world, rank)
    return out


def main(out):
    torch.set_num_threads(1)
    dist.init_process_group("gloo", timeout=timedelta(seconds=60))
    world, rank = dist.get_world_size(), dist.get_rank()
    Path(out, f"rank{rank}.json").write_text(json.dumps(results(world, rank)))
    dist.destroy_process_group()


if __name__ == "__main__":
    main(sys.argv[1])
