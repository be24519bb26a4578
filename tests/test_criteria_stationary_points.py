"""eos_support.book.criteria.stationary_points: each claim's criterion on constructed inputs, one test per
outcome (holds, fails, inconclusive: a statistic within its rounding spread of the threshold)."""

import pytest

from eos_support.book.criteria import stationary_points as criteria
from eos_support.examples.stationary import SaddleManifold
from eos_support.examples.toy import Arrivals

HOLDS, FAILS, UNDECIDED = True, False, None


def radii(sharp, saddle=(2.0, 2.0), flat=(0.5, 0.5)):
    return {0.25: {"sharp minimum": sharp, "saddle": list(saddle), "flat minimum": list(flat)}}


@pytest.mark.parametrize(
    "radii, outcome, case",
    [
        (radii([1.6, 1.6 + 1e-15]), HOLDS, "η = 0.25, sharp minimum"),
        (radii([1.6, 1.6], flat=(1.2, 1.2)), FAILS, "η = 0.25, flat minimum"),
        (radii([1 + 2**-52, 1 - 2**-52]), UNDECIDED, "η = 0.25, sharp minimum"),
    ],
)
def test_thm1_linearisation(radii, outcome, case):
    v = criteria.thm1_linearisation(radii, {"radius": 1.0})
    assert v.holds is outcome and v.case == case and len(v.detail) == 3


@pytest.mark.parametrize(
    "recounts, outcome",
    [({0.25: (0, (0, 0)), 0.5: (0, (0, 0))}, HOLDS), ({0.25: (0, (0, 0)), 0.5: (3, (3, 3))}, FAILS),
     ({0.25: (0, (0, 1)), 0.5: (0, (0, 0))}, UNDECIDED)],
)  # fmt: skip
def test_thm1_no_sharp_minimum(recounts, outcome):
    arrivals = {eta: Arrivals(count, recount, 400) for eta, (count, recount) in recounts.items()}
    v = criteria.thm1_no_sharp_minimum(arrivals, {"starts": 0})
    assert v.holds is outcome and "the 400 closest starts" in v.method


def manifold(on, on_rounding, off=1.3):
    return SaddleManifold((-0.3, 0.0), (-3.7, 1.0), 120, 200, {0.5: on}, {0.5: off}, {0.5: on_rounding}, {0.5: [off]})


@pytest.mark.parametrize(
    "manifold, outcome, case",
    [
        (manifold(2e-30, [1.5e-30, 2.5e-30]), HOLDS, "η = 0.5, on"),
        (manifold(1.29, [1.29]), FAILS, "η = 0.5, on"),  # the manifold lost: as far as the starts off it
        (manifold(0.9e-6, [1.2e-6]), UNDECIDED, "η = 0.5, on"),
    ],
)
def test_thm1_saddle_manifold(manifold, outcome, case):
    v = criteria.thm1_saddle_manifold(manifold, {"near": 1e-6, "far": 0.1})
    assert v.holds is outcome and v.case == case and "120 digits" in v.method
    assert set(v.detail) == {"η = 0.5, on", "η = 0.5, off"}
