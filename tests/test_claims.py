"""eos_support.book.claims: records, verdicts, atomic files, failures that name the claim."""

from __future__ import annotations

import json
import math
import os

import numpy as np
import pytest
import torch

from eos_support.book.claims import (
    RECORD_KEYS,
    ClaimBook,
    ClaimsFailed,
    default_claims_dir,
    load_claims,
    markdown_table,
)


def test_finish_writes_every_field(tmp_path):
    book = ClaimBook("quadratics", "quick", tmp_path, device="cpu")
    assert book.check("Example 1", "η = 2/41 converges", 1e-9, "f < 1e-8", True) is True
    assert book.finish() is None
    records = json.loads((tmp_path / "quadratics.json").read_text(encoding="utf-8"))
    assert len(records) == 1
    r = records[0]
    assert tuple(r) == RECORD_KEYS
    assert r["chapter"] == "quadratics" and r["profile"] == "quick" and r["device"] == "cpu"
    assert r["paper_item"] == "Example 1" and r["claim"] == "η = 2/41 converges"
    assert r["measured"] == 1e-9 and r["expected"] == "f < 1e-8" and r["passed"] is True
    assert r["date"].endswith("+00:00")
    assert load_claims(tmp_path) == records


def test_default_device_names_cpu_or_cuda(tmp_path):
    device = ClaimBook("c", "quick", tmp_path).device
    assert device == "cpu" or device.startswith("cuda:")


def test_failure_raises_and_names_the_failed_claims(tmp_path):
    book = ClaimBook("causes", "quick", tmp_path)
    book.check("Example 2", "the flattened cost stays bounded", 3.0, "< 10", True)
    assert book.check("Example 3", "tanh converges to sharpness 2/η", 0.5, "≈ 1", False) is False
    book.check("Theorem 1", "no start reaches the saddle", 2, "0", False)
    with pytest.raises(ClaimsFailed) as info:
        book.finish()
    message = str(info.value)
    assert "2 of 3 claims failed" in message
    assert "Example 3: tanh converges to sharpness 2/η" in message
    assert "Theorem 1: no start reaches the saddle" in message
    assert "Example 2" not in message
    assert isinstance(info.value, AssertionError)
    # the file is written before raising, failures included
    records = load_claims(tmp_path)
    assert [r["passed"] for r in records] == [True, False, False]


def test_no_claims_is_a_failure(tmp_path):
    with pytest.raises(ClaimsFailed, match="checked no claims"):
        ClaimBook("empty", "quick", tmp_path).finish()


def test_measured_values_are_stored_json_safe(tmp_path):
    book = ClaimBook("values", "paper", tmp_path)
    book.check("Fact 1", "tensor", torch.tensor(2.5, dtype=torch.float64), "", True)
    book.check("Fact 1", "numpy scalar", np.float32(0.25), "", True)
    book.check("Fact 1", "numpy bool", np.bool_(True), "", np.bool_(True))
    book.check("Fact 1", "int", 7, "", torch.tensor(True))
    book.check("Fact 1", "text", "diverged", "", True)
    book.check("Fact 1", "nan", float("nan"), "", True)
    book.check("Fact 1", "inf", -math.inf, "", True)
    book.check("Fact 1", "vector", torch.arange(3.0), "", True)
    book.finish()
    measured = {r["claim"]: r["measured"] for r in load_claims(tmp_path)}
    assert measured == {
        "tensor": 2.5,
        "numpy scalar": 0.25,
        "numpy bool": True,
        "int": 7,
        "text": "diverged",
        "nan": "nan",
        "inf": "-inf",
        "vector": [0.0, 1.0, 2.0],
    }


def test_rechecking_a_claim_replaces_it(tmp_path):
    book = ClaimBook("again", "quick", tmp_path)
    book.check("Example 4", "L → 2/η", 1.0, "≈ 1", False)
    book.check("Example 4", "L → 2/η", 1.0, "≈ 1", True)
    assert len(book.records) == 1 and book.records[0]["passed"] is True


