"""The executable book: its table of contents, the runner, the claims the chapters check, and reports.

:mod:`~eos_support.book.toc` (which pages ``_toc.yml`` lists), :mod:`~eos_support.book.runner` (stage,
execute with papermill, render with Jupyter Book), :mod:`~eos_support.book.claims` (what a chapter
checked, and its verdict), :mod:`~eos_support.book.report` (claims and timings tables), :mod:`~eos_support.book.scorecard`,
:mod:`~eos_support.book.chapter` (the one-line preamble of every chapter), :mod:`~eos_support.book.cli`
(``eos-book``) and :mod:`~eos_support.book.sphinx_ext` (a Sphinx extension for the rendered pages).
"""

from ..system import require

require(__name__, "yaml", "matplotlib", "IPython", "nbformat", "jupytext", "papermill")
