"""The whole book, end to end, in the quick profile: the README's main job, then its products.

One module-scoped fixture runs ``eos-book build --profile quick --build-dir TMP`` in a
subprocess, exactly as a reader would (with ``EOS_RESULTS_DIR`` inside TMP, so nothing is reused
from an earlier run); the tests then read what it made: the executed notebooks, the claim
files, ``eos-book claims --json``, the HTML pages, and the pages as headless Chromium shows
them (no console errors, typeset math, figures that load), with a screenshot of each page kept
in ``_build/screenshots`` (``$EOS_SCREENSHOTS_DIR`` moves it) for CI to publish.

This takes the quick book's full execution time (15 to 20 minutes on 2 CPU cores). Set
``EOS_SKIP_BOOK_TEST=1`` to skip it while iterating on something else.
"""

from __future__ import annotations

import html
import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path
from types import SimpleNamespace

import nbformat
import pytest

from browser import Chromium, find_chromium, serve
from conftest import REPO
from eos_support.book.claims import RECORD_KEYS
from eos_support.book.toc import SCORECARD, BookError, read_toc

BUILD_TIMEOUT_S = 3300
ROBUST_IN_CI = ("theorem2",)
"""The chapters whose robustness CI checks on every push (the whole check: ``eos-book robustness``)."""
pytestmark = [pytest.mark.slow, pytest.mark.timeout(BUILD_TIMEOUT_S + 300)]  # the whole quick book

try:
    CHAPTERS, TOC_ERROR = read_toc(REPO), None
except BookError as error:  # a chapter listed but not written yet: one clear failure below
    CHAPTERS, TOC_ERROR = [], str(error)
NOTEBOOKS = [c for c in CHAPTERS if c.notebook]
CLAIMING = [c for c in NOTEBOOKS if c.name != SCORECARD]


def _eos_book() -> list[str]:
    script = Path(sys.executable).with_name("eos-book")
    return [str(script)] if script.is_file() else [sys.executable, "-m", "eos_support.book.cli"]


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """The quick book built once: ``build`` (folder), ``code``, ``log`` (text), ``seconds``."""
    if os.environ.get("EOS_SKIP_BOOK_TEST"):
        pytest.skip("EOS_SKIP_BOOK_TEST is set: the whole-book build is skipped")
    build = tmp_path_factory.mktemp("quick-book")
    env = {**os.environ, "EOS_RESULTS_DIR": str(build / "results")}
    log_path = build / "build.log"
    command = _eos_book() + ["build", "--profile", "quick", "--build-dir", str(build)]
    start = time.perf_counter()
    with open(log_path, "w") as log:
        try:
            code = subprocess.run(
                command, cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT, timeout=BUILD_TIMEOUT_S
            ).returncode
        except subprocess.TimeoutExpired:
            code = "timeout"
    seconds = time.perf_counter() - start
    print(f"\n[book] {' '.join(command)}: exit {code} after {seconds:.0f} s; log {log_path}")
    return SimpleNamespace(
        build=build,
        code=code,
        log=log_path.read_text(errors="replace"),
        seconds=seconds,
        html=build / "book" / "_build" / "html",
    )


def _summary(log: str) -> str:
    """The runner's closing summary (or the log's tail), for assertion messages."""
    at = log.rfind("executed ")
    return log[at:][-6000:] if at >= 0 else log[-6000:]


def test_toc_lists_existing_chapters():
    assert TOC_ERROR is None, TOC_ERROR


def test_build_succeeds(built):
    assert built.code == 0, f"eos-book build failed (exit {built.code}):\n{_summary(built.log)}"
    assert "[eos-book] profile: quick (requested)" in built.log
    assert "[eos-book] the book: " in built.log


