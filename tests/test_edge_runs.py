"""Optimizers at their edge with the monitor on a user's loop (eos_support.monitor.edge_runs)."""

import dataclasses

import numpy as np
import pytest
import torch

import factories
from cases import interrupt_once, small_network
from eos_support import profiles
from eos_support.figures.monitor import plot_smoothness
from eos_support.monitor import edge_runs
from eos_support.monitor.edge_runs import EdgeOptions, Snapshots, edge_statistics, loader
from eos_support.monitor.thresholds import Threshold
from eos_support.readings.phases import edge_onset, first_reach
from eos_support.train.monitored import MonitoredRule, train_monitored
from factories import npz_profile


def _flat(model):
    return torch.cat([p.detach().reshape(-1) for p in model.parameters()])


def tiny_profile(folder, **options):
    e = profiles.Experiment(
        "Beyond: tiny",
        24,
        (0.1,),
        dict(steps=6, sharpness_every=2, **options),
        loss="half_sq_sum",
        width=8,
        trainer="monitor",
    )
    return dataclasses.replace(npz_profile(folder), experiments={"e": e})


# -- options, optimizer, loader, loop ------------------------------------------------------------------


def test_options_are_checked_and_make_the_optimizer_they_name():
    model, _, _ = small_network()
    sgd = EdgeOptions(eta=0.1, momentum=0.9).make_optimizer(model.parameters())
    assert isinstance(sgd, torch.optim.SGD) and sgd.param_groups[0]["momentum"] == 0.9
    adam = EdgeOptions(eta=1e-3, optimizer="Adam", betas=[0.8, 0.99]).make_optimizer(model.parameters())
    assert isinstance(adam, torch.optim.Adam) and adam.param_groups[0]["betas"] == (0.8, 0.99)
    for bad in (
        dict(optimizer="RMSprop"),
        dict(momentum=1.0),
        dict(steps=0),
        dict(batch_size=2.5),
        dict(sharpness_every=None),
        dict(every=3, sharpness_every=10),
    ):
        with pytest.raises(ValueError):
            EdgeOptions(eta=0.1, **bad)


def test_the_full_batch_loader_gives_the_whole_set_in_order():
    x, y = torch.arange(10.0)[:, None], torch.arange(10)
    ((xb, yb),) = list(loader(x, y))
    assert torch.equal(xb, x) and torch.equal(yb, y)


def test_minibatches_partition_the_set_each_epoch_and_reshuffle():
    x, y = torch.arange(10.0)[:, None], torch.arange(10)
    batches = loader(x, y, batch_size=3, seed=1)
    first, second = [torch.cat([b for _, b in batches]) for _ in range(2)]
    assert len(first) == 9 and len(set(first.tolist())) == 9  # 3 batches of 3, drawn without replacement
    assert not torch.equal(first, second)  # a new permutation every epoch
    again = torch.cat([b for _, b in loader(x, y, batch_size=3, seed=1)])
    assert torch.equal(first, again)  # from the seed


def test_train_takes_the_steps_across_epochs_and_snapshots_are_the_iterates():
    model, x, y = small_network()
    opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    thetas = []
    opt.register_step_pre_hook(lambda *_: thetas.append(_flat(model)))
    snaps = Snapshots(opt, list(model.parameters()), every=3)
    edge_runs.train(model, opt, loader(x, y, batch_size=8), "ce", steps=7)  # 2 batches per epoch
    kept = snaps.close()
    thetas.append(_flat(model))
    assert len(thetas) == 8 and [k[0] for k in kept] == [0, 3, 6]
    for t, theta, theta_next in kept:
        assert torch.equal(theta, thetas[t]) and torch.equal(theta_next, thetas[t + 1])


# -- phases read off a history ----------------------------------------------------------------------


def _history(ratio, loss):
    steps = np.arange(len(loss))
    return {
        "step": steps,
        "loss": np.asarray(loss, float),
        "ratio": np.asarray(ratio, float),
        "rp": np.linspace(-1, 1, len(loss)),
        "ds": np.ones(len(loss)),
        "eta_u": np.full(len(loss), 4.0),
        "threshold": np.full(len(loss), 2.0),
    }


