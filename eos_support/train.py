"""Full-batch gradient descent on a network, with the paper's diagnostics at every step.

The data and θ stay on their device. RP(θᵗ) (Def. 1) and L(θᵗ; η∇f(θᵗ)) (Def. 2) cost nothing
extra: they come from f(θᵗ⁺¹) and ∇f(θᵗ⁺¹), which step t+1 computes anyway. Sharpness (footnote 1)
is tracked every ``sharpness_every`` steps by Lanczos warm-started at the previous eigenvector;
τ-profiles L(θᵗ; ητ∇f(θᵗ)) (Experiment 5) are one batched evaluation. The host reads the device only
every ``check_every`` steps, to decide whether to stop.
"""

import math
from collections import namedtuple
import signal
import time
from dataclasses import dataclass, field

import torch
from torch.func import grad, grad_and_value

from ._checks import check_eta
from .curvature import top_eigen
from .diagnostics import profile_from_gradient, theorem2_rp, relative_progress
from .objective import ModuleLoss
from .store import RunStore, fingerprint

STATUSES = ("acc_goal", "max_steps", "diverged")
_Done = namedtuple("_Done", "t theta prev eigvec")


@dataclass
class Run:
    """A finished (or diverged) run: ``status`` in STATUSES, ``history`` a dict of numpy arrays.

    history: "loss", "accuracy" at steps 0..T; "rp", "ds" at steps 0..T−1 (RP(θᵗ), L(θᵗ; η∇f(θᵗ)));
    "sharpness" at "sharpness_step"; "profile" (rows) at "profile_step" for "taus"; "rp64" and
    "theorem2_rp64" (float64) at "float64_step"; θ itself ("snapshot", rows) at "snapshot_step". ``goal_step`` is the first step whose accuracy
    reached the goal.
    """

    config: dict
    status: str
    history: dict
    theta: torch.Tensor
    goal_step: int | None = None
    wall_s: float = 0.0
    device: str = "cpu"
    resumed: bool = False
    extra: dict = field(default_factory=dict)

    @property
    def eta(self):
        return self.config["eta"]

    @property
    def steps(self):
        return len(self.history["loss"]) - 1


def _progress(enabled, total, start, label):
    from tqdm.auto import tqdm

    return tqdm(total=total, initial=start, desc=label, unit="step", disable=not enabled, leave=False)


def _keyboard_interrupt_on_sigterm():
    """Treat SIGTERM like Ctrl-C, so that the loop checkpoints before it ends; returns the old handler."""

    def handler(signum, frame):
        raise KeyboardInterrupt(f"signal {signum}")

    try:
        return signal.signal(signal.SIGTERM, handler)
    except ValueError:  # not the main thread: leave signals alone
        return None


def _restore_sigterm(handler):
    if handler is not None:
        signal.signal(signal.SIGTERM, handler)


def _schedule(every, steps):
    return [] if not every else list(range(0, steps + 1, int(every)))


def _device_name(device):
    device = torch.device(device)
    return torch.cuda.get_device_name(device) if device.type == "cuda" else device.type


def _identity(kind, model, theta0, data, loss, eta):
    """What makes two runs the same run, apart from the trainer's options: part of the store's key."""
    return dict(
        kind=kind,
        model=repr(model),
        theta0=fingerprint(theta0),
        data=data.name,
        data_fingerprint=fingerprint(data.x_train, data.y_train),
        loss=str(loss),
        eta=eta,
    )


