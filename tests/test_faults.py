"""Failure that loses nothing: faults injected into runs, the store, the runner and the command line.

- an interrupt (SIGINT, SIGKILL) in the middle of a long run in another process, then a rerun that
  resumes from the last checkpoint and ends with exactly the numbers of an uninterrupted run;
- truncated, corrupted or empty result files and checkpoints: detected, set aside, recomputed;
- a checkpoint that cannot be resumed (another version, another configuration): a warning says
  why, and the run is recomputed;
- NaN and infinity in a run: status "diverged", a result rather than an error, stored like others;
- two processes executing the same chapter at once: the per-chapter lock serialises them;
- chapters that fail in other ways than test_cli's (a failed claim, a dead kernel, a cell over
  its time limit): each named with its cell while the others still execute;
- bad parameters on the command line and in the API: clear errors.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import textwrap
import time
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch

import fault_worker
from cases import interrupt_once
from conftest import HEADER, PARAMETERS, REPO, claimbook
from eos_support.book.cli import main
from eos_support.train import train_gd, train_sgd
from eos_support.train.gd import GDRule
from eos_support.train.models import fully_connected
from factories import dataset

pytestmark = pytest.mark.slow  # fault injection in subprocesses: `pytest -m "not slow"` leaves it out

TESTS = Path(__file__).resolve().parent


@pytest.fixture(scope="module")
def reference():
    """The uninterrupted run (not stored anywhere)."""
    return fault_worker.run(cache=None)


def assert_same_run(run, reference):
    assert run.status == reference.status == "max_steps"
    assert set(run.history) == set(reference.history)
    for key, value in reference.history.items():
        assert np.array_equal(value, run.history[key], equal_nan=True), key
    assert torch.equal(run.theta, reference.theta)


def partial_step(results_dir) -> int:
    (checkpoint,) = Path(results_dir).glob("*.partial.pt")
    return int(torch.load(checkpoint, weights_only=True)["t"])


# -- interrupts -------------------------------------------------------------------------------


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGKILL], ids=["SIGINT", "SIGKILL"])
def test_interrupted_run_resumes_to_the_same_numbers(tmp_path, reference, sig):
    worker = subprocess.Popen(
        [sys.executable, str(TESTS / "fault_worker.py"), str(tmp_path)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        ready = worker.stdout.readline()  # the worker waits after its checkpoint at step >= PAUSE_AT
        assert ready.startswith("ready"), (ready, worker.communicate(timeout=60))
        worker.send_signal(sig)
        out, err = worker.communicate(timeout=60)
    finally:
        if worker.poll() is None:
            worker.kill()
            worker.wait()
    assert "done" not in out, "the run finished before the signal: make fault_worker.STEPS larger"
    if sig == signal.SIGINT:
        assert worker.returncode != 0 and "KeyboardInterrupt" in err
    else:
        assert worker.returncode == -signal.SIGKILL
    assert not [p for p in tmp_path.glob("*.pt") if not p.name.endswith(".partial.pt")]
    stopped_at = partial_step(tmp_path)
    assert stopped_at == int(ready.split()[1]) >= fault_worker.PAUSE_AT

    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a clean resume warns about nothing
        resumed = fault_worker.run(tmp_path)
    assert resumed.source == "resumed"
    assert_same_run(resumed, reference)
    assert not list(tmp_path.glob("*.partial.pt")), "the checkpoint outlived the finished run"
    again = fault_worker.run(tmp_path)  # now stored: read back, not recomputed
    assert again.source == "stored" and again.wall_s == resumed.wall_s
    assert_same_run(again, reference)


def interrupt_at(monkeypatch, step):
    """Make the next GD run raise KeyboardInterrupt at ``step`` (once; resumed runs go on)."""
    interrupt_once(monkeypatch, GDRule, lambda rule: rule.cursor.t, step)


def checkpointed(tmp_path, monkeypatch, step=fault_worker.STEPS // 2):
    """A results folder holding the run's checkpoint at ``step`` (and no finished run)."""
    interrupt_at(monkeypatch, step)
    with pytest.raises(KeyboardInterrupt):
        fault_worker.run(tmp_path)
    monkeypatch.undo()
    (partial,) = tmp_path.glob("*.partial.pt")
    return partial


