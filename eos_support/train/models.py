"""The networks of the experiments.

Initialisation is PyTorch's default, drawn on the CPU in float32 from ``seed`` inside a
forked RNG (the global RNG is left as it was), then cast to ``dtype`` and moved to ``device``:
the same seed gives the same weights on every device and in every precision.
"""

from __future__ import annotations

from collections import OrderedDict

import torch
from torch import nn

ACTIVATIONS = {"tanh": nn.Tanh, "relu": nn.ReLU, None: None}


def fully_connected(
    data_or_in_features,
    depth: int = 2,
    width: int = 200,
    activation: str | None = "tanh",
    num_classes: int = 10,
    seed: int = 0,
    dtype: torch.dtype = torch.float32,
    device: torch.device | str | None = None,
) -> nn.Sequential:
    """``depth`` hidden layers of ``width`` units and a linear output layer (Cohen et al., 2021).

    ``data_or_in_features`` is a :class:`~eos_support.data.Dataset` (its ``n_features`` and
    ``num_classes`` are used) or the number of input features. ``activation=None`` leaves the
    hidden layers linear, so the network is a product of matrices (Experiment 1).
    """
    in_features, num_classes = _sizes(data_or_in_features, num_classes)
    act = _activation(activation)
    if depth < 1 or width < 1:
        raise ValueError(f"depth and width must be positive, got depth={depth}, width={width}")

    def build():
        layers, previous = [], in_features
        for _ in range(depth):
            layers.append(nn.Linear(previous, width))
            layers += [act()] if act else []
            previous = width
        return nn.Sequential(*layers, nn.Linear(previous, num_classes))

    return _seeded(build, seed, dtype, device)


class Normalize(nn.Module):
    """``a / (eps + ‖a‖)`` row by row: with ``eps = 0`` the output ignores the scale of ``a``."""

    def __init__(self, eps: float = 0.0):
        super().__init__()
        self.eps = eps

    def forward(self, a: torch.Tensor) -> torch.Tensor:
        """Each row of ``a`` divided by ``eps`` plus its norm."""
        return a / (self.eps + a.norm(dim=-1, keepdim=True))

    def extra_repr(self) -> str:
        """The layer as ``print(model)`` shows it."""
        return f"eps={self.eps}"


def normalized_net(
    data_or_in_features,
    width: int = 32,
    activation: str | None = "tanh",
    num_classes: int = 10,
    eps: float = 0.0,
    seed: int = 0,
    dtype: torch.dtype = torch.float32,
    device: torch.device | str | None = None,
) -> nn.Sequential:
    """A network with a scale-invariant layer, for Proposition 1.

    ``zeta`` (a bias-free linear layer, the paper's ζ) -> ``normalize`` (a / (ε + ‖a‖)) ->
    ``act`` -> ``xi`` (linear output, the paper's ξ). With ``eps = 0``,
    f(x, [ξ, cζ]) = f(x, [ξ, ζ]) for every c > 0, hence ⟨∇_ζ f, ζ⟩ = 0. Parameters are
    named ``zeta.weight``, ``xi.weight`` and ``xi.bias``.
    """
    in_features, num_classes = _sizes(data_or_in_features, num_classes)
    act = _activation(activation)
    if eps < 0:
        raise ValueError(f"eps must be >= 0, got {eps}")

    def build():
        layers = [("zeta", nn.Linear(in_features, width, bias=False))]
        layers += [("normalize", Normalize(eps))] + ([("act", act())] if act else [])
        return nn.Sequential(OrderedDict(layers + [("xi", nn.Linear(width, num_classes))]))

    return _seeded(build, seed, dtype, device)


def _sizes(data_or_in_features, num_classes: int) -> tuple[int, int]:
    if isinstance(data_or_in_features, int):
        return data_or_in_features, num_classes
    try:
        return data_or_in_features.n_features, data_or_in_features.num_classes
    except AttributeError:
        raise ValueError(
            "data_or_in_features must be an int or an eos_support.data.Dataset, "
            f"got {type(data_or_in_features).__name__}"
        ) from None


def _activation(name: str | None):
    if name not in ACTIVATIONS:
        valid = ", ".join(repr(k) for k in ACTIVATIONS)
        raise ValueError(f"unknown activation {name!r}; valid: {valid}")
    return ACTIVATIONS[name]


def _seeded(build, seed: int, dtype: torch.dtype, device) -> nn.Sequential:
    default = torch.get_default_dtype()
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        torch.set_default_dtype(torch.float32)  # the draw must not depend on the caller's default
        try:
            model = build()
        finally:
            torch.set_default_dtype(default)
    return model.to(dtype=dtype, device=torch.device(device or "cpu"))
