"""A small GD run for the fault-injection tests, importable and runnable as a script.

``python fault_worker.py RESULTS_DIR`` trains :func:`problem`'s network with GD, caching in
RESULTS_DIR with a checkpoint every few tenths of a second, and prints ``done`` when it ends; the
tests interrupt it (SIGINT, SIGKILL) while it runs, then resume it in their own process.
"""

from __future__ import annotations

import signal
import sys

import torch

STEPS = 300
OPTIONS = dict(sharpness_every=25, sharpness_iters=10, profile_every=40, taus=[0.5, 1.0, 1.5],
               checkpoint_s=0.2, progress=False)


def problem():
    """(model, data): a 6-8-8-3 tanh network and 64 random points, in float64."""
    from eos_support.data import Dataset
    from eos_support.models import fully_connected

    g = torch.Generator().manual_seed(0)
    x = torch.randn(64, 6, generator=g, dtype=torch.float64)
    y = torch.randint(0, 3, (64,), generator=g)
    data = Dataset(x, y, None, None, 3, "tiny", "random", 6)
    model = fully_connected(data, depth=2, width=8, activation="tanh", seed=1, dtype=torch.float64)
    return model, data


def run(results_dir=None, cache=True, steps=STEPS):
    """The run every test compares: same seed, same settings, one thread (same numbers)."""
    from eos_support.train import train_gd

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        model, data = problem()
        return train_gd(model, data, "ce", 0.5, steps, results_dir=results_dir, cache=cache,
                        **OPTIONS)
    finally:
        torch.set_num_threads(threads)


if __name__ == "__main__":
    # Ctrl-C raises KeyboardInterrupt even where the parent started us with SIGINT ignored.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    print("started", flush=True)
    result = run(sys.argv[1])
    print("done", result.status, flush=True)
