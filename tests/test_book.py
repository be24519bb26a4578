"""eos_support.book: the toc, staging, the executed notebooks, the scorecard, the render."""

from __future__ import annotations

import asyncio
import gc
import json
import re
import shutil
from pathlib import Path

import nbformat
import pytest

from eos_support.book import report, runner, scorecard, toc
from eos_support.book.claims import ClaimBook
from eos_support.book.criteria import compare


def test_read_toc_and_select(mini_book):
    chapters = toc.read_toc(mini_book)
    assert [c.name for c in chapters] == ["intro", "good", "bad", "scorecard", "api"]
    assert [c.notebook for c in chapters] == [False, True, True, True, False]
    assert [c.name for c in toc.select(chapters)] == ["good", "bad", "scorecard"]
    # a subset, named in any spelling, in toc order; the scorecard is added, last
    chosen = toc.select(chapters, ["book/bad.md", "good"])
    assert [c.name for c in chosen] == ["good", "bad", "scorecard"]
    assert [c.name for c in toc.select(chapters, ["scorecard", "bad"])] == ["bad", "scorecard"]
    with pytest.raises(toc.BookError, match="valid chapters: good, bad, scorecard"):
        toc.select(chapters, ["intro"])


def test_repository_toc_order():
    """The repository's _toc.yml lists the chapters in the paper's order, scorecard last."""
    import yaml

    from conftest import REPO

    toc = yaml.safe_load((REPO / "_toc.yml").read_text())
    assert toc["format"] == "jb-book" and toc["root"] == "book/intro"
    assert [c["file"] for c in toc["chapters"]] == [
        "book/quadratics",
        "book/stationary_points",
        "book/causes",
        "book/relative_progress",
        "book/directional_smoothness",
        "book/theorem2",
        "book/relu_depth",
        "book/sharpness",
        "book/sgd",
        "book/beyond",
        "book/scorecard",
        "book/api",
        "book/bibliography",
    ]


def test_config_renders_executed_notebooks_only():
    import yaml

    from conftest import REPO

    config = yaml.safe_load((REPO / "_config.yml").read_text())
    assert config["execute"]["execute_notebooks"] == "off"
    assert config["only_build_toc_files"] is True
    assert {"dollarmath", "amsmath"} <= set(config["parse"]["myst_enable_extensions"])
    assert config["launch_buttons"]["binderhub_url"] and config["launch_buttons"]["colab_url"]
    assert config["repository"]["url"].startswith("https://github.com/")


def test_stage_copies_pages_not_chapter_sources(mini_book, tmp_path):
    (mini_book / "book" / "figure.svg").write_text("<svg/>")
    staging = runner.stage(mini_book, tmp_path / "build")
    assert (staging / "_config.yml").is_file() and (staging / "_toc.yml").is_file()
    assert (staging / "book" / "intro.md").is_file()
    assert (staging / "book" / "figure.svg").is_file()
    assert not (staging / "book" / "good.md").exists()
    assert not (staging / "book" / "scorecard.md").exists()


def test_executed_notebooks_hide_the_parameters(executed_mini_book):
    root, _, _ = executed_mini_book
    nb = nbformat.read(root / "_build" / "book" / "book" / "good.ipynb", as_version=4)
    injected = [c for c in nb.cells if "injected-parameters" in c.metadata.get("tags", [])]
    assert len(injected) == 1
    assert "remove-cell" in injected[0].metadata["tags"]
    assert "claims_dir = " in injected[0].source and "quick" in injected[0].source
    parameters = [c for c in nb.cells if "parameters" in c.metadata.get("tags", [])]
    assert all("remove-cell" in c.metadata["tags"] for c in parameters)
    assert "jupytext" not in nb.metadata


def test_failed_notebook_keeps_its_error(executed_mini_book):
    root, _, _ = executed_mini_book
    nb = nbformat.read(root / "_build" / "book" / "book" / "bad.ipynb", as_version=4)
    errors = [
        o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", []) if o.get("output_type") == "error"
    ]
    assert errors and errors[0]["ename"] == "ZeroDivisionError"


def test_scorecard_groups_outcomes_by_paper_item_in_toc_order(mini_book, tmp_path, monkeypatch):
    from conftest import TEST_REGISTRY
    from eos_support.book import registry

    reg = registry.load(TEST_REGISTRY)
    claims = tmp_path / "claims"
    for name, claim_id, value in (("claimfails", "identity", 1.5), ("good", "sums", 0.5)):
        b = ClaimBook(name, "quick", claims, device="cpu", registry=reg)
        b.verdict(claim_id, compare(value, 1, "<", 0.25, "a test's"))
        b.write()
    monkeypatch.chdir(mini_book)
    text = scorecard.scorecard(claims).data
    assert "**2 claims** from 2 chapter(s): 1 reproduced, 0 deviation, 1 not reproduced" in text
    assert "**1 outcome(s) contradict the expected one.**" in text
    assert "1.5 ± 0.25 (< 1)" in text  # the statistic with its uncertainty and threshold
    assert "| Fact 1 | not run | not run |" in text  # the book's items, each with its outcome per profile
    assert "| Example 1 | reproduced | not run |" in text and "| Theorem 2 | **not reproduced** | not run |" in text
    assert text.index("### good") < text.index("### claimfails")  # the toc's order: good comes first
    assert "**not reproduced** (expected: reproduced)" in text
    assert not any(ord(ch) > 0x2FFF for ch in text), "no emoji: the marks read without an emoji font"
    assert "No claims recorded" in scorecard.scorecard(tmp_path / "none").data


