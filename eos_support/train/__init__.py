"""Training with the paper's diagnostics recorded along the way: full-batch GD and minibatch SGD.

``train_gd(model, data, loss, eta=..., max_steps=...)`` and ``train_sgd(model, data, loss, eta=...)``
take their options as one frozen dataclass (:class:`GDOptions`, :class:`SGDOptions`), or as keyword
fields that build one, and return a :class:`Run`. Both plug their step rule into one loop
(:mod:`eos_support.train.loop`): caching, resumption, checkpoints, interrupts and progress. A user's own
loop with an EdgeMonitor is :func:`eos_support.train.monitored.train_monitored`, stored in the same run
cache. :mod:`eos_support.train.models` holds the experiments' networks, :mod:`eos_support.train.store`
the cache.
"""

from .gd import GD_STATUSES, GDOptions, train_gd
from .loop import Run
from .sgd import SGD_HISTORY, SGD_STATUSES, SGDOptions, train_sgd

__all__ = ["GDOptions", "GD_STATUSES", "Run", "SGDOptions", "SGD_HISTORY", "SGD_STATUSES", "train_gd", "train_sgd"]
