"""environment.yml (Binder, conda) asks for the same packages as pyproject.toml."""

from __future__ import annotations

import re

try:
    import tomllib
except ImportError:  # Python 3.10: pytest depends on tomli there
    import tomli as tomllib

import yaml

from conftest import REPO


def _normalise(requirement: str) -> tuple[str, str]:
    """(canonical name, specifier without spaces) of a PEP 508 requirement string."""
    requirement = requirement.split(";")[0].strip()
    match = re.match(r"^([A-Za-z0-9][A-Za-z0-9._-]*)(\[[^\]]*\])?\s*(.*)$", requirement)
    assert match, f"cannot parse requirement {requirement!r}"
    name = re.sub(r"[-_.]+", "-", match.group(1)).lower()
    return name, ",".join(sorted(match.group(3).replace(" ", "").split(","))).strip(",")


def _pyproject():
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    return project, project["dependencies"] + project["optional-dependencies"]["dev"]


def _environment():
    env = yaml.safe_load((REPO / "environment.yml").read_text())
    conda = [d for d in env["dependencies"] if isinstance(d, str)]
    pip = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict) and "pip" in d)
    return conda, pip


def test_environment_and_pyproject_ask_for_the_same_packages():
    _, wanted = _pyproject()
    _, pip = _environment()
    listed = [p for p in pip if not p.startswith("-e")]
    assert sorted(map(_normalise, listed)) == sorted(map(_normalise, wanted))


def test_environment_installs_the_package_and_a_matching_python():
    project, _ = _pyproject()
    conda, pip = _environment()
    assert "-e ." in pip, "environment.yml must install eos_support itself (-e .)"
    python = next(d for d in conda if d.startswith("python"))
    version = tuple(int(x) for x in python.split("=")[-1].split(".")[:2])
    minimum = tuple(int(x) for x in project["requires-python"].removeprefix(">=").split(".")[:2])
    assert version >= minimum
    assert "pip" in conda


def test_dependencies_are_ranges_not_pins():
    _, wanted = _pyproject()
    pinned = [r for r in wanted if "==" in r or "===" in r]
    assert not pinned, f"pin-free dependencies expected, got {pinned}"
    names = {_normalise(r)[0] for r in wanted}
    assert {"torch", "torchvision", "jupyter-book", "papermill", "jupytext", "pytest"} <= names
    jb = next(r for r in wanted if _normalise(r)[0] == "jupyter-book")
    assert "<2" in jb, "the book is written for Jupyter Book 1.x"


def _readme():
    return (REPO / "README.md").read_text(encoding="utf-8")


def test_ci_runs_the_readme_test_command():
    command = ".venv/bin/python -m pytest -q"
    assert command in _readme()
    ci = (REPO / ".ci" / "run").read_text()
    assert any(line.strip() == command for line in ci.splitlines())
    assert "set -euo pipefail" in ci


def test_readme_example_runs():
    """The README's "own model" example works as printed."""
    import contextlib
    import io

    block = re.search(r"```python\n(.*?)```", _readme(), re.S).group(1)
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(compile(block, "README.md", "exec"), {})
    assert re.match(r"RP = -?\d", out.getvalue())
