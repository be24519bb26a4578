"""eos-book robustness: chapters re-executed under rounding-size perturbations, outcomes compared."""

from __future__ import annotations

import json

import pytest

from conftest import make_mini_book
from eos_support.book import robustness
from eos_support.book.chapter import start
from eos_support.book.cli import main


def record(claim_id, outcome, statistic, holds=True, uncertainty=0.1):
    return {"id": claim_id, "chapter": "c", "kind": "paper", "outcome": outcome, "holds": holds,
            "statistic": statistic, "uncertainty": uncertainty}  # fmt: skip


def test_compare_pairs_claims_and_flags_a_changed_outcome():
    base = [record("a", "reproduced", 0.5), record("b", "reproduced", 0.9), record("gone", "reproduced", 1.0)]
    perturbed = [record("a", "reproduced", 0.52), record("b", "inconclusive", 1.02, holds=None)]
    rows = robustness.compare(base, perturbed)
    assert [(r["id"], r["same"]) for r in rows] == [("a", True), ("b", False)]
    assert rows[1]["perturbed_statistic"] == 1.02 and rows[1]["perturbed_outcome"] == "inconclusive"


def test_the_record_reads_as_a_table(tmp_path):
    rows = robustness.compare([record("a", "reproduced", 0.5)], [record("a", "not reproduced", 1.5, holds=False)])
    executions = [{"perturbation": {"theta0": 1}, "claims": rows}]
    rec = {"profile": "quick", "chapters": ["c"], "device": "cpu", "date": "today", "failures": [],
           "differing": ["theta0-1: a"], "ok": False, "executions": executions}  # fmt: skip
    path = robustness.write_record(rec, tmp_path)
    assert json.loads(path.read_text())["ok"] is False
    text = path.with_suffix(".md").read_text()
    assert (
        "**outcomes differ or executions failed**" in text and "| a | reproduced | not reproduced | 0.5 | 1.5" in text
    )


def test_a_chapter_refuses_an_unknown_perturbation(tmp_path):
    with pytest.raises(ValueError, match="unknown perturbation.*theta0"):
        start("c", "quick", tmp_path, tmp_path, perturbation={"gamma": 1})


def test_the_perturbation_moves_every_network_by_one_rounding_unit(tmp_path):
    import torch

    from eos_support import profiles
    from eos_support.train.models import fully_connected

    model = fully_connected(3, depth=1, width=5, activation="tanh", num_classes=2, seed=0, device="cpu")
    before = [p.detach().clone() for p in model.parameters()]
    profiles.perturb(model, seed=1)
    for p, q in zip(model.parameters(), before):
        ulp = torch.nextafter(q, torch.full_like(q, torch.inf)) - q
        assert torch.all((p - q).abs() <= ulp.abs() * 1.0001) and torch.any(p != q)


def test_bad_perturbations_are_refused(tmp_path, capsys):
    root = make_mini_book(tmp_path / "mini", chapters=("good",))
    for bad in ("gamma=1", "threads=0", "theta0=x"):
        code = main(["robustness", "--root", str(root), "--profile", "quick", "--perturb", bad])
        assert code == 2 and "--perturb" in capsys.readouterr().err


def test_a_deterministic_book_is_robust(tmp_path, capsys):
    root = make_mini_book(tmp_path / "mini", chapters=("good",))
    code = main(["robustness", "--root", str(root), "--profile", "quick", "--perturb", "threads=1",
                 "--record", str(tmp_path / "record")])  # fmt: skip
    out = capsys.readouterr().out
    assert code == 0, out
    rec = json.loads((tmp_path / "record" / "quick.json").read_text())
    assert rec["ok"] and rec["chapters"] == ["good"] and rec["executions"][0]["perturbation"] == {"threads": 1}
    assert [r["id"] for r in rec["executions"][0]["claims"]] == ["sums"] and "every outcome the same" in out
    assert (root / "_build" / "robustness" / "threads-1" / "claims" / "good.json").is_file()


def test_a_chapter_sets_its_threads_unless_the_robustness_check_fixes_them():
    import torch

    from eos_support.book import chapter

    before = torch.get_num_threads()
    try:
        assert chapter.use_threads(1) == 1
        assert chapter.use_threads(chapter.CPU_THREADS) == chapter.CPU_THREADS  # back up after a cap of 1
        assert chapter.use_threads(10**6) == chapter.CPU_THREADS  # never above the kernel's own
        assert chapter.use_threads(chapter.CPU_THREADS, {"threads": 1}) == 1  # the perturbation wins
        assert chapter.use_threads(1, {"theta0": 1}) == 1
    finally:
        torch.set_num_threads(before)