def train_gd(
    model,
    data,
    loss,
    eta,
    max_steps,
    acc_goal=None,
    sharpness_every=20,
    sharpness_iters=20,
    sharpness_tol=1e-4,
    profile_every=None,
    taus=None,
    float64_every=None,
    snapshot_every=None,
    check_every=10,
    diverge_factor=1e3,
    checkpoint_s=30.0,
    results_dir=None,
    cache=True,
    progress=True,
    label=None,
):
    """Run GD θᵗ⁺¹ = θᵗ − η∇f(θᵗ) from the model's parameters on ``data`` (a Dataset) with ``loss``.

    Stops at ``max_steps``, when train accuracy reaches ``acc_goal``, or when the loss is not finite or
    exceeds ``diverge_factor`` times its initial value (status "diverged": a result, not an error).
    With ``cache``, the run is stored under ``results_dir`` by a key of its full configuration, reused
    when asked again, and resumed from its last checkpoint (every ``checkpoint_s`` seconds and on an
    interrupt) after a crash.
    """
    eta = check_eta(eta)
    if int(max_steps) < 1:
        raise ValueError(f"max_steps must be >= 1, got {max_steps}")
    if acc_goal is not None and not 0 < acc_goal <= 1:
        raise ValueError(f"acc_goal is a train accuracy in (0, 1], got {acc_goal}")
    if profile_every and (taus is None or len(taus) == 0):
        raise ValueError("profile_every needs taus, e.g. taus=np.arange(1, 101) / 100")
    f = ModuleLoss(model, data.x_train, data.y_train, loss)
    theta0 = f.theta0
    max_steps = int(max_steps)
    config = dict(
        _identity("gd", model, theta0, data, loss, eta),
        max_steps=max_steps,
        acc_goal=acc_goal,
        sharpness_every=sharpness_every,
        sharpness_iters=sharpness_iters,
        sharpness_tol=sharpness_tol,
        profile_every=profile_every,
        taus=None if taus is None else [float(t) for t in taus],
        float64_every=float64_every,
        snapshot_every=snapshot_every,
        check_every=check_every,
        diverge_factor=diverge_factor,
        dtype=str(theta0.dtype),
    )
    store = RunStore(config, results_dir) if cache else None
    return _stored_or_run(store, lambda: _GDTrainer(f, theta0, config, store, label or f"η = {eta:.4g}"),
                          progress, checkpoint_s)


def _stored_or_run(store, make_trainer, progress, checkpoint_s):
    """The stored run if ``store`` has it; else train (resuming from its checkpoint, if any)."""
    if store is not None and (state := store.load()) is not None:
        return _run_from_state(state, resumed=False)
    return make_trainer().run(progress, checkpoint_s)


def _gradient_loss_and_correct(f):
    """θ ↦ (∇f(θ), (f(θ), number of correctly classified training examples)) in one pass."""
    targets = f.targets
    labels = targets if targets.dim() == 1 else targets.argmax(-1)

    def loss_and_correct(theta):
        out = f.outputs(theta)
        return f.loss(out, targets), (out.argmax(-1) == labels).sum()

    return grad_and_value(loss_and_correct, has_aux=True)


def _run_from_state(state, resumed):
    return Run(
        config=state["config"],
        status=state["status"],
        history={k: v.numpy() for k, v in state["history"].items()},
        theta=state["theta"],
        goal_step=state["goal_step"],
        wall_s=state["wall_s"],
        device=state["device"],
        resumed=resumed,
    )


