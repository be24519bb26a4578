"""Shared fixtures: every figure closed after its test; a miniature book (two tiny chapters and the real
scorecard) for the runner. Small data sets come from ``factories``; hand-made run histories from
``histories``."""

from __future__ import annotations

import shutil
import sys
import textwrap
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
TEST_REGISTRY = REPO / "tests" / "data" / "registry.yml"


@pytest.fixture(autouse=True)
def close_figures():
    """Close every figure a test opened (only where matplotlib's pyplot was imported at all)."""
    yield
    pyplot = sys.modules.get("matplotlib.pyplot")
    if pyplot is not None:
        pyplot.close("all")


def claimbook(name: str) -> str:
    """Chapter code that creates chapter ``name``'s ClaimBook on the tests' registry of claims."""
    return (
        f"from eos_support.book import registry\nfrom eos_support.book.claims import ClaimBook\n"
        f"from eos_support.book.criteria import compare\n"
        f"claims = ClaimBook({name!r}, profile, claims_dir, device='cpu', registry=registry.load(r'{TEST_REGISTRY}'))"
    )


HEADER = """\
---
jupytext:
  text_representation:
    extension: .md
    format_name: myst
kernelspec:
  display_name: Python 3
  language: python
  name: python3
---
"""

PARAMETERS = """\
```{code-cell} ipython3
:tags: [parameters]
profile = "quick"
claims_dir = None
results_dir = None
data = None
```
"""

GOOD = (
    HEADER
    + """
# Good chapter

Some math: $f(\\theta) = 20\\theta_1^2 + \\theta_2^2$.

"""
    + PARAMETERS
    + """
```{code-cell} ipython3
"""
    + claimbook("good")
    + """
claims.verdict("sums", compare(1 + 1, 2, "<=", 0, "exact"))
claims.table()
```

```{code-cell} ipython3
claims.finish()
```
"""
)

BAD = (
    HEADER
    + """
# Bad chapter

"""
    + PARAMETERS
    + """
```{code-cell} ipython3
x = 1
```

```{code-cell} ipython3
y = x / 0
```

```{code-cell} ipython3
print("never reached")
```
"""
)


def make_mini_book(root: Path, chapters=("good", "bad")) -> Path:
    """A project folder with _config.yml, _toc.yml, an intro page, ``chapters`` and the
    repository's scorecard chapter; returns ``root``."""
    (root / "book").mkdir(parents=True, exist_ok=True)
    shutil.copy(REPO / "_config.yml", root / "_config.yml")
    shutil.copy(REPO / "book" / "scorecard.md", root / "book" / "scorecard.md")
    shutil.copy(REPO / "book" / "api.md", root / "book" / "api.md")  # the scorecard links to the API
    shutil.copy(REPO / "book" / "references.bib", root / "book" / "references.bib")
    toc = ["format: jb-book", "root: book/intro", "chapters:"]
    toc += [f"  - file: book/{name}" for name in chapters] + ["  - file: book/scorecard", "  - file: book/api"]
    (root / "_toc.yml").write_text("\n".join(toc) + "\n")
    (root / "book" / "intro.md").write_text(
        textwrap.dedent(
            """\
            # A miniature book

            It shows $x^2$ and links to the {doc}`scorecard`.
            """
        )
    )
    sources = {"good": GOOD, "bad": BAD}
    for name in chapters:
        (root / "book" / f"{name}.md").write_text(sources.get(name, GOOD.replace('"good"', f'"{name}"')))
    return root


@pytest.fixture
def mini_book(tmp_path) -> Path:
    """A fresh miniature book in a temporary folder (nothing executed)."""
    return make_mini_book(tmp_path / "mini")


@pytest.fixture(scope="session")
def executed_mini_book(tmp_path_factory):
    """A miniature book executed once per session through ``eos-book execute``:
    ``(root, exit code, captured text)``."""
    import contextlib
    import io

    from eos_support.book.cli import main

    root = make_mini_book(tmp_path_factory.mktemp("executed") / "mini")
    out = io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(out):
        code = main(["execute", "--root", str(root), "--profile", "quick", "--no-progress"])
    return root, code, out.getvalue()
