"""``eos-book notebooks``: standalone notebooks of the chapters for Colab, and one of them executed as Colab
would, in a fresh environment outside the repository where eos-book was installed from its wheel."""

from __future__ import annotations

import json
import subprocess
import sys
import types

import jupytext
import nbformat
import pytest

from conftest import REPO, make_mini_book
from eos_support.book import toc
from eos_support.book.cli import main
from eos_support.book.notebooks import package_requirement, write_notebooks
from fresh_venv import build_wheel, fresh_venv, run

REQUIREMENT = "eos-book[book] @ git+https://github.com/eos-book/eos-book@main"


@pytest.fixture(scope="module")
def notebooks(tmp_path_factory):
    """The repository's chapters written by ``write_notebooks``: ``(folder, paths)``."""
    out = tmp_path_factory.mktemp("notebooks")
    return out, write_notebooks(REPO, out)


def test_one_notebook_per_chapter_at_its_source_path(notebooks):
    out, paths = notebooks
    chapters = [p for p in toc.read_toc(REPO) if p.notebook]
    assert paths == [out / "book" / f"{p.name}.ipynb" for p in chapters]
    assert "book/quadratics.ipynb" in {str(p.relative_to(out)) for p in paths}


@pytest.mark.parametrize("name", [p.name for p in toc.read_toc(REPO) if p.notebook])
def test_a_notebook_is_its_chapter_after_one_install_cell(notebooks, name):
    out, _ = notebooks
    nb = nbformat.read(out / "book" / f"{name}.ipynb", as_version=4)
    nbformat.validate(nb)
    install, *cells = nb.cells
    assert install.cell_type == "code" and install.metadata["tags"] == ["remove-cell"]
    assert 'if "google.colab" in sys.modules:' in install.source and REQUIREMENT in install.source
    chapter = jupytext.read(REPO / "book" / f"{name}.md")
    assert [c.source for c in cells] == [c.source for c in chapter.cells]
    assert any("parameters" in c.metadata.get("tags", []) for c in cells), "papermill sets the profile there"
    assert "jupytext" not in nb.metadata and nb.metadata["kernelspec"]["name"] == "python3"


def _run_install_cell(source, monkeypatch, on_colab):
    calls = []
    monkeypatch.setattr(subprocess, "run", lambda command, **kw: calls.append((command, kw)))
    if on_colab:
        monkeypatch.setitem(sys.modules, "google.colab", types.ModuleType("google.colab"))
    else:
        monkeypatch.delitem(sys.modules, "google.colab", raising=False)
    exec(compile(source, "install-cell", "exec"), {})
    return calls


def test_the_install_cell_installs_on_colab_only(notebooks, monkeypatch):
    out, _ = notebooks
    source = nbformat.read(out / "book" / "quadratics.ipynb", as_version=4).cells[0].source
    assert _run_install_cell(source, monkeypatch, on_colab=False) == []
    [(command, options)] = _run_install_cell(source, monkeypatch, on_colab=True)
    assert command == [sys.executable, "-m", "pip", "install", "--quiet", REQUIREMENT]
    assert options == {"check": True}


def test_the_install_cell_takes_the_requested_ref(tmp_path):
    [path, *_] = write_notebooks(REPO, tmp_path, ref="0123abc")
    assert "git+https://github.com/eos-book/eos-book@0123abc" in nbformat.read(path, as_version=4).cells[0].source


def test_notebooks_never_overwrite_the_paired_ones(mini_book, capsys):
    code = main(["notebooks", "--root", str(mini_book), "--out", str(mini_book)])
    assert code == 2 and "pass --out another folder than the repository" in capsys.readouterr().err
    assert not list((mini_book / "book").glob("*.ipynb"))


def test_a_book_without_repository_url_is_refused(mini_book):
    config = mini_book / "_config.yml"
    config.write_text(config.read_text().replace("url: https://github.com/eos-book/eos-book", "url: ''"))
    with pytest.raises(toc.BookError, match="no repository.url"):
        package_requirement(mini_book)


def test_the_command_writes_the_mini_book(tmp_path, capsys):
    root = make_mini_book(tmp_path / "mini")
    assert main(["notebooks", "--root", str(root), "--out", str(tmp_path / "out")]) == 0
    assert sorted(p.name for p in (tmp_path / "out" / "book").iterdir()) == [
        "bad.ipynb",
        "good.ipynb",
        "scorecard.ipynb",
    ]
    assert f"pip install '{REQUIREMENT}'" in capsys.readouterr().out


# ---------------------------------------------------------------------------------------
# As Colab runs it: a fresh environment, eos-book from its wheel (what the install cell brings), papermill.

COLAB_ALSO = ("torch", "numpy", "matplotlib", "ipykernel", "papermill")
"""What Colab ships beside the install cell's eos-book[book], and papermill, which runs the notebook here."""


def test_a_generated_notebook_executes_in_a_fresh_environment(notebooks, tmp_path):
    """quadratics, with its default parameters, from a folder that is no checkout: its claims pass."""
    out, _ = notebooks
    python = fresh_venv(tmp_path / "venv", build_wheel(tmp_path / "wheel"), extras=("book",), also=COLAB_ALSO)
    kernel = run(python, "-m", "ipykernel", "install", "--sys-prefix", "--name", "fresh")
    assert kernel.returncode == 0, kernel.stderr
    work = tmp_path / "content"  # Colab's working folder: no pyproject.toml, no _toc.yml above it
    work.mkdir()
    executed = run(
        python,
        "-m",
        "papermill",
        out / "book" / "quadratics.ipynb",
        work / "quadratics.ipynb",
        "--kernel",
        "fresh",
        "--cwd",
        work,
        "--no-progress-bar",
        cwd=work,
    )
    assert executed.returncode == 0, executed.stderr[-3000:]
    records = json.loads((work / "_build" / "claims" / "quadratics.json").read_text())
    assert records and all(r["as_expected"] for r in records), [r["id"] for r in records if not r["as_expected"]]
