"""eos_support.checks.positive_int: the one integer-argument check, and the diagnostics that use it refuse a
count that is not a whole number instead of truncating it."""

import numpy as np
import pytest
import torch

from eos_support.checks import positive_int
from eos_support.diagnostics import gauss_legendre
from eos_support.diagnostics.curvature import top_eigen
from eos_support.diagnostics.sgd import expected_relative_progress, sample_minibatches


def test_positive_int_accepts_whole_numbers_and_names_the_argument():
    assert positive_int("steps", 3) == 3 and positive_int("steps", np.int64(3)) == 3
    assert positive_int("every", None, allow_none=True) is None
    assert positive_int("seed", 0, minimum=0) == 0
    for bad in (0, -1, 2.5, "3", True, None):
        with pytest.raises(ValueError, match="steps must be an integer >= 1"):
            positive_int("steps", bad)


def quadratic(theta):
    return 0.5 * (theta * theta * torch.arange(1.0, 5.0, dtype=theta.dtype)).sum()


@pytest.mark.parametrize(
    "call",
    [
        lambda: top_eigen(quadratic, torch.ones(4, dtype=torch.float64), iters=2.5),
        lambda: gauss_legendre(1.5),
        lambda: sample_minibatches(10, 2, samples=2.5),
        lambda: sample_minibatches(10, 2.5, samples=3),
        lambda: expected_relative_progress(quadratic, torch.ones(4), 0.1, torch.ones(3, 4), chunk_size=2.5),
        lambda: expected_relative_progress(quadratic, torch.ones(4), 0.1, torch.ones(3, 4), nodes=1.5),
    ],
    ids=["top_eigen iters", "gauss_legendre nodes", "samples", "batch_size", "chunk_size", "nodes"],
)
def test_a_fractional_count_is_refused_not_truncated(call):
    with pytest.raises(ValueError, match="must be an integer >= 1"):
        call()
