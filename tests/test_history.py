"""A run's History: read-only, one reader for a periodic measurement in either recorded layout."""

import numpy as np
import pytest
import torch
from torch import nn

from eos_support.train import train_gd
from eos_support.train.history import History, series
from factories import dataset
from histories import recorded_run


def test_a_history_cannot_be_changed():
    h = History({"loss": np.array([3.0, 2.0]), "step": np.array([0, 1])})
    with pytest.raises(TypeError):
        h["loss"] = np.zeros(2)
    with pytest.raises(ValueError, match="read-only"):
        h["loss"][0] = 1.0
    with pytest.raises(AttributeError, match="cannot be changed"):
        h.extra = 1
    assert dict(h).keys() == {"loss", "step"} and len(h) == 2 and "loss" in repr(h)


def test_freezing_leaves_the_caller_s_arrays_writable():
    loss = np.array([3.0, 2.0])
    History({"loss": loss})
    loss[0] = 1.0  # the History holds a read-only view; the array handed in stays the caller's
    assert loss[0] == 1.0


def test_gd_s_compact_layout_reads_with_its_steps():
    h = History(recorded_run(eta=0.5, steps=40, onset=20, every=5).history)
    sharp = h.at("sharpness")
    assert np.array_equal(sharp.steps, np.arange(0, 41, 5)) and np.array_equal(sharp.values, h["sharpness"])
    rp64 = h.at("rp64")
    assert np.array_equal(rp64.steps, h["float64_step"])
    rp = h.at("rp")  # an every-step array
    assert np.array_equal(rp.steps, np.arange(40)) and np.array_equal(rp.values, h["rp"])


def test_a_record_layout_reads_its_measured_rows_with_their_steps():
    records = {"step": np.array([0, 1, 2, 3, 4]), "sharpness": np.array([1.0, np.nan, 2.0, np.nan, 3.0])}
    sharp = series(records, "sharpness")  # a plain mapping of the layout reads the same way
    assert np.array_equal(sharp.steps, [0, 2, 4]) and np.array_equal(sharp.values, [1.0, 2.0, 3.0])
    assert np.array_equal(History(records).at("sharpness").steps, sharp.steps)


def test_every_run_s_history_is_a_history_also_from_the_store(tmp_path):
    data = dataset(24, 5, 3)

    def model():
        torch.manual_seed(0)
        return nn.Linear(5, 3)

    runs = [
        train_gd(model(), data, "ce", eta=0.1, max_steps=4, sharpness_every=2, cache=tmp_path, progress=False)
        for _ in range(2)
    ]
    assert [r.source for r in runs] == ["computed", "stored"]
    for run in runs:
        assert isinstance(run.history, History)
        assert np.array_equal(run.history.at("sharpness").steps, [0, 2, 4])
    with pytest.raises(ValueError):
        runs[1].history["loss"][0] = 0.0
