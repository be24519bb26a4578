"""``pip install eos-book`` without extras: the core (torch, numpy, tqdm) imports and computes everything of
eos_support but the book; the book's modules say which extra they need.

One fresh virtual environment outside the repository, eos-book installed there from its wheel, holding only
the distributions that the core requirements need (:mod:`fresh_venv`).
"""

from __future__ import annotations

import json

import pytest

from fresh_venv import build_wheel, fresh_venv, run

pytestmark = pytest.mark.slow  # fresh virtual environments: `pytest -m "not slow"` leaves it out

BOOK_MODULES = (
    "eos_support.figures.plots",
    "eos_support.figures",
    "eos_support.figures.sgd",
    "eos_support.figures.landscape",
    "eos_support.book",
)
"""What needs the "book" extra; every other module of eos_support must work with the core alone."""

BOOK_PACKAGES = (
    "matplotlib",
    "yaml",
    "IPython",
    "papermill",
    "jupytext",
    "nbformat",
    "jupyter_book",
    "sphinx",
    "torchvision",
    "scipy",
)

SURVEY = f"""
import importlib, importlib.util, json
from importlib import metadata

import eos_support

names = sorted(str(f.with_suffix("")).replace("/", ".").removesuffix(".__init__")
               for f in metadata.files("eos-book") if f.suffix == ".py")
computational = [n for n in names if not n.startswith({BOOK_MODULES!r})]
failed = {{}}
for name in computational:
    try:
        importlib.import_module(name)
    except Exception as error:
        failed[name] = f"{{type(error).__name__}}: {{error}}"
print(json.dumps({{"location": eos_support.__file__, "imported": computational, "failed": failed,
                  "visible": [p for p in {BOOK_PACKAGES!r} if importlib.util.find_spec(p)]}}))
"""
"""Where eos_support was imported from, which book packages the environment shows, and which of eos_support's
modules outside :data:`BOOK_MODULES` import (all of them, by the wheel's file list)."""

COMPUTE = """
import torch
from torch import nn

from eos_support.diagnostics.curvature import sharpness
from eos_support.data import Dataset
from eos_support.diagnostics import relative_progress, theorem2_rp
from eos_support.diagnostics.objective import ModuleLoss
from eos_support.train import train_gd

torch.set_default_dtype(torch.float64)
torch.manual_seed(0)
x, y = torch.randn(64, 5), torch.randint(0, 3, (64,))
model = nn.Sequential(nn.Linear(5, 16), nn.Tanh(), nn.Linear(16, 3))
f = ModuleLoss(model, x, y, loss="ce")
rp, identity, lam = relative_progress(f, f.theta0, 0.5), theorem2_rp(f, f.theta0, 0.5), sharpness(f, f.theta0)
run = train_gd(model, Dataset(x, y, None, None, 3, "tiny", "random", 5), "ce", eta=0.5, max_steps=20)
print(float(rp), float(identity), float(lam), run.status, run.history["loss"][-1] < run.history["loss"][0])
"""


@pytest.fixture(scope="module")
def core_python(tmp_path_factory):
    """A fresh environment with eos-book's wheel and the distributions its core requirements need."""
    wheel = build_wheel(tmp_path_factory.mktemp("wheel"))
    return fresh_venv(tmp_path_factory.mktemp("core") / "venv", wheel)


@pytest.fixture(scope="module")
def survey(core_python):
    result = run(core_python, "-c", SURVEY)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_the_environment_holds_the_core_and_no_book_package(survey):
    assert "site-packages" in survey["location"], f"eos_support came from {survey['location']}, not the wheel"
    assert not survey["visible"], f"book packages visible in the core environment: {survey['visible']}"


def test_every_computational_module_imports_with_the_core(survey):
    assert not survey["failed"], f"modules that need more than torch, numpy and tqdm: {survey['failed']}"
    assert {
        "eos_support.diagnostics.curvature",
        "eos_support.diagnostics",
        "eos_support.monitor",
        "eos_support.profiles",
        "eos_support.train.gd",
        "eos_support.data.sources",
    } <= set(survey["imported"])


def test_the_core_computes(core_python):
    """Relative progress equals its Theorem 2 form, the sharpness is positive, and GD lowers the loss."""
    result = run(core_python, "-c", COMPUTE)
    assert result.returncode == 0, result.stderr
    rp, identity, lam, status, decreased = result.stdout.split()
    assert float(rp) == pytest.approx(float(identity), abs=1e-8)
    assert float(lam) > 0 and status != "diverged" and decreased == "True"


@pytest.mark.parametrize(
    "module", ["eos_support.figures.plots", "eos_support.book", "eos_support.book.cli", "eos_support.book.chapter"]
)
def test_book_modules_name_the_extra_they_need(core_python, module):
    result = run(core_python, "-c", f"import {module}")
    assert result.returncode != 0
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith("ImportError: ") and 'pip install "eos-book[book]"' in last, result.stderr


def test_the_command_line_names_the_extra_it_needs(core_python):
    result = run(core_python.parent / "eos-book", "--help")
    assert result.returncode != 0 and 'pip install "eos-book[book]"' in result.stderr