def test_first_reach_skips_a_start_above_the_threshold():
    nan = np.nan
    h = _history([3.0, nan, 0.5, nan, 0.97, nan, 1.1, nan], np.arange(8.0)[::-1])
    assert first_reach(h, 0.95) == 4 and first_reach(h) == 6 and first_reach(h, 2.0) is None


def test_the_edge_begins_at_the_first_loss_increase_once_the_threshold_is_reached():
    h = _history([0.5, np.nan, 1.2, np.nan, np.nan, 1.0], [5, 6, 4, 3, 3.5, 3])
    assert edge_onset(h) == 3  # the rise at step 0 comes before the threshold is reached
    assert edge_onset(_history([0.5, 0.9, 0.9], [3, 4, 5])) is None


def test_edge_statistics_over_the_phase():
    h = _history([0.5, np.nan, 1.2, np.nan, 0.8, np.nan], [5, 6, 4, 3, 3.5, 3])
    s = edge_statistics(h, 2)
    assert s["records"] == 4 and s["ratio_min"] == 0.8 and s["ratio_max"] == 1.2
    assert s["rp_median"] == pytest.approx(np.median(np.linspace(-1, 1, 6)[2:]))
    assert s["rp_positive"] == 0.75 and s["ds_ratio_median"] == 0.5 and s["ds_edge_median"] == 2.0


def test_edge_summary_reads_the_reach_and_the_unstable_phase():
    h = _history([0.5, np.nan, 1.2, np.nan, 0.8, np.nan], [5, 6, 4, 3, 3.5, 3])
    s = edge_runs.edge_summary(h, 0.95)
    assert s["reach"] == 2 and s["onset"] == 3 and s["hover"]["records"] == 4 and s["phase"]["records"] == 3
    assert s["phase_late"]["records"] == 2  # steps 4 and 5 of the phase 3, 4, 5
    flat = edge_runs.edge_summary(_history([0.5, 0.6], [2, 1]), 0.95)
    assert flat == {"reach": None, "hover": None, "onset": None, "phase": None, "phase_late": None}
    text = edge_runs.describe_edge("run", s, 0.95)
    assert "from step 2; from there 0.80–1.20 × it, median 1.000" in text and "unstable phase from step 3" in text
    assert "its second half (2 steps)" in text
    assert edge_runs.describe_edge("flat", flat, 0.95) == "flat: the sharpness never rose to 0.95 × the threshold"


def test_plot_smoothness_draws_l_against_the_threshold_and_against_its_own_edge():
    import matplotlib

    matplotlib.use("Agg")
    h = _history([0.5, np.nan, 1.2, np.nan, 0.8, np.nan], [5, 6, 4, 3, 3.5, 3])
    h["sharpness"] = h["ratio"] * 2.0
    fig = plot_smoothness(h, Threshold(2.0, "hessian", "(2 + 2β)/η", "test"), (0.9, 1.1))
    top, low = fig.axes
    assert [a.get_ylabel() for a in (top, low)] == ["curvature", "(η_u/2)·L"]
    assert np.allclose(low.get_lines()[0].get_ydata(), h["ds"] * h["eta_u"] / 2)  # 1 × 4/2
    dashed = [line.get_ydata()[0] for line in low.get_lines() if line.get_linestyle() == "--"]
    assert dashed == [1.0] and low.get_ylim() == (-1, 3)
    onset = [line for line in top.get_lines() if line.get_linestyle() == ":"]
    assert len(onset) == 1 and onset[0].get_xdata()[0] == edge_onset(h) == 3


# -- runs of a profile's experiment --------------------------------------------------------------------


