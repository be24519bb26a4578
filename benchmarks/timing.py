"""Timers of the benchmark: wall time with device synchronisation, interleaved medians, peak memory."""

from __future__ import annotations

import statistics
import time

import torch


class Clock:
    """Medians of wall times on one device: CUDA events on a GPU, ``perf_counter`` on a CPU."""

    def __init__(self, device):
        self.device = torch.device(device)
        self.cuda = self.device.type == "cuda"

    def sync(self):
        if self.cuda:
            torch.cuda.synchronize(self.device)

    def once(self, fn, inner=1):
        """Seconds per call of ``fn`` over ``inner`` back-to-back calls (synchronised at both ends)."""
        self.sync()
        if self.cuda:
            start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
            start.record()
            for _ in range(inner):
                fn()
            end.record()
            end.synchronize()
            return start.elapsed_time(end) / 1e3 / inner
        t0 = time.perf_counter()
        for _ in range(inner):
            fn()
        return (time.perf_counter() - t0) / inner

    def interleaved(self, fns, repeats, warmup=1):
        """Medians of several timings taken in turns, so that a change of load hits them alike.

        ``fns``: name -> (fn, inner) timed by :meth:`once`, or name -> a callable returning its own
        seconds (e.g. a trainer's loop clock).
        """

        def one(entry):
            return self.once(*entry) if isinstance(entry, tuple) else entry()

        for _ in range(warmup):
            for entry in fns.values():
                one(entry)
        times = {name: [] for name in fns}
        for _ in range(max(1, repeats)):
            for name, entry in fns.items():
                times[name].append(one(entry))
        return {name: statistics.median(ts) for name, ts in times.items()}

    def median(self, fn, repeats, warmup=1, inner=1):
        for _ in range(warmup):
            fn()
        return statistics.median(self.once(fn, inner) for _ in range(max(1, repeats)))


class PeakMemory:
    """Peak memory of a block above what was in use before it: the CUDA allocator's peak on a GPU,
    the process's peak resident set (VmHWM, reset through /proc/self/clear_refs) on a CPU.
    """

    def __init__(self, device):
        self.cuda = torch.device(device).type == "cuda"
        self.device = device
        self.mb = None

    @staticmethod
    def _status(key):
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith(key):
                    return int(line.split()[1]) * 1024
        raise OSError(key)

    def __enter__(self):
        if self.cuda:
            torch.cuda.synchronize(self.device)
            torch.cuda.reset_peak_memory_stats(self.device)
            self.base = torch.cuda.memory_allocated(self.device)
        else:
            try:
                with open("/proc/self/clear_refs", "w") as fh:
                    fh.write("5")
                self.base = self._status("VmRSS")
            except OSError:
                self.base = None
        return self

    def __exit__(self, *exc):
        if self.cuda:
            torch.cuda.synchronize(self.device)
            self.mb = (torch.cuda.max_memory_allocated(self.device) - self.base) / 2**20
        elif self.base is not None:
            self.mb = (self._status("VmHWM") - self.base) / 2**20
        return False