@pytest.mark.parametrize("chapter", NOTEBOOKS, ids=lambda c: c.name)
def test_chapter_executed_without_error(built, chapter):
    path = built.build / "book" / chapter.source.relative_to(REPO).with_suffix(".ipynb")
    assert path.is_file(), f"{chapter.name} was not executed:\n{_summary(built.log)}"
    nb = nbformat.read(path, as_version=4)
    errors = [
        f"{o.get('ename')}: {o.get('evalue')}"
        for cell in nb.cells
        if cell.cell_type == "code"
        for o in cell.get("outputs", [])
        if o.get("output_type") == "error"
    ]
    assert not errors, f"{chapter.name}: {errors}"
    timing = json.loads((built.build / "timings.json").read_text())[chapter.name]
    assert timing["ok"] is True and timing["profile"] == "quick"
    print(f"[book] {chapter.name}: {timing['seconds']:.1f} s on {timing['device']}")


@pytest.mark.parametrize("chapter", CLAIMING, ids=lambda c: c.name)
def test_chapter_claims_are_the_registrys_with_the_expected_outcomes(built, chapter):
    from eos_support.book import registry

    path = built.build / "claims" / f"{chapter.name}.json"
    assert path.is_file(), f"{chapter.name} recorded no claims:\n{_summary(built.log)}"
    records = json.loads(path.read_text())
    assert records, f"{path} is empty"
    assert {r["id"] for r in records} == {c.id for c in registry.load().for_chapter(chapter.name)}
    for record in records:
        assert set(RECORD_KEYS) <= set(record), record
        assert record["chapter"] == chapter.name and record["profile"] == "quick", record
        assert record["agreement"] != "contradicts", f"an outcome contradicts the expected one: {record}"
        if record["kind"] == "check":
            assert record["uncertainty"] is None and record["holds"] is True, record
        else:  # a measured uncertainty, and no verdict within it of the threshold
            assert isinstance(record["uncertainty"], (int, float)) and record["uncertainty"] >= 0, record
            assert (record["outcome"] == "inconclusive") == (record["holds"] is None), record


