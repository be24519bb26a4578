"""A small GD run for the fault-injection tests, importable and runnable as a script.

``python fault_worker.py RESULTS_DIR`` trains :func:`problem`'s network with GD, caching in
RESULTS_DIR with a checkpoint after every step. Once it has written a checkpoint at step
``PAUSE_AT`` or later it prints ``ready STEP`` and waits, so that the tests interrupt it (SIGINT,
SIGKILL) at a known point, never a race; it prints ``done`` if it ever ends.
"""

from __future__ import annotations

import signal
import sys
import time

import torch

STEPS = 300
PAUSE_AT = 20
OPTIONS = dict(sharpness_every=25, sharpness_iters=10, profile_every=40, taus=[0.5, 1.0, 1.5], progress=False)


def problem():
    """(model, data): a 6-8-8-3 tanh network and 64 random points, in float64."""
    from eos_support.train.models import fully_connected
    from factories import dataset

    data = dataset(64, 6, dtype=torch.float64)
    model = fully_connected(data, depth=2, width=8, activation="tanh", seed=1, dtype=torch.float64)
    return model, data


def run(cache=None, steps=STEPS, checkpoint_s=0.2):
    """The run every test compares: same seed, same settings, one thread (same numbers)."""
    from eos_support.train import train_gd

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        model, data = problem()
        return train_gd(model, data, "ce", eta=0.5, max_steps=steps, cache=cache, checkpoint_s=checkpoint_s, **OPTIONS)
    finally:
        torch.set_num_threads(threads)


def pause_after_checkpoint(step):
    """Make the first checkpoint at ``step`` or later announce itself and wait for a signal."""
    from eos_support.train.store import RunStore

    save = RunStore.save_checkpoint

    def save_then_wait(self, state):
        save(self, state)
        if state["t"] >= step and not getattr(save_then_wait, "paused", False):
            save_then_wait.paused = True
            print("ready", state["t"], flush=True)
            while True:
                time.sleep(1)

    RunStore.save_checkpoint = save_then_wait


if __name__ == "__main__":
    # Ctrl-C raises KeyboardInterrupt even where the parent started us with SIGINT ignored.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    pause_after_checkpoint(PAUSE_AT)
    result = run(sys.argv[1], checkpoint_s=0.0)
    print("done", result.status, flush=True)
