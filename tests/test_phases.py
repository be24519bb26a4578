"""eos_support.phases: the unstable-phase rule that the relative-progress, directional-smoothness and
sharpness chapters' claims rely on, on hand-made histories with known answers."""

from types import SimpleNamespace

import numpy as np
import pytest

from eos_support.phases import eta_name, sharpness_crossing, unstable_onset


def run(rp, sharpness, sharpness_step, eta=0.5):
    """A stand-in for a Run: the history keys the rules read."""
    history = dict(rp=np.asarray(rp, float), sharpness=np.asarray(sharpness, float),
                   sharpness_step=np.asarray(sharpness_step))
    return SimpleNamespace(eta=eta, history=history)


def test_crossing_is_the_first_measurement_above_two_over_eta():
    r = run(rp=[-1] * 10, sharpness=[1.0, 3.9, 4.1, 3.0], sharpness_step=[0, 3, 6, 9])  # 2/η = 4
    assert sharpness_crossing(r) == 6


def test_equal_to_the_threshold_is_not_above_it():
    assert sharpness_crossing(run(rp=[-1] * 4, sharpness=[4.0, 4.0], sharpness_step=[0, 2])) is None


def test_onset_is_the_first_loss_increase_after_the_crossing():
    rp = [-1, 0.5, -1, -1, -1, -1, -0.9, -0.2, 0.3, -0.1, 0.4]  # an increase before the crossing does not count
    r = run(rp, sharpness=[1.0, 4.5, 4.2], sharpness_step=[0, 5, 10])
    assert sharpness_crossing(r) == 5
    assert unstable_onset(r) == 8


def test_no_onset_without_a_crossing_or_without_an_increase():
    assert unstable_onset(run([-1, 0.5, 0.5], sharpness=[1.0], sharpness_step=[0])) is None
    assert unstable_onset(run([-1, -1, -0.5], sharpness=[5.0], sharpness_step=[0])) is None


def test_nan_sharpness_rows_are_not_crossings():
    r = run([-1, 1.0, 1.0], sharpness=[np.nan, 5.0], sharpness_step=[0, 1])
    assert sharpness_crossing(r) == 1 and unstable_onset(r) == 1


@pytest.mark.parametrize("eta, name", [(2 / 30, "2/30"), (2 / 10, "2/10"), (0.3, "2/6.67"), (100.0, "2/0.02")])
def test_eta_name(eta, name):
    assert eta_name(eta) == name
