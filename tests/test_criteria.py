"""eos_support.book.criteria: verdicts decided only when clear of the threshold by more than the measured
uncertainty; the block bootstrap and the rounding spread that measure it."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from eos_support.book.criteria import all_of, any_of, bootstrap, compare, spread
from eos_support.readings.uncertainty import block_length, integrated_time, perturbed


@pytest.mark.parametrize(
    "statistic, sense, holds",
    [
        (0.5, "<", True), (0.85, "<", None), (1.0, "<", None), (1.15, "<", None), (1.5, "<", False),
        (0.85, "<=", True), (1.05, "<=", None), (1.2, "<=", False),
        (1.5, ">", True), (1.1, ">", None), (0.5, ">", False),
        (1.15, ">=", True), (0.95, ">=", None), (0.8, ">=", False),
    ],
)  # fmt: skip
def test_a_verdict_needs_the_statistic_clear_of_the_threshold_by_its_uncertainty(statistic, sense, holds):
    assert compare(statistic, 1.0, sense, 0.2 if sense in ("<", ">") else 0.1, "m").holds is holds


@given(st.floats(-10, 10), st.floats(-10, 10), st.sampled_from(["<", "<=", ">", ">="]))
def test_without_uncertainty_it_is_the_plain_comparison(statistic, threshold, sense):
    plain = {"<": statistic < threshold, "<=": statistic <= threshold, ">": statistic > threshold}
    plain[">="] = statistic >= threshold
    assert compare(statistic, threshold, sense, 0.0, "exact").holds is plain[sense]


@given(st.floats(-10, 10), st.floats(-10, 10), st.floats(0, 5), st.sampled_from(["<", "<=", ">", ">="]))
def test_never_a_verdict_within_the_uncertainty_of_the_threshold(statistic, threshold, u, sense):
    v = compare(statistic, threshold, sense, u, "m")
    if abs(statistic - threshold) < u:
        assert v.holds is None
    if v.holds is not None:
        assert abs(statistic - threshold) >= u


def test_nothing_measured_cannot_hold_and_bad_uncertainties_are_refused():
    assert compare(math.nan, 1.0, "<", 0.1, "m").holds is False
    with pytest.raises(ValueError, match="finite number ≥ 0"):
        compare(0.5, 1.0, "<", -0.1, "m")
    with pytest.raises(ValueError, match="finite number ≥ 0"):
        compare(0.5, 1.0, "<", math.inf, "m")
    with pytest.raises(ValueError, match="sense must be one of"):
        compare(0.5, 1.0, "≪", 0.1, "m")


def cases(*pairs):
    return {f"case {i}": compare(s, 1.0, "<", u, "m", detail={"i": i}) for i, (s, u) in enumerate(pairs)}


def test_all_of_fails_on_a_clear_failure_and_is_undecided_before_it_holds():
    v = all_of(cases((0.5, 0.1), (1.5, 0.1), (1.05, 0.1)))
    assert v.holds is False and v.case == "case 1" and v.statistic == 1.5
    assert v.detail["case 2"]["holds"] is None and v.detail["case 0"]["i"] == 0
    v = all_of(cases((0.5, 0.1), (1.05, 0.1)))
    assert v.holds is None and v.case == "case 1"
    v = all_of(cases((0.5, 0.1), (0.8, 0.1)))
    assert v.holds is True and v.case == "case 1"  # the case closest to undecided speaks for all
    with pytest.raises(ValueError, match="zero cases"):
        all_of({})


def test_any_of_holds_on_a_clear_holder():
    assert any_of(cases((1.5, 0.1), (0.5, 0.1))).holds is True
    assert any_of(cases((1.5, 0.1), (1.05, 0.1))).holds is None
    v = any_of(cases((1.5, 0.1), (1.3, 0.1)))
    assert v.holds is False and v.case == "case 1"


def test_the_text_and_margin():
    v = compare(0.031, 0.05, "<=", 0.012, "m")
    assert v.text() == "0.031 ± 0.012 ≤ 0.05" and v.margin == pytest.approx((0.05 - 0.031) / 0.012)
    assert compare(2.0, 1.0, ">", 0.0, "m").margin == math.inf


def test_bootstrap_matches_the_standard_error_of_an_iid_mean():
    x = np.random.default_rng(0).normal(0.0, 1.0, 2000)
    u = bootstrap(x, np.mean, seed=1)
    assert u == pytest.approx(2 / math.sqrt(2000), rel=0.15)  # 2 SE of a mean
    assert bootstrap(x, np.mean, seed=1) == u  # the same data, the same uncertainty: no machine's RNG in it


def test_bootstrap_widens_for_a_correlated_series():
    rng = np.random.default_rng(0)
    white = rng.normal(size=3000)
    slow = np.convolve(white, np.ones(30) / math.sqrt(30), mode="same")  # same variance, correlated over 30 steps
    assert integrated_time(white) < 2 and integrated_time(slow) > 20
    assert block_length(slow) >= 40
    assert bootstrap(slow, np.mean) > 3 * bootstrap(white, np.mean)


def test_bootstrap_of_rows_resamples_steps_together_and_handles_tiny_series():
    rows = np.stack([np.arange(100.0), -np.arange(100.0)], axis=1)
    assert bootstrap(rows, lambda r: float(np.mean(r[:, 0] + r[:, 1]))) == 0.0  # the pairing is kept
    assert bootstrap([1.0], np.mean) == 0.0
    assert bootstrap(np.ones(50), np.median) == 0.0


def test_rounding_spread():
    theta = torch.tensor([1.0, -2.0, 3.0], dtype=torch.float64)
    copies = perturbed(theta, draws=3, seed=0)
    assert len(copies) == 3 and all(c.dtype == torch.float64 for c in copies)
    assert all(0 < (c - theta).abs().max() <= 4 * 2**-52 * 3 for c in copies)
    assert spread(1.0, [1.0, 1.5, 0.75]) == 0.5
    with pytest.raises(ValueError, match="at least one"):
        spread(1.0, [])
