"""The cross-model likelihood table (experiment `likelihoods`): one convention, every model on one test split."""

import math

import pytest

from dlcanon.experiments import Context, run_experiment
from dlcanon.experiments.likelihoods import MODELS, bits_of


def test_bits_are_read_under_either_name_and_every_model_states_its_convention():
    assert bits_of({"test_bpd": 1.5, "test_bits_per_dim": 9.0}) == 1.5
    assert bits_of({"test_bits_per_dim": 2.5}) == 2.5
    assert all(convention for _, _, convention in MODELS.values())


def test_the_table_runs_when_shrunk_and_ends_with_the_uniform_line():
    result = run_experiment("likelihoods", Context(settings={"models": ["PPCA", "MAF"], "steps": 2}))
    rows = result.tables[0].rows
    assert [r[0] for r in rows] == ["PPCA", "MAF", "uniform"]
    assert rows[-1][4] == pytest.approx(math.log2(17))
    assert set(result.numbers) == {"PPCA", "MAF"} and "likelihoods" in result.figures
    assert result.holds == all(0 < b < math.log2(17) for b in result.numbers.values())


@pytest.mark.slow
def test_the_full_mode_models_run_when_shrunk():
    result = run_experiment("likelihoods", Context(settings={"models": ["DDPM", "FFJORD"], "steps": 1}))
    assert set(result.numbers) == {"DDPM", "FFJORD"}
    assert all(math.isfinite(b) and b > 0 for b in result.numbers.values())
