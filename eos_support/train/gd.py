"""Full-batch gradient descent on a network, with the paper's diagnostics at every step.

The data and θ stay on their device. RP(θᵗ) (Def. 1) and L(θᵗ; η∇f(θᵗ)) (Def. 2) cost nothing
extra: they come from f(θᵗ⁺¹) and ∇f(θᵗ⁺¹), which step t+1 computes anyway. Sharpness (footnote 1)
is tracked every ``sharpness_every`` steps by Lanczos warm-started at the previous eigenvector;
τ-profiles L(θᵗ; ητ∇f(θᵗ)) (Experiment 5) are one batched evaluation. The host reads the device only
every ``check_every`` steps, to decide whether to stop.
"""

from __future__ import annotations

import dataclasses
import math
from collections import namedtuple
from dataclasses import dataclass

import torch
from torch.func import grad

from ..checks import check_eta, positive_int
from ..diagnostics import profile_from_gradient, relative_progress, theorem2_rp
from ..diagnostics.curvature import top_eigen
from ..system import device_name
from .history import PERIODIC
from .loop import gradient_loss_and_correct, run_from_state, schedule, train

GD_STATUSES = ("acc_goal", "max_steps", "diverged")


@dataclass(frozen=True)
class GDOptions:
    """A GD run's options: the argument of :func:`train_gd`, its store key and its trainer's configuration.

    ``eta`` step size; ``max_steps`` T; ``acc_goal`` stop at this train accuracy (None: never);
    sharpness every ``sharpness_every`` steps by Lanczos warm-started at the previous eigenvector, at most
    ``sharpness_iters`` products per run (the warm attempt, then each restart of its cold fallback), to the
    relative error bound ``sharpness_tol`` (:func:`~eos_support.diagnostics.curvature.top_eigen`); τ-profiles at
    ``taus`` every ``profile_every`` steps; RP and the right side of (4.2) in float64 every
    ``float64_every`` steps; θ itself every ``snapshot_every`` steps; the host checks for a stop every
    ``check_every`` steps; "diverged" when the loss is not finite or exceeds ``diverge_factor`` · f(θ⁰).
    ``None`` turns a periodic record off.
    """

    eta: float
    max_steps: int
    acc_goal: float | None = None
    sharpness_every: int | None = 20
    sharpness_iters: int = 20
    sharpness_tol: float = 1e-4
    profile_every: int | None = None
    taus: tuple[float, ...] | None = None
    float64_every: int | None = None
    snapshot_every: int | None = None
    check_every: int = 10
    diverge_factor: float = 1e3

    def __post_init__(self):
        put = object.__setattr__  # frozen: normalise the fields once, here
        put(self, "eta", check_eta(self.eta))
        put(self, "max_steps", positive_int("max_steps", self.max_steps))
        if self.acc_goal is not None and not 0 < self.acc_goal <= 1:
            raise ValueError(f"acc_goal is a train accuracy in (0, 1], got {self.acc_goal}")
        for name in ("sharpness_every", "profile_every", "float64_every", "snapshot_every"):
            put(self, name, positive_int(name, getattr(self, name), allow_none=True))
        put(self, "sharpness_iters", positive_int("sharpness_iters", self.sharpness_iters))
        put(self, "check_every", positive_int("check_every", self.check_every))
        if self.taus is not None:
            put(self, "taus", tuple(float(t) for t in self.taus))
        if self.profile_every and not self.taus:
            raise ValueError("profile_every needs taus, e.g. taus=np.arange(1, 101) / 100")
        if not self.diverge_factor > 1:
            raise ValueError(f"diverge_factor must be > 1 (a multiple of f(θ⁰)), got {self.diverge_factor}")


def train_gd(model, data, loss, options=None, *, cache=None, progress=None, label=None, checkpoint_s=30.0, **fields):
    """Run GD θᵗ⁺¹ = θᵗ − η∇f(θᵗ) from the model's parameters on ``data`` (a Dataset) with ``loss``.

    ``options`` is a :class:`GDOptions`; keyword ``fields`` build one or replace some of its fields
    (``train_gd(model, data, "ce", eta=0.1, max_steps=500)``). Stops at ``max_steps``, when train accuracy
    reaches ``acc_goal``, or with status "diverged" (a result, not an error).

    ``history``: "loss", "accuracy" at steps 0..T; "rp", "ds" at steps 0..T−1 (RP(θᵗ), L(θᵗ; η∇f(θᵗ)));
    "sharpness" and its Lanczos error bound "sharpness_residual" (the ``residual`` of
    :class:`~eos_support.diagnostics.curvature.Eigen`) at "sharpness_step"; "profile" (rows) at
    "profile_step" for "taus"; "rp64" and "theorem2_rp64" (float64) at "float64_step"; θ ("snapshot",
    rows) at "snapshot_step".

    ``cache``: None computes and stores nothing; True or a folder stores the run by a key of everything
    that decides its numbers, reuses it, and resumes its checkpoint (every ``checkpoint_s`` seconds and
    on an interrupt) after a crash. ``progress``: a progress bar (None: only on a terminal).
    """
    options = dataclasses.replace(options, **fields) if options is not None else GDOptions(**fields)
    label = label or f"η = {options.eta:.4g}"
    result = train("gd", GDRule, model, data, loss, options, cache, progress, checkpoint_s, label)
    return run_from_state(options, *result)


