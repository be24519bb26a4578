"""Fresh virtual environments outside the repository: eos-book installed from its wheel, and nothing else
than the distributions that the wheel's requirements (with the chosen extras) name, recursively.

Those distributions are taken from the environment that runs the tests, linked rather than copied (torch
alone is some GB): the fresh environment sees them and only them, as if pip had installed the wheel with
its dependencies. A requirement that the test environment does not satisfy fails the test, naming it.
"""

from __future__ import annotations

import email.parser
import os
import shutil
import subprocess
import sys
import zipfile
from importlib import metadata
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from conftest import REPO

PROJECT = "eos-book"


def build_wheel(folder: Path) -> Path:
    """eos-book's wheel, built in ``folder`` from a copy of the sources (nothing is written in the repository)."""
    source = folder / "source"
    source.mkdir(parents=True)
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(REPO / name, source / name)
    shutil.copytree(REPO / "eos_support", source / "eos_support", ignore=shutil.ignore_patterns("__pycache__"))
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--quiet",
            "--no-deps",
            "--no-build-isolation",
            "--wheel-dir",
            str(folder),
            str(source),
        ],
        check=True,
        capture_output=True,
        text=True,
    )
    return next(folder.glob("eos_book-*.whl"))


def wheel_requirements(wheel: Path, extras=()) -> list[Requirement]:
    """The requirements of ``wheel`` with ``extras``, its references to itself (``eos-book[book]``) expanded."""
    with zipfile.ZipFile(wheel) as archive:
        name = next(n for n in archive.namelist() if n.endswith(".dist-info/METADATA"))
        fields = email.parser.Parser().parsestr(archive.read(name).decode("utf-8"))
    declared = [Requirement(r) for r in fields.get_all("Requires-Dist") or []]
    chosen, wanted = set(), set(extras)
    while wanted - chosen:
        chosen |= wanted
        for r in declared:
            if canonicalize_name(r.name) == PROJECT and _applies(r, chosen):
                wanted |= r.extras
    return [r for r in declared if canonicalize_name(r.name) != PROJECT and _applies(r, chosen)]


def _applies(requirement: Requirement, extras) -> bool:
    """Whether ``requirement``'s marker holds here for a distribution installed with ``extras``."""
    marker = requirement.marker
    return marker is None or any(marker.evaluate({"extra": extra}) for extra in {"", *extras})


def closure(requirements) -> list[metadata.Distribution]:
    """The distributions of the test environment that ``requirements`` need, recursively."""
    found, seen, todo = {}, set(), list(requirements)
    while todo:
        requirement = todo.pop()
        key = (canonicalize_name(requirement.name), frozenset(requirement.extras))
        if key in seen:
            continue
        seen.add(key)
        try:
            dist = metadata.distribution(requirement.name)
        except metadata.PackageNotFoundError:
            raise AssertionError(f"{requirement} is not installed here: pip install -e '.[dev]'") from None
        assert requirement.specifier.contains(dist.version, prereleases=True), (
            f"{requirement} is wanted, {dist.metadata['Name']} {dist.version} is installed"
        )
        found[key[0]] = dist
        todo += [r for r in map(Requirement, dist.requires or []) if _applies(r, requirement.extras)]
    return list(found.values())


def _link(dist: metadata.Distribution, site: Path) -> None:
    """Make ``dist``'s top-level files and folders (packages, modules, its .dist-info) appear in ``site``."""
    assert dist.files is not None, f"{dist.metadata['Name']} lists no files (installed without a RECORD)"
    home = Path(dist.locate_file(""))
    for top in {f.parts[0] for f in dist.files if f.parts[0] not in ("..", "__pycache__")}:
        if not (site / top).exists():
            (site / top).symlink_to(home / top)


def fresh_venv(folder: Path, wheel: Path, extras=(), also=()) -> Path:
    """A virtual environment in ``folder`` with ``wheel`` installed, the distributions its requirements with
    ``extras`` need, and those of the requirement strings ``also``; returns its Python."""
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(folder)], check=True)
    python = folder / "bin" / "python"
    site = Path(run(python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])").stdout.strip())
    for dist in closure(wheel_requirements(wheel, extras) + [Requirement(r) for r in also]):
        _link(dist, site)
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "--python",
            str(python),
            "install",
            "--quiet",
            "--no-deps",
            "--no-index",
            str(wheel),
        ],
        check=True,
        capture_output=True,
        text=True,
    )
    return python


def run(python: Path, *args, cwd=None, timeout=600) -> subprocess.CompletedProcess:
    """``python args`` in ``cwd`` (default: the interpreter's folder, outside the repository), with none of
    the variables that would let it see other packages."""
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV")}
    env.update(PYTHONNOUSERSITE="1", OMP_NUM_THREADS="1")
    return subprocess.run(
        [str(python), *map(str, args)],
        cwd=cwd or Path(python).parent,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
