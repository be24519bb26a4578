"""eos_support.book.claims and .registry: outcomes decided by the registry's criteria, strict expectations,
atomic files, failures that name the claim."""

from __future__ import annotations

import json
import math
import os

import numpy as np
import pytest
import torch
import yaml

from eos_support.book import registry
from eos_support.book.claims import RECORD_KEYS, ClaimBook, ClaimsFailed, default_claims_dir, load_claims
from eos_support.book.criteria import compare
from eos_support.book.registry import RegistryError, agreement, item_outcome, parse

REGISTRY = """
items:
  - item: Example 1
    where: "§2"
    quote: "GD on 20θ1² + θ2²"
    chapter: toy
    claims:
      - id: converges
        claim: "η = 2/41 converges"
        criterion: "‖θ‖ < converged"
        thresholds: {converged: 1.0e-12}
        uncertainty: "rounding spread"
        decide: "more digits"
        expected: {quick: reproduced, paper: reproduced}
      - id: stubborn
        claim: "a claim known not to hold here"
        criterion: "x > 1"
        uncertainty: "bootstrap"
        decide: "more steps"
        expected: {quick: not reproduced, paper: reproduced}
        note: "observed 0.5 on the quick profile"
  - item: Experiment 1
    where: "§3.2"
    quote: "η = 2/30"
    chapter: toy
    claims:
      - id: changed-setting
        claim: "diverges"
        criterion: "status diverged"
        uncertainty: "bootstrap"
        decide: "more steps"
        expected: {quick: deviation, paper: reproduced}
        deviation: {quick: "η = 2/7 instead of 2/30"}
      - id: sanity
        kind: check
        claim: "an identity of the code"
        criterion: "|a − b| < 1e-12"
        expected: {quick: check, paper: check}
"""


@pytest.fixture
def reg():
    return parse(yaml.safe_load(REGISTRY))


def book(tmp_path, reg, profile="quick"):
    return ClaimBook("toy", profile, tmp_path, device="cpu", registry=reg)


def held(holds, u=0.0):
    """A verdict that holds (True), fails (False) or is undecided (None) against ``< 1``."""
    return compare({True: 0.5, False: 1.5, None: 1.0}[holds], 1.0, "<", u if holds is not None else 0.25, "a test's")


def check_all(b, **holds):
    for claim_id in ("converges", "stubborn", "changed-setting"):
        b.verdict(claim_id, held(holds.get(claim_id.replace("-", "_"), True)))
    b.check("sanity", measured=1.0, holds=holds.get("sanity", True))


def test_outcomes_follow_the_criterion_and_the_stated_deviation(tmp_path, reg):
    b = book(tmp_path, reg)
    assert b.verdict("converges", held(True)) == "reproduced"
    assert b.verdict("stubborn", held(False)) == "not reproduced"
    assert b.verdict("changed-setting", held(True)) == "deviation"
    assert b.check("sanity", measured=0.0, holds=True) == "check"
    assert b.finish() is None  # every outcome as expected: a negative result is not a failure
    paper = book(tmp_path / "paper", reg, "paper")
    assert paper.verdict("changed-setting", held(True)) == "reproduced"


def test_a_statistic_within_its_uncertainty_of_the_threshold_is_inconclusive(tmp_path, reg):
    b = book(tmp_path, reg)
    assert b.verdict("converges", compare(0.9, 1.0, "<", 0.2, "bootstrap")) == "inconclusive"
    r = b.records["converges"]
    assert (r["statistic"], r["uncertainty"], r["threshold"], r["method"]) == (0.9, 0.2, "< 1", "bootstrap")
    assert r["holds"] is None and r["agreement"] == "undecided here" and r["decide"] == "more digits"
    assert b.verdict("converges", compare(0.7, 1.0, "<", 0.2, "bootstrap")) == "reproduced"
    assert b.records["converges"]["decide"] is None  # said only of an inconclusive claim


def test_inconclusive_against_a_recorded_verdict_is_reported_not_failed(tmp_path, reg):
    b = book(tmp_path, reg)
    check_all(b, converges=None, stubborn=None, changed_setting=None)
    b.finish()  # no contradiction: the same result at the edge of its uncertainty band
    assert [r["agreement"] for r in load_claims(tmp_path)][:3] == ["undecided here"] * 3
    assert "recorded: reproduced" in b.table().data and "What would decide the inconclusive claims" in b.table().data


def test_agreement():
    assert agreement("reproduced", "reproduced") == "as expected"
    assert agreement("not reproduced", "reproduced") == "contradicts"
    assert agreement("reproduced", "deviation") == "contradicts"
    assert agreement("inconclusive", "not reproduced") == "undecided here"
    assert agreement("deviation", "inconclusive") == "decided here"


def test_a_claim_of_the_paper_needs_a_verdict_with_its_uncertainty(tmp_path, reg):
    b = book(tmp_path, reg)
    with pytest.raises(RegistryError, match="not a check: decide it with claims.verdict"):
        b.check("converges", measured=0.0, holds=True)
    with pytest.raises(TypeError, match="must be an eos_support.book.criteria.Verdict"):
        b.verdict("converges", True)
    data = yaml.safe_load(REGISTRY)
    del data["items"][0]["claims"][0]["uncertainty"]
    with pytest.raises(RegistryError, match="has no uncertainty in registry.yml: write it there before the run"):
        book(tmp_path, parse(data)).verdict("converges", held(True))


