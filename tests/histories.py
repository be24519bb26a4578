"""Hand-made GD histories with known phases, standing in for a trained Run in the tests of the readers of
run histories (phases, theorem2, figures)."""

from types import SimpleNamespace

import numpy as np


def recorded_run(eta=0.5, steps=40, onset=20, every=5, taus=8, status="acc_goal"):
    """A stand-in for a GD :class:`~eos_support.train.Run` whose unstable phase starts at ``onset``.

        Before it: RP = −0.99 and a sharpness of 0.5·(2/η), crossing to 1.2·(2/η) at the measurement ``every``
        steps before ``onset``; from ``onset`` on RP alternates +0.2, −0.2. L(θᵗ; η∇f(θᵗ)) = (2/η)(RP + 1),
        so (4.3) holds exactly; the loss moves by η·RP (‖∇f‖² = 1). Every Lanczos residual is 1e-6, below the
    tolerance 1e-4. The τ-profiles are flat with a slope
        of 10 % across τ; both float64 sides of (4.2) agree to 1e-15.
    """
    t = np.arange(steps)
    rp = np.where(t < onset, -0.99, np.where((t - onset) % 2 == 0, 0.2, -0.2)).astype(np.float32)
    ds = ((rp + 1) * 2 / eta).astype(np.float32)
    loss = (10 + np.concatenate([[0], np.cumsum(eta * rp)])).astype(np.float32)
    sharpness_step = np.arange(0, steps + 1, every)
    sharpness = (np.where(sharpness_step >= onset - every, 1.2, 0.5) * 2 / eta).astype(np.float32)
    tau = np.linspace(1 / taus, 1, taus, dtype=np.float32)
    profile_step = np.arange(0, steps + 1, every)
    profile = ds[np.minimum(profile_step, steps - 1)][:, None] * (0.95 + 0.1 * tau[None, :])
    float64_step = np.arange(0, steps + 1, 10)
    rp64 = rp[np.minimum(float64_step, steps - 1)].astype(np.float64)
    snapshot_step = np.arange(0, steps + 1, 10)
    history = dict(
        loss=loss,
        accuracy=np.linspace(0.1, 0.96, steps + 1, dtype=np.float32),
        rp=rp,
        ds=ds,
        sharpness_step=sharpness_step,
        sharpness=sharpness,
        sharpness_residual=np.full(len(sharpness_step), 1e-6),
        profile_step=profile_step,
        profile=profile.astype(np.float32),
        taus=tau,
        float64_step=float64_step,
        rp64=rp64,
        theorem2_rp64=rp64 + 1e-15,
        snapshot_step=snapshot_step,
        snapshot=np.zeros((len(snapshot_step), 3), np.float32),
    )
    return SimpleNamespace(
        eta=eta,
        history=history,
        status=status,
        steps=steps,
        goal_step=steps - 1,
        wall_s=1.0,
        source="stored",
        options=SimpleNamespace(diverge_factor=1e3, sharpness_tol=1e-4),
    )


def table_rows(markdown):
    """The rows of a Markdown table, header first (its |---| line dropped), as lists of cell texts."""
    import re

    lines = [line for line in markdown.splitlines() if line.startswith("|") and not line.startswith("|---")]
    return [[c.strip() for c in re.split(r"(?<!\\)\|", line)[1:-1]] for line in lines]


def sgd_history(epochs=25, seed=0, dtype=np.float32):
    """A history shaped like train_sgd's (epochs 0..E), with E[RP] hovering around 0 after epoch 0."""
    rng = np.random.default_rng(seed)
    erp = np.concatenate([[-1.0], rng.normal(0.0, 0.3, epochs)]).astype(dtype)
    erp_cv = (erp + rng.normal(0.0, 0.02, epochs + 1)).astype(dtype)
    rhs = (erp_cv + rng.normal(0.0, 0.01, epochs + 1)).astype(dtype)
    return {
        "epoch": np.arange(epochs + 1),
        "loss": (2.3 * np.exp(-0.1 * np.arange(epochs + 1)) * (1 + 0.1 * rng.random(epochs + 1))).astype(dtype),
        "erp": erp,
        "erp_se": rng.uniform(0.05, 0.2, epochs + 1).astype(dtype),
        "erp_cv": erp_cv,
        "erp_cv_se": rng.uniform(0.005, 0.02, epochs + 1).astype(dtype),
        "rhs": rhs,
        "rhs_se": rng.uniform(0.05, 0.2, epochs + 1).astype(dtype),
        "gap": rng.normal(0.0, 0.01, epochs + 1).astype(dtype),
        "gap_se": rng.uniform(0.001, 0.01, epochs + 1).astype(dtype),
    }


def sgd_run(eta=2 / 100, status="max_epochs", epochs=None, samples=256, **history):
    """A stand-in for an SGD :class:`~eos_support.train.Run` with ``history`` (default :func:`sgd_history`)."""
    history = history or sgd_history()
    epochs = epochs or len(history["epoch"]) - 1
    return SimpleNamespace(
        eta=eta, status=status, history=history, options=SimpleNamespace(epochs=epochs, samples=samples)
    )
