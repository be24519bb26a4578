"""The edge-of-stability monitor under torch.distributed: 1, 2 and 4 CPU processes (gloo) against one.

Each world size runs once (tests/distributed_worker.py does the work on every rank: with torchrun, or
for one rank in this process) and is checked several ways; the one-process references run here,
without torch.distributed.
"""

import json
import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch.distributed as dist

import distributed_worker as worker

REPO = Path(__file__).resolve().parents[1]
WORLDS = (1, 2, 4)
HANG_S = 240  # a hang fails the test; the worker's gloo timeout (60 s) should end one first

pytestmark = pytest.mark.timeout(2 * HANG_S)


def torchrun(nproc, script, *args, cwd):
    """``python -m torch.distributed.run --standalone --nproc-per-node nproc script args`` on one thread each:
    (exit code, output); on a hang every process it started is killed and the test fails."""
    env = {**os.environ, "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1", "MPLBACKEND": "Agg"}
    command = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--standalone",
        f"--nproc-per-node={nproc}",
        str(script),
        *map(str, args),
    ]
    proc = subprocess.Popen(
        command, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True
    )
    try:
        out, _ = proc.communicate(timeout=HANG_S)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)  # the session holds torchrun and its workers only
        out, _ = proc.communicate()
        pytest.fail(f"{nproc} processes hung for {HANG_S} s:\n{out[-3000:]}")
    return proc.returncode, out


@pytest.fixture(scope="module", params=WORLDS, ids=lambda w: f"world{w}")
def ranks(request, tmp_path_factory):
    """(world size, every rank's results): one torchrun of the worker, or for one rank a process group
    in this process (the same checks, without starting two more processes)."""
    world, out = request.param, tmp_path_factory.mktemp(f"world{request.param}")
    if world == 1:
        dist.init_process_group("gloo", store=dist.HashStore(), rank=0, world_size=1)
        try:
            return world, [json.loads(json.dumps(worker.results(1, 0)))]
        finally:
            dist.destroy_process_group()
    code, text = torchrun(world, Path(worker.__file__), out, cwd=out)
    assert code == 0, text[-4000:]
    return world, [json.loads((out / f"rank{r}.json").read_text()) for r in range(world)]


@pytest.fixture(scope="module")
def one_process():
    """The one-process monitor's history on the whole probe, per scenario (its own training, same data)."""
    x, y, _, _ = worker.data()
    return {name: worker.train(name, (x, y))[2].history for name in ("momentum", "adam")}


def _agree(got, want):
    for key, values in want.items():
        np.testing.assert_allclose(np.asarray(got[key], dtype=float), values, rtol=1e-10, atol=1e-10, err_msg=key)


def test_every_history_array_agrees_with_the_one_process_monitor_on_the_whole_probe(ranks, one_process):
    world, results = ranks
    main = results[0]
    _agree(main["momentum"]["history"], one_process["momentum"])  # the probe split evenly
    _agree(main["adam"]["history"], one_process["adam"])  # unevenly: 7 and 13 examples on 2 ranks, 2 to 8 on 4
    _agree(main["plain"]["history"], one_process["momentum"])  # the plain model on every rank, no DDP
    # the batch sharpness is the mean over every rank's batches: the one process gets the same batches
    batches = [b for r in range(world) for b in worker.shard("batch", world, r)]
    _agree(main["batch"]["history"], worker.train("batch", batches)[2].history)
    sharpness = np.asarray(main["adam"]["history"]["sharpness"], dtype=float)
    assert np.isfinite(sharpness[::2]).all() and np.isnan(sharpness[1::2]).all()


def test_every_rank_holds_the_same_history_and_only_rank_0_draws(ranks):
    world, results = ranks
    for name in ("momentum", "adam", "batch", "plain"):
        for theirs in results[1:]:
            for key, values in results[0][name]["history"].items():
                assert np.array_equal(theirs[name]["history"][key], values, equal_nan=True), (name, key)
    assert all(r[name]["plot_is_none"] for r in results[1:] for name in ("momentum", "adam", "batch"))


def test_ddp_training_is_bit_identical_with_and_without_the_monitor(ranks):
    _, results = ranks
    assert all(r[name]["identical"] for r in results for name in ("momentum", "adam", "batch"))


def test_a_record_costs_one_all_reduce_and_a_sharpness_record_two_plus_the_lanczos_products(ranks):
    # sharpness_every = 2: records 0, 2, 4 measure it; the counts do not depend on the world size
    _, results = ranks
    for r in results:
        for name in ("momentum", "adam"):
            lanczos = iter(r[name]["hvps"])
            assert r[name]["all_reduces"] == [2 + next(lanczos) if t % 2 == 0 else 1 for t in range(worker.STEPS)]
            assert r[name]["hvps"] == results[0][name]["hvps"]
        assert r["batch"]["all_reduces"] == [2, 1] * (worker.STEPS // 2)


def test_a_rank_that_raises_stops_every_rank_with_an_error_that_names_it(ranks):
    world, results = ranks
    failing = f"rank {world - 1} raised"
    expected = {
        "probe_shape": f"while creating the monitor: {failing} ValueError: the model and loss cannot evaluate",
        "record": f"while computing the probe's gradients: {failing} FloatingPointError: injected on call 1",
        "sharpness": f"while measuring the sharpness: {failing} FloatingPointError: injected on call 3",
        "lanczos": f"while measuring the sharpness: {failing} MemoryError: injected in sum, call 5",
        "before_step": f"while computing the probe's gradients: {failing} MemoryError: injected in _flat, call 2",
        "fsdp": "creating the monitor: ranks? [0-9, ]+raised ValueError: the model's parameters are sharded across "
        r"ranks \(FSDP or DTensor\), which the monitor does not support",
    }
    for rank, r in enumerate(results):
        errors = r["errors"]
        for case, message in expected.items():
            assert re.search(message, errors[case]), (rank, case, errors[case])
            assert f"this is rank {rank}) stops here" in errors[case], errors[case]
        if world > 1:
            assert errors["diverged"].startswith("the parameters differ between the ranks"), errors["diverged"]
        assert errors["alive"] == world  # after every failure the ranks still meet in the same all-reduce


def test_a_hessian_that_is_not_finite_is_nan_on_every_rank_and_the_loop_goes_on(ranks):
    # every rank sees the same global products: all of them record NaN together, none waits in a collective
    _, results = ranks
    for rank, r in enumerate(results):
        case = r["nonfinite_hessian"]
        assert len(case["loss"]) == worker.STEPS and np.isfinite(case["loss"]).all()
        assert np.isnan(case["sharpness"]).all()
        assert (case["warned"] > 0) == (rank == 0)  # rank 0 speaks for all


def test_the_readmes_ddp_example_runs_with_torchrun_on_two_processes(tmp_path):
    text = (REPO / "README.md").read_text()
    assert "torchrun --standalone --nproc-per-node 2 monitor_ddp.py" in text
    (block,) = [b for b in re.findall(r"```python\n(.*?)```", text, flags=re.S) if "DistributedDataParallel" in b]
    (tmp_path / "monitor_ddp.py").write_text(block)
    code, out = torchrun(2, "monitor_ddp.py", cwd=tmp_path)
    assert code == 0, out[-4000:]
    assert len(re.findall(r"RP_u median [+-]\d\.\d\d over the last \d+ records", out)) == 1, out[-4000:]
    assert (tmp_path / "monitor.png").exists()
