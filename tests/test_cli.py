"""eos-book's command line: help, bad requests, claims, and executing a book with a failure."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import TEST_REGISTRY, make_mini_book
from eos_support.book import registry
from eos_support.book.claims import ClaimBook
from eos_support.book.cli import build_parser, main
from eos_support.book.criteria import compare


def run(argv, capsys):
    code = main(argv)
    out = capsys.readouterr()
    return code, out.out, out.err


@pytest.mark.parametrize(
    "command, words",
    [
        ([], ["execute", "build", "claims", "quick", "paper"]),
        (["execute"], ["papermill", "profile", "failing chapter", "cell", "--timeout"]),
        (["build"], ["jupyter-book build", "index.html", "--no-execute"]),
        (["claims"], ["claim", "outcome", "not reproduced", "--json", "paper_item", "exit codes"]),
        (["list"], ["_toc.yml", "notebook"]),
        (["robustness"], ["θ⁰", "rounding unit", "thread", "outcome", "--perturb", "--record", "Exit code 1"]),
    ],
)
def test_every_command_has_help_saying_what_it_does(command, words, capsys):
    with pytest.raises(SystemExit) as info:
        main(command + ["--help"])
    assert info.value.code == 0
    text = " ".join(capsys.readouterr().out.split())
    for word in words:
        assert word in text, (command, word)


def test_no_command_prints_help_and_fails(capsys):
    code, out, err = run([], capsys)
    assert code == 2 and "eos-book execute" in err


def test_bad_profile_is_refused(capsys):
    with pytest.raises(SystemExit) as info:
        main(["execute", "--profile", "fast"])
    assert info.value.code == 2
    assert "invalid choice: 'fast'" in capsys.readouterr().err


def test_unknown_chapter_lists_the_valid_ones(mini_book, capsys):
    code, out, err = run(["execute", "--root", str(mini_book), "nonsense"], capsys)
    assert code == 2
    assert "unknown chapter 'nonsense'" in err
    assert "valid chapters: good, bad, scorecard" in err
    assert "intro are plain pages" in err


def test_missing_toc_file_is_named(mini_book, capsys):
    (mini_book / "book" / "bad.md").unlink()
    code, out, err = run(["execute", "--root", str(mini_book)], capsys)
    assert code == 2 and "book/bad.md does not exist" in err


def test_outside_a_book(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    code, out, err = run(["list"], capsys)
    assert code == 2 and "no _toc.yml" in err


def test_list(mini_book, capsys):
    code, out, err = run(["list", "--root", str(mini_book)], capsys)
    assert code == 0
    lines = [line.split() for line in out.splitlines()]
    assert lines == [
        ["intro", "page", "book/intro.md"],
        ["good", "notebook", "book/good.md"],
        ["bad", "notebook", "book/bad.md"],
        ["scorecard", "notebook", "book/scorecard.md"],
        ["api", "page", "book/api.md"],
    ]


def test_claims_exit_codes_and_json(tmp_path, capsys):
    root, build = make_mini_book(tmp_path / "mini", chapters=("one",)), tmp_path / "build"
    claims = ["claims", "--root", str(root), "--build-dir", str(build)]
    code, out, err = run(claims, capsys)
    assert code == 1 and "no claims recorded" in err
    assert "chapter 'one' has no current claims (it has not been executed)" in err

    reg = registry.load(TEST_REGISTRY)
    book = ClaimBook("one", "quick", build / "claims", device="cpu", registry=reg)
    book.verdict("first", compare(1e-9, 1e-8, "<", 1e-10, "a test's"))
    book.finish()
    code, out, err = run(claims, capsys)
    assert (
        code == 0
        and "reproduced" in out
        and "1 claims: 1 reproduced, 0 deviation, 0 not reproduced, 0 inconclusive, 0 check" in out
    )

    code, out, err = run(claims + ["--json"], capsys)
    assert code == 0
    records = json.loads(out)
    assert set(records[0]) >= {"chapter", "id", "paper_item", "claim", "measured", "outcome", "expected", "profile"}
    assert records[0]["paper_item"] == "Example 1" and records[0]["outcome"] == "reproduced"

    other = ClaimBook("two", "quick", build / "claims", device="cpu", registry=reg)
    other.verdict("second", compare(1e-3, 1e-6, "<", 1e-5, "a test's"))
    with pytest.raises(AssertionError):
        other.finish()
    code, out, err = run(claims, capsys)
    assert code == 1 and "not reproduced (EXPECTED reproduced)" in out and "1 contradicting the expected outcome" in out
    code, out, err = run(claims + ["--json"], capsys)
    assert code == 1 and [r["outcome"] for r in json.loads(out)] == ["reproduced", "not reproduced"]


def test_execute_names_the_failing_chapter_and_cell(executed_mini_book):
    root, code, text = executed_mini_book
    assert code == 1
    assert "profile: quick (requested)" in text
    summary = text[text.index("executed 3 chapter(s)") :]
    assert "2 ok, 1 failed" in summary
    assert "good: ok" in summary and "scorecard: ok" in summary
    assert "bad: FAILED at cell 4, line" in summary
    assert "ZeroDivisionError: division by zero" in summary
    assert "> y = x / 0" in summary
    # the other chapters still executed, the scorecard last, and the claims were recorded
    build = root / "_build"
    assert (build / "book" / "book" / "good.ipynb").is_file()
    assert (build / "book" / "book" / "scorecard.ipynb").is_file()
    assert (build / "claims" / "good.json").is_file()
    assert not (build / "claims" / "bad.json").exists()
    timings = json.loads((build / "timings.json").read_text())
    assert list(timings) == ["good", "bad", "scorecard"]
    assert timings["bad"]["ok"] is False and timings["good"]["ok"] is True
    assert timings["good"]["device"] == "cpu" or timings["good"]["device"].startswith("cuda:")
    assert isinstance(timings["good"]["threads"], int) and timings["good"]["threads"] >= 1
    assert timings["good"]["commit"]  # a record names it (eos-book record); "unknown" outside git


def test_every_chapter_has_a_kernel_log(executed_mini_book):
    root, _, _ = executed_mini_book
    logs = root / "_build" / "logs"
    assert {p.name for p in logs.iterdir()} >= {"good.kernel.log", "bad.kernel.log"}


def test_claims_after_execute(executed_mini_book, capsys):
    root, _, _ = executed_mini_book
    code, out, err = run(["claims", "--root", str(root)], capsys)
    assert "good     sums" in out and "reproduced" in out
    assert code == 1 and "chapter 'bad' has no current claims (its last execution failed)" in err


def test_console_script_is_installed():
    script = Path(sys.executable).with_name("eos-book")
    if not script.is_file():
        pytest.skip("eos-book is not installed in this environment (pip install -e .)")
    result = subprocess.run([str(script), "--help"], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0 and "eos-book build" in result.stdout


def test_parser_defaults():
    args = build_parser().parse_args(["execute"])
    assert args.profile is None and args.chapters == [] and args.timeout == 1800


def test_no_progress_bars_in_a_log_file(tmp_path):
    """Output that goes to a file (CI, `eos-book build > log`) gets the per-chapter lines, not tqdm's bars."""
    import contextlib
    import io

    class File(io.StringIO):  # not a terminal; remembers how much had been written at each flush
        flushed = []

        def flush(self):
            self.flushed.append(len(self.getvalue()))

    root = make_mini_book(tmp_path / "mini", chapters=("good",))
    out = File()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(out):
        assert main(["execute", "--root", str(root), "--profile", "quick", "good"]) == 0
    text = out.getvalue()
    assert "[eos-book] executing good" in text
    # each line is flushed as it is written: a log file shows which chapter runs (it stayed empty for a whole build)
    assert text.index("\n", text.index("[eos-book] executing good")) + 1 in out.flushed
    assert "chapters:" not in text and "it/s" not in text and "cell/s" not in text, text


