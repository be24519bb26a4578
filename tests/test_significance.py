"""eos_support.readings.significance: the Wilson interval by its defining inequality, run chances by enumeration."""

import itertools
import math

import numpy as np
import pytest

from eos_support.readings.significance import Z95, longest_run, run_chance, wilson_interval


@pytest.mark.parametrize("k, n", [(0, 10), (3, 10), (10, 10), (11, 20), (1, 1), (137, 400)])
def test_wilson_interval_solves_its_defining_equation(k, n):
    lo, hi = wilson_interval(k, n)
    assert 0 <= lo <= k / n <= hi <= 1

    def score(p):  # the Wilson interval is {p: (k/n − p)² ≤ z² p(1 − p)/n}
        return (k / n - p) ** 2 - Z95**2 * p * (1 - p) / n

    for end in (lo, hi):
        assert abs(score(end)) < 1e-12
    inside = np.linspace(lo, hi, 101)[1:-1]
    assert (np.array([score(p) for p in inside]) < 0).all()


def test_wilson_interval_known_values_and_bad_input():
    lo, hi = wilson_interval(0, 10)
    assert lo == 0 and hi == pytest.approx(Z95**2 / (10 + Z95**2))  # k = 0: the upper end is z²/(n + z²)
    lo, hi = wilson_interval(5, 10)
    assert lo == pytest.approx(1 - hi) and hi == pytest.approx(0.7634, abs=1e-4)
    for bad in ((1, 0), (-1, 5), (6, 5)):
        with pytest.raises(ValueError, match="successes"):
            wilson_interval(*bad)


def test_longest_run_by_hand():
    assert longest_run([]) == (0, -1)
    assert longest_run([False, False]) == (0, -1)
    assert longest_run([True, False, True, True, False, True, True]) == (2, 2)  # the first of equals
    assert longest_run(np.array([0, 1, 1, 1, 0, 1])) == (3, 1)


def brute_force(n, length, p):
    """P(a run of >= length successes) summed over all 2^n sequences."""
    total = 0.0
    for seq in itertools.product((False, True), repeat=n):
        if longest_run(seq)[0] >= length:
            k = sum(seq)
            total += p**k * (1 - p) ** (n - k)
    return total


@pytest.mark.parametrize("p", [0.023, 0.3, 0.5, 0.9])
def test_run_chance_matches_enumeration(p):
    for n in range(0, 11):
        for length in range(0, n + 2):
            assert run_chance(n, length, p) == pytest.approx(brute_force(n, length, p), abs=1e-13)


def test_run_chance_closed_forms_and_bad_input():
    assert run_chance(20, 1, 0.023) == pytest.approx(1 - 0.977**20)  # at least one success
    assert run_chance(20, 20, 0.5) == pytest.approx(0.5**20)
    assert run_chance(5, 6, 0.9) == 0 and run_chance(5, 0, 0.1) == 1
    # a run of 2 or more: small p gives ≈ (n − 1) p², far below the cancellation of 1 − P(none)
    assert run_chance(20, 2, 1e-6) == pytest.approx(19e-12, rel=1e-5)
    assert math.isfinite(run_chance(100, 3, 0.023))
    with pytest.raises(ValueError, match="trials"):
        run_chance(10, 2, 1.5)