def test_claims_command(built):
    result = subprocess.run(
        _eos_book() + ["claims", "--json", "--build-dir", str(built.build)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr + result.stdout[-3000:]
    records = json.loads(result.stdout)
    assert {r["chapter"] for r in records} == {c.name for c in CLAIMING}
    assert all(r["agreement"] != "contradicts" and r["profile"] == "quick" for r in records)
    assert {r["outcome"] for r in records} <= {"reproduced", "deviation", "not reproduced", "inconclusive", "check"}
    inconclusive = [r for r in records if r["outcome"] == "inconclusive"]
    assert all(r["decide"] for r in inconclusive), [r["id"] for r in inconclusive if not r["decide"]]
    print(f"\n[book] {len(inconclusive)} inconclusive claims: {', '.join(r['id'] for r in inconclusive)}")


def test_verdicts_survive_a_perturbation_of_theta0(built):
    """The part of the robustness check that fits CI: ``ROBUST_IN_CI`` re-executed with every network's θ⁰
    moved by one float32 rounding unit must give every claim the outcome of the build's execution.
    """
    command = _eos_book() + ["robustness", *ROBUST_IN_CI, "--profile", "quick", "--build-dir", str(built.build)]
    result = subprocess.run(command + ["--perturb", "theta0=1"], cwd=REPO, capture_output=True, text=True, timeout=1800)
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    record = json.loads((built.build / "robustness" / "quick.json").read_text())
    compared = {r["id"] for e in record["executions"] for r in e["claims"]}
    assert record["ok"] and compared == {c.id for name in ROBUST_IN_CI for c in _registry_claims(name)}


def _registry_claims(chapter):
    from eos_support.book import registry

    return registry.load().for_chapter(chapter)


def test_html_page_for_every_chapter(built):
    missing = [c.docname for c in CHAPTERS if not (built.html / f"{c.docname}.html").is_file()]
    assert not missing, f"no HTML page for {missing}"
    assert (built.html / "index.html").is_file()
    for chapter in CLAIMING:  # each chapter page ends with its claims table
        page = (built.html / f"{chapter.docname}.html").read_text()
        assert "<table" in page and ">outcome<" in page, chapter.name
        assert "injected-parameters" not in page
    # as the reader sees it: entities decoded, and Sphinx's smart quotes (user’s) read as typed (user's)
    scorecard = html.unescape((built.html / f"book/{SCORECARD}.html").read_text()).replace("’", "'")
    for column in ("paper item", "quick", "paper", "claim", "statistic ± uncertainty", "measured", "outcome"):
        assert f">{column}<" in scorecard, f"the scorecard has no {column!r} column"
    from eos_support.book import registry

    for item in registry.load().items:  # the first table: one row per paper item
        assert f"<td><p>{item.item}</p></td>" in scorecard or f">{item.item}<" in scorecard, item.item
    for chapter in CLAIMING:
        assert f">{chapter.name}<" in scorecard, f"the scorecard does not list {chapter.name}"


# JavaScript run in each page once it has loaded.
MATHJAX_DONE = """
(window.MathJax && MathJax.startup && MathJax.startup.promise)
  ? MathJax.startup.promise.then(() => "typeset") : Promise.resolve("no MathJax")
"""
MATH = """
(() => {
  const sources = [...document.querySelectorAll(".math")];
  return {
    sources: sources.length,
    untypeset: sources.filter(e => !e.querySelector("mjx-container")).length,
    rendered: document.querySelectorAll("mjx-container").length,
    errors: [...document.querySelectorAll("mjx-merror")].map(e => e.textContent.slice(0, 120)),
  };
})()
"""
TEXT = r"""
(() => {
  const main = document.querySelector("main") || document.body;
  const copy = main.cloneNode(true);
  copy.querySelectorAll("mjx-container, pre, code, script, style, .highlight, .cell_input").forEach(e => e.remove());
  const text = copy.textContent;
  const raw = ["$", "\\(", "\\[", "\\frac", "\\theta", "\\eta"].filter(t => text.includes(t));
  // what is wider than the text column: it scrolls sideways, or is cut off at the column's edge
  const scrolls = e => e.scrollWidth > e.clientWidth + 1;
  const juts = e => [...e.querySelectorAll("mjx-container")]
    .some(m => m.getBoundingClientRect().right > e.getBoundingClientRect().right + 1);
  const what = e => (e.tagName + ": " + e.textContent.trim().replace(/\s+/g, " ")).slice(0, 70);
  const wide = [
    ...[...main.querySelectorAll("table, .table-wrapper, .pst-scrollable-table-container, pre, div.math")]
      .filter(scrolls),
    ...[...main.querySelectorAll("p, li, td")].filter(e => scrolls(e) || juts(e)),
  ].map(what);
  return {raw, quotes: main.querySelectorAll("blockquote").length, wide,
          page: document.documentElement.scrollWidth > window.innerWidth + 1};
})()
"""
IMAGES = """
Promise.all([...document.images].map(img => {
  img.loading = "eager";
  const report = () => ({src: img.currentSrc || img.src, width: img.naturalWidth,
                         figure: !!img.closest("main") && !img.closest("nav, header")});
  return img.decode().then(report, report);
}))
"""


def _screenshots_dir() -> Path:
    folder = Path(os.environ.get("EOS_SCREENSHOTS_DIR") or REPO / "_build" / "screenshots")
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def test_pages_in_a_browser(built):
    """Every page of the toc in headless Chromium: no console errors, all math typeset, every
    image loaded with a non-zero size, chapters with at least one figure, nothing wider than the
    text column of a 1280-px window; a screenshot each."""
    chromium = find_chromium()
    if chromium is None:
        pytest.skip("Chromium is not installed (Debian: apt-get install chromium; .ci/run does)")
    assert (built.html / "index.html").is_file(), "no HTML to open"
    shots, problems = _screenshots_dir(), []
    print(f"\n[book] screenshots in {shots}")
    with serve(built.html) as (base, missing), Chromium(chromium) as browser:
        for chapter in CHAPTERS:
            url = f"{base}/{chapter.docname}.html"
            report = browser.open(url)
            state = browser.evaluate(MATHJAX_DONE, timeout=120)
            math = browser.evaluate(MATH)
            images = browser.evaluate(IMAGES, timeout=60)
            errors = report.errors + browser.errors_since_open()
            browser.screenshot(shots / f"{chapter.name}.png")
            where = f"{chapter.docname}.html"
            if errors:
                problems.append(f"{where}: console errors {errors}")
            if math["sources"] and state != "typeset":
                problems.append(
                    f"{where}: {math['sources']} formulas but MathJax did not run "
                    "(the book's own copy, from sphinx-mathjax-offline, did not load)"
                )
            if math["untypeset"] or math["errors"]:
                problems.append(f"{where}: {math['untypeset']} formulas not typeset, TeX errors {math['errors']}")
            if chapter.notebook and chapter.name != SCORECARD:
                if not math["rendered"]:
                    problems.append(f"{where}: no rendered math (a chapter states the paper's equations)")
                if not any(i["figure"] for i in images):
                    problems.append(f"{where}: no figure")
            broken = [i["src"] for i in images if not i["width"]]
            if broken:
                problems.append(f"{where}: images not loaded {broken}")
            text = browser.evaluate(TEXT)
            if text["raw"]:
                problems.append(f"{where}: TeX left in the text after MathJax: {text['raw']}")
            if text["quotes"]:
                problems.append(f"{where}: {text['quotes']} block quote(s) (a line that began with '> '?)")
            if text["wide"] or text["page"]:
                problems.append(f"{where}: wider than its text column in a 1280-px window: {text['wide']}")
        if missing:
            problems.append(f"requests answered 404: {sorted(set(missing))}")
    assert not problems, "\n".join(problems)


LINK = re.compile(
    r'href="(https://(?:github\.com|colab\.research\.google\.com/github|mybinder\.org/v2/gh)'
    r'/eos-book/eos-book[^"]*)"'
)


def test_launch_and_edit_links_resolve_to_published_paths(built, tmp_path):
    """Every Colab, Binder, edit and source link of the rendered pages names a file that exists where it
    points: on `main` (the repository; Binder pairs each chapter's .ipynb from its .md with postBuild), or
    on the `notebooks` branch (what `eos-book notebooks` generates and the workflow publishes there)."""
    published = tmp_path / "notebooks"
    subprocess.run(_eos_book() + ["notebooks", "--out", str(published)], cwd=REPO, check=True, timeout=300)
    links = {html.unescape(u) for page in built.html.rglob("*.html") for u in LINK.findall(page.read_text())}
    assert any("colab" in u for u in links) and any("/edit/main/" in u for u in links), sorted(links)[:10]
    missing = []
    for url in sorted(links):
        if "colab.research.google.com" in url:
            branch, path = re.search(r"/blob/([^/]+)/(.+)$", url).groups()
            ok = branch == "notebooks" and (published / path).is_file()
        elif "mybinder.org" in url:
            branch, path = re.search(r"/eos-book/eos-book/([^?]+)\?urlpath=(?:lab/tree|tree)/(.+)$", url).groups()
            ok = branch == "main" and (REPO / path).with_suffix(".md").is_file()
        elif re.search(r"/(edit|blob)/", url):
            branch, path = re.search(r"/(?:edit|blob)/([^/]+)/(.+?)(?:\?.*)?$", url).groups()
            ok = branch == "main" and (REPO / path).is_file()
        else:  # the repository and its issues
            ok = re.fullmatch(r"https://github\.com/eos-book/eos-book(/issues/new\?.*)?", url) is not None
        if not ok:
            missing.append(url)
    assert not missing, f"links to paths that do not exist where they point: {missing[:10]}"