def test_the_other_profile_comes_from_its_committed_record(mini_book, tmp_path, monkeypatch):
    from conftest import TEST_REGISTRY
    from eos_support.book import registry

    reg = registry.load(TEST_REGISTRY)
    paper = ClaimBook("good", "paper", tmp_path / "records" / "paper" / "claims", registry=reg)
    paper.verdict("sums", compare(2, 2, "<=", 0, "exact"))
    paper.write()
    b = ClaimBook("good", "quick", tmp_path / "claims", registry=reg)
    b.verdict("sums", compare(2, 2, "<=", 0, "exact"))
    b.write()
    text = scorecard.scorecard(tmp_path / "claims", records_dir=tmp_path / "records").data
    assert "| Example 1 | reproduced | reproduced |" in text


def test_measured_values_per_case_read_as_short_text():
    measured = {
        "2/50": {"max |gap| + 2 SE": 0.1488482505083084, "at epoch": 18},
        "interval": [0.29929800, 0.7007],
        "ok": True,
    }
    assert report.format_value(measured) == (
        "{2/50: {max |gap| + 2 SE: 0.148848; at epoch: 18}; interval: [0.299298, 0.7007]; ok: True}"
    )


def test_timings_table(tmp_path):
    path = tmp_path / "timings.json"
    path.write_text(
        json.dumps({"good": {"seconds": 300, "device": "cpu", "profile": "quick", "ok": True, "date": "d"}})
    )
    text = report.timings(path).data
    assert "| good | 5.0 min | cpu | quick | ✅ executed | d |" in text
    assert "No timings" in report.timings(tmp_path / "missing.json").data


def test_scorecard_page_shows_the_claims(executed_mini_book):
    root, _, _ = executed_mini_book
    nb = nbformat.read(root / "_build" / "book" / "book" / "scorecard.ipynb", as_version=4)
    shown = "".join(
        o.get("data", {}).get("text/markdown", "")
        for c in nb.cells
        if c.cell_type == "code"
        for o in c.get("outputs", [])
    )
    assert "one plus one is two" in shown and "| good |" in shown and "❌ failed" in shown


def test_render_builds_html_with_warnings_as_errors(executed_mini_book):
    root, _, _ = executed_mini_book
    code = runner.render(root / "_build", strict=True, quiet=True)
    assert code == 0
    index = runner.html_index(root / "_build")
    assert index.is_file()
    html = root / "_build" / "book" / "_build" / "html" / "book"
    good = (html / "good.html").read_text()
    assert "one plus one is two" in good and "<table" in good
    assert "injected-parameters" not in good
    scorecard = (html / "scorecard.html").read_text()
    assert "<table" in scorecard and "✅" in scorecard
    # the book carries its own MathJax: the math shows offline, and no page asks a CDN for it
    assert "cdn.jsdelivr.net/npm/mathjax" not in good and "_static/mathjax/tex-chtml.js" in good
    assert (html.parent / "_static" / "mathjax" / "tex-chtml.js").is_file()


def test_a_dead_reference_fails_the_render(executed_mini_book, tmp_path):
    """The book is built nitpicky: a link to an API object that does not exist is an error, not a warning."""
    root, _, _ = executed_mini_book
    build = tmp_path / "_build"
    shutil.copytree(root / "_build" / "book", build / "book")
    intro = build / "book" / "book" / "intro.md"
    intro.write_text(intro.read_text() + "\nSee {py:func}`eos_support.no_such_function`.\n")
    assert runner.render(build, strict=True, quiet=True) != 0


def test_execute_rejects_bad_requests(mini_book):
    with pytest.raises(toc.BookError, match="unknown profile"):
        runner.execute(mini_book, profile="huge")
    with pytest.raises(toc.BookError, match="timeout"):
        runner.execute(mini_book, timeout=0)


def _abandon(error):
    """A task that fails with ``error`` and is never awaited: asyncio logs it when it is collected."""
    loop = asyncio.new_event_loop()

    async def cell():
        raise error

    task = loop.create_task(cell())
    loop.run_until_complete(asyncio.sleep(0.01))
    del task
    gc.collect()
    loop.close()


