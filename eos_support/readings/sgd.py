"""What the SGD runs of Section 5 show, read off their histories: the numbers the claims check.

The claims look at the **window** of a run of E epochs, the epoch ends ⌈transient·E⌉ + 1 … E after its
first transient (:func:`window`). :func:`long_run_loss` compares the loss there with the first epochs'
(Experiment 7); :func:`progress_signs` says where the control-variate estimates of E[RP] (Definition 3)
lie against 0 there, with the longest run of significantly positive ones and the chance of one as long
(Experiment 7, Remark 7); :func:`agreement` bounds the error of (5.1) there (Experiments 8 and 9);
:func:`identity_at` evaluates both sides of Appendix A's exact identity at one θ.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch

from ..diagnostics.sgd import expected_relative_progress, minibatch_gradients
from .significance import longest_run, run_chance, wilson_interval
from .tables import eta_name


def window(epochs: int, transient: float) -> range:
    """The epoch ends ⌈transient·E⌉ + 1 … E of a run of E = ``epochs`` epochs: those after its transient."""
    first = math.ceil(round(transient * epochs, 9)) + 1  # round: 0.2 · 25 is 5, not 5.000…1
    if not 0 <= transient < 1 or first > epochs:
        raise ValueError(f"transient must leave epochs in the window: got {transient} of {epochs} epochs")
    return range(first, epochs + 1)


def in_window(run, key, transient) -> np.ndarray:
    """``run.history[key]`` at the window's epoch ends (NaN at those the run did not reach)."""
    ends = window(run.options.epochs, transient)
    h = np.asarray(run.history[key], dtype=float)
    return np.array([h[e] if e < len(h) else math.nan for e in ends])


@dataclass(frozen=True)
class LongRunLoss:
    """The full-batch loss of a run at its start, at its end, before and in the window.

    ``initial`` at epoch 0, ``last`` at epoch E, ``early`` the mean over the epochs 0 … ``first`` − 1
    before the window, ``late`` the mean over the window ``first`` … E.
    """

    initial: float
    last: float
    early: float
    late: float
    first: int

    def as_measured(self) -> dict:
        """What the claim of Experiment 7 reports."""
        return {
            "last / initial loss": self.last / self.initial,
            "window's mean loss": self.late,
            "first epochs' mean loss": self.early,
        }


def long_run_loss(run, transient) -> LongRunLoss:
    """:class:`LongRunLoss` of an SGD ``run``; ``last`` is NaN if it stopped before its E epochs."""
    loss = np.asarray(run.history["loss"], dtype=float)
    ends = window(run.options.epochs, transient)
    late = in_window(run, "loss", transient)
    return LongRunLoss(
        initial=loss[0], last=late[-1], early=loss[: ends.start].mean(), late=late.mean(), first=ends.start
    )


@dataclass(frozen=True)
class ProgressSigns:
    """Where the control-variate estimates of E[RP] lie against 0 over the window ``first`` … ``last``.

    ``median`` the window's median estimate; ``at_or_above`` the number of the ``ends`` window epoch ends
    with estimate ≥ 0, ``wilson`` the 95 % Wilson interval of that fraction; ``longest`` the longest run
    of consecutive epoch ends with estimate − 2 SE > 0, starting at epoch ``longest_from`` (−1: none),
    and ``chance`` the probability that independent epoch ends, each significant with probability
    ``p_significant`` (the registry's ``chance``: 0.023 for estimate − 2 SE > 0 under E[RP] = 0 with
    normal errors), give a run as long.
    """

    first: int
    last: int
    ends: int
    median: float
    at_or_above: int
    wilson: tuple[float, float]
    longest: int
    longest_from: int
    chance: float

    @property
    def share(self) -> float:
        """The fraction of the window's estimates ≥ 0."""
        return self.at_or_above / self.ends

    def as_measured(self) -> dict:
        """What the claim of Experiment 7 on E[RP] reports."""
        return {
            "window": f"epoch ends {self.first}–{self.last}",
            "median": self.median,
            "longest run with estimate − 2 SE > 0": self.longest,
            "from epoch": self.longest_from,
            "chance of one as long": self.chance,
        }

    def __str__(self):
        lo, hi = self.wilson
        run = f"{self.longest} epoch end(s) from epoch {self.longest_from}" if self.longest else "none"
        return (
            f"window: epoch ends {self.first}–{self.last} ({self.ends}); median E[RP] {self.median:+.4f}; "
            f"estimate >= 0 at {self.at_or_above} ({self.share:.0%}, 95 % Wilson interval "
            f"{lo:.0%}–{hi:.0%}); longest run with estimate − 2 SE > 0: {run}, chance of one as long "
            f"{self.chance:.3g}"
        )


