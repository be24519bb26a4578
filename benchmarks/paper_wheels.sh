#!/usr/bin/env bash
# The wheels that benchmarks/paper_record.sh installs on a GPU machine that reaches no package index
# (WHEELS=DIR there): what executing the chapters needs besides the package's own core (papermill,
# jupytext, nbformat, nbclient, ipykernel, ipywidgets and their dependencies), for that machine's
# Python (default 3.12, Linux x86-64). Run it where pip reaches PyPI:
#
#   bash benchmarks/paper_wheels.sh DIR [PYTHON_VERSION]     # DIR: e.g. .whl (git-ignore it)
#
# About 21 MB. Rendering (jupyter-book) is left out: the HTML is rendered where the records are committed.
set -euo pipefail
dir=${1:?usage: paper_wheels.sh DIR [PYTHON_VERSION]}
version=${2:-3.12}
platforms=()
for p in manylinux_2_28_x86_64 manylinux_2_27_x86_64 manylinux_2_17_x86_64 manylinux2014_x86_64 manylinux1_x86_64; do
    platforms+=(--platform "$p")
done
python3 -m pip download --quiet --only-binary=:all: --python-version "$version" --implementation cp \
    "${platforms[@]}" -d "$dir" papermill jupytext nbformat nbclient ipykernel ipywidgets
echo "[wheels] $(ls "$dir"/*.whl | wc -l) wheels, $(du -sh "$dir" | cut -f1), in $dir"
