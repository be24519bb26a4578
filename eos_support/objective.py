"""A network's training loss as a function f(θ) of one flat parameter vector, as in the paper."""

import torch
from torch import nn
from torch.func import functional_call

LOSSES = ("ce", "mse")


def loss_function(loss):
    """The per-data-set loss ℓ(outputs, targets), averaged over the examples: "ce" or "mse".

    "mse" is the squared loss of Cohen et al. (2021): ½‖output − one-hot target‖², averaged.
    """
    if loss == "ce":
        return nn.functional.cross_entropy
    if loss == "mse":
        return lambda out, y: 0.5 * ((out - y) ** 2).sum(-1).mean()
    if callable(loss):
        return loss
    raise ValueError(f"loss must be one of {LOSSES} or a callable (outputs, targets) -> scalar, got {loss!r}")


class ModuleLoss:
    """f(θ) = loss(model(inputs; θ), targets) for a flat θ, without copying parameters per call.

    θ is split into views shaped like the model's parameters and passed to
    ``torch.func.functional_call``, so f works under ``grad``, ``jvp`` and ``vmap``.
    """

    def __init__(self, model, inputs, targets, loss="ce"):
        if not isinstance(model, nn.Module):
            raise ValueError(f"model must be a torch.nn.Module, got {type(model).__name__}")
        self.model = model
        self.inputs, self.targets = inputs, targets
        self.loss = loss_function(loss)
        named = list(model.named_parameters())
        if not named:
            raise ValueError("the model has no parameters")
        self.names = [n for n, _ in named]
        self.shapes = [p.shape for _, p in named]
        self.sizes = [p.numel() for _, p in named]
        self.buffers = dict(model.named_buffers())

    @property
    def theta0(self):
        """A flat copy of the model's current parameters."""
        return torch.cat([p.detach().reshape(-1) for p in self.model.parameters()]).clone()

    def unflatten(self, theta):
        """θ as a {name: view} dict shaped like the model's parameters."""
        if theta.dim() != 1 or theta.numel() != sum(self.sizes):
            raise ValueError(f"theta must be 1-D with {sum(self.sizes)} entries, got shape {tuple(theta.shape)}")
        chunks = torch.split(theta, self.sizes)
        return {n: c.view(s) for n, c, s in zip(self.names, chunks, self.shapes)}

    def outputs(self, theta, inputs=None):
        """The model's outputs at θ (on ``inputs``, default the training inputs)."""
        params = {**self.unflatten(theta), **self.buffers}
        return functional_call(self.model, params, (self.inputs if inputs is None else inputs,))

    def __call__(self, theta):
        return self.loss(self.outputs(theta), self.targets)

    def on(self, inputs, targets):
        """The same model and loss on other data (a minibatch, a test set)."""
        other = object.__new__(ModuleLoss)
        other.__dict__.update(self.__dict__, inputs=inputs, targets=targets)
        return other
