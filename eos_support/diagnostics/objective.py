"""A network's training loss as a function f(θ) of one flat parameter vector, as in the paper.

f must be a deterministic function of θ that leaves the network alone: :class:`ModuleLoss` refuses
active dropout (or evaluates it switched off, on request) and evaluates BatchNorm in train mode with
the batch's statistics without updating the network's running statistics.
"""

import copy

import torch
from torch import nn
from torch.func import functional_call

LOSSES = ("ce", "mse", "half_sq_sum")
"""The losses by name (:func:`loss_function`)."""
DROPOUT = ("error", "eval")
RANDOM_MODULES = (
    nn.Dropout,
    nn.Dropout1d,
    nn.Dropout2d,
    nn.Dropout3d,
    nn.AlphaDropout,
    nn.FeatureAlphaDropout,
    nn.RReLU,
)
"""Modules whose output is random in train mode (the dropout family, and RReLU's random slopes)."""


def half_sq_sum(outputs, targets):
    """The squared loss of Cohen et al. (2021): ½‖output − target‖² summed over the outputs, mean over the examples.

    With k outputs it is k/2 times ``nn.functional.mse_loss`` (the mean over every element).
    """
    return 0.5 * ((outputs - targets) ** 2).sum(-1).mean()


def _same_shape(loss, name):
    """``loss`` refusing targets whose shape differs from the outputs': broadcasting outputs (n, 1) against
    targets (n,), or (n, n) against class labels (n,), would pair every output with every target, silently.
    """

    def squared(outputs, targets):
        if outputs.shape != targets.shape:
            raise ValueError(
                f"loss {name!r} needs targets of the outputs' shape {tuple(outputs.shape)}, got "
                f"{tuple(targets.shape)}: for class labels pass one-hot rows (nn.functional.one_hot(y, k).float(), "
                "as eos_support.data.load_dataset does for this loss); for one output, targets of shape (n, 1) "
                "(y.unsqueeze(-1))"
            )
        return loss(outputs, targets)

    return squared


def loss_function(loss):
    """The loss ℓ(outputs, targets), averaged over the examples, named as in PyTorch, or ``loss`` if callable.

    "ce": ``nn.functional.cross_entropy``; "mse": ``nn.functional.mse_loss`` (the mean over every element);
    "half_sq_sum": the book's squared loss, :func:`half_sq_sum`. The two squared losses refuse targets of
    another shape than the outputs (a ``ValueError`` at the first evaluation) rather than broadcast them.
    """
    if callable(loss):
        return loss
    squared = {"mse": nn.functional.mse_loss, "half_sq_sum": half_sq_sum}
    if isinstance(loss, str) and loss == "ce":
        return nn.functional.cross_entropy
    if isinstance(loss, str) and loss in squared:
        return _same_shape(squared[loss], loss)
    raise ValueError(f"loss must be one of {LOSSES} or a callable (outputs, targets) -> scalar, got {loss!r}")


def _is_random(module):
    if isinstance(module, nn.RReLU):
        return module.training and module.lower != module.upper
    return isinstance(module, RANDOM_MODULES) and module.training and module.p > 0


def _tracks_statistics(module):
    """A normalisation layer (BatchNorm, SyncBatchNorm, InstanceNorm with tracking) with running statistics."""
    return getattr(module, "track_running_stats", False) and getattr(module, "running_mean", None) is not None


BATCH_NORMS = (nn.BatchNorm1d, nn.BatchNorm2d, nn.BatchNorm3d, nn.SyncBatchNorm)
INSTANCE_NORMS = (nn.InstanceNorm1d, nn.InstanceNorm2d, nn.InstanceNorm3d)


def batch_statistics_forward(layer):
    """``layer``'s train-mode forward, normalising with the input's own statistics, from mean and var.

    (x − mean) / sqrt(var + eps) · weight + bias, the statistics over every dimension but the channels
    (BatchNorm) or over the spatial dimensions (InstanceNorm). Plain tensor operations rather than
    torch's fused kernel: that kernel updates running statistics, fails under ``vmap`` of
    Hessian-vector products, and its nested ``jacrev`` (hence ``torch.func.hessian``) is wrong in
    torch 2.14; ``mean`` and ``var`` are exact under every transform.
    """
    if not isinstance(layer, BATCH_NORMS + INSTANCE_NORMS):
        raise ValueError(
            f"{type(layer).__name__} keeps running statistics in train mode and is not a BatchNorm or InstanceNorm "
            "layer that ModuleLoss knows how to evaluate without updating them: call model.eval() first"
        )
    first = 0 if isinstance(layer, BATCH_NORMS) else 2

    def forward(x):
        dims = [d for d in range(first, x.dim()) if d != 1]
        mean = x.mean(dims, keepdim=True)
        var = x.var(dims, unbiased=False, keepdim=True)
        out = (x - mean) * torch.rsqrt(var + layer.eps)
        if layer.weight is None:
            return out
        shape = [1, -1] + [1] * (x.dim() - 2)
        return out * layer.weight.view(shape) + layer.bias.view(shape)

    return forward