_Cursor = namedtuple("_Cursor", "t theta prev eigvec")
"""Where the run stands: the next step t, θᵗ, (f, ∇f, ‖∇f‖²) at θᵗ⁻¹, and the Lanczos warm start."""


class GDRule:
    """One GD step at a time, its history kept on the device; plugs into :func:`~eos_support.train.loop.train`."""

    unit = "step"

    def __init__(self, f, theta0, options):
        self.f, self.options = f, options
        T, dev, dt = options.max_steps, theta0.device, theta0.dtype
        self.total, self.eta = T, options.eta
        self.steps = {
            "sharpness": schedule(options.sharpness_every, T),
            "profile": schedule(options.profile_every, T),
            "float64": schedule(options.float64_every, T),
            "snapshot": schedule(options.snapshot_every, T),
        }
        self.row = {name: {s: i for i, s in enumerate(steps)} for name, steps in self.steps.items()}
        self.taus = None if options.taus is None else torch.tensor(options.taus, dtype=dt, device=dev)
        self.h = self._allocate(theta0)
        self.cursor = _Cursor(0, theta0, None, None)  # no eigenvector yet: the first sharpness call starts cold
        self.wall_s, self.status, self.goal_step, self.loss0 = 0.0, None, None, None
        self.stop = None  # (T, θ) of the final state, once the run stops
        self.value_and_grad = gradient_loss_and_correct(f)
        self.n = len(f.targets)
        self.df = grad(f)
        if self.steps["float64"]:
            self.f64 = f.float64()

    def _allocate(self, theta0):
        T, n, dt, dev = self.total, {k: len(v) for k, v in self.steps.items()}, theta0.dtype, theta0.device
        nan = lambda *shape, dtype=dt, device=dev: torch.full(shape, math.nan, dtype=dtype, device=device)  # noqa: E731
        f64 = dict(dtype=torch.float64, device="cpu")
        return dict(
            loss=nan(T + 1),
            accuracy=nan(T + 1),
            rp=nan(T),
            ds=nan(T),
            sharpness=nan(n["sharpness"]),
            sharpness_residual=nan(n["sharpness"]),
            rp64=nan(n["float64"], **f64),
            theorem2_rp64=nan(n["float64"], **f64),
            profile=nan(n["profile"], 0 if self.taus is None else len(self.taus)),
            snapshot=nan(n["snapshot"], theta0.numel(), device="cpu"),
        )

    @property
    def position(self):
        """The steps done: where the progress bar starts."""
        return self.cursor.t

    # -- checkpoints ------------------------------------------------------------------------
    def checkpoint(self):
        """θᵗ, f and ∇f at θᵗ⁻¹ and the Lanczos vector of the next step t, so that a resumed run continues
        with exactly the numbers an uninterrupted one would use; None before the first step.
        """
        c = self.cursor
        if c.prev is None:
            return None
        return dict(
            t=c.t,
            theta=c.theta.detach().cpu(),
            prev=[x.detach().cpu() for x in c.prev],
            eigvec=None if c.eigvec is None else c.eigvec.detach().cpu(),
            full_history={k: v.detach().cpu() for k, v in self.h.items()},
            wall_s=self.wall_s,
            loss0=self.loss0,
        )

    def restore(self, state):
        """Continue from a checkpoint's state (see :meth:`checkpoint`)."""
        dev = self.cursor.theta.device
        on_host = ("rp64", "theorem2_rp64", "snapshot")
        self.h = {k: v if k in on_host else v.to(dev) for k, v in state["full_history"].items()}
        prev = tuple(x.to(dev) for x in state["prev"])
        eigvec = None if state["eigvec"] is None else state["eigvec"].to(dev)
        self.cursor = _Cursor(state["t"], state["theta"].to(dev), prev, eigvec)
        self.wall_s, self.loss0 = state["wall_s"], state["loss0"]

    def final(self):
        """The run up to its stop: histories trimmed to step T, θ where it stopped."""
        T, theta = self.stop
        history = {
            "loss": self.h["loss"][: T + 1],
            "accuracy": self.h["accuracy"][: T + 1],
            "rp": self.h["rp"][:T],
            "ds": self.h["ds"][:T],
        }
        for name, keys in PERIODIC.items():
            k = sum(s <= T for s in self.steps[name])
            history[f"{name}_step"] = torch.tensor(self.steps[name][:k], dtype=torch.long)
            for key in keys:
                history[key] = self.h[key][:k]
        if self.taus is not None:
            history["taus"] = self.taus
        return dict(
            history={k: v.detach().cpu() for k, v in history.items()},
            theta=theta.detach().cpu(),
            t=T,
            status=self.status,
            goal_step=self.goal_step,
            wall_s=self.wall_s,
            device=device_name(theta.device),
        )

    # -- one step ---------------------------------------------------------------------------
    def advance(self):
        """Evaluate θᵗ, record what it reveals, and move to θᵗ⁺¹ = θᵗ − η∇f(θᵗ) unless the run stops at t."""
        h, eta, (t, theta, prev, eigvec) = self.h, self.eta, self.cursor
        g, (loss, correct) = self.value_and_grad(theta)
        gg = torch.dot(g, g)
        h["loss"][t], h["accuracy"][t] = loss.detach(), correct / self.n
        if t > 0:
            loss_p, g_p, gg_p = prev
            h["rp"][t - 1] = (loss - loss_p) / (eta * gg_p)
            h["ds"][t - 1] = torch.dot(g_p, g_p - g) / (eta * gg_p)
        here = {name for name, rows in self.row.items() if t in rows}
        if here - {"snapshot"} and not bool(torch.isfinite(gg)):
            # NaN/inf (a diverged run): Lanczos would raise, RP64 would call it a stationary point;
            # leave these rows NaN and let _check stop the run with status "diverged".
            here &= {"snapshot"}
        if "sharpness" in here:
            eigvec = self._sharpness(theta, g, eigvec, self.row["sharpness"][t])
        if "profile" in here:
            h["profile"][self.row["profile"][t]] = profile_from_gradient(self.df, theta, g, eta, self.taus)
        if "float64" in here:
            row = self.row["float64"][t]
            h["rp64"][row] = relative_progress(self.f64, theta.double(), eta)
            h["theorem2_rp64"][row] = theorem2_rp(self.f64, theta.double(), eta)
        if "snapshot" in here:
            h["snapshot"][self.row["snapshot"][t]] = theta.detach().cpu()
        if (t % self.options.check_every == 0 or t == self.total) and self._check(t, theta):
            return
        # One assignment, so that an interrupt sees either the old or the new step whole.
        self.cursor = _Cursor(t + 1, theta - eta * g, (loss.detach(), g.detach(), gg.detach()), eigvec)

    def _sharpness(self, theta, g, eigvec, row):
        """λ_max(∇²f(θᵗ)) by Lanczos warm-started at the previous eigenvector; returns the new vector.

        Cold at the first call, from a Gaussian draw plus the gradient g; wherever the warm start fails, from
        a draw plus what it found (:func:`~eos_support.diagnostics.curvature.top_eigen`).
        """
        o = self.options
        eig = top_eigen(self.f, theta, iters=o.sharpness_iters, tol=o.sharpness_tol, v0=eigvec, hint=g)
        self.h["sharpness"][row] = eig.value
        self.h["sharpness_residual"][row] = eig.residual
        return eig.vector

    def _check(self, t, theta):
        """Set the status and the stop when the run ends at step t (the host's one read per check)."""
        loss = self.h["loss"][: t + 1].cpu()
        if self.loss0 is None:
            self.loss0 = float(loss[0])
        bad = ~torch.isfinite(loss) | (loss > self.options.diverge_factor * self.loss0)
        reached = (
            (self.h["accuracy"][: t + 1] >= self.options.acc_goal).nonzero()
            if self.options.acc_goal is not None
            else []
        )
        if bool(bad.any()):
            self.status, self.stop = "diverged", (int(bad.nonzero()[0]), theta)
        elif len(reached):
            self.goal_step = int(reached[0])
            self.status, self.stop = "acc_goal", (t, theta)
        elif t == self.total:
            self.status, self.stop = "max_steps", (t, theta)
        return self.status is not None
