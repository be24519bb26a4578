"""Each optimizer's stability threshold, read from its hyper-parameters, and the sharpness it refers to.

A threshold is the largest curvature for which the optimizer's iteration on a quadratic is stable,
the analogue of GD's 2/η (Theorem 1 of the paper; Cohen et al. 2021). Three sharpnesses are compared
with one:

- ``"hessian"``: λ_max(∇²f(θ)) (footnote 1), for SGD with or without momentum, on a full batch;
- ``"preconditioned"``: λ_max(P⁻¹∇²f(θ)) with Adam's P = diag(√v̂ + ε) (Cohen et al. 2022);
- ``"batch"``: the mean over minibatches of gᵦᵀHᵦgᵦ/‖gᵦ‖² (Andreyev & Beneventano 2024), for minibatch SGD.
"""

import math
from dataclasses import dataclass

import torch

KINDS = ("hessian", "preconditioned", "batch")
"""The sharpnesses a threshold can refer to: of the Hessian, of the preconditioned Hessian, of a minibatch's."""
ADAMS = (torch.optim.Adam, torch.optim.AdamW)


@dataclass(frozen=True)
class Threshold:
    """An optimizer's stability threshold: ``value`` (None where none is known) for the sharpness ``sharpness``.

    ``formula`` is how ``value`` follows from the hyper-parameters, ``source`` where it comes from, and
    ``note`` what it leaves out.
    """

    value: float | None
    sharpness: str
    formula: str
    source: str
    note: str = ""


def hyperparameters(optimizer, keys):
    """{key: value} of ``optimizer.param_groups``; all groups must agree on each key (a learning rate
    that is a tensor is read as a float).
    """

    def read(group, key):
        value = group[key]
        if isinstance(value, torch.Tensor):
            return float(value)
        return tuple(float(v) for v in value) if isinstance(value, (tuple, list)) else value

    groups = optimizer.param_groups
    first = {k: read(groups[0], k) for k in keys}
    for i, group in enumerate(groups[1:], 1):
        differ = [k for k in keys if read(group, k) != first[k]]
        if differ:
            raise ValueError(
                f"the optimizer's parameter groups 0 and {i} differ in {differ}: a stability threshold needs one "
                "value of each; monitor with a single parameter group (or groups with equal hyper-parameters)"
            )
    return first


def momentum_threshold(eta, momentum=0.0, dampening=0.0, nesterov=False):
    """The largest λ for which ``torch.optim.SGD`` on f(x) = ½λx² is stable.

    Heavy ball, b ← βb + (1 − τ)g, x ← x − ηb: x_{t+1} = (1 + β − η(1 − τ)λ) x_t − β x_{t−1}, whose
    characteristic root crosses −1 when η(1 − τ)λ = 2 + 2β: λ* = (2 + 2β)/(η(1 − τ)); τ = 0 gives
    (2 + 2β)/η (Cohen et al. 2021, appendix on momentum) and β = 0 gives 2/η.
    Nesterov, x ← x − η(g + βb): on (x_t, b_{t−1}) the iteration matrix [[1 − ηλ(1 + β), −ηβ²], [λ, β]]
    has trace 1 + β − ηλ(1 + β) and determinant β(1 − ηλ), so its root crosses −1 (1 + trace + det = 0)
    when ηλ(1 + 2β) = 2 + 2β: λ* = (2 + 2β)/(η(1 + 2β)), e.g. 1.357/η at β = 0.9 (derived here, the
    same algebra as for heavy ball; tested against torch's iteration). η = 0 (a schedule's last step)
    gives ∞: nothing is unstable.
    """
    if eta == 0:
        return math.inf
    if nesterov:
        return (2 + 2 * momentum) / (eta * (1 + 2 * momentum))
    return (2 + 2 * momentum) / (eta * (1 - dampening))


def _sgd(optimizer, kind):
    hp = hyperparameters(optimizer, ("lr", "momentum", "dampening", "nesterov", "weight_decay", "maximize"))
    if hp["maximize"]:
        raise ValueError("the optimizer maximizes (maximize=True): the stability thresholds are for minimisation")
    if kind == "preconditioned":
        raise ValueError(
            "the preconditioned sharpness refers to Adam's preconditioner: use sharpness='hessian' or 'batch' with SGD"
        )
    eta, beta, tau, wd = hp["lr"], hp["momentum"], hp["dampening"], hp["weight_decay"]
    value = momentum_threshold(eta, beta, tau, hp["nesterov"]) - wd
    if hp["nesterov"]:
        formula, source = "(2 + 2β)/(η(1 + 2β))", "Nesterov on a quadratic, derived in thresholds.momentum_threshold"
    elif beta:
        formula = "(2 + 2β)/η" if not tau else "(2 + 2β)/(η(1 − τ))"
        source = "heavy ball on a quadratic (Cohen et al. 2021, appendix)"
    else:
        formula, source = "2/η", "GD on a quadratic (Cohen et al. 2021)"
    if kind == "batch":
        source = "Andreyev & Beneventano 2024 (batch sharpness vs 2/η)" + ("; with momentum by analogy" if beta else "")
    note = f"weight decay {wd:g} adds {wd:g} to every curvature, subtracted from the threshold" if wd else ""
    return Threshold(value, kind, formula + (" − λ_wd" if wd else ""), source, note)


