"""eos_support.train.store: the run cache's key covers everything that decides a run's numbers, and what it
cannot key is refused rather than cached (a stale run is a silent wrong result)."""

import importlib.util
import sys
import textwrap

import pytest
import torch
from torch import nn

from eos_support.train import store, train_gd
from eos_support.train.store import UncacheableError, cache_root, loss_key, model_key
from factories import dataset

MODEL_SOURCE = """
import torch
from torch import nn


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.linear = nn.Linear(4, 3)
        self.scale = 1.0

    def forward(self, x):
        return {body}
"""


def load_module(folder, source, name):
    """A user's module ``name``, (re)written to ``folder`` with ``source`` and imported."""
    path = folder / f"{name}.py"
    path.write_text(source)
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def load_net(folder, body, name="user_net"):
    """A user's model class in its own file, (re)written with ``body`` as forward's return value."""
    module = load_module(folder, MODEL_SOURCE.format(body=body), name)
    torch.manual_seed(0)
    return module.Net()


def tiny_data():
    return dataset(16, 4)


def test_an_edited_forward_is_a_new_run(tmp_path):
    data = tiny_data()

    def run(body):
        net = load_net(tmp_path, body)
        return train_gd(net, data, "ce", eta=0.5, max_steps=5, cache=tmp_path / "runs", progress=False)

    first = run("self.linear(x) * self.scale")
    again = run("self.linear(x) * self.scale")
    edited = run("torch.tanh(self.linear(x)) * self.scale")
    assert (first.source, again.source, edited.source) == ("computed", "stored", "computed")
    assert not (edited.history["loss"] == first.history["loss"]).all()


def test_a_plain_attribute_is_part_of_the_key(tmp_path):
    model = load_net(tmp_path, "self.linear(x) * self.scale")
    before = model_key(model)
    model.scale = 2.0
    assert model_key(model) != before
    model.scale = 1.0
    assert model_key(model) == before


def test_buffers_are_part_of_the_key():
    model = nn.BatchNorm1d(3)
    before = model_key(model)
    model.running_mean += 1
    assert model_key(model) != before


def test_torch_modules_are_keyed_by_their_configuration():
    assert model_key(nn.Linear(4, 3)) != model_key(nn.Linear(4, 3, bias=False))
    assert model_key(nn.Sequential(nn.Linear(4, 3), nn.Tanh())) != model_key(nn.Sequential(nn.Linear(4, 3), nn.ReLU()))


def cached_run(model, data, folder):
    """A short GD run of ``model`` on ``data``, cached in ``folder``."""
    return train_gd(model, data, "ce", eta=0.5, max_steps=5, cache=folder, progress=False)


def assert_a_new_run(first, second):
    """``second`` was computed, not read from ``first``'s stored run, and its numbers are its own."""
    assert (first.source, second.source) == ("computed", "computed")
    assert not (second.history["loss"] == first.history["loss"]).all()


HELPER_SOURCE = """
import torch
from torch import nn


def act(x):
    return x


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.linear = nn.Linear(4, 3)

    def forward(self, x):
        return act(self.linear(x))
"""


def test_an_edited_helper_that_forward_calls_is_a_new_run(tmp_path):
    module = load_module(tmp_path, HELPER_SOURCE, "helper_net")
    torch.manual_seed(0)
    first = cached_run(module.Net(), tiny_data(), tmp_path / "runs")
    exec("def act(x):\n    return torch.tanh(x)\n", module.__dict__)  # the helper's cell, edited and re-run
    torch.manual_seed(0)
    assert_a_new_run(first, cached_run(module.Net(), tiny_data(), tmp_path / "runs"))


def test_a_class_defined_twice_in_one_file_is_two_models(tmp_path):
    one, two = (MODEL_SOURCE.format(body=body) for body in ("self.linear(x)", "torch.tanh(self.linear(x))"))
    module = load_module(tmp_path, f"{one}\nFirst = Net\n{two}", "twice")  # two cells that define Net
    torch.manual_seed(0)
    first = cached_run(module.First(), tiny_data(), tmp_path / "runs")
    torch.manual_seed(0)
    assert_a_new_run(first, cached_run(module.Net(), tiny_data(), tmp_path / "runs"))