# -- damaged files ----------------------------------------------------------------------------

DAMAGE = {
    "truncated": lambda data: data[: len(data) // 2],
    "corrupted": lambda data: data[:64] + bytes(b ^ 0x5A for b in data[64:4096]) + data[4096:],
    "empty": lambda data: b"",
}


@pytest.mark.parametrize("damage", DAMAGE)
def test_damaged_checkpoint_is_set_aside_and_the_run_recomputed(tmp_path, monkeypatch, reference, damage):
    partial = checkpointed(tmp_path, monkeypatch)
    partial.write_bytes(DAMAGE[damage](partial.read_bytes()))
    with pytest.warns(UserWarning, match=r"cannot use the checkpoint .*: it cannot be read"):
        run = fault_worker.run(tmp_path)
    assert run.source == "computed"
    assert_same_run(run, reference)
    assert partial.with_name(partial.name + ".bad").is_file()  # kept for inspection


@pytest.mark.parametrize("damage", ["corrupted", "empty"])
def test_damaged_stored_run_is_recomputed(tmp_path, damage):
    first = fault_worker.run(tmp_path, steps=30)
    (stored,) = tmp_path.glob("*.pt")
    stored.write_bytes(DAMAGE[damage](stored.read_bytes()))
    with pytest.warns(UserWarning, match=r"cannot use the stored run .*: it cannot be read"):
        again = fault_worker.run(tmp_path, steps=30)
    for key, value in first.history.items():
        assert np.array_equal(value, again.history[key], equal_nan=True), key


@pytest.mark.parametrize(
    "change, reason",
    [
        (lambda s: s.update(version="0.0.1"), r"written by eos_support 0\.0\.1, this is "),
        (lambda s: s.update(format=0), r"file format is 0"),
        (lambda s: s["config"].update(eta=0.25), r"another configuration \(eta differ\)"),
        (lambda s: s.clear(), r"file format is None"),
    ],
    ids=["other version", "other format", "other configuration", "not a run"],
)
def test_a_run_that_cannot_resume_says_why(tmp_path, monkeypatch, reference, change, reason):
    partial = checkpointed(tmp_path, monkeypatch)
    state = torch.load(partial, weights_only=True)
    change(state)
    torch.save(state, partial)
    with pytest.warns(UserWarning, match=r"cannot use the checkpoint .*" + reason):
        run = fault_worker.run(tmp_path)
    assert run.source == "computed"
    assert_same_run(run, reference)


def test_claims_file_damaged(tmp_path, capsys):
    claims = tmp_path / "build" / "claims"
    claims.mkdir(parents=True)
    (claims / "quadratics.json").write_text('[{"chapter": "quadratics", "paper_it')
    assert main(["claims", "--build-dir", str(tmp_path / "build")]) == 1
    err = capsys.readouterr().err
    assert "quadratics.json is unreadable" in err and "re-execute chapter 'quadratics'" in err


# -- NaN and infinity -------------------------------------------------------------------------


def tiny(x_fill=None, n=32):
    data = dataset(n, 5, dtype=torch.float64)
    if x_fill is not None:
        data.x_train[3, 2] = x_fill
    return fully_connected(data, depth=2, width=6, activation="tanh", seed=0, dtype=torch.float64), data


@pytest.mark.parametrize("value", [float("nan"), float("inf")], ids=["nan", "inf"])
def test_non_finite_data_makes_a_diverged_run(tmp_path, value):
    model, data = tiny(value)
    run = train_gd(model, data, "ce", eta=0.1, max_steps=50, cache=tmp_path, progress=False)
    assert run.status == "diverged" and run.steps <= 1  # inf: tanh(inf) is finite, ∇f is not
    assert not np.isfinite(run.history["loss"][-1]) and np.all(np.isfinite(run.history["loss"][:-1]))
    again = train_gd(*tiny(value), "ce", eta=0.1, max_steps=50, cache=tmp_path, progress=False)
    assert again.status == "diverged" and again.wall_s == run.wall_s  # stored like any run


def test_overflow_to_infinity_and_nan_mid_run_is_diverged(tmp_path):
    """Only non-finite losses stop this run (diverge_factor = ∞): GD with a huge step overflows."""
    data = dataset(32, 5, loss="half_sq_sum", scale=30, name="tiny-squared")
    model = fully_connected(data, depth=2, width=6, activation=None, seed=0)
    run = train_gd(
        model,
        data,
        "half_sq_sum",
        eta=50.0,
        max_steps=400,
        diverge_factor=float("inf"),
        check_every=1,
        cache=tmp_path,
        progress=False,
    )
    loss = run.history["loss"]
    assert run.status == "diverged"
    assert run.steps > 0 and np.all(np.isfinite(loss[:-1])) and not np.isfinite(loss[-1])
    assert len(run.history["rp"]) == run.steps


def test_non_finite_data_makes_a_diverged_sgd_run(tmp_path):
    model, data = tiny(float("nan"))
    run = train_sgd(model, data, "ce", eta=0.1, batch_size=8, epochs=3, samples=4, cache=tmp_path, progress=False)
    assert run.status == "diverged"


# -- the runner: two processes, failing chapters ----------------------------------------------

SLOW = (
    HEADER
    + """
# A slow chapter

"""
    + PARAMETERS
    + """
```{code-cell} ipython3
import time
from pathlib import Path

"""
    + claimbook("slow")
    + """

log = Path(claims_dir).parent / "intervals.txt"
start = time.time()
time.sleep(2)
with open(log, "a") as fh:
    fh.write(f"{start} {time.time()}\\n")
claims.check("slept", measured=2, holds=True)
claims.finish()
```
"""
)


def book_with(root: Path, chapters: dict[str, str]) -> Path:
    """A book folder with an intro page and ``chapters`` (name: jupytext source), no scorecard."""
    (root / "book").mkdir(parents=True)
    (root / "book" / "intro.md").write_text("# A test book\n")
    (root / "_config.yml").write_text((REPO / "_config.yml").read_text())
    (root / "book" / "references.bib").write_text((REPO / "book" / "references.bib").read_text())
    toc = ["format: jb-book", "root: book/intro", "chapters:"]
    toc += [f"  - file: book/{name}" for name in chapters]
    (root / "_toc.yml").write_text("\n".join(toc) + "\n")
    for name, source in chapters.items():
        (root / "book" / f"{name}.md").write_text(source)
    return root


def eos_book(*args, **kwargs):
    return subprocess.Popen(
        [sys.executable, "-m", "eos_support.book.cli", *args],
        text=True,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        **kwargs,
    )


def test_two_processes_executing_the_same_chapter(tmp_path):
    root = book_with(tmp_path / "book", {"slow": SLOW})
    build = tmp_path / "build"
    args = ["execute", "--root", str(root), "--build-dir", str(build), "--profile", "quick", "--no-progress", "slow"]
    first = eos_book(*args)
    second = eos_book(*args)
    outs = [p.communicate(timeout=300)[0] for p in (first, second)]
    assert [first.returncode, second.returncode] == [0, 0], outs
    assert any("another eos-book process is executing it; waiting" in o for o in outs), outs
    spans = sorted(tuple(map(float, line.split())) for line in (build / "intervals.txt").read_text().splitlines())
    assert len(spans) == 2 and spans[0][1] <= spans[1][0], f"the executions overlapped: {spans}"
    records = json.loads((build / "claims" / "slow.json").read_text())
    assert [r["outcome"] for r in records] == ["check"]
    import nbformat

    nbformat.validate(nbformat.read(build / "book" / "book" / "slow.ipynb", as_version=4))
    assert not list((build / "executing").iterdir()), "temporary notebooks left behind"


INTERRUPTIBLE = (
    HEADER
    + """
# A chapter that waits once it has claimed

"""
    + PARAMETERS
    + """
```{code-cell} ipython3
import os
import time
from pathlib import Path

"""
    + claimbook("waits")
    + """
claims.check("waited", measured=1, holds=True)
if os.path.exists(Path(claims_dir).parent / "wait"):
    (Path(claims_dir).parent / "started").write_text("")
    time.sleep(600)
claims.finish()
```
"""
)


@pytest.mark.parametrize("command", ["execute", "build"])
def test_a_build_folder_that_is_a_file_is_named(mini_book, tmp_path, capsys, command):
    (tmp_path / "afile").write_text("")
    assert (
        main(
            [
                command,
                "--root",
                str(mini_book),
                "--build-dir",
                str(tmp_path / "afile"),
                "--profile",
                "quick",
                "--no-progress",
            ]
        )
        == 2
    )
    err = capsys.readouterr().err
    assert "cannot use" in err and "afile as the build folder" in err and "writable folder" in err


def test_a_read_only_build_folder_is_named(mini_book, tmp_path, capsys, monkeypatch):
    from eos_support import system

    def read_only(path, data):
        raise PermissionError(13, "Permission denied", str(path))

    monkeypatch.setattr(system, "atomic_write", read_only)
    monkeypatch.setattr("eos_support.book.runner.atomic_write", read_only)
    assert (
        main(
            [
                "execute",
                "--root",
                str(mini_book),
                "--build-dir",
                str(tmp_path / "b"),
                "--profile",
                "quick",
                "--no-progress",
            ]
        )
        == 2
    )
    assert "as the build folder (Permission denied)" in capsys.readouterr().err


def test_an_interrupted_re_execution_keeps_the_chapters_claims(tmp_path):
    """Ctrl-C while a chapter is re-executed: its last complete claims stay, nothing is left half-done."""
    root = book_with(tmp_path / "book", {"waits": INTERRUPTIBLE})
    build = tmp_path / "build"
    args = ["execute", "--root", str(root), "--build-dir", str(build), "--profile", "quick", "--no-progress"]
    first = eos_book(*args)
    out = first.communicate(timeout=300)[0]
    assert first.returncode == 0, out
    assert "running over TCP without encryption" not in out, "the kernel's notices belong in its log"
    claims = (build / "claims" / "waits.json").read_text()
    (build / "wait").write_text("")
    again = eos_book(*args)
    deadline = time.monotonic() + 300
    while not (build / "started").exists():
        assert again.poll() is None and time.monotonic() < deadline, again.communicate()
        time.sleep(0.2)
    again.send_signal(signal.SIGINT)
    out = again.communicate(timeout=120)[0]
    assert again.returncode == 130, out
    assert "Traceback" not in out and "zmq" not in out, f"Ctrl-C printed a traceback:\n{out}"
    assert (build / "claims" / "waits.json").read_text() == claims
    assert not [p for p in (build / "executing").iterdir()], "temporary notebooks left behind"
    listed = subprocess.run(
        [sys.executable, "-m", "eos_support.book.cli", "claims", "--root", str(root), "--build-dir", str(build)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert listed.returncode == 0 and "1 claims: 0 reproduced" in listed.stdout, listed.stderr
    assert "0 inconclusive, 1 check" in listed.stdout, listed.stdout


HANGING_CLEAN_UP = """
import atexit, os, signal, sys, time
from eos_support.system import exit_after_interrupt

atexit.register(time.sleep, 3600)  # a library's exit handler that never returns
with exit_after_interrupt(grace_s=2):
    try:
        os.kill(os.getpid(), signal.SIGINT)
        time.sleep(60)
    except KeyboardInterrupt:
        print("interrupted", flush=True)
sys.exit(130)
"""


def test_an_interrupt_ends_the_process_even_when_a_clean_up_hangs():
    """CI once saw eos-book still running 120 s after Ctrl-C; whatever hangs, the interrupt ends it."""
    start = time.monotonic()
    done = subprocess.run([sys.executable, "-c", HANGING_CLEAN_UP], capture_output=True, text=True, timeout=60)
    assert done.returncode == 130 and "interrupted" in done.stdout, done
    assert "after the interrupt" in done.stderr and time.monotonic() - start < 30


def chapter(name, *cells):
    body = "".join(f"\n```{{code-cell}} ipython3\n{textwrap.dedent(c).strip()}\n```\n" for c in cells)
    return HEADER + f"\n# {name}\n\n" + PARAMETERS + body


FAILING = {
    "good": chapter(
        "good", claimbook("good") + '\nclaims.verdict("sums", compare(2, 2, "<=", 0, "exact"))\nclaims.finish()'
    ),
    "claimfails": chapter(
        "claimfails",
        claimbook("claimfails") + '\nclaims.verdict("identity", compare(0.5, 1e-9, "<", 0, "exact"))',
        "claims.finish()",
    ),
    "kerneldies": chapter(
        "kerneldies",
        "x = 1",
        """
        import os, signal
        os.kill(os.getpid(), signal.SIGKILL)""",
    ),
    "hangs": chapter("hangs", "import time", "time.sleep(600)"),
    "last": chapter("last", claimbook("last") + '\nclaims.check("still", measured=1, holds=True)\nclaims.finish()'),
}


def test_failing_chapters_are_named_with_their_cell_and_the_others_execute(tmp_path):
    root = book_with(tmp_path / "book", FAILING)
    build = tmp_path / "build"
    proc = eos_book(
        "execute",
        "--root",
        str(root),
        "--build-dir",
        str(build),
        "--profile",
        "quick",
        "--no-progress",
        "--timeout",
        "10",
    )
    out = proc.communicate(timeout=600)[0]
    assert proc.returncode == 1, out
    summary = out[out.index("executed 5 chapter(s)") :]
    assert "2 ok, 3 failed" in summary, summary
    assert "good: ok" in summary and "last: ok" in summary
    # cells counted from the chapter's first (its title), papermill's own cell aside
    assert "claimfails: FAILED at cell 4, line 31 of its .md: ClaimsFailed" in summary
    assert "> claims.finish()" in summary
    assert "kerneldies: FAILED at cell 4, line 27 of its .md: DeadKernelError" in summary
    assert "> import os, signal" in summary
    assert "hangs: FAILED at cell 4, line 27 of its .md: CellTimeoutError" in summary
    assert "> time.sleep(600)" in summary
    recorded = sorted(p.stem for p in (build / "claims").glob("*.json"))
    assert recorded == ["claimfails", "good", "last"]  # a failed claim is still recorded
    timings = json.loads((build / "timings.json").read_text())
    assert {k: v["ok"] for k, v in timings.items()} == {
        "good": True,
        "claimfails": False,
        "kerneldies": False,
        "hangs": False,
        "last": True,
    }


# -- bad parameters ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "argv, message",
    [
        (["execute", "--timeout", "0"], "timeout must be a positive number of seconds"),
        (["execute", "--timeout", "soon"], "invalid int value: 'soon'"),
        (["build", "--profile", "fast"], "invalid choice: 'fast'"),
        (["execute", "--root", "/nonexistent/folder"], "no _toc.yml and _config.yml"),
        (["frobnicate"], "invalid choice: 'frobnicate'"),
        (["claims", "--jsn"], "unrecognized arguments: --jsn"),
    ],
)
def test_bad_command_lines_get_clear_errors(mini_book, monkeypatch, capsys, argv, message):
    monkeypatch.chdir(mini_book)
    try:
        code = main(argv)
    except SystemExit as exit:  # argparse
        code = exit.code
    assert code == 2
    assert message in capsys.readouterr().err


def test_paper_profile_without_cifar10_and_network_says_what_to_do(mini_book, monkeypatch, capsys):
    from eos_support import data

    def offline(*args, **kwargs):
        raise data.DatasetUnavailable("CIFAR-10 could not be downloaded (no network)")

    monkeypatch.setattr(data, "available", lambda name: False)
    monkeypatch.setattr(data, "load_dataset", offline)
    code = main(["build", "--root", str(mini_book), "--profile", "paper", "--no-progress"])
    out, err = capsys.readouterr()
    assert code == 2
    assert "profile: paper (requested)" in out
    assert "torchvision.datasets.CIFAR10(root=" in err and "download=True" in err
    assert "cifar-10-batches-py" in err and "EOS_DATA_DIR" in err
    assert "eos-book build --profile quick" in err
    assert not (mini_book / "_build" / "claims").exists(), "nothing may execute"


def test_paper_profile_with_a_missing_npz_says_what_to_do(mini_book, monkeypatch, capsys):
    monkeypatch.setenv("EOS_PAPER_DATASET", "npz:/nonexistent/cifar10.npz")
    code = main(["execute", "--root", str(mini_book), "--profile", "paper", "--no-progress"])
    assert code == 2
    err = " ".join(capsys.readouterr().err.split())
    assert "EOS_PAPER_DATASET=npz:/nonexistent/cifar10.npz: no such file: /nonexistent/cifar10.npz" in err
    assert "eos-book build --profile quick" in err


@pytest.mark.parametrize(
    "value, message",
    [
        ("/data/cifar10.npz", "did you mean npz:/data/cifar10.npz"),
        ("npz:", "needs the path"),
        ("mnist", "unknown data set 'mnist'"),
    ],
)
def test_paper_profile_with_a_misnamed_data_set_says_what_to_do(mini_book, monkeypatch, capsys, value, message):
    monkeypatch.setenv("EOS_PAPER_DATASET", value)
    assert main(["execute", "--root", str(mini_book), "--profile", "paper", "--no-progress"]) == 2
    assert message in capsys.readouterr().err
    assert not (mini_book / "_build" / "claims").exists(), "nothing may execute"


def test_paper_profile_checks_an_npz_as_cifar10_before_anything_runs(mini_book, monkeypatch, capsys, tmp_path):
    import numpy as np

    path = tmp_path / "grey.npz"  # Fashion-MNIST-like images are no CIFAR-10 stand-in
    np.savez(path, x_train=np.zeros((6000, 28, 28), np.uint8), y_train=np.arange(6000) % 10)
    monkeypatch.setenv("EOS_PAPER_DATASET", f"npz:{path}")
    assert main(["execute", "--root", str(mini_book), "--profile", "paper", "--no-progress"]) == 2
    assert "grey.npz" in capsys.readouterr().err
    assert not (mini_book / "_build" / "claims").exists(), "nothing may execute"


def test_default_profile_is_printed_with_its_reason(monkeypatch, capsys):
    from eos_support import profiles
    from eos_support.book import cli

    monkeypatch.setattr(profiles, "default_profile", lambda: ("quick", "no CUDA GPU visible to torch"))
    assert cli._choose_profile(None) == "quick"
    assert (
        "[eos-book] profile: quick (default: no CUDA GPU visible to torch; choose with --profile)"
    ) in capsys.readouterr().out


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda m, d: train_gd(m, d, "ce", eta=float("nan"), max_steps=5), "finite and > 0"),
        (lambda m, d: train_gd(m, d, "ce", eta=float("inf"), max_steps=5), "finite and > 0"),
        (lambda m, d: train_gd(m, d, "ce", eta="big", max_steps=5), "must be a number"),
        (lambda m, d: train_gd(m, d, "hinge", eta=0.1, max_steps=5), "loss"),
        (lambda m, d: train_sgd(m, d, "ce", eta=0.1, batch_size=0), "batch_size"),
        (lambda m, d: train_sgd(m, d, "ce", eta=0.1, epochs=0), "epochs"),
    ],
    ids=["eta nan", "eta inf", "eta text", "unknown loss", "batch 0", "epochs 0"],
)
def test_bad_api_parameters_get_clear_errors(tmp_path, call, message):
    model, data = tiny()
    with pytest.raises(ValueError, match=message):
        call(model, data)


def test_unknown_profile_and_data_set():
    from eos_support import data, profiles

    with pytest.raises(ValueError, match="unknown profile 'huge'.*quick, paper"):
        profiles.get("huge")
    with pytest.raises(ValueError, match="valid names"):
        data.load_dataset("mnist-5k")