def _adam(optimizer, kind):
    hp = hyperparameters(optimizer, ("lr", "betas", "weight_decay", "maximize"))
    if hp["maximize"]:
        raise ValueError("the optimizer maximizes (maximize=True): the stability thresholds are for minimisation")
    name = type(optimizer).__name__
    if kind != "preconditioned":
        return Threshold(
            None,
            kind,
            "",
            "",
            f"{name}'s threshold refers to the preconditioned sharpness λ_max(P⁻¹H): use sharpness='preconditioned'",
        )
    eta, beta1, wd = hp["lr"], hp["betas"][0], hp["weight_decay"]
    note = (
        "the bias correction 1/(1 − β₁ᵗ) of the first moment is left out (it is < 1.01 after 44 steps at β₁ = 0.9)"
        + (f"; weight decay {wd:g} is left out (it shifts the threshold by O(weight decay))" if wd else "")
    )
    return Threshold(
        momentum_threshold(eta, beta1, dampening=beta1),
        kind,
        "(2 + 2β₁)/((1 − β₁)η)",
        "Adam with a frozen preconditioner (Cohen et al. 2022)",
        note,
    )


def gradient_step_size(optimizer):
    """η where the optimizer's update is exactly η∇f: plain SGD (no momentum, no weight decay); else None."""
    if not isinstance(optimizer, torch.optim.SGD):
        return None
    hp = hyperparameters(optimizer, ("lr", "momentum", "weight_decay", "maximize"))
    plain = hp["momentum"] == 0 and hp["weight_decay"] == 0 and not hp["maximize"] and hp["lr"] > 0
    return hp["lr"] if plain else None


def default_sharpness(optimizer):
    """The sharpness the optimizer's threshold refers to: "preconditioned" for Adam/AdamW, else "hessian"."""
    return "preconditioned" if isinstance(optimizer, ADAMS) else "hessian"


def stability_threshold(optimizer, sharpness=None):
    """The :class:`Threshold` of ``optimizer`` now, for ``sharpness`` (one of :data:`KINDS`;
    default by type).

    SGD: :func:`momentum_threshold` minus the weight decay (an L2 term adds it to every curvature).
    Adam/AdamW: (2 + 2β₁)/((1 − β₁)η), 38/η at β₁ = 0.9, for λ_max(P⁻¹H): with P frozen, Adam's
    update P⁻¹m, m ← β₁m + (1 − β₁)g, is heavy ball with dampening β₁ on P⁻¹H. Other optimizers get a
    Threshold with ``value`` None that says so.
    """
    if not isinstance(optimizer, torch.optim.Optimizer):
        raise ValueError(f"optimizer must be a torch.optim.Optimizer, got {type(optimizer).__name__}")
    kind = sharpness or default_sharpness(optimizer)
    if kind not in KINDS:
        raise ValueError(f"sharpness must be one of {KINDS}, got {sharpness!r}")
    if isinstance(optimizer, ADAMS):
        return _adam(optimizer, kind)
    if isinstance(optimizer, torch.optim.SGD):
        return _sgd(optimizer, kind)
    if kind == "preconditioned":
        raise ValueError(
            f"the preconditioned sharpness is defined for Adam and AdamW, not {type(optimizer).__name__}: "
            "use sharpness='hessian' or 'batch'"
        )
    return Threshold(None, kind, "", "", f"no stability threshold is known for {type(optimizer).__name__}")


def adam_preconditioner(optimizer, params):
    """P = √v̂ + ε of Adam/AdamW, flat in the order of ``params``, as torch computes it in its update.

    Read after ``optimizer.step()``: torch folds gₜ² into v before dividing by √v̂ + ε, so the state after
    the step is the P that produced the update θᵗ → θᵗ⁺¹ (with ``amsgrad``, the running maximum of v).
    """
    hp = hyperparameters(optimizer, ("betas", "eps", "amsgrad"))
    beta2, eps = hp["betas"][1], hp["eps"]
    parts = []
    for p in params:
        state = optimizer.state.get(p)
        if not state:
            raise ValueError("Adam has no state for a parameter yet: its preconditioner exists after the first step")
        v = state["max_exp_avg_sq"] if hp["amsgrad"] else state["exp_avg_sq"]
        correction = math.sqrt(1 - beta2 ** float(state["step"]))
        parts.append((v.sqrt() / correction + eps).reshape(-1))
    return torch.cat(parts)
