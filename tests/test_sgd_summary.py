"""eos_support.sgd_summary: the SGD chapter's statistics, against the chapter's former inline code."""

from types import SimpleNamespace

import numpy as np
import pytest

from eos_support import sgd_summary
from eos_support.phases import eta_name


def sgd_history(epochs=25, seed=0, dtype=np.float32):
    """A history shaped like train_sgd's (epochs 0..E), with E[RP] hovering around 0 after epoch 0."""
    rng = np.random.default_rng(seed)
    erp = np.concatenate([[-1.0], rng.normal(0.0, 0.3, epochs)]).astype(dtype)
    rhs = (erp + rng.normal(0.0, 0.05, epochs + 1)).astype(dtype)
    return {
        "epoch": np.arange(epochs + 1),
        "loss": (2.3 * np.exp(-0.1 * np.arange(epochs + 1)) * (1 + 0.1 * rng.random(epochs + 1))).astype(dtype),
        "erp": erp,
        "erp_se": rng.uniform(0.05, 0.2, epochs + 1).astype(dtype),
        "rhs": rhs,
        "rhs_se": rng.uniform(0.05, 0.2, epochs + 1).astype(dtype),
        "gap": rng.normal(0.0, 0.01, epochs + 1).astype(dtype),
        "gap_se": rng.uniform(0.001, 0.01, epochs + 1).astype(dtype),
    }


def sgd_run(eta=2 / 100, status="max_epochs", **history):
    return SimpleNamespace(eta=eta, status=status, history=history or sgd_history())


def former_agreement(activation, runs):
    """The chapter's agreement() before it moved into the package (Experiments 8 and 9)."""
    rows, lines = [], []
    for eta, r in runs.items():
        h = r.history
        z = np.abs(h["erp"] - h["rhs"]) / np.hypot(h["erp_se"], h["rhs_se"])
        rel = np.abs(h["gap"]) / np.maximum(1, np.abs(h["rhs"] + 1))
        ok = r.status == "max_epochs" and np.isfinite(z).all() and np.isfinite(rel).all()
        rows.append(dict(eta=eta, z=np.max(z) if ok else np.inf, z_at=int(np.argmax(z)),
                         rel=np.max(rel) if ok else np.inf, rel_at=int(np.argmax(rel))))
        lines.append(f"{activation:>5} {f'η = {eta_name(eta)}':>10}: max |LHS − RHS|/combined SE {rows[-1]['z']:.2f} "
                     f"(epoch {rows[-1]['z_at']}); max |gap|/max(1, |RHS + 1|) {rows[-1]['rel']:.4f} "
                     f"(epoch {rows[-1]['rel_at']}); median |gap| {np.median(np.abs(h['gap'])):.4f} "
                     f"± {np.median(h['gap_se']):.4f}")
    return rows, lines


@pytest.mark.parametrize("seed", range(5))
def test_progress_signs_match_the_chapters_former_counts(seed):
    h = sgd_history(seed=seed)
    s = sgd_summary.progress_signs(h)
    erp, se = h["erp"][1:], h["erp_se"][1:]
    assert s.epochs == len(erp) == 25
    assert s.share == float(np.mean(erp >= 0)) and s.at_or_above == np.sum(erp >= 0)
    assert s.not_below == float(np.mean(erp + 2 * se >= 0))
    assert s.above == int(np.sum(erp - 2 * se > 0))
    assert f"{s.median:+.3f}" == f"{np.median(erp):+.3f}"
    assert str(s) == (f"E[RP] estimate >= 0 at {np.sum(erp >= 0)} of {len(erp)} epoch ends ({s.share:.0%}); "
                      f"not significantly below 0 (estimate + 2 SE >= 0) at {s.not_below:.0%}; "
                      f"significantly above 0 (estimate − 2 SE > 0) at {s.above}; median {np.median(erp):+.3f}")


def test_progress_signs_leave_out_the_initialisation_and_count_by_hand():
    h = {"erp": np.array([-1.0, 0.1, -0.1, -0.5, 0.0]), "erp_se": np.array([0.0, 0.01, 0.1, 0.1, 0.2])}
    s = sgd_summary.progress_signs(h)
    assert (s.epochs, s.at_or_above, s.share) == (4, 2, 0.5)
    assert s.not_below == 0.75  # -0.1 + 2·0.1 >= 0; -0.5 + 0.2 < 0
    assert s.above == 1  # only 0.1 − 0.02 > 0
    with pytest.raises(ValueError, match="epoch end"):
        sgd_summary.progress_signs({"erp": np.array([-1.0]), "erp_se": np.array([0.1])})


def test_long_run_loss_matches_the_chapters_former_halves():
    h = sgd_history(epochs=24)  # 25 values: the halves have 13 and 12
    loss = sgd_summary.long_run_loss(h)
    first, second = np.array_split(h["loss"], 2)
    assert loss.initial == h["loss"][0] and loss.last == h["loss"][-1]
    assert loss.first_half == first.mean() and loss.second_half == second.mean()
    assert f"{loss.last / loss.initial:.3g}" == f"{h['loss'][-1] / h['loss'][0]:.3g}"
    assert str(loss).startswith(f"loss: epoch 0 {h['loss'][0]:.3f}, last {h['loss'][-1]:.3f}")
    with pytest.raises(ValueError, match="two epochs"):
        sgd_summary.long_run_loss({"loss": np.array([1.0])})


@pytest.mark.parametrize("seed", range(3))
def test_agreement_matches_the_chapters_former_table(seed):
    runs = {eta: sgd_run(eta, **sgd_history(seed=seed + k)) for k, eta in enumerate((2 / 50, 2 / 100, 2 / 150))}
    rows, lines = former_agreement("relu", runs)
    new = [sgd_summary.agreement(r) for r in runs.values()]
    for row, a, line in zip(rows, new, lines):
        assert (a.eta, a.z, a.z_at, a.rel, a.rel_at) == (row["eta"], row["z"], row["z_at"], row["rel"], row["rel_at"])
        assert a.describe("relu") == line
    for key in ("z", "rel"):
        assert sgd_summary.worst(new, key).eta == max(rows, key=lambda r: r[key])["eta"]


def test_agreement_is_inf_for_a_diverged_or_non_finite_run():
    assert sgd_summary.agreement(sgd_run(status="diverged")).z == np.inf
    h = sgd_history()
    h["rhs"][3] = np.nan
    a = sgd_summary.agreement(sgd_run(**h))
    assert a.z == np.inf and a.rel == np.inf


def test_agreement_by_hand():
    h = {"erp": np.array([-1.0, 0.0]), "rhs": np.array([-1.0, 0.5]), "erp_se": np.array([0.1, 0.3]),
         "rhs_se": np.array([0.1, 0.4]), "gap": np.array([0.0, -0.3]), "gap_se": np.array([0.01, 0.02])}
    a = sgd_summary.agreement(sgd_run(**h))
    assert (a.z, a.z_at) == (pytest.approx(1.0), 1)  # |0 − 0.5| / hypot(0.3, 0.4)
    assert (a.rel, a.rel_at) == (pytest.approx(0.2), 1)  # 0.3 / max(1, 1.5)
    assert a.median_gap == pytest.approx(0.15)


def test_worst_takes_the_first_of_equals_and_names_its_criterion():
    rows = [sgd_summary.Agreement(eta, 1.0, 0, 0.1, 0, 0.0, 0.0) for eta in (0.1, 0.2)]
    assert sgd_summary.worst(rows, "z").eta == 0.1
    with pytest.raises(ValueError, match="criterion"):
        sgd_summary.worst(rows, "gap")