def test_the_environment_reaches_a_chapter_only_through_its_parameters(mini_book, tmp_path, monkeypatch):
    """The runner reads $EOS_PAPER_DATASET and $EOS_DATA_DIR and passes them as the ``data`` parameter;
    chapter.start gives them to the profile, whose kernel reads no environment variable."""
    from conftest import HEADER, PARAMETERS

    out = tmp_path / "seen.json"
    code = (
        "import json, os\nfrom eos_support.book import chapter\n"
        "prof, _ = chapter.start('probe', 'paper', claims_dir, results_dir, data=data)\n"
        f"json.dump(dict(data=data, dataset=prof.dataset, dir=str(prof.data_dir)), open(r'{out}', 'w'))\n"
    )
    (mini_book / "book" / "probe.md").write_text(HEADER + PARAMETERS + "```{code-cell} ipython3\n" + code + "```\n")
    (mini_book / "_toc.yml").write_text("format: jb-book\nroot: book/intro\nchapters:\n  - file: book/probe\n")
    monkeypatch.setenv("EOS_PAPER_DATASET", "npz:/data/stand-in.npz")
    monkeypatch.setenv("EOS_DATA_DIR", str(tmp_path / "data"))
    assert main(["execute", "probe", "--root", str(mini_book), "--profile", "quick", "--no-progress"]) == 0
    seen = json.loads(out.read_text())
    assert seen["data"] == {"paper": "npz:/data/stand-in.npz", "dir": str(tmp_path / "data")}
    assert seen["dataset"] == "npz:/data/stand-in.npz" and seen["dir"] == str(tmp_path / "data")


def test_a_chapter_started_without_data_reads_no_environment_variable(tmp_path, monkeypatch):
    from eos_support.book import chapter
    from eos_support.data.common import DEFAULT_DATA_DIR

    monkeypatch.setenv("EOS_PAPER_DATASET", "npz:/elsewhere.npz")
    monkeypatch.setenv("EOS_DATA_DIR", str(tmp_path / "elsewhere"))
    prof, _ = chapter.start("probe", "paper", tmp_path / "claims", tmp_path / "results")
    assert prof.dataset == "cifar10-5k" and prof.data_dir == DEFAULT_DATA_DIR
