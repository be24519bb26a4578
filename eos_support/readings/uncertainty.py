"""How sure a statistic is: the measured uncertainties that :mod:`~eos_support.book.criteria.verdict` uses.

- :func:`bootstrap` — for a statistic of a time series (the median RP over an unstable phase, the
  share of its steps with RP > 0): a moving-block bootstrap over the series, with blocks as long as
  the series' correlation (:func:`block_length`), so that the oscillations of the edge of stability
  are resampled whole. The uncertainty is :data:`COVERAGE` bootstrap standard deviations. Its random
  resamples come from a fixed seed: the same series gives the same uncertainty on every machine.
- :func:`spread` — for a deterministic computation (a toy cost in float64): the largest change of the
  statistic when it is recomputed from inputs perturbed at rounding level.

An uncertainty is fixed by the method the registry names before the run; it is never widened to
avoid a verdict.
"""

from __future__ import annotations

import math

import numpy as np

COVERAGE = 2.0
"""Bootstrap standard deviations in an uncertainty (about a 95 % interval for a normal statistic)."""
RESAMPLES = 1000
"""Bootstrap resamples: the standard deviation's own relative error is about 1/√(2·1000) ≈ 2 %."""


def integrated_time(series) -> float:
    """The integrated autocorrelation time τ = 1 + 2 Σₖ ρ(k) of a series, with Sokal's window (sum up
    to the first lag k ≥ 5τ(k)); 1 for an uncorrelated series, larger for one that oscillates slowly.
    """
    x = np.asarray(series, dtype=np.float64)
    n = x.size
    if n < 4 or not np.isfinite(x).all() or np.ptp(x) == 0:
        return 1.0
    x = x - x.mean()
    spectrum = np.fft.rfft(x, 2 * n)
    acf = np.fft.irfft(spectrum * np.conj(spectrum))[:n]
    rho = acf / acf[0]
    tau = 1.0
    for k in range(1, n):
        tau += 2 * rho[k]
        if k >= 5 * tau:
            break
    return max(1.0, tau)


def block_length(series) -> int:
    """The bootstrap's block length: ⌈2τ⌉ (τ from :func:`integrated_time`), at least ⌈n^{1/3}⌉, at most n/4."""
    n = len(series)
    length = max(math.ceil(2 * integrated_time(series)), math.ceil(n ** (1 / 3)))
    return int(max(1, min(length, n // 4 if n >= 4 else n)))


def bootstrap(series, statistic, *, seed: int = 0, resamples: int = RESAMPLES) -> float:
    """:data:`COVERAGE` × the moving-block bootstrap standard deviation of ``statistic(series)``.

    ``series`` is 1-D (or 2-D, rows resampled together: several series that share their steps);
    ``statistic`` maps an array of that shape to a number. Resamples of ⌈n/b⌉ blocks of length b =
    :func:`block_length` (of the first column), drawn with a generator seeded by ``seed``.
    """
    x = np.asarray(series, dtype=np.float64)
    n = x.shape[0]
    if n < 2:
        return 0.0
    b = block_length(x if x.ndim == 1 else x[:, 0])
    starts = np.random.default_rng(seed).integers(0, n - b + 1, size=(resamples, math.ceil(n / b)))
    index = (starts[:, :, None] + np.arange(b)).reshape(resamples, -1)[:, :n]
    values = np.array([statistic(x[i]) for i in index], dtype=np.float64)
    return float(COVERAGE * np.std(values[np.isfinite(values)]))


def spread(baseline, perturbed) -> float:
    """The largest abs(change) of a statistic from its ``baseline`` value over its ``perturbed`` recomputations."""
    values = np.asarray(list(perturbed), dtype=np.float64)
    if values.size == 0:
        raise ValueError("spread needs at least one perturbed recomputation")
    return float(np.max(np.abs(values - float(baseline))))


def perturbed(theta, draws: int = 4, relative: float = 2.0**-52, seed: int = 0):
    """``draws`` copies of ``theta`` (a tensor or array), each entry multiplied by 1 + ``relative``·s with
    random signs s = ±1: inputs that differ from ``theta`` at rounding level (float64's by default).
    """
    rng = np.random.default_rng(seed)
    is_tensor = hasattr(theta, "detach")
    base = theta.detach().cpu().numpy() if is_tensor else np.asarray(theta, dtype=np.float64)
    out = []
    for _ in range(draws):
        value = base * (1 + relative * rng.choice((-1.0, 1.0), size=base.shape))
        if is_tensor:
            import torch

            value = torch.as_tensor(value, dtype=theta.dtype, device=theta.device)
        out.append(value)
    return out