def test_a_cell_that_ends_with_a_check_shows_the_claim_and_its_outcome(tmp_path, reg):
    pretty = pytest.importorskip("IPython.lib.pretty")
    b = book(tmp_path, reg)
    shown = pretty.pretty(b.verdict("converges", held(True, 0.125)))
    assert shown == "converges: reproduced (0.5 ± 0.12 < 1) (as expected)"
    shown = pretty.pretty(b.verdict("converges", held(False)))
    assert shown == "converges: not reproduced (1.5 ± 0 < 1) (NOT the expected outcome: the chapter will fail)"
    assert pretty.pretty(b.check("sanity", measured=1, holds=True)) == "sanity: check (as expected)"
    assert json.loads(json.dumps(b.records["converges"]))["outcome"] == "not reproduced"


def test_finish_writes_every_field(tmp_path, reg):
    b = book(tmp_path, reg)
    check_all(b, stubborn=False)
    b.finish()
    records = json.loads((tmp_path / "toy.json").read_text(encoding="utf-8"))
    r = records[0]
    assert tuple(r) == RECORD_KEYS
    assert (r["chapter"], r["id"], r["paper_item"], r["kind"]) == ("toy", "converges", "Example 1", "paper")
    assert r["criterion"] == "‖θ‖ < converged" and r["outcome"] == r["expected"] == "reproduced"
    assert r["as_expected"] is True and r["holds"] is True and r["deviation"] is None
    assert r["statistic"] == 0.5 and r["uncertainty"] == 0.0 and r["agreement"] == "as expected"
    assert records[3]["kind"] == "check" and records[3]["uncertainty"] is None
    assert records[2]["deviation"] == "η = 2/7 instead of 2/30"
    assert r["date"].endswith("+00:00") and load_claims(tmp_path) == records


def test_an_unexpected_outcome_fails_like_a_strict_xfail(tmp_path, reg):
    b = book(tmp_path, reg)
    check_all(b, stubborn=True)  # better than expected is flagged too
    with pytest.raises(ClaimsFailed, match=r"stubborn \(Example 1\): outcome 'reproduced', expected 'not reproduced'"):
        b.finish()
    b = book(tmp_path, reg)
    check_all(b, converges=False, stubborn=False)
    with pytest.raises(ClaimsFailed, match=r"converges \(Example 1\): outcome 'not reproduced', expected 'reproduced'"):
        b.finish()
    assert not load_claims(tmp_path)[0]["as_expected"]  # written before raising


def test_a_failed_check_fails_the_chapter(tmp_path, reg):
    b = book(tmp_path, reg)
    check_all(b, stubborn=False, sanity=False)
    with pytest.raises(ClaimsFailed, match=r"sanity .*outcome 'check' \(the check failed\)"):
        b.finish()


def test_every_claim_of_the_chapter_must_be_checked(tmp_path, reg):
    b = book(tmp_path, reg)
    b.verdict("converges", held(True))
    with pytest.raises(ClaimsFailed, match="stubborn: in the registry for this chapter, never checked"):
        b.finish()


def test_a_claim_outside_the_registry_or_the_chapter_is_refused(tmp_path, reg):
    with pytest.raises(RegistryError, match="no claim 'made-up'.*add it there"):
        book(tmp_path, reg).check("made-up", measured=1, holds=True)
    other = ClaimBook("other", "quick", tmp_path, registry=reg)
    with pytest.raises(RegistryError, match="belongs to chapter 'toy'"):
        other.verdict("converges", held(True))


def test_criteria_are_stated_before_the_run(tmp_path, reg):
    text = book(tmp_path, reg).criteria().data
    claims, _, rules = text.partition("<details>")
    assert "- *Example 1*: η = 2/41 converges." in claims and "(a check of the code): an identity" in claims
    assert "Criterion" not in claims and rules.endswith("</details>")  # the criteria are collapsed
    assert (
        "- `converges`: ‖θ‖ < converged [converged = 1e-12]. Uncertainty: rounding spread. "
        "Expected in the quick profile: reproduced." in rules
    )
    assert "Expected in the quick profile: deviation (η = 2/7 instead of 2/30)." in rules


def test_thresholds_come_from_the_registry(tmp_path, reg):
    assert book(tmp_path, reg).thresholds("converges") == {"converged": 1e-12}