def test_a_forward_replaced_on_the_class_is_a_new_run(tmp_path):
    model = load_net(tmp_path, "self.linear(x) * self.scale")
    first = cached_run(model, tiny_data(), tmp_path / "runs")
    model = load_net(tmp_path, "self.linear(x) * self.scale")
    type(model).forward = lambda self, x: torch.tanh(self.linear(x))
    assert_a_new_run(first, cached_run(model, tiny_data(), tmp_path / "runs"))


def test_a_class_without_readable_source_is_cached_by_its_behaviour(tmp_path):
    def define(body):
        namespace = {}
        exec(
            textwrap.dedent(f"""
            from torch import nn
            class Hidden(nn.Module):
                def __init__(self):
                    super().__init__()
                    self.linear = nn.Linear(4, 3)
                def forward(self, x):
                    return {body}
        """),
            namespace,
        )  # as an interactive prompt defines it: no file to read
        torch.manual_seed(0)
        return namespace["Hidden"]()

    first = cached_run(define("self.linear(x)"), tiny_data(), tmp_path)
    again = cached_run(define("self.linear(x)"), tiny_data(), tmp_path)
    assert (first.source, again.source) == ("computed", "stored")
    assert_a_new_run(first, cached_run(define("self.linear(x).tanh()"), tiny_data(), tmp_path))


def test_an_attribute_printed_as_an_address_cannot_be_cached():
    model = nn.Linear(2, 2)
    model.helper = object()
    with pytest.raises(UncacheableError, match="memory address"):
        model_key(model)


def test_a_callable_loss_cannot_be_cached_but_can_be_computed(tmp_path):
    data, model = tiny_data(), nn.Linear(4, 3)
    with pytest.raises(UncacheableError, match="callable loss"):
        loss_key(lambda out, y: nn.functional.cross_entropy(out, y))
    with pytest.raises(UncacheableError):
        train_gd(
            model,
            data,
            lambda out, y: nn.functional.cross_entropy(out, y),
            eta=0.1,
            max_steps=2,
            cache=tmp_path,
            progress=False,
        )
    run = train_gd(
        model, data, lambda out, y: nn.functional.cross_entropy(out, y), eta=0.1, max_steps=2, progress=False
    )
    assert run.source == "computed" and not list(tmp_path.iterdir())


def test_library_calls_do_not_cache_unless_asked(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    run = train_gd(nn.Linear(4, 3), tiny_data(), "ce", eta=0.1, max_steps=2, progress=False)
    assert run.source == "computed" and not (tmp_path / "xdg").exists()
    cached = train_gd(nn.Linear(4, 3), tiny_data(), "ce", eta=0.1, max_steps=2, cache=True, progress=False)
    assert cached.source == "computed" and list((tmp_path / "xdg" / "eos-book" / "runs").glob("*.pt"))


def test_cache_root(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert cache_root(None) is None and cache_root(False) is None
    assert cache_root(True) == tmp_path / "eos-book" / "runs"
    assert cache_root(tmp_path / "x") == tmp_path / "x"
    with pytest.raises(ValueError, match="cache must be None"):
        cache_root(3)


def test_code_version_covers_every_computing_module():
    for name in store.COMPUTING_MODULES:
        assert (store.PACKAGE / name).is_file(), name
    # the trainers and the diagnostics they record; the networks' code is keyed by model_key instead
    computing = {p.relative_to(store.PACKAGE).as_posix() for p in (store.PACKAGE / "train").glob("*.py")}
    computing -= {"train/models.py"}
    computing |= {f"diagnostics/{name}.py" for name in ("gd", "theorem2", "sgd", "curvature", "objective")}
    assert computing <= set(store.COMPUTING_MODULES)


def test_the_code_version_follows_the_code_not_its_docstrings(tmp_path, monkeypatch):
    module = tmp_path / "m.py"
    monkeypatch.setattr(store, "PACKAGE", tmp_path)
    monkeypatch.setattr(store, "COMPUTING_MODULES", ("m.py",))

    def version(text):
        module.write_text(text)
        store.code_version.cache_clear()
        return store.code_version()

    try:
        base = version('"""Doc."""\n\ndef f(x):\n    """Twice x."""\n    return 2 * x  # doubled\n')
        assert version('"""Other doc."""\n\ndef f(x):\n    """Two times x."""\n    return 2 * x\n') == base
        assert version("def f(x):\n    return 2 * x\n") == base
        assert version("def f(x):\n    return 3 * x\n") != base
    finally:
        store.code_version.cache_clear()