@pytest.mark.parametrize("options, threshold", [(dict(momentum=0.9), 3.8 / 0.1), (dict(optimizer="Adam"), 38 / 0.1)])
def test_a_full_batch_run_records_every_step_against_its_threshold(tmp_path, options, threshold):
    prof = tiny_profile(tmp_path, snapshot_every=2, **options)
    run = prof.run("e")
    h = run.history
    assert list(h["step"]) == list(range(6)) and run.full is None
    assert np.isfinite(h["sharpness"][::2]).all() and np.isnan(h["sharpness"][1::2]).all()
    assert h["threshold"] == pytest.approx(np.full(6, threshold)) and "RP_u median" in run.summary
    assert [s[0] for s in run.snapshots] == [0, 2, 4]


def test_the_probe_loss_is_the_training_loss_of_the_full_batch(tmp_path):
    prof = tiny_profile(tmp_path, momentum=0.9, snapshot_every=1)
    run = prof.run("e")
    f = prof.objective("e")
    for t, theta, _ in run.snapshots:
        assert run.history["loss"][t] == pytest.approx(float(f(theta)), rel=1e-6)


def test_a_minibatch_run_measures_the_batch_and_the_full_batch_sharpness(tmp_path):
    prof = tiny_profile(tmp_path, batch_size=8)
    run = prof.run("e")
    assert run.threshold.sharpness == "batch" and run.threshold.value == pytest.approx(2 / 0.1)
    assert list(run.full["step"]) == [0, 2, 4] and np.isfinite(run.full["sharpness"]).all()
    assert len(run.history["step"]) == 6


def test_batch_and_full_pairs_the_two_sharpnesses_at_the_same_steps(tmp_path):
    prof = tiny_profile(tmp_path, batch_size=8)
    run = prof.run("e")
    both = edge_runs.batch_and_full(run)
    assert list(both["step"]) == [0, 2, 4]
    assert both["full"] == pytest.approx(run.full["sharpness"] * 0.1 / 2)
    assert both["batch"] == pytest.approx(run.history["sharpness"][[0, 2, 4]] * 0.1 / 2)
    assert both["full_late"] == pytest.approx(both["full"][2])  # the second half of 6 steps: step 4
    assert both["full_over_batch_late"] == pytest.approx(both["full"][2] / both["batch"][2])


@pytest.mark.filterwarnings("ignore:a Hessian-vector product of the probe loss is not finite")
def test_a_diverging_minibatch_run_stops_and_pairs_what_it_measured(tmp_path):
    # A diverged run is a result: it used to run its budget on NaN, and batch_and_full raised on it.
    prof = tiny_profile(tmp_path, batch_size=8)
    e = dataclasses.replace(prof["e"], etas=(40.0,), options=dict(prof["e"].options, steps=400))
    run = dataclasses.replace(prof, experiments={"e": e}).run("e")
    assert run.status == "diverged" and len(run.history["step"]) < 400
    assert np.isfinite(run.history["loss"][:-1]).all()
    both = edge_runs.batch_and_full(run)
    assert np.isfinite(both["batch"]).all() and np.isfinite(both["full"]).all() and len(both["step"]) >= 1
    assert np.isnan(both["full_late"])  # nothing measured in the second half of the 400 steps
    assert prof.run("e").status == "max_steps"


def test_theorem2_along_the_updates_of_a_run_is_an_identity_in_float64(tmp_path):
    prof = tiny_profile(tmp_path, momentum=0.9, snapshot_every=2)
    run = prof.run("e")
    both = edge_runs.theorem2_along(run)
    assert list(both["step"]) == [0, 2, 4]
    assert both["identity"] == pytest.approx(both["rp"], abs=1e-9)
    assert both["rp"] == pytest.approx(run.history["rp"][[0, 2, 4]], rel=1e-3, abs=1e-4)  # float32 vs float64
    # a diverging run's last update, not finite, has no identity to check: left out, not a NaN that fails it
    theta = run.snapshots[-1][1]
    diverged = dataclasses.replace(run, snapshots=run.snapshots + ((6, theta, theta * torch.inf),))
    assert list(edge_runs.theorem2_along(diverged)["step"]) == [0, 2, 4]


def test_describe_names_the_optimizer_and_batches(tmp_path):
    prof = tiny_profile(tmp_path, momentum=0.9)
    text = edge_runs.describe(prof, "e")
    assert text.startswith("Beyond: tiny, profile 'quick'") and "heavy-ball momentum β = 0.9" in text
    assert "full batch" in text


