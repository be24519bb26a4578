"""Committed records of a profile's execution: written from a build, read by the chapters and the
scorecard, and checked against the registry (the paper profile's record in book/records/paper)."""

from __future__ import annotations

import json

import pytest
import yaml

from conftest import REPO
from eos_support.book import records
from eos_support.book.claims import ClaimBook, load_claims
from eos_support.book.criteria import compare
from eos_support.book.registry import parse
from eos_support.profiles import summary
from histories import recorded_run

REGISTRY = parse(
    yaml.safe_load(
        """
items:
  - item: Experiment 3
    where: "§4.1.2"
    quote: "RP oscillates around 0"
    chapter: relative_progress
    claims:
      - {id: oscillates, claim: "RP ≈ 0", criterion: "|median| ≤ band", uncertainty: "bootstrap", decide: "more steps",
         expected: {quick: reproduced, paper: reproduced}}
      - {id: sane, kind: check, claim: "identity", criterion: "< 1e-9", expected: {quick: check, paper: check}}
  - item: Beyond
    where: "beyond the paper"
    quote: "RP along any update"
    chapter: beyond
    claims:
      - {id: any-u, kind: check, claim: "identity along u", criterion: "< 1e-9", expected: {quick: check, paper: check}}
"""
    )
)


def a_build(tmp_path, statistic=0.01, check=True, **where):
    """A build of relative_progress in the paper profile; ``where`` (commit, threads, date) goes to its timing."""
    build = tmp_path / "build"
    claims = ClaimBook("relative_progress", "paper", build / "claims", device="cpu", registry=REGISTRY)
    claims.verdict("oscillates", compare(statistic, 0.05, "<=", 0.01, "bootstrap"))
    claims.check("sane", measured=0.0, holds=check)
    claims.write()
    summary.save(recorded_run(eta=2 / 60), build / "runs", "experiment3", "tanh, depth 2, η = 2/60")
    (build / "timings.json").write_text(json.dumps({"relative_progress": {"seconds": 60.0, "ok": True, **where}}))
    return build


def test_a_record_carries_claims_runs_and_where_it_ran(tmp_path):
    out = tmp_path / "records" / "paper"
    path = records.write(
        REPO, a_build(tmp_path), "paper", out, data_source="npz:x.npz", reductions={"e5": "τ every 20"}
    )
    meta = json.loads(path.read_text())
    assert meta["profile"] == "paper" and meta["data"] == "npz:x.npz" and meta["torch"] and meta["cpu"]
    assert meta["reductions"] == {"e5": "τ every 20"} and len(meta["chapters"]["relative_progress"]["commit"]) >= 7
    text = records.outcomes("paper", "relative_progress", tmp_path / "records").data
    assert "data: npz:x.npz" in text and "τ every 20" in text and "0.01 ± 0.01 (<= 0.05)" in text
    assert "did not show" not in text
    run = records.runs("paper", "experiment3", tmp_path / "records")["tanh, depth 2, η = 2/60"]
    assert run.eta == pytest.approx(2 / 60) and run.source == "record"
    assert records.disagreements("paper", tmp_path / "records", REGISTRY) == []


def test_a_record_grows_by_chapter_each_named_with_its_own_execution(tmp_path):
    # a chapter executed later, at another commit, used to give the whole record its commit and threads
    folder, old, new = tmp_path / "records", "a" * 40, "b" * 40
    first = a_build(tmp_path / "one", commit=old, threads=1, date="2026-12-06T10:00:00+00:00")
    records.write(REPO, first, "paper", folder / "paper", data_source="x", reductions={})
    build = tmp_path / "two" / "build"
    claims = ClaimBook("beyond", "paper", build / "claims", device="cpu", registry=REGISTRY)
    claims.check("any-u", measured=0.0, holds=True)
    claims.write()
    timing = {"seconds": 5.0, "ok": True, "commit": new, "threads": 2, "date": "2026-12-07T10:00:00+00:00"}
    (build / "timings.json").write_text(json.dumps({"beyond": timing}))
    records.write(REPO, build, "paper", folder / "paper", data_source="x", reductions={})
    meta = records.read("paper", folder)
    assert meta["chapters"]["relative_progress"] == {"commit": old, "threads": 1, "date": "2026-12-06T10:00:00+00:00"}
    assert meta["chapters"]["beyond"]["commit"] == new and meta["chapters"]["beyond"]["threads"] == 2
    assert set(json.loads((folder / "paper" / "timings.json").read_text())) == {"relative_progress", "beyond"}
    assert {r["chapter"] for r in load_claims(folder / "paper" / "claims")} == {"relative_progress", "beyond"}
    assert "2 threads" in records.outcomes("paper", "beyond", folder).data and f"commit {new[:12]}" in (
        records.outcomes("paper", "beyond", folder).data
    )
    assert f"commit {old[:12]}" in records.outcomes("paper", "relative_progress", folder).data
    with pytest.raises(ValueError, match=r"executed elsewhere \(data: 'x' in the record, 'y' here\)"):
        records.write(REPO, build, "paper", folder / "paper", data_source="y", reductions={})


