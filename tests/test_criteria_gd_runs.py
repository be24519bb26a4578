"""eos_support.book.criteria.gd_runs: the helpers the criteria of the GD runs share."""

import numpy as np
import pytest

from eos_support.book.criteria import gd_runs
from eos_support.book.criteria.verdict import compare


def test_crossing_uncertainty_is_noise_over_slope():
    t = np.arange(1001)
    assert gd_runs.crossing_uncertainty(0.95 * t / 1000, 1000) == pytest.approx(0, abs=1e-6)
    noisy = 0.95 * t / 1000 + np.random.default_rng(0).normal(0, 0.005, 1001)
    assert gd_runs.crossing_uncertainty(noisy, 1000) == pytest.approx(2 * 0.005 / 0.00095, rel=0.2)
    falling = 1 - t / 2000
    assert gd_runs.crossing_uncertainty(falling, 1000) == 100  # no rise: the whole window


def test_within_is_two_comparisons():
    parts = gd_runs.within(1.0, 0.9, 1.1, 0.05, "m")
    assert [v.holds for v in parts.values()] == [True, True]
    assert [v.holds for v in gd_runs.within(1.08, 0.9, 1.1, 0.05, "m").values()] == [True, None]


def test_each_step_size_names_cases_and_needs_all():
    runs = {0.2: 1.0, 0.1: 2.0}  # η = 0.1 is 2/20
    verdict = gd_runs.each_step_size(runs, lambda x: {"a": compare(x, 1.5, "<", 0, "m")})
    assert list(verdict.detail) == ["2/20: a", "2/10: a"] and verdict.holds is False and verdict.case == "2/20: a"


def test_nothing_measured_fails():
    assert gd_runs.nothing_measured(0.5, ">", "m", {}).holds is False