def test_a_monitored_run_is_stored_and_read_back_like_the_others(tmp_path):
    prof = dataclasses.replace(tiny_profile(tmp_path, momentum=0.9, snapshot_every=2), results_dir=tmp_path)
    first, again = prof.run("e"), prof.run("e")
    assert (first.source, again.source) == ("computed", "stored") and list(tmp_path.glob("*.pt"))
    assert first.history.keys() == again.history.keys()
    for key in first.history:
        np.testing.assert_array_equal(first.history[key], again.history[key])
        assert first.history[key].dtype == again.history[key].dtype
    assert (again.threshold, again.summary, again.options) == (first.threshold, first.summary, first.options)
    assert [s[0] for s in again.snapshots] == [0, 2, 4]
    assert all(torch.equal(a, b) for s, r in zip(first.snapshots, again.snapshots) for a, b in zip(s[1:], r[1:]))
    assert again.experiment == "e" and torch.equal(again.f.theta0, prof.objective("e").theta0)
    other = dataclasses.replace(prof, experiments={"e": dataclasses.replace(prof["e"], etas=(0.05,))})
    assert other.run("e").source == "computed"  # another setting is another run


@pytest.mark.parametrize(
    "options", [dict(momentum=0.9), dict(optimizer="Adam", eta=0.01), dict(batch_size=6, every=2, sharpness_every=4)]
)
def test_an_interrupted_monitored_run_resumes_with_identical_records(tmp_path, monkeypatch, options):
    model, _, _ = small_network()
    data = factories.dataset(n=20, features=4, dtype=torch.float64)
    fields = dict(eta=0.1, steps=11, sharpness_every=2, snapshot_every=3, progress=False) | options
    reference = train_monitored(model, data, "ce", **fields)
    interrupt_once(monkeypatch, MonitoredRule, lambda rule: rule.t, 7)  # mid-epoch for batches of 6
    with pytest.raises(KeyboardInterrupt):
        train_monitored(model, data, "ce", cache=tmp_path, checkpoint_s=0.0, **fields)
    assert list(tmp_path.glob("*.partial.pt"))
    resumed = train_monitored(model, data, "ce", cache=tmp_path, **fields)
    assert resumed.source == "resumed" and not list(tmp_path.glob("*.partial.pt"))
    for ours, theirs in [(reference.history, resumed.history), (reference.full, resumed.full)]:
        assert (ours is None) == (theirs is None)
        for key in ours or {}:
            np.testing.assert_array_equal(ours[key], theirs[key], err_msg=key)
    assert [s[0] for s in resumed.snapshots] == [0, 3, 6, 9]
    assert all(torch.equal(a, b) for s, r in zip(reference.snapshots, resumed.snapshots) for a, b in zip(s[1:], r[1:]))
    assert resumed.summary == reference.summary


def test_the_user_s_model_stays_at_theta0_and_a_batch_larger_than_the_set_is_refused():
    model, _, _ = small_network()
    data = factories.dataset(n=20, features=4, dtype=torch.float64)
    before = _flat(model)
    train_monitored(model, data, "ce", eta=0.1, steps=3, progress=False)
    assert torch.equal(_flat(model), before)
    with pytest.raises(ValueError, match="batch_size must be at most the 20 training examples"):
        train_monitored(model, data, "ce", eta=0.1, steps=3, batch_size=21)


def test_edge_run_is_the_profile_s_run(tmp_path):
    prof = tiny_profile(tmp_path, momentum=0.9)
    np.testing.assert_array_equal(edge_runs.edge_run(prof, "e").history["loss"], prof.run("e").history["loss"])


def test_theorem2_along_refuses_a_run_without_its_loss(tmp_path):
    run = dataclasses.replace(tiny_profile(tmp_path, momentum=0.9, snapshot_every=2).run("e"), f=None)
    with pytest.raises(ValueError, match="needs the run's loss f"):
        edge_runs.theorem2_along(run)
