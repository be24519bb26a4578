"""The book's Sphinx extension: only a copy staged by eos-book renders, and the Colab button opens the
generated notebooks' branch while Binder and the repository buttons stay on the sources' branch."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from eos_support.book import runner
from eos_support.book.stage import STAGED_MARKER


def _jupyter_book(*args):
    exe = Path(sys.executable).with_name("jupyter-book")
    return subprocess.run([str(exe), *map(str, args)], capture_output=True, text=True, timeout=600)


def test_jupyter_book_build_of_the_sources_fails_naming_eos_book_build(mini_book):
    """What a reader would type at the repository root: it must not render pages without outputs."""
    result = _jupyter_book("build", mini_book)
    assert result.returncode != 0
    assert "holds the book's sources, not its executed chapters" in result.stdout + result.stderr
    assert "Run 'eos-book build' instead" in result.stdout + result.stderr
    assert not (mini_book / "_build" / "html" / "book" / "good.html").exists()


def test_the_staged_copy_carries_the_marker(mini_book, tmp_path):
    staging = runner.stage(mini_book, tmp_path / "build")
    assert (staging / STAGED_MARKER).is_file()
    assert not (mini_book / STAGED_MARKER).exists()


def test_launch_buttons(executed_mini_book):
    """eos-book build renders (the guard lets the staged copy through); Colab opens the notebooks branch."""
    root, _, _ = executed_mini_book
    assert runner.render(root / "_build", strict=True, quiet=True) == 0
    page = (root / "_build" / "book" / "_build" / "html" / "book" / "good.html").read_text()
    repository = "github.com/eos-book/eos-book"
    assert "https://colab.research.google.com/github/eos-book/eos-book/blob/notebooks/book/good.ipynb" in page
    assert "https://mybinder.org/v2/gh/eos-book/eos-book/main?urlpath=lab/tree/book/good.ipynb" in page
    assert f'href="https://{repository}"' in page and f"https://{repository}/issues/new?title=" in page
