"""``eos-book lab``: the chapters paired with their notebooks, and the JupyterLab it starts (no browser here)."""

from __future__ import annotations

import importlib.util
import os
import shutil
import sys

import nbformat
import pytest

from conftest import REPO
from eos_support.book import lab
from eos_support.book.cli import main


@pytest.fixture
def paired_book(mini_book):
    """The mini book with the repository's jupytext.toml (every notebook paired with its MyST .md)."""
    shutil.copy(REPO / "jupytext.toml", mini_book / "jupytext.toml")
    return mini_book


def _age(path, seconds):
    """Move ``path``'s modification time ``seconds`` into the past."""
    mtime = path.stat().st_mtime - seconds
    os.utime(path, (mtime, mtime))


def test_pairing_writes_each_chapters_notebook_and_never_its_source(paired_book):
    sources = {p: p.read_bytes() for p in (paired_book / "book").glob("*.md")}
    notebooks = lab.pair_notebooks(paired_book)
    assert [p.name for p in notebooks] == ["good.ipynb", "bad.ipynb", "scorecard.ipynb"]
    assert {p: p.read_bytes() for p in sources} == sources, "the .md sources are never written"
    good = nbformat.read(paired_book / "book" / "good.ipynb", as_version=4)
    assert any("parameters" in c.metadata.get("tags", []) for c in good.cells)
    assert not (paired_book / "book" / "intro.ipynb").exists(), "plain pages are not notebooks"
    for notebook in notebooks:  # jupytext's contents manager opens a pair whose .ipynb is not newer
        assert notebook.stat().st_mtime == notebook.with_suffix(".md").stat().st_mtime


def test_pairing_again_takes_new_inputs_and_keeps_outputs(paired_book):
    [good, *_] = lab.pair_notebooks(paired_book)
    nb = nbformat.read(good, as_version=4)
    cell = next(c for c in nb.cells if c.cell_type == "code" and "ClaimBook" in c.source)
    cell.outputs = [nbformat.v4.new_output("stream", name="stdout", text="computed before\n")]
    nbformat.write(nb, good)
    _age(good, 10)
    source = good.with_suffix(".md")
    source.write_text(source.read_text().replace("# Good chapter", "# Good chapter, edited"))
    lab.pair_notebooks(paired_book)
    nb = nbformat.read(good, as_version=4)
    assert nb.cells[0].source.startswith("# Good chapter, edited")
    assert any(o.get("text") == "computed before\n" for c in nb.cells if c.cell_type == "code" for o in c.outputs)


def test_a_notebook_newer_than_its_source_is_left_alone(paired_book):
    [good, *_] = lab.pair_notebooks(paired_book)
    nb = nbformat.read(good, as_version=4)
    nb.cells[0].source = "# Edited in the notebook"
    nbformat.write(nb, good)
    _age(good.with_suffix(".md"), 10)
    said = []
    lab.pair_notebooks(paired_book, log=said.append)
    assert nbformat.read(good, as_version=4).cells[0].source == "# Edited in the notebook"
    assert len(said) == 1 and "good.ipynb is newer than good.md: left as it is" in said[0]


def test_jupyterlab_serves_the_repository_and_opens_on_book(paired_book):
    command = lab.lab_command(paired_book, ["--no-browser"])
    assert command[:3] == [sys.executable, "-m", "jupyterlab"]
    assert f"--ServerApp.root_dir={paired_book.resolve()}" in command  # where jupytext.toml is
    assert "--ContentsManager.preferred_dir=book" in command and command[-1] == "--no-browser"


def test_lab_without_jupyterlab_says_how_to_install_it(paired_book, monkeypatch, capsys):
    find_spec = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name == "jupyterlab" else find_spec(name, *a)
    )
    code = main(["lab", "--root", str(paired_book)])
    assert code == 2 and 'JupyterLab is not installed: pip install -e ".[notebook]"' in capsys.readouterr().err
    assert not list((paired_book / "book").glob("*.ipynb")), "nothing is written before the check"
    assert main(["lab", "--root", str(paired_book), "--pair-only"]) == 0  # Binder's postBuild: no JupyterLab needed
    assert len(list((paired_book / "book").glob("*.ipynb"))) == 3


def test_lab_starts_jupyterlab_with_the_options_given(paired_book, monkeypatch, capsys):
    started = []
    monkeypatch.setattr(lab, "require_jupyterlab", lambda: None)
    monkeypatch.setattr(os, "execv", lambda path, argv: started.append(argv))
    main(["lab", "--root", str(paired_book), "--", "--no-browser", "--port", "8899"])
    assert started == [lab.lab_command(paired_book, ["--no-browser", "--port", "8899"])]
    assert "3 chapters paired" in capsys.readouterr().out


def test_postbuild_pairs_the_chapters():
    """Binder runs postBuild: it pairs the chapters of _toc.yml through eos-book, like eos-book lab."""
    lines = [line.strip() for line in (REPO / "postBuild").read_text().splitlines()]
    assert "eos-book lab --pair-only" in lines and "set -euo pipefail" in lines
