"""The cache key covers only the code an experiment uses: editing a model reruns the experiments that use it."""

from __future__ import annotations

import pytest

import dlcanon.experiments  # noqa: F401  (registrations)
from dlcanon.registry import MODELS
from dlcanon.report import cache, sources


def edited(monkeypatch, rel: str) -> None:
    """As if package file `rel` had been edited: its content hash changes."""
    original = sources.file_hash
    monkeypatch.setattr(sources, "file_hash", lambda f: "edited" if f == rel else original(f))


def model_file(name: str) -> str:
    module = sources.module_file(sources.builder_module(MODELS.entry(name).builder))
    assert module is not None
    return module


def test_an_experiment_uses_its_file_what_it_imports_and_the_models_it_names():
    used = sources.experiment_sources("unetpp_pruning")
    assert {"experiments/unetpp_pruning.py", "experiments/context.py", "train.py", "models/unetpp.py"} <= set(used)
    assert model_file("unet_small") in used  # named by a string, reached through the registry
    assert model_file("lenet5") not in used and "experiments/super_resolution.py" not in used
    assert len(used) < len(sources.package_files()) / 2


def test_registration_imports_of_a_package_are_not_sources():
    assert "models/lenet.py" not in sources.imports_of("models/__init__.py")
    assert "data/api.py" in sources.imports_of("data/__init__.py")  # an import for a name the package uses


def test_an_experiment_that_walks_a_registry_uses_all_of_it():
    assert model_file("lenet5") in sources.experiment_sources("architecture_table")


@pytest.mark.parametrize(("experiment", "model"), [("sr_gan", "srresnet_small"), ("unetpp_pruning", "unetpp_small")])
def test_editing_a_used_model_changes_the_key_and_an_unused_one_does_not(monkeypatch, experiment, model):
    before = cache.cache_key(experiment, "quick")
    with monkeypatch.context() as m:
        edited(m, model_file("lenet5"))
        assert cache.cache_key(experiment, "quick") == before
    with monkeypatch.context() as m:
        edited(m, model_file(model))
        assert cache.cache_key(experiment, "quick") != before
    with monkeypatch.context() as m:
        edited(m, f"experiments/{sources.source_path(experiment).rsplit('/', 1)[-1]}")
        assert cache.cache_key(experiment, "quick") != before
    assert cache.cache_key(experiment, "quick") == before


def test_the_key_depends_on_the_mode():
    assert cache.cache_key("conv_output_size", "quick") != cache.cache_key("conv_output_size", "full")