def test_an_interrupt_prints_no_traceback_for_the_cell_it_abandoned(mini_book, tmp_path, monkeypatch, caplog):
    """Ctrl-C shuts the kernel down under a cell that nbclient still awaits; asyncio would print that cell's
    DeadKernelError as "Task exception was never retrieved" with a traceback (seen in CI), other errors not."""
    import papermill
    from nbclient.exceptions import DeadKernelError

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(papermill, "execute_notebook", interrupted)
    with pytest.raises(KeyboardInterrupt):
        runner.execute(mini_book, tmp_path / "build", progress=False)
    with caplog.at_level("ERROR", logger="asyncio"):
        _abandon(DeadKernelError("Kernel died"))
        assert not caplog.records
        _abandon(ValueError("a real error"))
    assert [r.exc_info[0] for r in caplog.records] == [ValueError]


def chapter_cells(path):
    """The code cells of a MyST chapter, whole: options and figure captions count as code too (the
    strictest reading of "code by characters")."""
    import re

    return re.findall(r"^```\{code-cell\}[^\n]*\n(.*?)^```", path.read_text(encoding="utf-8"), re.S | re.M)


CODE_SHARE = 0.45
"""At most this share of a chapter's characters is code: the chapters read as a book, the package computes."""
CELL_LINES = 30
"""A code cell longer than this does not read at a glance: its logic belongs in the package."""


@pytest.mark.parametrize("path", sorted((Path(__file__).parents[1] / "book").glob("*.md")), ids=lambda p: p.stem)
def test_chapters_read_like_a_book(path):
    cells = chapter_cells(path)
    text = path.read_text(encoding="utf-8")
    share = sum(len(c) for c in cells) / len(text)
    assert share <= CODE_SHARE, f"{path.name}: {share:.0%} of its characters are code (at most {CODE_SHARE:.0%})"
    long = [c.splitlines()[0] for c in cells if len(c.splitlines()) > CELL_LINES]
    assert not long, f"{path.name}: code cells over {CELL_LINES} lines, starting {long}"
    assert "ClaimBook(" not in text and "plots.style()" not in text, f"{path.name}: use the chapter preamble"


@pytest.mark.parametrize("path", sorted((Path(__file__).parents[1] / "book").glob("*.md")), ids=lambda p: p.stem)
def test_chapters_take_everything_from_their_parameters(path):
    """No chapter reads the environment or switches torch's global default dtype: what it runs on comes
    through its parameters and ``chapter.start``, and the examples name their dtype."""
    code = "\n".join(chapter_cells(path))
    for forbidden in ("os.environ", "getenv", "set_default_dtype"):
        assert forbidden not in code, f"{path.name}: a code cell uses {forbidden}"


@pytest.mark.parametrize("path", sorted((Path(__file__).parents[1] / "book").glob("*.md")), ids=lambda p: p.stem)
def test_chapters_rebuild_no_loss(path):
    """A run carries the loss it descended (``run.f``): no chapter builds a second copy to match to it."""
    code = "\n".join(chapter_cells(path))
    for forbidden in ("ModuleLoss(", ".objective(", "loss_function("):
        assert forbidden not in code, f"{path.name}: a code cell builds a loss with {forbidden}"


@pytest.mark.parametrize("path", sorted((Path(__file__).parents[1] / "book").glob("*.md")), ids=lambda p: p.stem)
def test_chapters_draw_no_figure_inline(path):
    """A chapter's figures come from eos_support.figures: its cells call a figure function and show it."""
    code = "\n".join(chapter_cells(path))
    calls = r"plt\.(?:subplots|figure|subplot)\(|\.(?:plot|semilogy|scatter|axhline|set_ylim|set_yscale)\((?!\))"
    drawing = re.findall(calls, code)
    assert not drawing, f"{path.name}: code cells draw {sorted(set(drawing))}"


def test_the_chapter_template_executes(tmp_path):
    """A new chapter starts from book/_template.md: its preamble runs as written, and it is no page."""
    import nbformat
    import papermill

    root = Path(__file__).parents[1]
    assert "_template" not in (root / "_toc.yml").read_text()
    nb = jupytext_notebook(root / "book" / "_template.md")
    nbformat.write(nb, tmp_path / "t.ipynb")
    with pytest.raises(papermill.PapermillExecutionError, match="the chapter checked no claims"):
        papermill.execute_notebook(
            str(tmp_path / "t.ipynb"),
            str(tmp_path / "out.ipynb"),
            progress_bar=False,
            parameters=dict(claims_dir=str(tmp_path / "claims"), results_dir=str(tmp_path)),
            kernel_name="python3",
        )
    out = nbformat.read(tmp_path / "out.ipynb", as_version=4)  # everything before finish() ran
    assert "No claims in the registry for this chapter" in json.dumps([c.get("outputs") for c in out.cells])


def jupytext_notebook(path):
    import jupytext

    return jupytext.read(path)
