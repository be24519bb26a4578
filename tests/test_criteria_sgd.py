"""eos_support.book.criteria.sgd: each criterion of the chapter sgd on constructed histories, one test per outcome."""

import numpy as np
import pytest

from eos_support.book.criteria import sgd
from histories import sgd_history, sgd_run

EPOCHS = 40  # window: epoch ends 9..40 (32 of them) at transient 0.2
LOSS = {"ratio": 0.5, "transient": 0.2}
SIGNS = {"samples": 256, "transient": 0.2, "alpha": 0.05, "chance": 0.023}
MAJORITY = {"majority": 0.5, "transient": 0.2}
AGREE = {"tolerance": 0.05, "positive": 0.3, "transient": 0.2}


def run_with(eta=2 / 100, samples=256, status="max_epochs", **window):
    """An SGD run of EPOCHS epochs whose history has the given values over the window (epoch ends 9..40);
    a scalar sets the key at every epoch end. E[RP] is −1 at epoch 0 and −0.5 before the window.
    """
    h = {k: v.astype(np.float64) for k, v in sgd_history(EPOCHS).items()}
    h["erp_cv"][:9] = [-1.0] + [-0.5] * 8
    for key, values in window.items():
        h[key][9:] = values
    return sgd_run(eta=eta, samples=samples, status=status, **h)


def alternating(a, b, n=EPOCHS - 8):
    return np.where(np.arange(n) % 2 == 0, a, b)


# ---- Experiment 7: the loss -------------------------------------------------------------------------


def decaying(last):
    """A loss from 2 to ``last`` × 2, smoothly, with its first fifth high."""
    return 2 * np.exp(np.log(last) * np.arange(EPOCHS + 1) / EPOCHS)


def test_loss_decreases_holds():
    h = sgd_history(EPOCHS)
    h["loss"] = decaying(0.1)
    v = sgd.exp7_loss_decreases(sgd_run(**h), LOSS)
    assert v.holds is True
    assert v.detail["last / initial loss"]["statistic"] == pytest.approx(0.1)


def test_loss_decreases_fails_when_the_loss_stays():
    h = sgd_history(EPOCHS)
    h["loss"] = decaying(0.9)
    v = sgd.exp7_loss_decreases(sgd_run(**h), LOSS)
    assert v.holds is False and v.case == "last / initial loss" and v.statistic == pytest.approx(0.9)


def test_loss_decreases_inconclusive_when_the_last_epochs_scatter_around_the_ratio():
    h = sgd_history(EPOCHS)
    h["loss"] = decaying(0.5)
    h["loss"][9:] = 2 * alternating(0.38, 0.6)  # last: 0.6 × 2 at epoch 40? n even: the last is b
    h["loss"][-1] = 2 * 0.48
    v = sgd.exp7_loss_decreases(sgd_run(**h), LOSS)
    assert v.holds is None and v.case == "last / initial loss"
    assert v.statistic == pytest.approx(0.48) and v.uncertainty > 0.02


# ---- Experiment 7: E[RP] not below zero ---------------------------------------------------------------


def test_erp_not_below_zero_holds_on_the_median():
    v = sgd.exp7_erp_not_below_zero(run_with(erp_cv=0.5, erp_cv_se=0.01), SIGNS)
    assert v.holds is True
    assert v.detail["not below zero"]["median E[RP]"]["holds"] is True


def test_erp_not_below_zero_holds_on_a_long_run_of_significant_epoch_ends():
    erp = np.full(EPOCHS - 8, -0.3)
    erp[10:16] = 1.0  # six significant epoch ends in a row, median below 0
    v = sgd.exp7_erp_not_below_zero(run_with(erp_cv=erp, erp_cv_se=0.05), SIGNS)
    assert v.holds is True and v.case == "chance of the run"
    run = v.detail["not below zero"]["chance of the run"]
    assert run["holds"] is True and run["longest run with estimate − 2 SE > 0"] == 6 and run["from epoch"] == 19


def test_erp_not_below_zero_fails_below_zero():
    v = sgd.exp7_erp_not_below_zero(run_with(erp_cv=-0.5, erp_cv_se=0.01), SIGNS)
    assert v.holds is False


def test_erp_not_below_zero_fails_with_too_few_samples():
    v = sgd.exp7_erp_not_below_zero(run_with(samples=32, erp_cv=0.5, erp_cv_se=0.01), SIGNS)
    assert v.holds is False and v.case == "samples"


def test_erp_not_below_zero_inconclusive_at_zero():
    erp = np.random.default_rng(0).permutation(np.linspace(-0.3, 0.28, EPOCHS - 8))
    # median −0.01, well within its bootstrap; nothing significant (SE 0.5)
    v = sgd.exp7_erp_not_below_zero(run_with(erp_cv=erp, erp_cv_se=0.5), SIGNS)
    assert v.holds is None
    assert v.detail["not below zero"]["median E[RP]"]["holds"] is None


# ---- Remark 7 ---------------------------------------------------------------------------------------


def test_majority_holds():
    erp = np.full(EPOCHS - 8, 0.2)
    erp[::10] = -0.2  # 28 of 32 at or above 0
    v = sgd.remark7_majority(run_with(erp_cv=erp), MAJORITY)
    assert v.holds is True and v.statistic == 28 / 32 and v.detail["of"] == 32
    lo, hi = v.detail["95 % Wilson interval"]
    assert lo < 28 / 32 < hi


def test_majority_fails():
    erp = np.full(EPOCHS - 8, -0.2)
    erp[::10] = 0.2
    assert sgd.remark7_majority(run_with(erp_cv=erp), MAJORITY).holds is False


