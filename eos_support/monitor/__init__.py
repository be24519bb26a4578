"""Is my training at the edge of stability? The monitor for a loop the user writes.

- :mod:`~eos_support.monitor.edge_monitor`: :class:`~eos_support.monitor.edge_monitor.EdgeMonitor`, RP_u,
  L(θ; u) and the sharpness against the optimizer's threshold, recorded while the user's loop runs;
- :mod:`~eos_support.monitor.thresholds`: each optimizer's stability threshold and the sharpness it refers to;
- :mod:`~eos_support.monitor.probe`: the fixed probe set and its exact loss;
- :mod:`~eos_support.monitor.distributed`: the same under torch.distributed;
- :mod:`~eos_support.monitor.edge_runs`: the book's optimizers at their own edge ("Beyond the paper").

The monitor's names are importable from here; its figure, :func:`~eos_support.figures.monitor.plot_history`,
from :mod:`eos_support.figures.monitor` (imported on first use, with matplotlib).
"""

from .edge_monitor import BANDS, KEYS, LOSS_TOLERANCE, RECORDING, Bands, EdgeMonitor

__all__ = ["BANDS", "KEYS", "LOSS_TOLERANCE", "RECORDING", "Bands", "EdgeMonitor"]


def __getattr__(name):
    if name == "plot_history":  # its home before the figures moved to eos_support.figures
        from ..figures.monitor import plot_history

        return plot_history
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