class _GDTrainer:
    """The step loop of :func:`train_gd`, with its device-resident history and checkpoints."""

    def __init__(self, f, theta0, config, store, label):
        self.f, self.config, self.store, self.label = f, config, store, label
        c = config
        T = c["max_steps"]
        dev, dt = theta0.device, theta0.dtype
        self.eta = c["eta"]
        self.sharp_steps = _schedule(c["sharpness_every"], T)
        self.prof_steps = _schedule(c["profile_every"], T)
        self.f64_steps = _schedule(c["float64_every"], T)
        self.snap_steps = _schedule(c["snapshot_every"], T)
        self.row = {name: {s: i for i, s in enumerate(steps)} for name, steps in (
            ("sharpness", self.sharp_steps), ("profile", self.prof_steps), ("float64", self.f64_steps),
            ("snapshot", self.snap_steps))}
        self.taus = None if c["taus"] is None else torch.tensor(c["taus"], dtype=dt, device=dev)
        zeros = lambda *n: torch.full(n, math.nan, dtype=dt, device=dev)  # noqa: E731
        self.h = dict(
            loss=zeros(T + 1),
            accuracy=zeros(T + 1),
            rp=zeros(T),
            ds=zeros(T),
            sharpness=zeros(len(self.sharp_steps)),
            sharpness_residual=zeros(len(self.sharp_steps)),
            profile=zeros(len(self.prof_steps), 0 if self.taus is None else len(self.taus)),
            rp64=torch.full((len(self.f64_steps),), math.nan, dtype=torch.float64),
            theorem2_rp64=torch.full((len(self.f64_steps),), math.nan, dtype=torch.float64),
            snapshot=torch.full((len(self.snap_steps), theta0.numel()), math.nan, dtype=dt),
        )
        self.theta, self.t = theta0, 0
        self.prev = None  # (loss, gradient, ‖gradient‖²) at θᵗ⁻¹
        self.eigvec = torch.randn(theta0.numel(), generator=torch.Generator().manual_seed(0), dtype=dt).to(dev)
        self.wall_s, self.resumed, self.goal_step, self.status = 0.0, False, None, None
        self.done = None  # the last completed step: _Done(t, θᵗ, (f, ∇f, ‖∇f‖²) at θᵗ, Lanczos vector)
        self.loss0 = None

        targets = f.targets
        self.value_and_grad = _gradient_loss_and_correct(f)
        self.n = len(targets)
        self.df = grad(f)
        if self.f64_steps:
            y = targets if targets.dim() == 1 else targets.double()
            self.f64 = f.on(f.inputs.double(), y)

    # -- checkpoints ------------------------------------------------------------------------
    def _state(self, final):
        """The run so far: up to the stop for a final state, up to the last completed step otherwise.

        A checkpoint holds θᵗ, f(θᵗ), ∇f(θᵗ) and the Lanczos vector of the last completed step t,
        so that a resumed run continues with exactly the numbers an uninterrupted one would use.
        """
        T, theta = (self.t, self.theta) if final else (self.done.t, self.done.theta)
        trimmed = {
            "loss": self.h["loss"][: T + 1],
            "accuracy": self.h["accuracy"][: T + 1],
            "rp": self.h["rp"][:T],
            "ds": self.h["ds"][:T],
        }
        for name, steps, keys in (
            ("sharpness", self.sharp_steps, ("sharpness", "sharpness_residual")),
            ("profile", self.prof_steps, ("profile",)),
            ("float64", self.f64_steps, ("rp64", "theorem2_rp64")),
            ("snapshot", self.snap_steps, ("snapshot",)),
        ):
            k = sum(s <= T for s in steps)
            trimmed[f"{name}_step"] = torch.tensor(steps[:k], dtype=torch.long)
            for key in keys:
                trimmed[key] = self.h[key][:k]
        if self.taus is not None:
            trimmed["taus"] = self.taus
        state = dict(
            config=self.config,
            history={k: v.detach().cpu() for k, v in trimmed.items()},
            theta=theta.detach().cpu(),
            t=T,
            status=self.status,
            goal_step=self.goal_step,
            wall_s=self.wall_s,
            device=_device_name(theta.device),
            loss0=self.loss0,
        )
        if not final:
            state.update(
                prev=[x.detach().cpu() for x in self.done.prev],
                eigvec=self.done.eigvec.detach().cpu(),
                full_history={k: v.detach().cpu() for k, v in self.h.items()},
            )
        return state

    def _restore(self, state):
        """Continue from a checkpoint: θᵗ⁺¹ = θᵗ − η∇f(θᵗ) with the stored gradient."""
        dev = self.theta.device
        on_host = ("rp64", "theorem2_rp64", "snapshot")
        self.h = {k: v if k in on_host else v.to(dev) for k, v in state["full_history"].items()}
        self.prev = tuple(x.to(dev) for x in state["prev"])
        self.eigvec = state["eigvec"].to(dev)
        self.wall_s, self.loss0 = state["wall_s"], state["loss0"]
        self.theta = state["theta"].to(dev) - self.eta * self.prev[1]
        self.resumed = True
        return state["t"] + 1

    def _checkpoint(self):
        if self.store is not None and self.done is not None:
            self.store.save_checkpoint(self._state(final=False))

    # -- the loop ---------------------------------------------------------------------------
    def run(self, progress, checkpoint_s):
        start = 0
        if self.store is not None and (state := self.store.load_checkpoint()) is not None:
            start = self._restore(state)
        T = self.config["max_steps"]
        bar = _progress(progress, T, start, self.label)
        last_ckpt = tick = time.perf_counter()
        previous_handler = _keyboard_interrupt_on_sigterm()
        try:
            for t in range(start, T + 1):
                self.t = t
                if self._step(t):
                    break
                # One assignment, so that an interrupt sees either the old or the new step whole.
                self.done = _Done(t, self.theta, self.prev, self.eigvec)
                now = time.perf_counter()
                if now - last_ckpt > checkpoint_s:
                    self.wall_s += now - tick
                    tick = last_ckpt = now
                    self._checkpoint()
                self.theta = self.theta - self.eta * self.prev[1]
                bar.update(1)
        except KeyboardInterrupt:
            self.wall_s += time.perf_counter() - tick
            self._checkpoint()
            raise
        finally:
            bar.close()
            _restore_sigterm(previous_handler)
        self.wall_s += time.perf_counter() - tick
        state = self._state(final=True)
        if self.store is not None:
            self.store.save(state)
        return _run_from_state(state, resumed=self.resumed)

    def _step(self, t):
        """Evaluate θᵗ and record what it reveals; True when the run stops at t."""
        h, eta = self.h, self.eta
        g, (loss, correct) = self.value_and_grad(self.theta)
        gg = torch.dot(g, g)
        h["loss"][t], h["accuracy"][t] = loss.detach(), correct / self.n
        if t > 0:
            loss_p, g_p, gg_p = self.prev
            h["rp"][t - 1] = (loss - loss_p) / (eta * gg_p)
            h["ds"][t - 1] = torch.dot(g_p, g_p - g) / (eta * gg_p)
        self.prev = (loss.detach(), g.detach(), gg.detach())
        measure = any(t in self.row[k] for k in ("sharpness", "profile", "float64"))
        if measure and not bool(torch.isfinite(gg)):
            # NaN/inf (a diverged run): Lanczos would raise, RP64 would call it a stationary point;
            # leave these rows NaN and let _check stop the run with status "diverged".
            measure = False
        if measure and t in self.row["sharpness"]:
            self._sharpness(self.row["sharpness"][t])
        if measure and t in self.row["profile"]:
            h["profile"][self.row["profile"][t]] = profile_from_gradient(self.df, self.theta, g, eta, self.taus)
        if measure and t in self.row["float64"]:
            self._float64(self.row["float64"][t])
        if t in self.row["snapshot"]:
            self.h["snapshot"][self.row["snapshot"][t]] = self.theta.detach().cpu()
        if t % self.config["check_every"] == 0 or t == self.config["max_steps"]:
            return self._check(t)
        return False

    def _sharpness(self, row):
        """λ_max(∇²f(θᵗ)) by Lanczos warm-started at the previous eigenvector, to ``sharpness_tol``."""
        c = self.config
        eig = top_eigen(self.f, self.theta, iters=c["sharpness_iters"], tol=c["sharpness_tol"], v0=self.eigvec)
        self.h["sharpness"][row] = eig.value
        self.h["sharpness_residual"][row] = eig.residual
        self.eigvec = eig.vector

    def _float64(self, row):
        """RP(θᵗ) and the right side of (4.2), both in float64 (Theorem 2)."""
        f, theta = self.f64, self.theta.double()
        self.h["rp64"][row] = relative_progress(f, theta, self.eta)
        self.h["theorem2_rp64"][row] = theorem2_rp(f, theta, self.eta)

    def _check(self, t):
        loss = self.h["loss"][: t + 1].cpu()
        if self.loss0 is None:
            self.loss0 = float(loss[0])
        bad = ~torch.isfinite(loss) | (loss > self.config["diverge_factor"] * self.loss0)
        if bool(bad.any()):
            self.t = int(bad.nonzero()[0])
            self.status = "diverged"
            return True
        goal = self.config["acc_goal"]
        if goal is not None:
            reached = (self.h["accuracy"][: t + 1] >= goal).nonzero()
            if len(reached):
                self.goal_step = int(reached[0])
                self.status = "acc_goal"
                return True
        if t == self.config["max_steps"]:
            self.status = "max_steps"
            return True
        return False


