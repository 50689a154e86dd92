"""The S3 planning experiment reports the planner faithfully: its table, parsed back, equals `plan_experiment`'s
plans for the same fingerprints, field by field (read from the nnUNetPlans layout, not through the experiment's
own helpers), and the anisotropy rule is visible in it."""

from __future__ import annotations

import pytest

from dlcanon.data import load_data
from dlcanon.experiments import planning
from dlcanon.experiments.base import Result, run_experiment
from dlcanon.experiments.context import Context
from dlcanon.plan.fingerprint import fingerprint_bundle
from dlcanon.plan.planner import plan_experiment

TINY = {"steps": 2, "n_train": 32, "n_test": 8, "size": 16, "n_volumes": 2, "seeds": 1, "vram_gb": 0.01}


def _axes(text: str) -> list[float]:
    return [float(v) for v in text.split("×")]


def _stages(text: str) -> list[list[int]]:
    return [[int(v) for v in stage.split("×")] for stage in text.split(", ")]


@pytest.fixture(scope="module")
def result() -> Result:
    return run_experiment("planning", Context(settings=TINY))


def test_table_equals_the_planner(result: Result) -> None:
    s = {**planning.QUICK, **TINY}
    table = result.tables[0]
    assert table.columns == planning.COLUMNS
    rows = {(r[0], r[1]): dict(zip(table.columns, r, strict=True)) for r in table.rows}
    expected = set()
    for label, name, args, spacing in planning.plan_datasets(s):
        plans = plan_experiment(*fingerprint_bundle(load_data(name, **args), spacing=spacing), vram_gb=s["vram_gb"])
        for configuration in ("2d",) if name == "phantom" else ("3d_fullres", "3d_lowres"):
            if configuration not in plans["configurations"]:
                continue
            expected.add((label, configuration))
            c = plans["configurations"][configuration]
            arch = c["architecture"]["arch_kwargs"]
            row = rows[label, configuration]
            assert _axes(row["spacing"]) == pytest.approx(c["spacing"], rel=1e-3)
            assert _axes(row["patch size"]) == c["patch_size"]
            assert int(row["batch size"]) == c["batch_size"]
            assert int(row["n_stages"]) == arch["n_stages"]
            assert _stages(row["pooling strides"]) == arch["strides"]
            assert _stages(row["kernel sizes"]) == arch["kernel_sizes"]
            assert _axes(row["features"]) == arch["features_per_stage"]
            assert row["normalisation"].split(", ") == c["normalization_schemes"]
    assert set(rows) == expected


def test_anisotropy_rule_shows(result: Result) -> None:
    rows = {r[0]: r for r in result.tables[0].rows if r[1] == "3d_fullres"}
    aniso, iso = rows["anisotropic phantom3d"], rows["isotropic phantom3d"]
    kernels = planning.COLUMNS.index("kernel sizes")
    assert "1×3×3" in aniso[kernels] and "1×3×3" not in iso[kernels]
    assert result.numbers["in_plane_only_stages"] and result.numbers["flat_kernel_stages"]
    assert 0 <= result.numbers["dice_planned"] <= 1 and 0 <= result.numbers["dice_hand"] <= 1
