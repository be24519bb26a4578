"""pyproject.toml's core and extras, and environment.yml (Binder, conda) asking for the same packages."""

from __future__ import annotations

import re

import pytest
import torch

try:
    import tomllib
except ImportError:  # Python 3.10: pytest depends on tomli there
    import tomli as tomllib

import yaml
from packaging.requirements import Requirement
from packaging.version import Version

from conftest import REPO

PROJECT = "eos-book"
CORE = {"torch", "numpy", "tqdm", "mpmath"}
"""What eos_support's computations import (tests/test_install.py imports them with nothing else)."""


def _normalise(requirement: str) -> tuple[str, str]:
    """(canonical name, specifier without spaces) of a PEP 508 requirement string."""
    requirement = requirement.split(";")[0].strip()
    match = re.match(r"^([A-Za-z0-9][A-Za-z0-9._-]*)(\[[^\]]*\])?\s*(.*)$", requirement)
    assert match, f"cannot parse requirement {requirement!r}"
    name = re.sub(r"[-_.]+", "-", match.group(1)).lower()
    return name, ",".join(sorted(match.group(3).replace(" ", "").split(","))).strip(",")


def _project():
    return tomllib.loads((REPO / "pyproject.toml").read_text())["project"]


def _requirements(*extras) -> list[str]:
    """The core requirements and those of ``extras``, with the extras' references to the project itself
    (``eos-book[book]``) replaced by what they name."""
    project = _project()
    out, seen, todo = list(project["dependencies"]), set(), list(extras)
    while todo:
        extra = todo.pop()
        if extra in seen:
            continue
        seen.add(extra)
        for requirement in project["optional-dependencies"][extra]:
            parsed = Requirement(requirement)
            if _normalise(parsed.name)[0] == PROJECT:
                todo.extend(parsed.extras)
            elif requirement not in out:
                out.append(requirement)
    return out


def _environment():
    env = yaml.safe_load((REPO / "environment.yml").read_text())
    conda = [d for d in env["dependencies"] if isinstance(d, str)]
    pip = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict) and "pip" in d)
    return conda, pip


def test_environment_and_pyproject_ask_for_the_same_packages():
    """Binder and conda users get what the book and JupyterLab need: the core, "book" and "notebook"."""
    _, pip = _environment()
    listed = [p for p in pip if not p.startswith("-")]
    assert sorted(map(_normalise, listed)) == sorted(map(_normalise, _requirements("book", "notebook")))


def test_environment_takes_torch_from_the_cpu_wheels():
    """Binder has no GPU: PyPI's torch for Linux would bring some GB of CUDA libraries."""
    _, pip = _environment()
    indexes = [p.split()[1] for p in pip if p.startswith(("--index-url", "--extra-index-url"))]
    assert "https://download.pytorch.org/whl/cpu" in indexes
    assert "https://pypi.org/simple" in indexes, "the other packages still come from PyPI"


def test_environment_installs_the_package_and_a_matching_python():
    project = _project()
    conda, pip = _environment()
    assert "-e ." in pip, "environment.yml must install eos_support itself (-e .)"
    python = next(d for d in conda if d.startswith("python"))
    version = tuple(int(x) for x in python.split("=")[-1].split(".")[:2])
    minimum = tuple(int(x) for x in project["requires-python"].removeprefix(">=").split(".")[:2])
    assert version >= minimum
    assert "pip" in conda


def test_the_core_is_what_the_computations_need():
    """``pip install eos-book`` brings torch, numpy and tqdm, not Sphinx or Jupyter."""
    core = {_normalise(r)[0] for r in _project()["dependencies"]}
    assert core == CORE
    torch = Requirement(next(r for r in _project()["dependencies"] if _normalise(r)[0] == "torch"))
    assert not torch.specifier.contains(Version("2.2.2")), "torch before 2.3 was not built for numpy 2"
    assert torch.specifier.contains(Version("2.3.0"))


def test_extras_build_on_each_other():
    """The set-up line ``pip install -e ".[dev]"`` brings the book and the tests; "notebook" adds JupyterLab."""
    names = {extra: {_normalise(r)[0] for r in _requirements(extra)} for extra in ("book", "notebook", "dev")}
    assert {"jupyter-book", "papermill", "jupytext", "matplotlib", "torchvision"} <= names["book"]
    assert names["book"] < names["notebook"] and "jupyterlab" in names["notebook"]
    assert names["book"] < names["dev"] and {"pytest", "scipy", "ruff"} <= names["dev"]


def test_dependencies_are_ranges_not_pins():
    wanted = _requirements("book", "notebook", "dev")
    pinned = [r for r in wanted if "==" in r or "===" in r]
    assert not pinned, f"pin-free dependencies expected, got {pinned}"
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
    printed = re.fullmatch(r"RP = (\S+), \(η/2\)·L = (\S+), sharpness·η/2 = (\S+)\n", out.getvalue())
    assert printed, out.getvalue()
    rp, half_l, half_lam = map(float, printed.groups())
    # the same model and data, by plain PyTorch and a dense Hessian: Definitions 1 and 2, footnote 1
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(20, 64), torch.nn.Tanh(), torch.nn.Linear(64, 3)).double()
    x, y = torch.randn(256, 20).double(), torch.randint(0, 3, (256,))
    shapes = [p.shape for p in model.parameters()]
    theta = torch.cat([p.detach().reshape(-1) for p in model.parameters()])

    def f(t):
        chunks = torch.split(t, [s.numel() for s in shapes])
        params = dict(zip(dict(model.named_parameters()), (c.reshape(s) for c, s in zip(chunks, shapes))))
        return torch.nn.functional.cross_entropy(torch.func.functional_call(model, params, (x,)), y)

    eta, g = 0.5, torch.func.grad(f)(theta)
    assert rp == pytest.approx(float((f(theta - eta * g) - f(theta)) / (eta * g @ g)), abs=1e-3)
    u = eta * g
    assert half_l == pytest.approx(eta / 2 * float(u @ (g - torch.func.grad(f)(theta - u)) / (u @ u)), abs=1e-3)
    top = float(torch.linalg.eigvalsh(torch.func.hessian(f)(theta))[-1])
    assert half_lam == pytest.approx(top * eta / 2, abs=1e-3)


def test_readme_architecture_names_every_module():
    """A reader finds every module of eos_support in the README's architecture table."""
    section = _readme().split("## Architecture", 1)[1].split("\n## ", 1)[0]
    named = set(re.findall(r"`([a-z_0-9]+)(?:/|\.py)?`", section))
    package = REPO / "eos_support"
    modules = {p.stem for p in package.rglob("*.py") if p.stem != "__init__"}
    modules |= {p.parent.name for p in package.rglob("__init__.py") if p.parent != package}
    missing = sorted(modules - named)
    assert not missing, f"modules missing from the README's architecture section: {missing}"
