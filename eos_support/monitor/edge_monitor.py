"""Is my training at the edge of stability? An :class:`EdgeMonitor` on any model and optimizer::

    mon = EdgeMonitor(model, optimizer, probe=(x, y), loss=nn.functional.cross_entropy, sharpness_every=20)
    for x, y in loader: ...; loss.backward(); optimizer.step()      # the user's loop, unchanged
    mon.summary(); mon.plot(); mon.history; mon.close()

With u = θᵗ − θᵗ⁺¹ the update the optimizer took and f the loss on a fixed probe set, each record
holds f(θᵗ), RP_u(θᵗ) (:mod:`eos_support.diagnostics.along`), L(θᵗ; u) (Definition 2), the effective step
η_u = ‖u‖²/⟨∇f(θᵗ), u⟩ (Theorem 2 along u: RP_u ≈ −1 + (η_u/2)·L(θᵗ; u)), and every
``sharpness_every`` steps the sharpness that the optimizer's threshold refers to
(:mod:`eos_support.monitor.thresholds`), with the threshold and their ratio.

Under torch.distributed (DistributedDataParallel, or the plain model on every rank) each rank passes
its shard of the probe and every number is the global one (:mod:`eos_support.monitor.distributed`).
"""

import warnings
from dataclasses import dataclass

import numpy as np
import torch
from torch.func import grad_and_value

from ..checks import positive_int
from ..diagnostics.along import progress_along
from ..diagnostics.curvature import NonFiniteHessian, top_eigen
from ..train.history import History
from .distributed import ranks_for, unwrap
from .probe import Probe, as_batches, preconditioned_sharpness
from .thresholds import adam_preconditioner, default_sharpness, gradient_step_size, stability_threshold

KEYS = ("step", "loss", "rp", "ds", "eta_u", "sharpness", "threshold", "ratio")
"""The fields of a record, the keys of :attr:`EdgeMonitor.history`."""
LOSS_TOLERANCE = 1e-2
"""The relative difference between plain SGD's first update and η∇f of the monitor's loss that makes it warn."""
RECORDING = "computing the probe's gradients"
"""What a rank is doing up to a record's all-reduce, as a
:class:`~eos_support.monitor.distributed.RankError` says it."""


@dataclass(frozen=True)
class Bands:
    """Where :meth:`EdgeMonitor.summary` draws its lines on the median RP_u: heuristics, not theorems.

    The paper's stable runs have RP ≈ −1 (Experiment 2, Remark 3) and its unstable runs RP around 0
    (Experiment 3); the bands split that range and were fixed before looking at monitor runs.
    median ≤ ``stable``: stable; abs(median) ≤ ``edge``: at the edge of stability; in between: approaching
    it; above ``edge``: the probe loss is rising.
    """

    stable: float = -0.5
    edge: float = 0.2

    def verdict(self, rp):
        """The band of a median RP_u ``rp``, in words."""
        if rp <= self.stable:
            return "stable"
        if rp < -self.edge:
            return "approaching the edge of stability"
        if rp <= self.edge:
            return "at the edge of stability"
        return "unstable: the probe loss is rising"


BANDS = Bands()


def _trained_parameters(model, optimizer):
    if not isinstance(optimizer, torch.optim.Optimizer):
        raise ValueError(f"optimizer must be a torch.optim.Optimizer, got {type(optimizer).__name__}")
    named = list(model.named_parameters())
    if not named:
        raise ValueError("the model has no parameters: there is nothing to monitor")
    held = {id(p) for group in optimizer.param_groups for p in group["params"]}
    missing = [n for n, p in named if id(p) not in held or not p.requires_grad]
    if missing:
        raise ValueError(
            f"parameters {missing[:5]}{' …' if len(missing) > 5 else ''} of the model are frozen or not in the "
            "optimizer, so θ would hold directions the optimizer never moves: give the optimizer all of "
            "model.parameters(), or monitor the submodule that is trained"
        )
    kinds = {(p.device, p.dtype) for _, p in named}
    if len(kinds) > 1:
        raise ValueError(
            f"the model's parameters live on several devices or dtypes {sorted(map(str, kinds))}: "
            "θ is one flat vector; move the model to one device and dtype"
        )
    return [p for _, p in named]