def progress_signs(run, transient, p_significant) -> ProgressSigns:
    """:class:`ProgressSigns` of an SGD ``run``'s ``erp_cv`` ± ``erp_cv_se`` over its window; each epoch end
    is significant by chance alone with probability ``p_significant``.
    """
    erp, se = in_window(run, "erp_cv", transient), in_window(run, "erp_cv_se", transient)
    ends = window(run.options.epochs, transient)
    k, n = int(np.sum(erp >= 0)), len(erp)
    longest, start = longest_run(erp - 2 * se > 0)
    return ProgressSigns(
        first=ends.start,
        last=ends.stop - 1,
        ends=n,
        median=float(np.median(erp)),
        at_or_above=k,
        wilson=wilson_interval(k, n),
        longest=longest,
        longest_from=ends.start + start if longest else -1,
        chance=run_chance(n, longest, p_significant),
    )


@dataclass(frozen=True)
class Agreement:
    """How closely (5.1) approximates E[RP] over the window of one SGD run at step size ``eta``.

    ``bound``: the largest abs(gap) + 2 SE over the window, at epoch ``bound_at`` (the gap is E[RP] − RHS
    estimated sample by sample, see :class:`~eos_support.diagnostics.sgd.SGDProgress`; inf if the run
    did not complete its epochs or a value is not finite); ``positive``: the fraction of the window's
    epoch ends with control-variate E[RP] estimate > 0.
    """

    eta: float
    bound: float
    bound_at: int
    positive: float

    def as_measured(self) -> dict:
        """What the claims of Experiments 8 and 9 report for this step size."""
        return {"max |gap| + 2 SE": self.bound, "at epoch": self.bound_at, "share with E[RP] > 0": self.positive}

    def describe(self, label):
        """One line for the run called ``label`` (e.g. its activation)."""
        return (
            f"{label:>5} {'η = ' + eta_name(self.eta):>10}: max |gap| + 2 SE {self.bound:.4f} "
            f"(epoch {self.bound_at}); E[RP] estimate > 0 at {self.positive:.0%} of the window"
        )


def agreement(run, transient) -> Agreement:
    """:class:`Agreement` of the two sides of (5.1) over an SGD ``run``'s window."""
    bound = np.abs(in_window(run, "gap", transient)) + 2 * in_window(run, "gap_se", transient)
    ok = run.status == "max_epochs" and np.isfinite(bound).all()
    at = window(run.options.epochs, transient).start + int(np.nanargmax(bound)) if ok else -1
    return Agreement(
        eta=run.eta,
        bound=float(np.max(bound)) if ok else math.inf,
        bound_at=at,
        positive=float(np.mean(in_window(run, "erp_cv", transient) > 0)),
    )


def identity_at(f, theta, options, nodes, seed=0, samples=None):
    """Both sides of Appendix A's exact identity at θ: ``exact`` and ``erp_cv`` of the result, in float64.

    :func:`~eos_support.diagnostics.sgd.expected_relative_progress` with ``nodes`` Gauss–Legendre nodes,
    from M = ``samples`` (None: ``options.samples``) fresh minibatches of ``options.batch_size`` (seeded by
    ``seed``) at step size ``options.eta`` (an :class:`~eos_support.train.SGDOptions`). θ, the inputs and
    floating targets are cast to float64: the control-variate side divides f(θ − ηg) − f(θ) by η‖∇f‖²,
    which near a minimum (‖∇f‖² ≈ 2e-5 after 100 epochs of Experiment 7 on CIFAR-10) turns float32's
    rounding of the loss into an error of 1e-3 in E[RP].
    """
    f, theta = f.float64(), theta.detach().double()
    generator = torch.Generator().manual_seed(seed)
    M = samples or options.samples
    G = minibatch_gradients(f, theta, options.batch_size, M, generator, options.chunk_size)
    return expected_relative_progress(f, theta, options.eta, G, nodes=nodes, chunk_size=options.chunk_size)
