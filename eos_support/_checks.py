"""Argument checks shared by the diagnostics: each error names the problem and the fix."""

import math

import torch


def check_eta(eta):
    """A step size must be a finite positive number."""
    try:
        value = float(eta)
    except (TypeError, ValueError):
        raise ValueError(f"step size eta must be a number, got {eta!r}") from None
    if not math.isfinite(value) or value <= 0:
        raise ValueError(f"step size eta must be finite and > 0, got {eta!r}: pass e.g. eta=2/30")
    return value


def check_theta(theta):
    """θ must be a 1-D floating-point tensor (flatten a network's parameters first)."""
    if not isinstance(theta, torch.Tensor):
        raise ValueError(f"theta must be a torch.Tensor, got {type(theta).__name__}")
    if theta.dim() != 1:
        raise ValueError(
            f"theta must be a 1-D parameter vector, got shape {tuple(theta.shape)}: "
            "flatten it (theta.reshape(-1)) or use eos_support.objective.ModuleLoss for a network"
        )
    if not theta.is_floating_point():
        raise ValueError(f"theta must be floating point, got {theta.dtype}: use theta.double() or theta.float()")
    return theta


def check_finite(theta, what):
    """θ must be finite: at a NaN or infinite θ, ``what`` (e.g. "relative progress") is undefined."""
    if not bool(torch.isfinite(theta).all()):
        bad = int((~torch.isfinite(theta)).sum())
        raise ValueError(
            f"theta has {bad} non-finite entries (NaN or inf) of {theta.numel()}, so {what} is undefined "
            "there: pass a finite θ (a diverged run's iterate is not a point to evaluate)"
        )
    return theta


def scalar(f):
    """Wrap f so that a non-scalar output raises a ValueError instead of a cryptic autograd error."""

    def wrapped(theta):
        out = f(theta)
        if not isinstance(out, torch.Tensor) or out.dim() != 0:
            shape = tuple(out.shape) if isinstance(out, torch.Tensor) else type(out).__name__
            raise ValueError(f"f must return a scalar (0-dim) tensor, got {shape}: reduce the loss, e.g. .mean()")
        return out

    return wrapped


def nonzero(grad_norm_sq, what):
    """RP and L divide by ‖∇f‖²: at a stationary point they are undefined."""
    if not float(grad_norm_sq) > 0:
        raise ValueError(
            f"{what} is undefined at a stationary point (the gradient is zero): "
            "evaluate it at a non-stationary θ"
        )
