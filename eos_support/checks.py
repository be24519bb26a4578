"""Argument checks shared by the diagnostics: each error names the problem and the fix."""

import math

import numpy as np
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
            "flatten it (theta.reshape(-1)) or use eos_support.diagnostics.objective.ModuleLoss for a network"
        )
    if not theta.is_floating_point():
        raise ValueError(f"theta must be floating point, got {theta.dtype}: use theta.double() or theta.float()")
    return theta


def _nonfinite(x) -> int:
    """How many entries of x are NaN or infinite."""
    return int((~torch.isfinite(x)).sum())


def check_finite(x, what, name="theta"):
    """``x`` (θ, or a direction v) must be finite: at a NaN or infinite point ``what`` is undefined."""
    if bad := _nonfinite(x):
        raise ValueError(
            f"{name} is not finite ({bad} of its {x.numel()} entries are NaN or inf), so {what} is undefined "
            f"there: pass a finite {name} (a diverged run's iterate is not a point to evaluate)"
        )
    return x


def scalar(f):
    """Wrap f so that a non-scalar output raises a ValueError instead of a cryptic autograd error."""

    def wrapped(theta):
        out = f(theta)
        if not isinstance(out, torch.Tensor) or out.dim() != 0:
            shape = tuple(out.shape) if isinstance(out, torch.Tensor) else type(out).__name__
            raise ValueError(f"f must return a scalar (0-dim) tensor, got {shape}: reduce the loss, e.g. .mean()")
        return out

    return wrapped


def finite_gradient(g, what, loss=None):
    """f(θ) (when given) and ∇f(θ) must be finite for ``what``; returns g."""
    if loss is not None and not math.isfinite(float(loss)):
        raise ValueError(
            f"the loss f(θ) = {float(loss)} is not finite at this θ, so {what} is undefined there: "
            "check the loss function (e.g. a log of 0) or evaluate it at a point where f is finite"
        )
    if bad := _nonfinite(g):
        raise ValueError(
            f"the gradient ∇f(θ) is not finite at this θ ({bad} of its {g.numel()} entries are NaN or inf), "
            f"so {what} is undefined there: evaluate it at a point where f is differentiable"
        )
    return g


def check_gradient(g, what, loss=None):
    """f(θ) and ∇f(θ) finite and ∇f(θ) ≠ 0: RP (Definition 1) and L(θ; η∇f(θ)) (Definition 2) divide by
    ‖∇f(θ)‖², and a NaN gradient is not a stationary point. Returns ‖∇f(θ)‖² (a 0-dim tensor).
    """
    gg = torch.dot(finite_gradient(g, what, loss), g)
    if math.isinf(float(gg)):
        raise ValueError(
            f"‖∇f(θ)‖² overflows {g.dtype} at this θ, so {what} cannot be computed: use float64 (theta.double())"
        )
    if float(gg) == 0:
        raise ValueError(
            f"{what} is undefined at a stationary point (the gradient is zero): evaluate it at a non-stationary θ"
        )
    return gg


def check_step(results, what, step):
    """``results`` (0-dim tensors computed at the end of ``step``, e.g. "θ − η∇f(θ) with eta=0.1") must
    all be finite: a non-finite one means the step left the region where f and ∇f are finite, or a
    product such as η‖∇f(θ)‖² overflowed.
    """
    values = torch.cat([torch.as_tensor(r).detach().reshape(-1).double().cpu() for r in results])
    if not bool(torch.isfinite(values).all()):
        raise ValueError(
            f"{what} is not finite: the step {step} is too large for this θ (it leaves the region where f and "
            "∇f are finite, or η‖∇f(θ)‖² overflows): use a smaller step, or float64 (theta.double())"
        )


def positive_int(name, value, minimum=1, allow_none=False):
    """``value`` as an int ≥ ``minimum`` (or None when allowed), else a ValueError naming ``name``."""
    if value is None and allow_none:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        none = " (or None)" if allow_none else ""
        raise ValueError(f"{name} must be an integer >= {minimum}{none}, got {value!r}")
    return int(value)