@pytest.mark.parametrize("item", ["example 1", "Exp. 1", "", "Example", "Theorem two"])
def test_paper_item_must_be_spelled_as_in_the_paper(tmp_path, item):
    with pytest.raises(ValueError, match="spelled as in the paper"):
        ClaimBook("c", "quick", tmp_path).check(item, "claim", 1, "1", True)


@pytest.mark.parametrize(
    "item", ["Fact 1", "Example 4", "Theorem 2", "Proposition 1", "Corollary 1", "Experiment 9",
             "Remark 7", "Figure 1"]
)
def test_paper_items_of_the_contract_are_accepted(tmp_path, item):
    assert ClaimBook("c", "quick", tmp_path).check(item, "claim", 1, "1", True)


def test_bad_arguments(tmp_path):
    with pytest.raises(ValueError, match="chapter"):
        ClaimBook("../escape", "quick", tmp_path)
    with pytest.raises(ValueError, match="profile"):
        ClaimBook("c", "", tmp_path)
    book = ClaimBook("c", "quick", tmp_path)
    with pytest.raises(ValueError, match="passed must be a bool"):
        book.check("Fact 1", "claim", 1, "1", "yes")
    with pytest.raises(ValueError, match="claim must be"):
        book.check("Fact 1", " ", 1, "1", True)


def test_write_is_atomic(tmp_path, monkeypatch):
    book = ClaimBook("atomic", "quick", tmp_path)
    book.check("Fact 1", "first", 1, "1", True)
    book.finish()
    before = (tmp_path / "atomic.json").read_bytes()

    def broken_replace(src, dst):
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", broken_replace)
    book.check("Fact 1", "second", 2, "2", True)
    with pytest.raises(OSError, match="disk full"):
        book.finish()
    # the old file is intact and no temporary file is left behind
    assert (tmp_path / "atomic.json").read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["atomic.json"]


def test_table_is_markdown_with_verdicts(tmp_path):
    book = ClaimBook("t", "quick", tmp_path)
    book.check("Example 1", "a | b", 0.123456789, "x", True)
    book.check("Example 2", "c", 2, "y", False)
    table = book.table()
    lines = table.data.splitlines()  # IPython's Markdown (or the fallback) keeps the text in .data
    assert lines[0] == "| paper item | claim | measured | expected | verdict |"
    assert "✅" in lines[2] and "❌" in lines[3]
    assert "a \\| b" in lines[2] and "0.123457" in lines[2]


def test_markdown_table_columns():
    text = markdown_table([{"chapter": "c", "passed": True}], columns=("chapter", "passed"))
    assert text.splitlines() == ["| chapter | verdict |", "|---|---|", "| c | ✅ |"]


def test_load_claims_missing_and_corrupt(tmp_path):
    assert load_claims(tmp_path / "nowhere") == []
    (tmp_path / "broken.json").write_text('[{"chapter": "broken"')
    with pytest.raises(ValueError, match="broken.json"):
        load_claims(tmp_path)
    (tmp_path / "broken.json").write_text('{"not": "a list"}')
    with pytest.raises(ValueError, match="not a list of claim records"):
        load_claims(tmp_path)


def test_default_dir_is_the_projects(tmp_path, monkeypatch):
    monkeypatch.setenv("EOS_CLAIMS_DIR", str(tmp_path / "env"))  # not a channel: parameters are
    project = tmp_path / "project"
    (project / "book").mkdir(parents=True)
    (project / "pyproject.toml").write_text("")
    (project / "_toc.yml").write_text("")
    monkeypatch.chdir(project / "book")
    assert default_claims_dir() == project.resolve() / "_build" / "claims"
    monkeypatch.chdir(tmp_path)
    assert default_claims_dir() == tmp_path.resolve() / "_build" / "claims"
