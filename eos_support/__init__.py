"""eos_support: the objects of Ahn, Zhang & Sra (ICML 2022) on a flat parameter vector θ.

Modules are named after the paper's objects: :mod:`eos_support.diagnostics` (relative
progress, directional smoothness, Theorem 2), :mod:`eos_support.curvature` (Hessian-vector
products, sharpness), :mod:`eos_support.objective` (a network and its data as a loss of θ),
:mod:`eos_support.toy` (the paper's small examples), :mod:`eos_support.claims` (what each
chapter checks), :mod:`eos_support.book` and :mod:`eos_support.cli` (the book's runner,
``eos-book``). Submodules are imported on demand, so ``import eos_support`` stays cheap.
"""

__version__ = "0.1.0"

import warnings as _warnings

# torch.func's forward-mode derivatives (Hessian-vector products) trigger torch's own deprecation
# notice for torch.jit.script on first use; it concerns torch internals, not this package's code.
_warnings.filterwarnings("ignore", message=r"`torch\.jit\.script` is deprecated", category=FutureWarning)