def test_majority_inconclusive_at_one_half():
    erp = np.random.default_rng(0).permutation(alternating(0.1, -0.1))
    v = sgd.remark7_majority(run_with(erp_cv=erp), MAJORITY)
    assert v.holds is None and v.statistic == 0.5 and v.uncertainty > 0


# ---- Experiments 8 and 9 ----------------------------------------------------------------------------


def three(**per_eta):
    """Runs at 2/50, 2/100, 2/150; ``per_eta`` maps a window key to a value for each (or one for all)."""
    etas = (2 / 50, 2 / 100, 2 / 150)
    out = {}
    for i, eta in enumerate(etas):
        values = {k: (v[i] if isinstance(v, tuple) else v) for k, v in per_eta.items()}
        out[eta] = run_with(eta=eta, **values)
    return out


UNSTABLE = dict(erp_cv=(alternating(0.6, -0.2), -0.3, -0.6), erp_cv_se=0.01)


def test_agree_every_epoch_holds():
    v = sgd.agree_every_epoch(three(gap=0.004, gap_se=0.002, **UNSTABLE), AGREE)
    assert v.holds is True
    assert v.detail["agreement"]["2/50"]["max |gap| + 2 SE"] == pytest.approx(0.008)


def test_agree_every_epoch_fails_at_one_epoch_end():
    gap = np.full(EPOCHS - 8, 0.004)
    gap[5] = 0.2
    v = sgd.agree_every_epoch(three(gap=(gap, 0.004, 0.004), gap_se=0.005, **UNSTABLE), AGREE)
    assert v.holds is False and v.case == "2/50"
    detail = v.detail["agreement"]["2/50"]
    assert detail["holds"] is False and detail["epochs with |gap| + 2 SE > tolerance"] == [14]


def test_agree_every_epoch_inconclusive_within_two_se():
    gap = np.full(EPOCHS - 8, 0.004)
    gap[5] = 0.045  # 0.045 + 2 · 0.005 > 0.05 > 0.045 − 2 · 0.005
    v = sgd.agree_every_epoch(three(gap=(0.004, gap, 0.004), gap_se=0.005, **UNSTABLE), AGREE)
    assert v.holds is None and v.detail["agreement"]["2/100"]["holds"] is None
    detail = v.detail["agreement"]["2/100"]
    assert detail["undecided epoch ends"] == [14]
    assert detail["minibatches to decide them"] == 1024  # 256 · (2 SE / |0.045 − 0.05|)² = 256 · 4


def test_agree_every_epoch_fails_when_vacuous():
    v = sgd.agree_every_epoch(three(gap=0.004, gap_se=0.002, erp_cv=-0.8, erp_cv_se=0.01), AGREE)
    assert v.holds is False and v.case == "not vacuous"


def test_agree_every_epoch_fails_for_a_diverged_run():
    runs = three(gap=0.004, gap_se=0.002, **UNSTABLE)
    runs[2 / 50].status = "diverged"
    assert sgd.agree_every_epoch(runs, AGREE).holds is False


def test_agree_median_holds_on_relative_error():
    # large excursions of E[RP] with an absolute gap above 0.05 at some epoch ends: the median criterion holds
    gap = alternating(0.01, 0.02)
    gap[3] = 0.15
    v = sgd.agree_median(three(gap=gap, gap_se=0.002, **UNSTABLE), AGREE)
    assert v.holds is True
    strict = sgd.agree_every_epoch(three(gap=gap, gap_se=0.002, **UNSTABLE), AGREE)
    assert strict.holds is False
    d = v.detail["agreement"]["2/50"]
    assert d["statistic"] == pytest.approx(d["median |gap|"] / d["median |E[RP] + 1|"])


def test_agree_median_fails():
    v = sgd.agree_median(three(gap=0.2, gap_se=0.002, **UNSTABLE), AGREE)
    assert v.holds is False and v.case in ("2/50", "2/100", "2/150") and v.statistic > 0.05


def test_agree_median_inconclusive_near_the_tolerance():
    erp = alternating(0.0, 0.0)  # |E[RP] + 1| = 1: the ratio is the median |gap|
    gap = alternating(0.03, 0.07)
    v = sgd.agree_median(three(gap=gap, gap_se=0.01, erp_cv=(erp + 0.2, erp, erp), erp_cv_se=0.01), AGREE)
    assert v.holds is None and v.uncertainty > 0


def test_appendix_a_identity():
    t = {"tolerance": 1e-3}
    assert sgd.appendix_a_identity({"epoch 0": 1e-5, "epoch 25": 2e-4}, t).holds is True
    v = sgd.appendix_a_identity({"epoch 0": 1e-5, "epoch 25": 2e-3}, t)
    assert v.holds is False and v.case == "epoch 25" and v.uncertainty == 0


def test_epoch_ends_to_decide():
    assert sgd.epoch_ends_to_decide(0.65) == pytest.approx(40.44, abs=0.01)  # 4 · 0.65 · 0.35 / 0.15²
    assert sgd.epoch_ends_to_decide(0.35) == sgd.epoch_ends_to_decide(0.65)
    assert sgd.epoch_ends_to_decide(0.5) == np.inf


def test_descriptions_name_what_decided():
    erp = np.random.default_rng(0).permutation(alternating(0.1, -0.1))
    text = sgd.describe_majority(sgd.remark7_majority(run_with(erp_cv=erp), MAJORITY))
    assert "16 of 32" in text and "no number of epoch ends" in text
    gap = np.full(EPOCHS - 8, 0.004)
    gap[5] = 0.2
    runs = three(gap=(gap, 0.004, 0.004), gap_se=0.005, **UNSTABLE)
    lines = sgd.describe_agreement("relu", sgd.agree_every_epoch(runs, AGREE), sgd.agree_median(runs, AGREE))
    assert len(lines.splitlines()) == 3 and "above 0.05 at 14;" in lines and "no epoch end" in lines