# -- SGD (Section 5): minibatch steps, E[RP] and both sides of (5.1) at every epoch end -------------

SGD_STATUSES = ("max_epochs", "diverged")
SGD_HISTORY = ("loss", "accuracy", "grad_norm_sq", "erp", "erp_se", "erp_cv", "erp_cv_se", "rhs", "rhs_se",
               "gap", "gap_se", "minibatch_loss")


def _sgd_seed(seed, epoch, stream):
    """A seed for epoch ``epoch``'s permutation (stream 0) or diagnostic minibatches (stream 1)."""
    import numpy as np

    return int(np.random.SeedSequence([int(seed), int(epoch), int(stream)]).generate_state(1)[0])


def train_sgd(
    model,
    data,
    loss,
    eta,
    batch_size=32,
    epochs=20,
    samples=64,
    seed=0,
    chunk_size=32,
    diverge_factor=1e3,
    checkpoint_s=30.0,
    results_dir=None,
    cache=True,
    progress=True,
    label=None,
):
    """Run SGD θ ← θ − η g on ``data`` with ``loss``, from the model's parameters, for ``epochs`` epochs.

    Each epoch draws a permutation of the n training examples (seeded by ``seed`` and the epoch) and
    splits it into n // ``batch_size`` minibatches of ``batch_size`` examples (the n mod batch_size
    left over sit that epoch out); g is the mean gradient on one minibatch. At epoch 0 (θ⁰) and at
    every epoch end the run records the full-batch loss and accuracy, ‖∇f‖², and, from ``samples``
    = M fresh minibatches of the same size, E[RP(θ)] (Definition 3) and the right side of (5.1)
    with their standard errors (see :class:`eos_support.diagnostics.SGDProgress`).

    Returns a :class:`Run` with status "max_epochs" or "diverged" (the full-batch loss not finite or
    above ``diverge_factor`` times its initial value: a result, not an error). ``history`` holds, at
    the recorded epochs "epoch" (0..E) and SGD steps "step": "loss", "accuracy", "grad_norm_sq",
    "erp", "erp_se", "erp_cv", "erp_cv_se", "rhs", "rhs_se", "gap", "gap_se", and "minibatch_loss"
    (the mean over the epoch's steps; NaN at epoch 0). Storage, reuse and resume as for
    :func:`train_gd` (checkpoints at epoch ends, at most every ``checkpoint_s`` seconds and on an
    interrupt).
    """
    eta = check_eta(eta)
    n = len(data.y_train)
    if not isinstance(batch_size, int) or not 1 <= batch_size <= n:
        raise ValueError(f"batch_size must be an integer between 1 and the {n} training examples, got {batch_size!r}")
    if not isinstance(samples, int) or samples < 2:
        raise ValueError(f"samples (M, minibatches per E[RP] estimate) must be an integer >= 2, got {samples!r}")
    if not isinstance(epochs, int) or epochs < 1:
        raise ValueError(f"epochs must be an integer >= 1, got {epochs!r}")
    if chunk_size is not None and int(chunk_size) < 1:
        raise ValueError(f"chunk_size must be >= 1 (or None for all at once), got {chunk_size}")
    f = ModuleLoss(model, data.x_train, data.y_train, loss)
    theta0 = f.theta0
    config = dict(
        _identity("sgd", model, theta0, data, loss, eta),
        batch_size=batch_size,
        epochs=epochs,
        samples=samples,
        seed=int(seed),
        diverge_factor=diverge_factor,
        dtype=str(theta0.dtype),
    )
    store = RunStore(config, results_dir) if cache else None
    trainer = lambda: _SGDTrainer(f, theta0, config, store, label or f"SGD η = {eta:.4g}", chunk_size)  # noqa: E731
    return _stored_or_run(store, trainer, progress, checkpoint_s)


