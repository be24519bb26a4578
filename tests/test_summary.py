"""Run summaries: a run written by an execution reads back with everything its figures and criteria read."""

from __future__ import annotations

import numpy as np
import pytest

from eos_support.profiles import summary
from histories import recorded_run


def test_a_summary_reads_back_as_the_run(tmp_path):
    run = recorded_run(eta=0.25)
    path = summary.save(run, tmp_path, "experiment3", "tanh, depth 2, η = 2/8")
    assert path.parent.name == "experiment3" and path.suffix == ".npz" and "/" not in path.name
    back = summary.load(tmp_path, "experiment3")["tanh, depth 2, η = 2/8"]
    assert back.eta == 0.25 and back.status == "acc_goal" and back.goal_step == run.goal_step
    assert back.steps == run.steps and back.source == "record" and back.options.sharpness_tol == 1e-4
    assert set(back.history) == set(run.history) - set(summary.PARAMETERS)
    for key, value in back.history.items():
        assert value.dtype == run.history[key].dtype and np.array_equal(value, run.history[key]), key


def test_a_summary_leaves_out_the_parameter_snapshots(tmp_path):
    run = recorded_run()
    run.history["snapshot_step"], run.history["snapshot"] = np.array([0, 10]), np.zeros((2, 1000), np.float32)
    summary.save(run, tmp_path, "e", "a")
    back = summary.load(tmp_path, "e")
    assert "snapshot" not in back["a"].history and back["a"].history["snapshot_step"].tolist() == [0, 10]


def test_the_figures_draw_a_recorded_run(tmp_path):
    pytest.importorskip("matplotlib")
    import matplotlib.pyplot as plt

    from eos_support.figures import plots

    summary.save(recorded_run(), tmp_path, "experiment3", "a")
    runs = {r.eta: r for r in summary.load(tmp_path, "experiment3").values()}
    fig, axes = plots.run_panels(runs, onsets=True)
    assert len(axes) == 3 and all(ax.lines for ax in axes)
    plt.close(fig)


def test_no_summaries_is_an_empty_mapping(tmp_path):
    assert summary.load(tmp_path, "nothing") == {}
