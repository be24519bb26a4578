"""eos_support: the objects of Ahn, Zhang & Sra (ICML 2022) on a flat parameter vector θ.

One subpackage per concern, in the order of the paper and of the API page:

- :mod:`~eos_support.diagnostics`: relative progress, directional smoothness, Theorem 2 and (4.3), SGD's
  expected relative progress, the same along any update, the sharpness, and a network's loss as f(θ);
- :mod:`~eos_support.examples`: the paper's 2-D examples, Theorem 1 and Proposition 1;
- :mod:`~eos_support.train`: GD and SGD with the diagnostics recorded, the experiments' networks, the run store;
- :mod:`~eos_support.data`: the data sets;
- :mod:`~eos_support.readings`: what a finished run shows (phases, Theorem 2, Corollary 1, SGD, statistics);
- :mod:`~eos_support.monitor`: your own training loop at the edge of stability;
- :mod:`~eos_support.figures`: every figure, in one style;
- :mod:`~eos_support.profiles` and :mod:`eos_support.book`: the book's settings and the executable book;
- :mod:`~eos_support.checks` and :mod:`~eos_support.system`: argument checks, extras, devices, files.

The README's "Architecture" section has one line per module. Submodules are imported on demand, so
``import eos_support`` stays cheap and needs only the core dependencies (torch, numpy, tqdm). Every
module path of the earlier flat layout (``eos_support.curvature``, ``eos_support.phases``, …) still
imports the same module under its new name (:data:`MOVED`).
"""

__version__ = "0.1.0"

import importlib as _importlib
import importlib.abc as _abc
import importlib.util as _util
import sys as _sys
import warnings as _warnings

# torch.func's forward-mode derivatives (Hessian-vector products) trigger torch's own deprecation
# notice for torch.jit.script on first use; it concerns torch internals, not this package's code.
_warnings.filterwarnings("ignore", message=r"`torch\.jit\.script` is deprecated", category=FutureWarning)

MOVED = {
    "along": "diagnostics.along",
    "curvature": "diagnostics.curvature",
    "objective": "diagnostics.objective",
    "sgd_diagnostics": "diagnostics.sgd",
    "toy": "examples.toy",
    "stationary": "examples.stationary",
    "proposition1": "examples.proposition1",
    "models": "train.models",
    "store": "train.store",
    "phases": "readings.phases",
    "theorem2": "readings.theorem2",
    "corollary1": "readings.corollary1",
    "sgd_summary": "readings.sgd",
    "significance": "readings.significance",
    "tables": "readings.tables",
    "probe": "monitor.probe",
    "thresholds": "monitor.thresholds",
    "distributed": "monitor.distributed",
    "edge_runs": "monitor.edge_runs",
    "plots": "figures.plots",
    "landscape": "figures.landscape",
    "sgd_figures": "figures.sgd",
    "extras": "system",
    "criteria": "book.criteria",
    "criteria.uncertainty": "readings.uncertainty",
}
"""The flat layout's module paths (after ``eos_support.``) and the modules they import now; a module
``eos_support.criteria.<name>`` is ``eos_support.book.criteria.<name>``."""


class _Moved(_abc.MetaPathFinder, _abc.Loader):
    """Imports a module path of the flat layout as the module it names now (the same module object)."""

    @staticmethod
    def _target(fullname):
        if not fullname.startswith(__name__ + "."):
            return None
        old = fullname[len(__name__) + 1 :]
        if old in MOVED:
            return f"{__name__}.{MOVED[old]}"
        if old.startswith("criteria."):
            return f"{__name__}.book.{old}"
        return None

    def find_spec(self, fullname, path=None, target=None):
        return _util.spec_from_loader(fullname, self) if self._target(fullname) else None

    def create_module(self, spec):
        return None

    def exec_module(self, module):
        # importlib hands back whatever sys.modules holds under the name once this returns
        _sys.modules[module.__name__] = _importlib.import_module(self._target(module.__name__))


if not any(isinstance(finder, _Moved) for finder in _sys.meta_path):
    _sys.meta_path.insert(0, _Moved())