class _SGDTrainer:
    """The epoch loop of :func:`train_sgd`: device-resident history, one host read per epoch."""

    def __init__(self, f, theta0, config, store, label, chunk_size):
        self.f, self.config, self.store, self.label, self.chunk_size = f, config, store, label, chunk_size
        E, dt, dev = config["epochs"], theta0.dtype, theta0.device
        self.eta, self.b = config["eta"], config["batch_size"]
        self.n = len(f.targets)
        self.h = {k: torch.full((E + 1,), math.nan, dtype=dt, device=dev) for k in SGD_HISTORY}
        self.theta, self.epoch = theta0, -1  # the last fully recorded epoch
        self.wall_s, self.loss0, self.status, self.resumed = 0.0, None, None, False
        self.full = _gradient_loss_and_correct(f)
        self.value_and_grad = grad_and_value(f)

        def minibatch(theta, x, y):
            return grad_and_value(f.on(x, y))(theta)

        self.minibatch = minibatch

    # -- checkpoints ------------------------------------------------------------------------
    def _state(self, final):
        e = self.epoch
        history = {k: v[: e + 1].detach().cpu() for k, v in self.h.items()}
        history["epoch"] = torch.arange(e + 1)
        history["step"] = history["epoch"] * (self.n // self.b)
        state = dict(
            config=self.config,
            history=history,
            theta=self.theta.detach().cpu(),
            t=e,
            status=self.status,
            goal_step=None,
            wall_s=self.wall_s,
            device=_device_name(self.theta.device),
            loss0=self.loss0,
        )
        if not final:
            state["full_history"] = {k: v.detach().cpu() for k, v in self.h.items()}
        return state

    def _restore(self, state):
        dev = self.theta.device
        self.h = {k: v.to(dev) for k, v in state["full_history"].items()}
        self.theta = state["theta"].to(dev)
        self.epoch, self.wall_s, self.loss0 = state["t"], state["wall_s"], state["loss0"]
        self.resumed = True

    def _checkpoint(self):
        if self.store is not None:
            self.store.save_checkpoint(self._state(final=False))

    # -- the loop ---------------------------------------------------------------------------
    def run(self, progress, checkpoint_s):
        start = 0
        if self.store is not None and (state := self.store.load_checkpoint()) is not None:
            self._restore(state)
            start = self.epoch + 1
        E = self.config["epochs"]
        bar = _progress(progress, E, max(start - 1, 0), self.label)
        last_ckpt = tick = time.perf_counter()
        previous_handler = _keyboard_interrupt_on_sigterm()
        try:
            if start == 0:
                self._evaluate(0, self.theta)
                self.epoch, start = 0, 1
                self.status = self._check(0)
            for e in range(start, E + 1):
                if self.status is not None:
                    break
                theta = self._epoch(e)
                self._evaluate(e, theta)
                self.theta, self.epoch = theta, e  # the epoch counts once it is fully recorded
                self.status = self._check(e)
                bar.update(1)
                now = time.perf_counter()
                if self.status is None and now - last_ckpt > checkpoint_s:
                    self.wall_s += now - tick
                    tick = last_ckpt = now
                    self._checkpoint()
        except KeyboardInterrupt:
            self.wall_s += time.perf_counter() - tick
            if self.epoch >= 0 and self.status is None:
                self._checkpoint()
            raise
        finally:
            bar.close()
            _restore_sigterm(previous_handler)
        self.status = self.status or "max_epochs"
        self.wall_s += time.perf_counter() - tick
        state = self._state(final=True)
        if self.store is not None:
            self.store.save(state)
        return _run_from_state(state, resumed=self.resumed)

    def _epoch(self, e):
        """One pass of SGD over a seeded permutation; returns θ at the epoch's end."""
        gen = torch.Generator().manual_seed(_sgd_seed(self.config["seed"], e, 0))
        perm = torch.randperm(self.n, generator=gen).to(self.f.targets.device)
        batches = perm[: self.n // self.b * self.b].view(-1, self.b)
        theta, total = self.theta, 0.0
        x, y = self.f.inputs, self.f.targets
        for idx in batches:
            g, value = self.minibatch(theta, x[idx], y[idx])
            theta = theta - self.eta * g
            total = total + value.detach()
        self.h["minibatch_loss"][e] = total / len(batches)
        return theta.detach()

    def _evaluate(self, e, theta):
        """Full-batch loss, accuracy and ‖∇f‖² at θ, and E[RP] with both sides of (5.1) (skipped if diverged)."""
        from .diagnostics import batch_gradients, sample_minibatches, sgd_progress_tensors

        h = self.h
        g, (loss, correct) = self.full(theta)
        h["loss"][e], h["accuracy"][e], h["grad_norm_sq"][e] = loss.detach(), correct / self.n, torch.dot(g, g)
        value = float(loss)  # the one host read of the epoch
        if self.loss0 is None:
            self.loss0 = value
        if not math.isfinite(value) or value > self.config["diverge_factor"] * self.loss0:
            return
        gen = torch.Generator().manual_seed(_sgd_seed(self.config["seed"], e, 1))
        idx = sample_minibatches(self.n, self.b, self.config["samples"], gen, self.f.targets.device)
        G = batch_gradients(self.f, theta, idx, self.chunk_size)
        out = sgd_progress_tensors(self.value_and_grad, theta, loss.detach(), g.detach(), self.eta, G,
                                   chunk_size=self.chunk_size)
        for k, v in out.items():
            h[k][e] = v.detach()

    def _check(self, e):
        value = float(self.h["loss"][e])
        if not math.isfinite(value) or value > self.config["diverge_factor"] * self.loss0:
            return "diverged"
        return None
