"""eos_support: the objects of Ahn, Zhang & Sra (ICML 2022) on a flat parameter vector θ.

The paper's objects: :mod:`~eos_support.diagnostics` (relative progress, directional smoothness,
Theorem 2, (4.3)), :mod:`~eos_support.sgd_diagnostics` (SGD's expected relative progress, (5.1),
Appendix A), :mod:`~eos_support.along` (the same along any update), :mod:`~eos_support.curvature`
(sharpness, Corollary 1's segment sharpness), :mod:`~eos_support.toy` and :mod:`~eos_support.stationary`
(the paper's 2-D examples, Theorem 1, Proposition 1). Around them: :mod:`~eos_support.objective`,
:mod:`~eos_support.models` and :mod:`~eos_support.data` (a network and its data as a loss of θ),
:mod:`~eos_support.train` (GD and SGD with the diagnostics recorded), :mod:`~eos_support.store`,
:mod:`~eos_support.profiles`, :mod:`~eos_support.phases`, :mod:`~eos_support.monitor` (your own training
loop), the figures (:mod:`~eos_support.plots` and others) and :mod:`eos_support.book` (the executable
book). The README's "Architecture" section has one line per module. Submodules are imported on demand,
so ``import eos_support`` stays cheap and needs only the core dependencies (torch, numpy, tqdm).
"""

__version__ = "0.1.0"

import warnings as _warnings

# torch.func's forward-mode derivatives (Hessian-vector products) trigger torch's own deprecation
# notice for torch.jit.script on first use; it concerns torch internals, not this package's code.
_warnings.filterwarnings("ignore", message=r"`torch\.jit\.script` is deprecated", category=FutureWarning)