def test_measured_values_are_stored_json_safe(tmp_path, reg):
    values = [
        torch.tensor(2.5, dtype=torch.float64),
        np.float32(0.25),
        float("nan"),
        -math.inf,
        {"η = 2/10": torch.arange(2.0)},
    ]
    b = book(tmp_path, reg)
    for claim_id, value in zip(("converges", "stubborn", "changed-setting"), values):
        b.verdict(claim_id, compare(0.5 if claim_id != "stubborn" else 2, 1, "<", 0, "exact", detail={"x": value}))
    b.check("sanity", measured=values[3], holds=True)
    b.finish()
    assert [r["measured"] for r in load_claims(tmp_path)] == [{"x": 2.5}, {"x": 0.25}, {"x": "nan"}, "-inf"]
    b.check("sanity", measured=values[4], holds=np.bool_(True))
    assert b.records["sanity"]["measured"] == {"η = 2/10": [0.0, 1.0]}


def test_rechecking_a_claim_replaces_it(tmp_path, reg):
    b = book(tmp_path, reg)
    b.verdict("converges", held(False))
    b.verdict("converges", held(True))
    assert len(b.records) == 1 and b.records["converges"]["outcome"] == "reproduced"


def test_bad_arguments(tmp_path, reg):
    with pytest.raises(ValueError, match="chapter"):
        ClaimBook("../escape", "quick", tmp_path, registry=reg)
    with pytest.raises(ValueError, match="unknown profile .*: choose one of quick, paper"):
        ClaimBook("toy", "huge", tmp_path, registry=reg)
    with pytest.raises(ValueError, match="holds must be a bool"):
        book(tmp_path, reg).check("sanity", measured=1, holds="yes")


def test_write_is_atomic(tmp_path, reg, monkeypatch):
    b = book(tmp_path, reg)
    check_all(b, stubborn=False)
    b.finish()
    before = (tmp_path / "toy.json").read_bytes()
    monkeypatch.setattr(os, "replace", lambda src, dst: (_ for _ in ()).throw(OSError("disk full")))
    b.verdict("converges", held(True, 0.25))
    with pytest.raises(OSError, match="disk full"):
        b.finish()
    assert (tmp_path / "toy.json").read_bytes() == before  # the old file is intact, no temporary left
    assert sorted(p.name for p in tmp_path.iterdir()) == ["toy.json"]


def test_table_reads_without_an_emoji_font(tmp_path, reg):
    b = book(tmp_path, reg)
    b.verdict("converges", compare(1.23456789, 1, "<", 0.0123, "bootstrap", detail={"η": 0.123456789}))
    b.verdict("changed-setting", compare(0.5, 1, "<", 0, "exact", detail={"status": "a | b"}))
    lines = b.table().data.splitlines()
    assert lines[0] == "| paper item | claim | statistic ± uncertainty | measured | outcome |"
    assert "**not reproduced** (expected: reproduced)" in lines[2] and "0.123457" in lines[2]
    assert "1.235 ± 0.012 (< 1)" in lines[2]
    assert "a \\| b" in lines[3] and "deviation: η = 2/7 instead of 2/30" in lines[3]
    assert not any(ord(ch) > 0x2FFF for ch in b.table().data), "no emoji"


@pytest.mark.parametrize(
    "change, message",
    [
        (lambda d: d["items"][0]["claims"][0].update(kind="opinion"), "kind must be one of"),
        (lambda d: d["items"][0]["claims"][0]["expected"].pop("paper"), "an outcome for each profile"),
        (lambda d: d["items"][0]["claims"][0]["expected"].update(quick="passed"), "is not one of"),
        (lambda d: d["items"][1]["claims"][0].pop("deviation"), "needs the stated change"),
        (lambda d: d["items"][1]["claims"][1]["expected"].update(quick="reproduced"), "only a check does"),
        (lambda d: d["items"][0]["claims"][0]["thresholds"].update(converged="small"), "must be a number"),
        (lambda d: d["items"][1]["claims"].append(dict(d["items"][0]["claims"][0])), "unique"),
        (lambda d: d["items"][0]["claims"][0].update(colour="red"), "unknown keys"),
    ],
)
def test_a_malformed_registry_is_named(change, message):
    data = yaml.safe_load(REGISTRY)
    change(data)
    with pytest.raises(RegistryError, match=message):
        parse(data)


def test_item_outcome():
    assert item_outcome(["reproduced", "inconclusive"]) == "inconclusive"
    assert item_outcome(["inconclusive", "not reproduced"]) == "not reproduced"
    assert item_outcome(["reproduced", "check"]) == "reproduced"
    assert item_outcome(["reproduced", "deviation"]) == "deviation"
    assert item_outcome(["deviation", "not reproduced", "reproduced"]) == "not reproduced"
    assert item_outcome(["check"]) == "check" and item_outcome([]) == "not run"


def test_the_books_registry_is_well_formed_and_in_the_papers_order():
    reg = registry.load()
    items = [item.item for item in reg.items]
    assert items[:3] == ["Fact 1", "Example 1", "Theorem 1"] and "Appendix A" in items
    for item in reg.items:
        assert item.quote and item.where and item.claims, item.item
    assert all(c.criterion and c.claim for c in reg.claims.values())


def test_every_claim_of_the_book_says_how_its_uncertainty_is_measured_and_what_would_decide_it():
    missing = [c.id for c in registry.load().claims.values() if registry.unregistered_uncertainty(c)]
    assert not missing, f"claims without uncertainty or decide in registry.yml: {missing}"


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