def test_a_record_of_one_commit_for_all_its_chapters_reads_as_each_chapters_execution(tmp_path):
    folder = tmp_path / "records"
    records.write(REPO, a_build(tmp_path), "paper", folder / "paper", data_source="x", reductions={})
    meta = json.loads((folder / "paper" / "record.json").read_text())
    execution = meta.pop("chapters")["relative_progress"]
    (folder / "paper" / "record.json").write_text(json.dumps(meta | execution))  # the format before 2026-12-07
    assert records.read("paper", folder)["chapters"] == {"relative_progress": execution}
    timings = {"relative_progress": {"seconds": 60.0, "date": "2026-12-06T13:18:36+00:00"}}
    (folder / "paper" / "timings.json").write_text(json.dumps(timings))  # the execution's own date
    assert records.read("paper", folder)["chapters"]["relative_progress"]["date"] == "2026-12-06T13:18:36+00:00"
    assert f"commit {execution['commit'][:12]}" in records.outcomes("paper", "relative_progress", folder).data


def test_a_record_that_disagrees_with_the_registry_is_named(tmp_path):
    folder = tmp_path / "records"
    records.write(
        REPO, a_build(tmp_path, statistic=0.5, check=False), "paper", folder / "paper", data_source="x", reductions={}
    )
    problems = records.disagreements("paper", folder, REGISTRY)
    assert any("oscillates: outcome 'not reproduced'" in p for p in problems)
    text = records.outcomes("paper", "relative_progress", folder).data
    assert "these claims did not show" in text and text.endswith("- Experiment 3: *RP ≈ 0*")
    assert any(p.startswith("sane:") for p in problems)


def test_no_record_says_so(tmp_path):
    assert "no committed record of this chapter yet" in records.outcomes("paper", "x", tmp_path).data
    assert records.read("paper", tmp_path) is None and records.runs("paper", "e", tmp_path) == {}
    with pytest.raises(ValueError, match="no claims of the paper profile"):
        records.write(REPO, tmp_path, "paper", tmp_path / "out", data_source="x", reductions={})


@pytest.mark.parametrize(
    "profile", sorted(p.name for p in (REPO / "book" / "records").glob("*") if (p / "claims").is_dir())
)
def test_the_committed_records_agree_with_the_registry(profile):
    assert records.disagreements(profile, REPO / "book" / "records") == []
    assert records.read(profile, REPO / "book" / "records")["profile"] == profile


def test_the_paper_record_has_an_outcome_for_every_paper_item():
    # Issue 21: the scorecard's paper column shows an outcome for every item, none "not run".
    from eos_support.book.claims import load_claims
    from eos_support.book.registry import load

    recorded = {r.get("paper_item") for r in load_claims(REPO / "book" / "records" / "paper" / "claims")}
    assert [item.item for item in load().items if item.item not in recorded] == []


def test_the_chapters_draw_the_committed_runs_of_each_kind(tmp_path, capsys):
    pytest.importorskip("matplotlib")
    import matplotlib.pyplot as plt
    import numpy as np

    from eos_support import figures
    from histories import sgd_run

    folder = tmp_path / "records"
    gd = recorded_run(eta=0.5)
    summary.save(gd, folder / "paper" / "runs", "experiment3", "gd")
    summary.save(sgd_run(), folder / "paper" / "runs", "experiment8", "sgd")
    shown = []
    plt.show, original = (lambda: shown.append(plt.gcf())), plt.show
    try:
        records.figures("paper", ["experiment3", "experiment8", "experiment9"], folder)
    finally:
        plt.show = original
    assert "No committed runs of experiment9" in capsys.readouterr().out
    gd_fig, sgd_fig = shown
    loss, rp, lam = gd_fig.axes
    assert np.array_equal(loss.lines[0].get_ydata(), gd.history["loss"]) and lam.get_ylabel() == "sharpness λ_max"
    assert 2 / 0.5 in [line.get_ydata()[0] for line in lam.lines]  # 2/η drawn
    assert len(sgd_fig.axes) == 2 and sgd_fig.axes[1].get_ylabel() == "E[RP]"
    monitor = recorded_run(eta=0.1)
    monitor.history["threshold"] = np.full(len(monitor.history["loss"]), 44.0)  # (2 + 2β)/η at β = 0.9
    fig, axes = figures.recorded_runs({"heavy ball": monitor})
    assert 44.0 in [line.get_ydata()[0] for line in axes[2].lines] and 2 / 0.1 not in [
        line.get_ydata()[0] for line in axes[2].lines
    ]
    for f in (gd_fig, sgd_fig, fig):
        plt.close(f)