def _check_every(every, sharpness_every):
    every = positive_int("every", every)
    if sharpness_every is not None and (positive_int("sharpness_every", sharpness_every) % every):
        raise ValueError(
            f"sharpness_every must be None or a positive multiple of every = {every} (the sharpness "
            f"is measured on records), got {sharpness_every!r}"
        )


class EdgeMonitor:
    """Records RP_u, L(θ; u), the sharpness and the optimizer's threshold while the user's loop trains.

    ``probe``: a pair ``(x, y)``, a list of pairs, or a DataLoader with ``probe_batches=k`` (its first k batches); moved
    to the model's device once. ``loss``: the very loss the loop trains on, a callable (outputs, targets) -> scalar such
    as ``nn.functional.mse_loss`` or an ``nn.Module`` loss; a name in :data:`~eos_support.diagnostics.objective.LOSSES`
    is a shorthand for :func:`~eos_support.diagnostics.objective.loss_function`'s (``"mse"`` is ``mse_loss``). With
    plain SGD (no momentum) the first record compares the update with η∇f of this loss and warns, with the factor, where
    they differ (:data:`LOSS_TOLERANCE`). ``every``: record every that many optimizer steps; ``sharpness_every``:
    measure the sharpness on those records (None: never) by Lanczos (``sharpness_iters`` products per restart, to
    ``sharpness_tol``), warm-started at the previous eigenvector. ``sharpness``: "hessian", "preconditioned" or "batch"
    (default by optimizer, :func:`~eos_support.monitor.thresholds.default_sharpness`). ``dropout``: as in
    :class:`~eos_support.diagnostics.objective.ModuleLoss` (BatchNorm in train mode is evaluated with each probe batch's
    statistics; the model's running statistics are never updated).

    The monitor hooks ``optimizer.step()``: the record with step t describes θᵗ → θᵗ⁺¹, t counted from
    0 at the first step after the monitor was created. Between records the hooks only count; a record
    costs two probe gradients (plus the Lanczos products) and never touches the parameters' ``.grad``,
    the optimizer's state or the global RNG.

    **Distributed.** Where torch.distributed is initialized (``model`` a DistributedDataParallel, or the
    plain model, on every rank), create the monitor on every rank with that rank's shard of the probe
    (at least one example each). f, ∇f, RP_u, L, the Hessian-vector products and the batch sharpness
    are then global, sums over the shards weighed by their sizes (:mod:`eos_support.monitor.distributed`); every
    rank gets the same history, and only rank 0 draws (:meth:`plot`). The probe runs DDP's wrapped
    module, never DDP's forward or gradient hooks. Per rank, a record costs two gradients on its shard
    and one all-reduce (2d + world + 3 numbers, d = θ's size); a sharpness record adds one gradient and k
    Hessian-vector products on the shard and 1 + k all-reduces (d + world + 1 numbers; k the Lanczos
    products, ``sharpness_iters`` per restart), or with ``sharpness="batch"`` a gradient and a product
    per local batch and one all-reduce (world + 3 numbers). Creating the monitor costs one
    ``all_gather_object``. A rank that raises makes every rank raise a
    :class:`~eos_support.monitor.distributed.RankError` naming it. Sharded parameters (FSDP) are refused.
    """

    def __init__(
        self,
        model,
        optimizer,
        probe,
        loss="ce",
        every=1,
        sharpness_every=20,
        *,
        sharpness=None,
        probe_batches=None,
        dropout="error",
        sharpness_iters=20,
        sharpness_tol=1e-4,
    ):
        self.ranks = ranks_for(model)
        failure, same = None, {}
        try:  # a rank's failure here is reported to every rank by ranks.agree
            _check_every(every, sharpness_every)
            self.model, self.optimizer, module = model, optimizer, unwrap(model)
            self.params = _trained_parameters(module, optimizer)
            self.kind = sharpness or default_sharpness(optimizer)
            stability_threshold(optimizer, self.kind)  # the hyper-parameters and the kind are checked now
            self.probe = Probe(module, as_batches(probe, probe_batches, self.params[0].device), loss, dropout)
            self._check_probe()
            same = dict(
                parameters=sum(p.numel() for p in self.params),
                dtype=str(self.params[0].dtype),
                every=every,
                sharpness_every=sharpness_every,
                sharpness=self.kind,
                sharpness_iters=sharpness_iters,
                sharpness_tol=sharpness_tol,
            )
        except Exception as exc:
            failure = exc
        total = self.ranks.agree(failure, same, self.probe.size if failure is None else 0)
        self.probe.shard_of(total)
        self.every, self.sharpness_every = every, sharpness_every
        self.lanczos = dict(iters=sharpness_iters, tol=sharpness_tol)
        self._t, self._theta, self._eigvec, self._unconverged = 0, None, None, False
        self._pending, self._host = [], []
        self._handles = [optimizer.register_step_pre_hook(self._before), optimizer.register_step_post_hook(self._after)]

    def _check_probe(self):
        try:
            value = self.probe(self._flat())
        except Exception as exc:
            raise ValueError(
                f"the model and loss cannot evaluate the probe ({type(exc).__name__}: {exc}): the probe "
                "must be (inputs, targets) batches that model(inputs) and the loss accept"
            ) from exc
        if value.dim() != 0:
            raise ValueError(f"the loss must return a scalar, got shape {tuple(value.shape)}: reduce it, e.g. .mean()")
        self.probe.evaluations = 0

    def _flat(self):
        return torch.cat([p.detach().reshape(-1) for p in self.params])

    def _guard_record(self):
        """Up to a record's all-reduce, a rank's failure stops every rank (:meth:`Ranks.guard`)."""
        d = sum(p.numel() for p in self.params)
        return self.ranks.guard(RECORDING, 2 * d + 2, self.params[0])

    def _before(self, optimizer, args, kwargs):
        if self._t % self.every == 0:
            with self._guard_record():
                self._theta = self._flat()

    def _after(self, optimizer, args, kwargs):
        if self._theta is not None:
            theta, self._theta = self._theta, None
            with self._guard_record():
                theta_next = self._flat()
            self._record(theta, theta_next)
        self._t += 1

    def _record(self, theta, theta_next):
        """One record: f, ∇f at θᵗ and θᵗ⁺¹ give RP_u and L(θᵗ; u); the sharpness on its schedule."""
        t = self._t
        with torch.enable_grad():
            loss, g, next_loss, g_next = self._gradients(theta, theta_next)
            rp, ds, eta_u = progress_along(loss, g, next_loss, g_next, theta - theta_next)
            if t == 0:
                self._check_loss(g, theta - theta_next)
            measure = self.sharpness_every is not None and t % self.sharpness_every == 0
            # a diverged run is a result: its records go on (NaN), the user's loop is never stopped by Lanczos
            measure = measure and bool(torch.isfinite(loss) & torch.isfinite(g).all())
            sharpness = self._sharpness(theta) if measure else float("nan")
        threshold = stability_threshold(self.optimizer, self.kind).value
        threshold = float("nan") if threshold is None else threshold
        self._pending.append((t, torch.stack([loss, rp, ds, eta_u]).detach(), sharpness, threshold))

    def _gradients(self, theta, theta_next):
        """f(θᵗ), ∇f(θᵗ), f(θᵗ⁺¹), ∇f(θᵗ⁺¹) on the whole probe.

        The ranks' shares are summed in one all-reduce, which also checks that θᵗ is the same on every rank.
        """
        d = theta.numel()
        with self._guard_record():
            value_and_grad = grad_and_value(self.probe)
            g, loss = value_and_grad(theta)
            g_next, next_loss = value_and_grad(theta_next)
            share = torch.cat([g, g_next, torch.stack([loss, next_loss])]).detach()
        total = self.ranks.sum(share, RECORDING, replica=torch.dot(theta, theta))
        return total[2 * d], total[:d], total[2 * d + 1], total[d : 2 * d]

    def _check_loss(self, g, u):
        """Warn where plain SGD's update u is c·η∇f, c ≠ 1, for f the probe loss (on rank 0).

        u ∝ ∇f says that the step's batch was the probe; c ≠ 1 then says that the loop trains on c times the
        monitor's loss, or scales its gradient: L and the sharpness are off by 1/c (RP_u, a ratio, is not).
        """
        eta = gradient_step_size(self.optimizer)
        if eta is None or not self.ranks.main:
            return
        step = eta * g
        c = torch.dot(u, step) / torch.dot(step, step)
        off = torch.linalg.vector_norm(u - c * step) / torch.linalg.vector_norm(u)
        if bool((off <= LOSS_TOLERANCE) & ((c - 1).abs() > LOSS_TOLERANCE)):
            warnings.warn(
                f"the optimizer's update is {float(c):.4g} × η∇f of the monitor's loss on the probe, the batch it "
                f"stepped on: the loop trains on {float(c):.4g} times the monitor's loss (nn.functional.mse_loss is "
                "2/k times 'half_sq_sum' with k outputs), or scales its gradients (clipping), so L, the sharpness "
                f"and their ratio to the threshold are {1 / float(c):.4g} times those of the loss it trains on. "
                "Pass that loss itself as the monitor's loss, e.g. loss=nn.functional.mse_loss",
                stacklevel=5,  # the user's optimizer.step()
            )

    def _sharpness(self, theta):
        """The sharpness the threshold refers to, at θᵗ (Adam's P as of the update θᵗ → θᵗ⁺¹).

        On the whole probe: the batch sharpness as one all-reduce of the ranks' sums, Lanczos on global
        Hessian-vector products.
        """
        what = "measuring the sharpness"
        if self.kind == "batch":
            with self.ranks.guard(what, 2, theta):
                values = self.probe.batch_sharpnesses(theta).detach()
                share = torch.stack([values.sum(), torch.full_like(values[0], len(values))])
            total, count = self.ranks.sum(share, what)
            return float(total / count)
        f = self.ranks.spread(self.probe, what)
        with self.ranks.guard(what, theta.numel(), theta):
            try:  # every rank sees the same global products, so all of them land here together
                if self.kind == "preconditioned":
                    P = adam_preconditioner(self.optimizer, self.params).to(theta)
                    eig = preconditioned_sharpness(f, theta, P, v0=self._eigvec, **self.lanczos)
                else:
                    eig = top_eigen(f, theta, v0=self._eigvec, **self.lanczos)
            except NonFiniteHessian:  # f and ∇f finite, ∇²f not: recorded as NaN, the user's loop goes on
                if self.ranks.main:
                    warnings.warn(
                        "a Hessian-vector product of the probe loss is not finite (the loss's "
                        "second derivatives overflow there, often on the way to a divergence): the sharpness "
                        "is recorded as NaN",
                        stacklevel=2,
                    )
                return float("nan")
        if not eig.converged and self.ranks.main and not self._unconverged:
            self._unconverged = True
            warnings.warn(
                f"a sharpness measurement did not converge (relative residual {eig.residual:.1e} > sharpness_tol "
                f"{self.lanczos['tol']:g} after {eig.hvps} Hessian-vector products): the value recorded, a Ritz "
                "value, is a lower bound on the top eigenvalue, so its ratio to the threshold may read low. Raise "
                "sharpness_iters (one stored vector per product) or sharpness_tol. Said once per monitor",
                stacklevel=2,
            )
        self._eigvec = eig.vector
        return eig.value

    def _records(self):
        """The records so far as a float64 table, a row per record and a column per key but the ratio."""
        if self._pending:  # device values of the new records reach the host here, in one transfer
            values = torch.stack([row[1] for row in self._pending]).double().cpu().numpy()
            for row, (loss, rp, ds, eta_u) in zip(self._pending, values):
                self._host.append((row[0], loss, rp, ds, eta_u, row[2], row[3]))
            self._pending = []
        return np.array(self._host, dtype=np.float64).reshape(-1, len(KEYS) - 1)

    def state_dict(self):
        """What the monitor has counted and recorded, and its Lanczos warm start, as tensors: saved beside the
        model's and the optimizer's state dicts, it lets :meth:`load_state_dict` continue an interrupted run
        with exactly the records an uninterrupted one would make.
        """
        return dict(
            t=self._t,
            records=torch.from_numpy(self._records()),
            eigvec=None if self._eigvec is None else self._eigvec.detach().cpu(),
        )

    def load_state_dict(self, state):
        """Continue from a :meth:`state_dict`: the step count, the records and the warm start."""
        if self._t or self._host or self._pending:
            raise ValueError("load_state_dict needs a fresh monitor: this one has already counted steps")
        records = state["records"]
        if records.dim() != 2 or records.shape[1] != len(KEYS) - 1:
            raise ValueError(f"records must be a table with {len(KEYS) - 1} columns, got shape {tuple(records.shape)}")
        self._t = int(state["t"])
        self._host = [tuple(row) for row in records.double().tolist()]
        eigvec = state["eigvec"]
        self._eigvec = None if eigvec is None else eigvec.to(self.params[0])

    @property
    def history(self):
        """The records as a frozen :class:`~eos_support.train.history.History`: a 1-D float64 array for each
        of :data:`KEYS`, one entry per record, NaN where not measured (``history.at("sharpness")`` reads
        the measured ones with their steps).
        """
        table = self._records()
        out = dict(zip(KEYS[:-1], table.T))
        out["step"] = out["step"].astype(np.int64)
        out["ratio"] = out["sharpness"] / out["threshold"]
        return History(out)

    @property
    def threshold(self):
        """The optimizer's stability threshold now (None where none is known)."""
        return stability_threshold(self.optimizer, self.kind).value

    @property
    def threshold_info(self):
        """The :class:`~eos_support.monitor.thresholds.Threshold` now: value, formula, source and what it leaves out."""
        return stability_threshold(self.optimizer, self.kind)

    def summary(self, last=100, bands=BANDS):
        """One line: the median RP_u over the last ``last`` records and its :class:`Bands` verdict.

        Then the median sharpness/threshold over the sharpness records among them.
        """
        h = self.history
        rp = h["rp"][-last:]
        rp = rp[np.isfinite(rp)]
        if rp.size == 0:
            return "no records with a defined RP_u yet: train with the monitor attached"
        median = float(np.median(rp))
        line = f"RP_u median {median:+.2f} over the last {rp.size} records: {bands.verdict(median)}"
        ratio, sharp = h["ratio"][-last:], h["sharpness"][-last:]
        if np.isfinite(ratio).any():
            return line + f"; sharpness/threshold {np.median(ratio[np.isfinite(ratio)]):.2f}"
        if np.isfinite(sharp).any():
            last = sharp[np.isfinite(sharp)][-1]
            return line + f"; {self.threshold_info.note or 'no threshold'} (sharpness {last:.4g})"
        return line + "; sharpness not measured"

    def plot(self):
        """Probe loss, RP_u, and the sharpness against its threshold (dashed), against the step; a Figure.

        Under torch.distributed only rank 0 draws: the other ranks get None (and import no matplotlib).
        """
        if not self.ranks.main:
            return None
        from ..figures.monitor import plot_history

        return plot_history(self.history, self.threshold_info)

    def close(self):
        """Remove the hooks: the optimizer steps as if the monitor had never been there."""
        for handle in self._handles:
            handle.remove()
        self._handles = []

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False
