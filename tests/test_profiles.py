"""eos_support.profiles: one home for every experiment's settings in both profiles."""

import dataclasses

import numpy as np
import pytest
import torch

from eos_support import profiles
from eos_support.profiles import summary
from eos_support.train import GDOptions, SGDOptions, train_gd
from factories import npz_profile


def test_both_profiles_have_the_same_experiments_with_valid_options():
    quick, paper = profiles.get("quick"), profiles.get("paper")
    assert set(quick.experiments) == set(paper.experiments)
    from eos_support.monitor.edge_runs import EdgeOptions

    for prof in (quick, paper):
        for name, e in prof.experiments.items():
            assert e.paper_item.split()[0] in ("Experiment", "Remark", "Corollary", "Beyond:"), name
            options = {"gd": GDOptions, "sgd": SGDOptions, "monitor": EdgeOptions}[e.trainer]
            for eta in e.etas:  # every run's options are valid before anything runs
                options(eta=eta, **e.options)
            assert prof.describe(name).startswith(e.paper_item)


def test_the_paper_profile_uses_the_papers_step_sizes_where_the_text_names_them():
    paper = profiles.get("paper")
    assert 2 / 60 in paper["experiment3"].etas and paper["experiment5"].etas == (2 / 60,)
    assert paper["remark4"].etas == (2 / 10,) and paper["experiment1"].etas == (2 / 30,)
    assert paper["experiment7"].etas == (2 / 100,) and paper["experiment8"].options["batch_size"] == 32
    assert all(e.n_train == 5000 for e in paper.experiments.values())


def test_paper_dataset_is_read_once_with_one_rule(monkeypatch):
    monkeypatch.delenv("EOS_PAPER_DATASET", raising=False)
    assert profiles.paper_dataset() == "cifar10-5k" == profiles.get("paper").dataset
    monkeypatch.setenv("EOS_PAPER_DATASET", "")
    assert profiles.paper_dataset() == "cifar10-5k"
    monkeypatch.setenv("EOS_PAPER_DATASET", "npz:/data/c.npz")
    assert profiles.get("paper").dataset == "npz:/data/c.npz"


def test_default_profile_without_a_gpu(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert profiles.default_profile() == ("quick", "no CUDA GPU visible to torch")


def test_unknown_names_are_named():
    with pytest.raises(ValueError, match="unknown profile 'huge': choose one of quick, paper"):
        profiles.get("huge")
    with pytest.raises(KeyError, match="no experiment 'experiment99'"):
        profiles.get("quick")["experiment99"]
    with pytest.raises(ValueError, match="several step sizes"):
        profiles.get("quick").run("experiment3")


def test_a_profile_run_is_the_trainers_run_on_the_experiments_network(tmp_path):
    base = npz_profile(tmp_path)
    experiment = dataclasses.replace(
        profiles.get("quick")["experiment5"], n_train=32, width=8, options=dict(max_steps=6, sharpness_every=None)
    )
    prof = dataclasses.replace(dataclasses.replace(base, results_dir=tmp_path), experiments={"e": experiment})
    run = prof.run("e")
    data, model = prof.network("e")
    direct = train_gd(model, data, "ce", eta=experiment.etas[0], max_steps=6, sharpness_every=None)
    assert run.source == "computed" and (run.history["loss"] == direct.history["loss"]).all()
    assert prof.run("e").source == "stored"  # cached in the profile's results folder
    assert prof.objective("e")(run.theta) == pytest.approx(float(run.history["loss"][-1]), rel=1e-5)


def test_a_profile_run_carries_its_experiment_and_its_loss(tmp_path):
    """A chapter needs no second copy of f: the run's own is the loss it descended, from θ⁰ on, also when
    the run comes back from the store."""
    base = npz_profile(tmp_path)
    experiment = dataclasses.replace(
        profiles.get("quick")["experiment5"], n_train=32, width=8, options=dict(max_steps=4, sharpness_every=None)
    )
    prof = dataclasses.replace(dataclasses.replace(base, results_dir=tmp_path), experiments={"e": experiment})
    for run in (prof.run("e"), prof.run("e")):
        assert run.experiment == "e"
        reference = prof.objective("e")
        assert torch.equal(run.f.theta0, reference.theta0)
        assert float(run.f(run.f.theta0)) == float(run.history["loss"][0])
        assert float(run.f(run.theta)) == pytest.approx(float(reference(run.theta)), rel=1e-12)
    assert run.source == "stored"


def test_a_run_from_a_moved_theta0_keeps_its_own_summary(tmp_path):
    base = npz_profile(tmp_path)
    experiment = dataclasses.replace(
        profiles.get("quick")["experiment5"], n_train=32, width=8, options=dict(max_steps=4, sharpness_every=None)
    )
    prof = dataclasses.replace(
        dataclasses.replace(base, results_dir=tmp_path / "results"),
        experiments={"e": experiment},
        summaries_dir=tmp_path / "runs",
    )
    run, rerun = prof.run("e"), dataclasses.replace(prof, theta0_seed=1).run("e")
    written = summary.load(tmp_path / "runs", "e")
    assert len(written) == 2, list(written)  # the rerun does not overwrite the run's summary
    by_seed = {("θ⁰" in label): r for label, r in written.items()}
    assert np.array_equal(by_seed[False].history["loss"], run.history["loss"])
    assert np.array_equal(by_seed[True].history["loss"], rerun.history["loss"])
