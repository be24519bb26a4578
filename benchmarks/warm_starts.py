"""Warm starts of the sharpness tracker compared along a GD run at the edge of stability (issue 21, rows 2p and 3).

Along a GD run (``--workload``: the quick profile's Experiment 3 run at η = 2/5; row 2p's run at the paper
size on ``$EOS_PAPER_DATASET`` at η = 2/30; row 3's run on the ``cpu`` size's synthetic data), every
``--every`` steps from ``--first``, each strategy starts from the previous call's top Ritz vectors u₁, u₂,
u₃, or from what the trajectory gives for free: the period-two direction (θᵗ⁻¹ − θᵗ⁻²) − (θᵗ⁻² − θᵗ⁻³) of
GD's oscillation along the top eigenvector, or the secant ∇f(θᵗ⁻¹) − ∇f(θᵗ⁻²) ≈ ∇²f·(θᵗ⁻¹ − θᵗ⁻²). The
first call is cold: from top_eigen's start (a Gaussian draw plus the gradient, each of unit length) and
from the draw alone. It spends Hessian-vector products one at a time on a growing Krylov space, with
Rayleigh–Ritz after each product and no restart; the table gives the products until the top Ritz value is
within 1e-4 of the truth (float64 Lanczos to 1e-10) and until the residual rule (the relative residual
≤ 1e-4, as in top_eigen) says so. The first count is what any stopping rule on that space needs. A Krylov
space from u₁ alone is the tracker's Lanczos; "block" spaces grow by the residuals of their top k Ritz
vectors in turn. 99 marks a call that did not get there within ``--max-products`` (``--max-cold`` cold).

    python benchmarks/warm_starts.py --every 25 --calls 6 --first 75
    EOS_PAPER_DATASET=npz:PATH python benchmarks/warm_starts.py --workload paper --every 20 --calls 3 --first 0
    python benchmarks/warm_starts.py --workload cpu --every 20 --calls 2 --first 0 --max-products 60
"""

from __future__ import annotations

import argparse
import os
import tempfile

import torch
from torch.func import grad
from workload import SIZES, Problem, paper_problem  # benchmarks/workload.py

from eos_support import profiles
from eos_support.diagnostics.curvature import _cold_start, _unit, hessian_operator, top_eigen

TOL = 1e-4
STRATEGIES = {
    "Lanczos from u1": (("u1",), 1),
    "block (u1, u2)": (("u1", "u2"), 2),
    "block (u1, u2, u3)": (("u1", "u2", "u3"), 3),
    "(u1, u2), top residual": (("u1", "u2"), 1),
    "Lanczos from the oscillation": (("oscillation",), 1),
    "Lanczos from the secant": (("secant",), 1),
    "(u1, oscillation), top residual": (("u1", "oscillation"), 1),
}
"""name: (the vectors that start the space, how many top Ritz vectors' residuals extend it)."""
WORKLOADS = ("quick", "paper", "cpu")


def workload(name):
    """(f, η): the loss and step size of the ``name``d run."""
    if name == "quick":
        return profiles.get("quick", tempfile.mkdtemp()).objective("experiment3"), 2 / 5
    if name == "paper" and not os.environ.get("EOS_PAPER_DATASET"):
        raise SystemExit("--workload paper needs EOS_PAPER_DATASET=npz:PATH (the CIFAR-10 stand-in)")
    problem = paper_problem(SIZES["cpu"], "cpu") if name == "paper" else Problem(SIZES["cpu"], "cpu")
    return problem.loss(), 2 / 30 if name == "paper" else SIZES["cpu"]["eta"]


def cold_starts(theta, g):
    """top_eigen's cold start (its Gaussian draw of seed 0 plus the hint ∇f(θ), each of unit length), and the draw."""
    draw = lambda hint: _cold_start(theta, hint, torch.Generator().manual_seed(0))  # noqa: E731
    return {"draw + gradient (top_eigen's)": draw(_unit(theta, g)), "draw alone": draw(None)}


def _ritz(Q, AQ):
    H = Q @ AQ.T
    values, vectors = torch.linalg.eigh(((H + H.T) / 2).double())
    return values, vectors.to(Q.dtype)


