#!/usr/bin/env bash
# The paper profile's record and the GPU benchmark, in one run on a machine with an NVIDIA GPU (issue 14).
#
#   bash benchmarks/paper_record.sh OUT            # OUT: where everything goes (default: paper-record)
#
# Assumes: the repository checked out here; a python3 whose torch sees the GPU (the machine's own torch
# is kept: nothing here installs or replaces torch, numpy or anything else the machine already has); the
# paper data: EOS_PAPER_DATASET=npz:PATH (the CIFAR-10 stand-in) or CIFAR-10 under EOS_DATA_DIR.
# Online, the project is installed with --no-deps, then only the book's other dependencies. Offline (a
# machine that reaches no package index), WHEELS=DIR names a folder of wheels written beforehand by
# benchmarks/paper_wheels.sh: the ones whose package this python lacks go to a private folder on
# PYTHONPATH, with the repository itself, and nothing is installed into the machine's Python.
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
if [ -n "${WHEELS:-}" ]; then
    [ -d "$WHEELS" ] || { echo "WHEELS=$WHEELS is not a folder: write it with benchmarks/paper_wheels.sh" >&2; exit 2; }
    site=$(mktemp -d)
    missing=()
    for wheel in "$WHEELS"/*.whl; do
        name=$(basename "$wheel" | cut -d- -f1)
        python3 -c "import importlib.metadata as m, sys; m.version(sys.argv[1])" "$name" 2>/dev/null || missing+=("$wheel")
    done
    echo "[paper] installing ${#missing[@]} of the carried wheels into $site (this python has the others)"
    if [ ${#missing[@]} -gt 0 ]; then
        run python3 -m pip install --quiet --no-index --no-deps --no-compile --target "$site" "${missing[@]}"
    fi
    export PYTHONPATH="$site:$PWD${PYTHONPATH:+:$PYTHONPATH}"
else
    run python3 -m pip install --quiet --no-deps -e .
    run python3 -m pip install --quiet jupyter-book papermill jupytext nbformat ipykernel ipywidgets matplotlib \
        pyyaml scipy tqdm mpmath sphinx-mathjax-offline sphinx-proof
fi
start=$(date +%s)
run python3 benchmarks/bench.py --device cuda --size paper --out "$out/bench"
run python3 -m eos_support.book.cli execute --profile paper --build-dir "$out/build" \
    --results-dir "$out/build/results" --no-progress || echo "[paper] some chapters failed: see the summary above"
run mkdir -p "$out/records/paper"
run cp -r "$out/build/claims" "$out/build/timings.json" "$out/records/paper/"
run python3 -m eos_support.book.cli claims --build-dir "$out/build" || true
echo "[paper] done in $(( $(date +%s) - start )) s; commit $out/records/paper as book/records/paper"
