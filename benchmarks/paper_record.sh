#!/usr/bin/env bash
# The paper profile's record and the GPU benchmark, in one run on a machine with an NVIDIA GPU (issue 14).
#
#   bash benchmarks/paper_record.sh OUT            # OUT: where everything goes (default: paper-record)
#
# Assumes: the repository checked out here; a python3 whose torch sees the GPU (the machine's own torch
# is kept: the project is installed with --no-deps, then only the book's other dependencies); the paper
# data: EOS_PAPER_DATASET=npz:PATH (the CIFAR-10 stand-in) or CIFAR-10 under EOS_DATA_DIR.
# Writes OUT/bench (the benchmark record), OUT/build (executed notebooks, claims, timings, run cache) and
# OUT/records/paper (claims and timings to commit as book/records/paper), and prints a summary.
# DRY_RUN=1 prints the commands instead of running them.
set -euo pipefail
cd "$(dirname "$0")/.."
out=$(realpath -m "${1:-paper-record}")
run() { echo "+ $*"; [ -n "${DRY_RUN:-}" ] || "$@"; }

if [ -z "${DRY_RUN:-}" ]; then
    python3 -c "import torch; assert torch.cuda.is_available(), 'torch sees no GPU: run this on the GPU machine'"
fi
run python3 -m pip install --quiet --no-deps -e .
run python3 -m pip install --quiet jupyter-book papermill jupytext nbformat ipykernel ipywidgets matplotlib pyyaml \
    scipy tqdm sphinx-mathjax-offline sphinx-proof
start=$(date +%s)
run python3 benchmarks/bench.py --device cuda --size paper --out "$out/bench"
run python3 -m eos_support.book.cli execute --profile paper --build-dir "$out/build" \
    --results-dir "$out/build/results" --no-progress || echo "[paper] some chapters failed: see the summary above"
run mkdir -p "$out/records/paper"
run cp -r "$out/build/claims" "$out/build/timings.json" "$out/records/paper/"
run python3 -m eos_support.book.cli claims --build-dir "$out/build" || true
echo "[paper] done in $(( $(date +%s) - start )) s; commit $out/records/paper as book/records/paper"
