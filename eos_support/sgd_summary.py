"""What the SGD runs of Section 5 show, read off their histories: the numbers the claims check.

:func:`progress_signs` counts the epoch ends at which E[RP] (Definition 3) sits at, above or not
significantly below 0 (Experiment 7, Remark 7); :func:`long_run_loss` compares the loss at the start
and the end and over the two halves of a run ("decreases in the long run"); :func:`agreement`
measures how far apart the two sides of (5.1) are at the epoch ends (Experiments 8 and 9). Each takes
the history of an :func:`~eos_support.train.train_sgd` run and returns a small frozen result.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .phases import eta_name


@dataclass(frozen=True)
class ProgressSigns:
    """Where the estimates of E[RP(θ)] (Definition 3) lie against 0 over the epoch ends 1..E.

    ``epochs`` E; ``at_or_above`` the number of point estimates ≥ 0, ``share`` their fraction;
    ``not_below`` the fraction not significantly below 0 (estimate + z SE ≥ 0); ``above`` the number
    significantly above 0 (estimate − z SE > 0); ``median`` the median estimate; ``z`` the multiple
    of the standard error used.
    """

    epochs: int
    at_or_above: int
    share: float
    not_below: float
    above: int
    median: float
    z: float

    def __str__(self):
        z = f"{self.z:g}"
        return (f"E[RP] estimate >= 0 at {self.at_or_above} of {self.epochs} epoch ends ({self.share:.0%}); "
                f"not significantly below 0 (estimate + {z} SE >= 0) at {self.not_below:.0%}; "
                f"significantly above 0 (estimate − {z} SE > 0) at {self.above}; median {self.median:+.3f}")


def progress_signs(history, z=2) -> ProgressSigns:
    """:class:`ProgressSigns` of an SGD history's ``erp`` and ``erp_se`` at the epoch ends 1..E (not θ⁰)."""
    erp, se = np.asarray(history["erp"])[1:], np.asarray(history["erp_se"])[1:]
    if len(erp) == 0:
        raise ValueError("the history has no epoch end after the initialisation")
    return ProgressSigns(epochs=len(erp), at_or_above=int(np.sum(erp >= 0)), share=float(np.mean(erp >= 0)),
                         not_below=float(np.mean(erp + z * se >= 0)), above=int(np.sum(erp - z * se > 0)),
                         median=float(np.median(erp)), z=z)


@dataclass(frozen=True)
class LongRunLoss:
    """The full-batch loss of a run: ``initial`` (epoch 0), ``last``, and the means of its two halves."""

    initial: float
    last: float
    first_half: float
    second_half: float

    def __str__(self):
        return (f"loss: epoch 0 {self.initial:.3f}, last {self.last:.3f}; "
                f"mean over the first half {self.first_half:.3f}, second half {self.second_half:.3f}")


def long_run_loss(history) -> LongRunLoss:
    """:class:`LongRunLoss` of ``history["loss"]`` (epochs 0..E, split into halves as ``np.array_split``)."""
    loss = np.asarray(history["loss"])
    if len(loss) < 2:
        raise ValueError(f"need the loss at two epochs at least, got {len(loss)}")
    first, second = np.array_split(loss, 2)
    return LongRunLoss(initial=loss[0], last=loss[-1], first_half=first.mean(), second_half=second.mean())


@dataclass(frozen=True)
class Agreement:
    """How far apart the two sides of (5.1) are over the epoch ends 0..E of one SGD run at step size ``eta``.

    ``z``: the largest |LHS − RHS| / sqrt(SE_L² + SE_R²), at epoch ``z_at``; ``rel``: the largest
    |gap| / max(1, |RHS + 1|), at epoch ``rel_at`` (the gap is E[RP] − RHS estimated sample by sample,
    see :class:`~eos_support.sgd_diagnostics.SGDProgress`). Both are inf when the run did not complete
    its epochs or a value is not finite. ``median_gap``, ``median_gap_se``: the median |gap| and the
    median standard error of the gap.
    """

    eta: float
    z: float
    z_at: int
    rel: float
    rel_at: int
    median_gap: float
    median_gap_se: float

    def describe(self, label):
        """One line for the run called ``label`` (e.g. its activation)."""
        return (f"{label:>5} {'η = ' + eta_name(self.eta):>10}: max |LHS − RHS|/combined SE {self.z:.2f} "
                f"(epoch {self.z_at}); max |gap|/max(1, |RHS + 1|) {self.rel:.4f} (epoch {self.rel_at}); "
                f"median |gap| {self.median_gap:.4f} ± {self.median_gap_se:.4f}")


def agreement(run) -> Agreement:
    """:class:`Agreement` of the two sides of (5.1) in an SGD ``run`` (a :class:`~eos_support.train.Run`)."""
    h = run.history
    z = np.abs(h["erp"] - h["rhs"]) / np.hypot(h["erp_se"], h["rhs_se"])
    rel = np.abs(h["gap"]) / np.maximum(1, np.abs(h["rhs"] + 1))
    ok = run.status == "max_epochs" and np.isfinite(z).all() and np.isfinite(rel).all()
    return Agreement(eta=run.eta, z=np.max(z) if ok else np.inf, z_at=int(np.argmax(z)),
                     rel=np.max(rel) if ok else np.inf, rel_at=int(np.argmax(rel)),
                     median_gap=np.median(np.abs(h["gap"])), median_gap_se=np.median(h["gap_se"]))


def worst(agreements, criterion) -> Agreement:
    """The agreement with the largest ``criterion`` ("z" or "rel"); the first of equals."""
    if criterion not in ("z", "rel"):
        raise ValueError(f"criterion must be 'z' or 'rel', got {criterion!r}")
    return max(agreements, key=lambda a: getattr(a, criterion))
