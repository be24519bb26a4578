"""The package's layout: a few subpackages at the top, and every name of the flat layout still importable."""

import importlib
import json
from pathlib import Path

import pytest

import eos_support

PACKAGE = Path(eos_support.__file__).parent
FLAT = json.loads((Path(__file__).parent / "data" / "flat_layout.json").read_text(encoding="utf-8"))
"""Every module of the flat layout (commit 603f30b) and the public names it defined."""


def test_the_top_level_is_a_handful_of_subpackages():
    entries = sorted(p.name for p in PACKAGE.iterdir() if p.name != "__pycache__")
    assert entries == [
        "__init__.py",
        "book",
        "checks.py",
        "data",
        "diagnostics",
        "examples",
        "figures",
        "monitor",
        "profiles",
        "readings",
        "system.py",
        "train",
    ]


@pytest.mark.parametrize("old", sorted(FLAT))
def test_every_name_of_the_flat_layout_still_imports(old):
    module = importlib.import_module(old)
    missing = [name for name in FLAT[old] if not hasattr(module, name)]
    assert missing == [], f"{old} lost {missing}"


@pytest.mark.parametrize("old, new", sorted(eos_support.MOVED.items()))
def test_a_moved_path_is_the_same_module(old, new):
    assert importlib.import_module(f"eos_support.{old}") is importlib.import_module(f"eos_support.{new}")


def test_a_moved_criteria_module_is_the_book_s():
    import eos_support.book.criteria.sharpness as new
    import eos_support.criteria.sharpness as old

    assert old is new


def test_an_unknown_module_is_still_an_import_error():
    with pytest.raises(ModuleNotFoundError):
        importlib.import_module("eos_support.no_such_module")
    with pytest.raises(ModuleNotFoundError):
        importlib.import_module("eos_support.criteria.no_such_module")
