"""Theorem 2 along a recorded GD run: the identity (4.2), Experiment 5's τ-profiles, the approximation (4.3).

(4.3) reads RP(θ) ≈ −1 + (η/2)·L(θ; η∇f(θ)). The run's history (:func:`eos_support.train.train_gd`) holds
RP(θᵗ) and L(θᵗ; η∇f(θᵗ)) at every step (``rp``, ``ds``), the profile τ ↦ L(θᵗ; ητ∇f(θᵗ)) every
``profile_every`` steps (``profile``), and both sides of (4.2) in float64 every ``float64_every`` steps
(``rp64``, ``theorem2_rp64``).
"""

from dataclasses import dataclass

import numpy as np

from ..diagnostics import rp_approximation
from .phases import unstable_onset
from .tables import eta_name, markdown_table
from .uncertainty import bootstrap


@dataclass(frozen=True)
class IdentityCheck:
    """Both sides of (4.2) in float64 at the checked iterates θᵗ that have a successor (``steps``).

    ``rp`` by Definition 1, ``rhs`` = −1 + η∫₀¹ τ L(θᵗ; ητ∇f(θᵗ)) dτ by Gauss–Legendre quadrature.
    """

    steps: np.ndarray
    rp: np.ndarray
    rhs: np.ndarray

    @property
    def diff(self) -> np.ndarray:
        """The absolute difference of RP and the right side of (4.2) per checked iterate."""
        return np.abs(self.rp - self.rhs)

    def table(self) -> str:
        """The two sides and their difference as a Markdown table, one row per checked iterate."""
        head = ["step", "RP(θᵗ) (Def. 1)", "−1 + η∫τL dτ (4.2)", "|difference|"]
        rows = [(t, f"{a:.15f}", f"{b:.15f}", f"{abs(a - b):.2e}") for t, a, b in zip(self.steps, self.rp, self.rhs)]
        return markdown_table(head, rows)


def identity_check(run) -> IdentityCheck:
    """The float64 checks of (4.2) that ``run`` recorded, at the iterates θᵗ with an RP.

    The last recorded iterate has no successor, so no RP: only steps t < len(RP) count.
    """
    h = run.history
    checked = h["float64_step"] < len(h["rp"])
    return IdentityCheck(h["float64_step"][checked], h["rp64"][checked], h["theorem2_rp64"][checked])


def rp_precision(run):
    """RP in float32 against float64: ``(steps, abs(RP₃₂ − RP₆₄), RP₆₄)``.

    At the iterates where ``run`` recomputed RP in float64 (history ``rp64``) and that have a successor.
    """
    check = identity_check(run)
    return check.steps, np.abs(run.history["rp"][check.steps] - check.rp), check.rp


def profile_spread(run) -> np.ndarray:
    """Experiment 5: per profiled iterate, the std of τ ↦ L(θᵗ; ητ∇f(θᵗ)) over τ divided by abs(its mean).

    Small values mean flat profiles, so that L(θᵗ; η∇f(θᵗ)) stands for the weighted average in (4.2).
    """
    P = run.history["profile"]
    return P.std(axis=1) / np.abs(P.mean(axis=1))


BOOTSTRAP_SEED = 43
"""The seed of the block bootstrap that measures how sure a statistic of a phase is (a median error of
(4.3), a share of steps): fixed, so that the same run gives the same uncertainty on every machine."""


@dataclass(frozen=True)
class Approximation:
    """How well (4.3) holds along a run, per phase.

    ``errors`` = abs(RP(θᵗ) − (−1 + (η/2)L(θᵗ; η∇f(θᵗ)))) per step; ``onset`` the first step of the
    unstable phase (:func:`eos_support.readings.phases.unstable_onset`; None: the run has none, every step is stable).
    """

    errors: np.ndarray
    onset: int | None

    @property
    def stable(self) -> np.ndarray:
        """The errors at the steps before the unstable phase."""
        return self.errors[: self.onset]

    @property
    def unstable(self) -> np.ndarray:
        """The errors over the unstable phase (empty when there is none)."""
        return self.errors[self.onset :] if self.onset is not None else self.errors[:0]

    @property
    def median(self) -> float:
        """The median error over all steps."""
        return _median(self.errors)

    @property
    def stable_median(self) -> float:
        """The median error over the stable phase (NaN when it is empty)."""
        return _median(self.stable)

    @property
    def unstable_median(self) -> float:
        """The median error over the unstable phase (NaN when there is none)."""
        return _median(self.unstable)

    @property
    def stable_uncertainty(self) -> float:
        """How sure :attr:`stable_median` is: 2 × its moving-block bootstrap SD over the stable steps."""
        return bootstrap(self.stable, _median, seed=BOOTSTRAP_SEED)

    @property
    def unstable_uncertainty(self) -> float:
        """How sure :attr:`unstable_median` is: 2 × its moving-block bootstrap SD over the unstable phase."""
        return bootstrap(self.unstable, _median, seed=BOOTSTRAP_SEED)


def _median(x) -> float:
    return float(np.median(x)) if len(x) else float("nan")


def with_uncertainty(value, uncertainty) -> str:
    """``value ± uncertainty`` to three significant digits ("nan" when nothing was measured)."""
    return f"{value:.3g}" if np.isnan(value) else f"{value:.3g} ± {uncertainty:.2g}"


def approximation(run) -> Approximation:
    """The error of (4.3) at every step of ``run``, split at its unstable onset (see :class:`Approximation`)."""
    h = run.history
    return Approximation(np.abs(h["rp"] - rp_approximation(h["ds"], run.eta)), unstable_onset(run))


def approximation_table(runs) -> str:
    """A Markdown table of ``runs`` = ``{(depth, η): Run}`` (Experiment 6), one row each.

    Columns: status, steps, first and last loss, the start of the unstable phase, and the median error
    of (4.3) over the stable and over the unstable phase, each ± its bootstrap uncertainty.
    """
    head = ["depth", "η", "status", "steps", "loss", "unstable from", "(4.3) error: stable", "unstable"]
    rows = []
    for (depth, eta), run in runs.items():
        h, a = run.history, approximation(run)
        loss = f"{h['loss'][0]:.3g} → {h['loss'][-1]:.3g}"
        errors = (
            with_uncertainty(a.stable_median, a.stable_uncertainty),
            with_uncertainty(a.unstable_median, a.unstable_uncertainty),
        )
        rows.append([depth, eta_name(eta), run.status, run.steps, loss, a.onset, *errors])
    return markdown_table(head, rows)
