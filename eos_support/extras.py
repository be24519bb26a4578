"""What ``pip install eos-book`` brings, and the error that names the extra a module needs beyond it.

The core (torch, numpy, tqdm) is all that eos_support's computations import: ``import eos_support``
and its modules of the paper's objects work with it alone. :mod:`eos_support.plots` and
:mod:`eos_support.book` (the book's runner, claims and reports) need the ``book`` extra; importing
them without it raises an :class:`ImportError` that says which packages are missing and how to
install them.
"""

from __future__ import annotations

import importlib.util


def require(module: str, *packages: str, extra: str = "book") -> None:
    """Raise :class:`ImportError` naming ``extra`` if one of the import names ``packages`` is missing.

    ``module`` is the module that needs them (its ``__name__``).
    """
    missing = [name for name in packages if importlib.util.find_spec(name) is None]
    if missing:
        raise ImportError(
            f"{module} needs {', '.join(missing)}, which the {extra!r} extra of eos-book installs: "
            f'pip install "eos-book[{extra}]" (in a clone of the repository: pip install -e ".[{extra}]")',
            name=missing[0],
        )