def krylov(A, starts, k, truth, max_products, stop_early=True):
    """Grow span(starts) by the residuals of the top ``k`` Ritz vectors, one product at a time.

    Returns (products until the rule stops, products until the true error ≤ TOL, top three Ritz vectors).
    It ends early once the space is invariant (every residual lies in it): its Ritz pairs are then exact.
    """
    Q = torch.zeros(0, starts[0].numel(), dtype=starts[0].dtype)
    AQ, pending, stop, good = torch.zeros_like(Q), list(starts), None, None
    while len(Q) < max_products:
        if not pending:
            values, S = _ritz(Q, AQ)
            pending = [S[:, -i] @ AQ - float(values[-i]) * (S[:, -i] @ Q) for i in range(1, min(k, len(values)) + 1)]
            if all(float((r - Q.T @ (Q @ r)).norm()) < 1e-6 for r in pending):
                break
        w = pending.pop(0)
        for _ in range(2):
            w = w - Q.T @ (Q @ w)
        if float(w.norm()) < 1e-6:
            continue
        q = w / w.norm()
        Q, AQ = torch.cat([Q, q[None]]), torch.cat([AQ, A(q)[None]])
        values, S = _ritz(Q, AQ)
        lam = float(values[-1])
        residual = float((S[:, -1] @ AQ - lam * (S[:, -1] @ Q)).norm())
        stop = stop or (len(Q) if residual / lam <= TOL else None)
        good = good or (len(Q) if abs(truth - lam) / truth <= TOL else None)
        if stop and good and stop_early:
            break
    values, S = _ritz(Q, AQ)
    vectors = [S[:, -i] @ Q for i in range(1, min(3, len(values)) + 1)]
    return stop or 99, good or 99, [v / v.norm() for v in vectors]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workload", choices=WORKLOADS, default="quick")
    parser.add_argument("--every", type=int, default=25)
    parser.add_argument("--calls", type=int, default=6)
    parser.add_argument("--first", type=int, default=75)
    parser.add_argument("--max-products", type=int, default=16)
    parser.add_argument("--max-cold", type=int, default=80)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    f, eta = workload(args.workload)
    df, f64 = grad(f), f.on(f.inputs.double(), f.targets)
    theta, U, table = f.theta0.clone(), None, {name: [] for name in STRATEGIES}
    thetas, grads = [], []  # the last three iterates and their gradients
    print("| step | λ_max | " + " | ".join(f"{name}: true / rule" for name in STRATEGIES) + " |")
    print("|---" * (2 + len(STRATEGIES)) + "|")
    for t in range(args.first + args.every * args.calls + 1):
        g = df(theta).detach()
        if t >= args.first and (t - args.first) % args.every == 0:
            truth = top_eigen(f64, theta.double(), iters=40, tol=1e-10, v0=None if U is None else U[0].double())
            A = hessian_operator(f, theta)
            if U is None:
                for name, start in cold_starts(theta, g).items():
                    stop, good, vectors = krylov(A, [start / start.norm()], 1, truth.value, args.max_cold)
                    U = U or vectors  # top_eigen's space supplies u₂, u₃ for the first warm call
                    print(f"| {t}, cold from {name} | {truth.value:.3f} | {good} / {stop} |", flush=True)
            else:
                oscillation = (thetas[-1] - thetas[-2]) - (thetas[-2] - thetas[-3])
                secant = grads[-1] - grads[-2]
                free = dict(zip(("u1", "u2", "u3"), U), oscillation=oscillation / oscillation.norm())
                free["secant"] = secant / secant.norm()
                cells = []
                for name, (starts, k) in STRATEGIES.items():
                    stop, good, _ = krylov(A, [free[s] for s in starts], k, truth.value, args.max_products)
                    table[name].append((good, stop))
                    cells.append(f"{good} / {stop}")
                print(f"| {t} | {truth.value:.3f} | " + " | ".join(cells) + " |", flush=True)
            start = [truth.vector.to(theta.dtype)] + U[1:3]
            U = [u.detach() for u in krylov(A, start, 3, truth.value, 20, stop_early=False)[2]]
        thetas, grads = (thetas + [theta])[-3:], (grads + [g])[-3:]
        theta = (theta - eta * g).detach()
    for name, rows in table.items():
        print(f"{name}: {sum(g for g, _ in rows)} products to the true error, {sum(s for _, s in rows)} to the rule")


if __name__ == "__main__":
    main()
