"""The obvious way: the reference implementation that the benchmark times the package against.

Written the way the original edge-of-stability research code does it: an ``nn.Module`` trained with
autograd, the data on the host and moved to the device through a ``DataLoader`` in chunks at every
pass, the loss read with ``.item()`` per chunk, RP and L from extra loss-and-gradient passes, and the
top eigenvalue from ``scipy.sparse.linalg.eigsh`` on double-backward Hessian-vector products. Slow and
plainly right: the tests use it as an oracle for the package's fast paths.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from scipy.sparse.linalg import LinearOperator, eigsh
from torch.nn.utils import parameters_to_vector, vector_to_parameters
from torch.utils.data import DataLoader, TensorDataset

EIG_TOL = 1e-4
"""The reference eigensolver's default tolerance (the benchmark's target 2: λ_max to 1e-4 relative)."""


class Reference:
    """An ``nn.Module`` trained with autograd on data that stays on the host; each pass moves it to the
    device through a ``DataLoader`` in chunks, reads the loss with ``.item()`` per chunk, and gets RP,
    L and Hessian-vector products from extra passes.
    """

    def __init__(self, model, x, y, device, chunk):
        self.model, self.device = model, torch.device(device)
        self.params = list(model.parameters())
        self.loader = DataLoader(TensorDataset(x.cpu(), y.cpu()), batch_size=chunk, shuffle=False)
        self.x, self.y, self.n = x.cpu(), y.cpu(), len(y)
        self.dtype = self.params[0].dtype
        self.hvps = 0

    def theta(self):
        return parameters_to_vector(self.params).detach().clone()

    def set_theta(self, theta):
        with torch.no_grad():
            vector_to_parameters(theta.detach().clone(), self.params)

    def loss_and_grad(self):
        """Full-batch loss, accuracy and gradient, accumulated chunk by chunk."""
        for p in self.params:
            p.grad = None
        total, correct = 0.0, 0
        for xb, yb in self.loader:
            xb, yb = xb.to(self.device), yb.to(self.device)
            out = self.model(xb)
            loss = F.cross_entropy(out, yb, reduction="sum") / self.n
            loss.backward()
            total += loss.item()
            correct += (out.argmax(1) == yb).sum().item()
        return total, correct / self.n, parameters_to_vector([p.grad for p in self.params]).detach().clone()

    def step(self, eta):
        """A plain GD step, no diagnostics."""
        loss, _, _ = self.loss_and_grad()
        with torch.no_grad():
            for p in self.params:
                p -= eta * p.grad
        return loss

    def step_with_diagnostics(self, eta):
        """A GD step, then RP(θ) and L(θ; η∇f(θ)) from an extra loss and gradient pass at θ − η∇f(θ)."""
        theta = self.theta()
        loss, acc, g = self.loss_and_grad()
        gg = float(g @ g)
        self.set_theta(theta - eta * g)
        loss1, _, g1 = self.loss_and_grad()
        return dict(loss=loss, accuracy=acc, rp=(loss1 - loss) / (eta * gg), ds=float(g @ (g - g1)) / (eta * gg))

    def grad_at(self, theta):
        self.set_theta(theta)
        return self.loss_and_grad()

    def hvp(self, v):
        """∇²f(θ)v by double backward, chunk by chunk."""
        self.hvps += 1
        out = None
        vs = [c.view_as(p) for c, p in zip(torch.split(v, [p.numel() for p in self.params]), self.params)]
        for xb, yb in self.loader:
            xb, yb = xb.to(self.device), yb.to(self.device)
            loss = F.cross_entropy(self.model(xb), yb, reduction="sum") / self.n
            gs = torch.autograd.grad(loss, self.params, create_graph=True)
            dot = sum((g * w).sum() for g, w in zip(gs, vs))
            hv = parameters_to_vector(torch.autograd.grad(dot, self.params))
            out = hv if out is None else out + hv
        return out.detach()

    def top_eigen(self, tol=EIG_TOL, v0=None):
        """λ_max by ARPACK (``eigsh``), each product a host → device → host round trip."""
        d = sum(p.numel() for p in self.params)

        def matvec(v):
            w = torch.as_tensor(np.ascontiguousarray(v).reshape(-1), dtype=self.dtype).to(self.device)
            return self.hvp(w).cpu().double().numpy()

        if v0 is None:
            v0 = np.random.default_rng(0).standard_normal(d)
        start = self.hvps
        vals, vecs = eigsh(
            LinearOperator((d, d), matvec=matvec, dtype=np.float64),
            k=1,
            which="LA",
            tol=tol,
            v0=np.asarray(v0, dtype=np.float64),
        )
        return float(vals[0]), vecs[:, 0], self.hvps - start


def synthetic_data(n, d, classes, seed=0, dtype=torch.float32):
    """Class means plus noise, standardised per feature: a data set with class structure (and hence
    outlying top Hessian eigenvalues, as on real images) of the paper's shapes.
    """
    g = torch.Generator().manual_seed(seed)
    means = torch.randn(classes, d, generator=g)
    y = torch.randint(0, classes, (n,), generator=g)
    x = 0.5 * means[y] + torch.randn(n, d, generator=g)
    x = (x - x.mean(0)) / x.std(0)
    return x.to(dtype), y


def plain_step_fn(model, x, y, eta):
    opt = torch.optim.SGD(model.parameters(), lr=eta)

    def step():
        opt.zero_grad(set_to_none=True)
        F.cross_entropy(model(x), y).backward()
        opt.step()

    return step


def plain_grad_fn(model, x, y):
    def gradient():
        for p in model.parameters():
            p.grad = None
        F.cross_entropy(model(x), y).backward()

    return gradient
