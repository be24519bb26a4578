"""The speed benchmark (benchmarks/bench.py) at its smoke size: it runs, every fast path agrees with the
obvious reference, and it prints its table. Timings are not asserted (shared CI machines are noisy)."""

import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch

REPO = Path(__file__).resolve().parents[1]


def test_benchmark_smoke_runs_and_every_fast_path_agrees_with_the_reference(tmp_path):
    proc = subprocess.run(
        [
            sys.executable,
            str(REPO / "benchmarks" / "bench.py"),
            "--size",
            "smoke",
            "--device",
            "cpu",
            "--threads",
            "1",
            "--out",
            str(tmp_path),
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-4000:]
    assert "| row | what | target | package |" in proc.stdout
    (record_path,) = tmp_path.glob("*-smoke.json")
    record = json.loads(record_path.read_text())
    assert record["all_checks_passed"] and not record["errors"]
    assert record["checks"] and all(c["passed"] for c in record["checks"])
    rows = {r["row"] for r in record["rows"]}
    assert {"1", "2c", "2w", "3", "4", "5", "8"} <= rows
    for r in record["rows"]:
        assert r["met"] != "error", r
    assert record_path.with_suffix(".md").read_text().count("\n|") >= len(record["rows"]) + 1
    assert record["git"]["commit"] is None or len(record["git"]["commit"]) == 40


def test_the_warm_start_comparison_counts_products_against_a_known_spectrum():
    sys.path.insert(0, str(REPO / "benchmarks"))  # the benchmark's modules import each other as scripts do
    from warm_starts import STRATEGIES, krylov

    A = torch.diag(torch.tensor([1.0, 2.0, 3.0, 4.0, 10.0, 9.0], dtype=torch.float64))
    top = torch.eye(6, dtype=torch.float64)[4]
    ones, ramp = torch.ones(6, dtype=torch.float64), torch.arange(6.0, dtype=torch.float64)
    free = dict(u1=ones, u2=ramp, u3=top.flip(0), oscillation=ramp.flip(0), secant=ones + ramp)
    for starts, k in STRATEGIES.values():
        space = [free[s] for s in starts]
        stop, good, vectors = krylov(lambda v: A @ v, space, k, 10.0, max_products=6, stop_early=False)
        assert good <= stop <= 6 and abs(float(vectors[0] @ top)) == pytest.approx(1.0)
    assert krylov(lambda v: A @ v, [top], 1, 10.0, max_products=6)[:2] == (1, 1)  # the eigenvector itself: one product