def _dropout_error(found):
    names = ", ".join(f"'{n or '(the model)'}' ({type(m).__name__})" for n, m in found)
    raise ValueError(
        f"the model's {names} {'is' if len(found) == 1 else 'are'} in train mode, so every evaluation of f draws "
        "new random numbers and RP, directional smoothness and sharpness measure noise, not f. f must be a "
        "deterministic function of θ: call model.eval() before creating the loss (this also makes BatchNorm use "
        "its running statistics), or pass dropout='eval' to evaluate only the dropout layers as in eval mode"
    )


def evaluation_module(model, dropout="error"):
    """The module that f calls: ``model`` itself, or a twin that shares its tensors but never mutates them.

    A twin (``copy.deepcopy`` sharing every parameter and buffer) is made when the model holds a
    normalisation layer with running statistics or a random module; the modes of those layers are then
    frozen as they are now. In the twin, a normalisation layer in train mode normalises with the batch's
    statistics (the function training sees) and updates no running statistics; one in eval mode reads the
    model's current running statistics. A random module in train mode raises, or with ``dropout="eval"``
    is evaluated in eval mode. Returns (module, paths evaluated with batch statistics, paths switched off).
    """
    if dropout not in DROPOUT:
        raise ValueError(f"dropout must be one of {DROPOUT}, got {dropout!r}")
    modules = list(model.named_modules())
    random = [(n, m) for n, m in modules if _is_random(m)]
    if random and dropout == "error":
        _dropout_error(random)
    if not any(_tracks_statistics(m) or isinstance(m, RANDOM_MODULES) for _, m in modules):
        return model, (), ()
    shared = {id(t): t for t in (*model.parameters(), *model.buffers())}
    twin = copy.deepcopy(model, shared)
    twins = dict(twin.named_modules())
    batch_stats = tuple(n for n, m in modules if _tracks_statistics(m) and m.training)
    for name in batch_stats:
        layer = twins[name]
        layer.forward = batch_statistics_forward(layer)
        layer.running_mean = layer.running_var = layer.num_batches_tracked = None
    for name, _ in random:
        twins[name].eval()
    return twin, batch_stats, tuple(n for n, _ in random)


class ModuleLoss:
    """f(θ) = loss(model(inputs; θ), targets) for a flat θ, without copying parameters per call.

    θ is split into views shaped like the model's parameters and passed to
    ``torch.func.functional_call``, so f works under ``grad``, ``jvp`` and ``vmap``. f is a
    deterministic function of θ and never changes the model (see :func:`evaluation_module`):

    - BatchNorm (and any layer with running statistics) in train mode normalises with the statistics
      of the batch f is evaluated on, as in training, and the model's ``running_mean``,
      ``running_var`` and ``num_batches_tracked`` are left untouched; in eval mode it uses them.
    - Dropout (``nn.Dropout*``, ``AlphaDropout``, ``FeatureAlphaDropout``) or ``RReLU`` in train mode
      raises a ValueError naming the layer, unless ``dropout="eval"``, which evaluates those layers as
      in eval mode and leaves the rest of the model in its mode.

    The modes of those layers are read once, here: call ``model.train()`` or ``model.eval()`` before
    creating the loss. θ holds every parameter, so a frozen one (``requires_grad`` False) raises a
    ValueError. Limitation: randomness inside a custom ``forward`` (``F.dropout``,
    ``torch.rand``) cannot be seen from the module tree and is not detected.
    """

    def __init__(self, model, inputs, targets, loss="ce", dropout="error"):
        if not isinstance(model, nn.Module):
            raise ValueError(f"model must be a torch.nn.Module, got {type(model).__name__}")
        self.model = model
        self.inputs, self.targets = inputs, targets
        self.loss = loss_function(loss)
        named = list(model.named_parameters())
        if not named:
            raise ValueError("the model has no parameters")
        if frozen := [n for n, p in named if not p.requires_grad]:
            raise ValueError(
                f"parameters {frozen[:5]}{' …' if len(frozen) > 5 else ''} of the model are frozen (requires_grad "
                "False), but θ holds every parameter: the sharpness, RP and GD would measure and move directions "
                "that training leaves alone. Unfreeze them (p.requires_grad_(True)), or pass the submodule that is "
                "trained"
            )
        self.names = [n for n, _ in named]
        self.shapes = [p.shape for _, p in named]
        self.sizes = [p.numel() for _, p in named]
        self.module, self.batch_statistics, self.dropout_off = evaluation_module(model, dropout)
        self.buffers = dict(self.module.named_buffers())

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
        return functional_call(self.module, params, (self.inputs if inputs is None else inputs,))

    def __call__(self, theta):
        """f(θ): the loss of the model with parameters θ on the inputs and targets."""
        return self.loss(self.outputs(theta), self.targets)

    def on(self, inputs, targets):
        """The same model and loss on other data (a minibatch, a test set)."""
        other = object.__new__(ModuleLoss)
        other.__dict__.update(self.__dict__, inputs=inputs, targets=targets)
        return other

    def float64(self):
        """The same model and loss in float64: the inputs, floating targets and floating buffers (BatchNorm's
        running statistics) cast; class indices and counters stay. Evaluate it at a float64 θ.
        """
        targets = self.targets.double() if self.targets.is_floating_point() else self.targets
        other = self.on(self.inputs.double(), targets)
        other.buffers = {name: b.double() if b.is_floating_point() else b for name, b in self.buffers.items()}
        return other
