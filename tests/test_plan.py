"""The nnU-Net v2 planner against plans nnU-Net itself produced (tests/fixtures/nnunet, see its README), its
rules on hand-checked cases, and nnU-Net's two known traps."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from dlcanon.errors import UserError
from dlcanon.plan import (
    DatasetInfo,
    Fingerprint,
    deep_supervision_weights,
    feature_map_size,
    plan_configuration,
    plan_experiment,
    pool_and_kernel_sizes,
    read_dataset,
    read_fingerprint,
)
from dlcanon.plan.command import plan_command
from dlcanon.plan.spacing import target_spacing
from helpers import dlcanon

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "nnunet"
ORACLES = sorted(FIXTURES.glob("Dataset*/nnUNetPlans*.json"))


def vram_of(plans_file: Path) -> float:
    suffix = plans_file.stem.removeprefix("nnUNetPlans")
    return float(suffix.strip("_").removesuffix("GB")) if suffix else 8.0


def ours(folder: Path, vram_gb: float = 8.0) -> dict:
    plans = plan_experiment(read_fingerprint(folder / "dataset_fingerprint.json"),
                            read_dataset(folder / "dataset.json"), vram_gb=vram_gb)  # fmt: skip
    return json.loads(json.dumps(plans))  # as nnU-Net writes it: tuples become lists


def test_the_oracle_fixtures_exist():
    names = {p.parent.name for p in ORACLES}
    assert {"Dataset901_Flat2D", "Dataset902_Iso3D", "Dataset903_Aniso3D", "Dataset904_AbdomenCT"} <= names


@pytest.mark.parametrize("plans_file", ORACLES, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_plans_equal_nnunet_field_by_field(plans_file):
    expected = json.loads(plans_file.read_text())
    got = ours(plans_file.parent, vram_of(plans_file))
    assert list(got["configurations"]) == list(expected["configurations"])
    for name, config in expected["configurations"].items():
        for key, value in config.items():
            mine = got["configurations"][name].get(key)
            if key == "architecture":
                for arg, v in value["arch_kwargs"].items():
                    assert mine["arch_kwargs"][arg] == v, f"{name}.architecture.arch_kwargs.{arg}"
            assert json.dumps(mine) == json.dumps(value), f"{name}.{key}"  # equal, and of the same JSON types
    for key, value in expected.items():
        if key != "configurations":
            assert json.dumps(got[key]) == json.dumps(value), key
    assert json.dumps(got) == json.dumps(expected)  # the whole file: same keys, same order, same values


def test_the_oracles_cover_lowres_cascade_anisotropy_ct_and_masks():
    plans = {p.parent.name: json.loads(p.read_text()) for p in ORACLES if p.name == "nnUNetPlans.json"}
    assert "3d_lowres" in plans["Dataset904_AbdomenCT"]["configurations"]
    assert plans["Dataset904_AbdomenCT"]["configurations"]["3d_fullres"]["normalization_schemes"] == ["CTNormalization"]
    assert plans["Dataset902_Iso3D"]["configurations"]["3d_fullres"]["use_mask_for_norm"] == [True]
    assert "3d_fullres" not in plans["Dataset901_Flat2D"]["configurations"]
    fp = json.loads((FIXTURES / "Dataset903_Aniso3D" / "dataset_fingerprint.json").read_text())
    median_z = sorted(s[0] for s in fp["spacings"])[len(fp["spacings"]) // 2]
    assert plans["Dataset903_Aniso3D"]["configurations"]["3d_fullres"]["spacing"][0] < median_z  # 10th percentile


# ---------------------------------------------------------------- rules on hand-checked cases


def test_anisotropy_rule_takes_the_tenth_percentile():
    spacings = [[z, 0.7, 0.7] for z in (3.0, 4.0, 5.0, 5.0, 5.0, 6.0, 6.0, 8.0, 8.0, 8.0, 10.0)]
    shapes = [[20, 320, 320]] * len(spacings)
    target = target_spacing(spacings, shapes)
    assert target[0] == pytest.approx(4.0)  # numpy's linear 10th percentile of the 11 thicknesses
    assert target_spacing(spacings, [[200, 320, 320]] * len(spacings))[0] == pytest.approx(6.0)  # many slices: median


def test_topology_of_an_isotropic_patch_and_an_anisotropic_one():
    topo = pool_and_kernel_sizes([1.0, 1.0, 1.0], [128, 128, 128])
    assert topo.n_stages == 6 and topo.strides[1:] == ((2, 2, 2),) * 5 and topo.patch_size == (128, 128, 128)
    aniso = pool_and_kernel_sizes([4.0, 1.0, 1.0], [20, 160, 160])
    assert aniso.strides[1] == (1, 2, 2) and aniso.strides[2] == (1, 2, 2) and aniso.strides[3] == (2, 2, 2)
    assert aniso.kernel_sizes[0] == (1, 3, 3) and aniso.kernel_sizes[-1] == (3, 3, 3)
    for t in (topo, aniso):
        assert all(p % d == 0 for p, d in zip(t.patch_size, t.divisor, strict=True))
        assert all(p // d >= 4 for p, d in zip(t.patch_size, t.divisor, strict=True))  # bottleneck edge ≥ 4


def test_feature_map_size_by_hand():
    # 2 stages, patch 8×8, features (32, 64), 3 classes: encoder 2·32·64 + 2·64·16, decoder 3·32·64, head 3·64
    got = feature_map_size([8, 8], [[1, 1], [2, 2]], features=[32, 64], num_classes=3)
    assert got == 2 * 32 * 64 + 2 * 64 * 16 + 3 * 32 * 64 + 3 * 64


def test_a_smaller_memory_budget_gives_a_patch_that_fits_it():
    args = {"num_classes": 3, "dataset_voxels": 1e9}
    big = plan_configuration([1.0, 1.0, 1.0], [300, 300, 300], **args)
    small = plan_configuration([1.0, 1.0, 1.0], [300, 300, 300], vram_gb=1, **args)
    assert math.prod(small["topology"].patch_size) < math.prod(big["topology"].patch_size)
    assert small["memory"] <= 560e6 / 8 and small["batch_size"] == 2
    with pytest.raises(ValueError, match="memory budget"):
        plan_configuration([1.0, 1.0], [64, 64], vram_gb=1e-9, **args)


def test_batch_is_capped_at_five_percent_of_the_dataset_but_at_least_two():
    few = plan_configuration([1.0, 1.0], [64, 64], num_classes=2, dataset_voxels=64 * 64 * 100)
    assert few["batch_size"] == 5  # 5 % of 100 images
    one = plan_configuration([1.0, 1.0], [64, 64], num_classes=2, dataset_voxels=64 * 64)
    assert one["batch_size"] == 2


# ---------------------------------------------------------------- nnU-Net's traps


@pytest.mark.parametrize(("stored", "reference"), [("906_Slice2D", "901_Flat2D"), ("908_LargeSlice2D", "907_Large2D")])
def test_2d_images_stored_as_x_y_1_plan_like_the_same_images_stored_as_1_x_y(stored, reference):
    # nnU-Net 2.8.1 plans a (256, 1) 2d patch for 906 and dies of an OverflowError for 908 (see the README)
    got = ours(FIXTURES / f"Dataset{stored}")
    expected = json.loads((FIXTURES / f"Dataset{reference}" / "nnUNetPlans.json").read_text())
    assert set(got["configurations"]) == {"2d"}
    a, b = got["configurations"]["2d"], expected["configurations"]["2d"]
    for key in ("patch_size", "batch_size", "spacing", "median_image_size_in_voxels", "architecture"):
        assert a[key] == b[key], key
    assert got["transpose_forward"] == [2, 0, 1]


def test_a_lowres_search_never_divides_by_zero():
    fp = Fingerprint(((5.0, 1.0, 1.0),) * 4, ((2, 600, 600),) * 4, 1.0)
    info = DatasetInfo("thin", {"0": "MR"}, {"background": 0, "a": 1}, 4)
    plans = plan_experiment(fp, info)  # 2 slices: the 3d_lowres search would shrink them below one voxel
    assert all(p >= 1 for c in plans["configurations"].values() if "patch_size" in c for p in c["patch_size"])


def test_two_stage_network_gets_finite_deep_supervision_weights():
    plans = ours(FIXTURES / "Dataset905_Tiny2D")
    n = plans["configurations"]["2d"]["architecture"]["arch_kwargs"]["n_stages"]
    assert n == 2
    assert deep_supervision_weights(n) == (1.0,)
    assert deep_supervision_weights(4) == pytest.approx((2 / 3, 1 / 3, 0.0))  # nnU-Net: 1/2^i, last 0, normalised
    assert all(math.isfinite(w) for k in range(1, 9) for w in deep_supervision_weights(k))


# ---------------------------------------------------------------- files and the command line


@pytest.mark.parametrize(
    ("content", "fragment"),
    [
        ("{not json", "not valid JSON"),
        ("[1, 2]", "JSON object"),
        (
            '{"spacings": [[1, 1]], "shapes_after_crop": [[4, 4, 4]], "median_relative_size_after_cropping": 1}',
            "spacings[0]",
        ),
        (
            '{"spacings": [[1, 1, 1]], "shapes_after_crop": [[4, 4, 4], [4, 4, 4]], '
            '"median_relative_size_after_cropping": 1}',
            "1 spacings but 2",
        ),
        ('{"spacings": [[1, 1, 1]], "shapes_after_crop": [[4, 4, 4]]}', "median_relative_size"),
    ],
)
def test_a_bad_fingerprint_is_one_line(tmp_path, content, fragment):
    path = tmp_path / "dataset_fingerprint.json"
    path.write_text(content)
    with pytest.raises(UserError, match=fragment.replace("[", r"\[")) as err:
        read_fingerprint(path)
    assert "\n" not in str(err.value)


def test_a_bad_dataset_json_or_missing_file_is_one_line(tmp_path):
    bad = tmp_path / "dataset.json"
    bad.write_text('{"channel_names": {"0": "CT"}, "labels": {"background": 0}, "numTraining": 3}')
    for call, fragment in [
        (lambda: read_dataset(bad), "labels"),
        (lambda: read_dataset(tmp_path / "missing.json"), "no such file"),
        (lambda: plan_command(fingerprint=None, dataset=None, data=None, vram_gb=8), "--fingerprint"),
        (lambda: plan_command(fingerprint=bad, dataset=bad, data=None, vram_gb=0), "--vram-gb"),
        (lambda: plan_command(fingerprint=bad, dataset=bad, data=None, vram_gb=float("inf")), "--vram-gb"),
        (lambda: plan_command(fingerprint=bad, dataset=bad, data="digitseg", vram_gb=8), "not both"),
    ]:
        with pytest.raises(UserError, match=fragment) as err:
            call()
        assert "\n" not in str(err.value)


def test_cli_prints_nnunet_layout_and_rejects_bad_files(tmp_path):
    folder = FIXTURES / "Dataset904_AbdomenCT"
    done = dlcanon("plan", "--fingerprint", str(folder / "dataset_fingerprint.json"),
                   "--dataset", str(folder / "dataset.json"), "--vram-gb", "4", "--json")  # fmt: skip
    assert done.returncode == 0, done.stderr
    expected = json.loads((folder / "nnUNetPlans_4GB.json").read_text())
    got = json.loads(done.stdout)["configurations"]
    for name in ("2d", "3d_fullres", "3d_lowres"):
        for key in ("patch_size", "batch_size", "spacing", "median_image_size_in_voxels", "normalization_schemes"):
            assert got[name][key] == expected["configurations"][name][key], (name, key)
    (tmp_path / "f.json").write_text("{oops")
    bad = dlcanon("plan", "--fingerprint", str(tmp_path / "f.json"), "--dataset", str(folder / "dataset.json"))
    assert bad.returncode == 2 and len(bad.stderr.strip().splitlines()) == 1 and "not valid JSON" in bad.stderr


def test_fingerprint_of_a_dlcanon_bundle_crops_to_nonzero_and_plans_2d_images_as_2d():
    import torch

    from dlcanon.data.base import DataBundle, Split
    from dlcanon.plan.fingerprint import fingerprint_bundle

    x = torch.zeros(6, 1, 32, 32)
    x[:, :, 4:20, 8:32] = 0.5  # nonzero box 16 × 24 of 32 × 32: 37.5 % of the image
    y = (x[:, 0] > 0).long()
    bundle = DataBundle("boxes", Split(x, y), Split(x[:2], y[:2]), 2, "image")
    fp, info = fingerprint_bundle(bundle)
    assert fp.shapes_after_crop == ((1, 16, 24),) * 6 and fp.spacings[0] == (999.0, 1.0, 1.0)
    assert fp.median_relative_size_after_cropping == pytest.approx(0.375)
    assert fp.foreground_intensity_properties_per_channel["0"]["mean"] == pytest.approx(0.5)
    plans = plan_experiment(fp, info)
    c = plans["configurations"]["2d"]
    assert set(plans["configurations"]) == {"2d"} and c["patch_size"] == [16, 24] and c["use_mask_for_norm"] == [True]
    volumes = DataBundle(
        "vol",
        Split(torch.rand(4, 1, 8, 32, 32), torch.ones(4, 8, 32, 32, dtype=torch.long)),
        Split(torch.rand(1, 1, 8, 32, 32), torch.ones(1, 8, 32, 32, dtype=torch.long)),
        2,
        "volume",
    )
    fp3, info3 = fingerprint_bundle(volumes, spacing=(4.0, 1.0, 1.0))
    plans3 = plan_experiment(fp3, info3)
    assert plans3["configurations"]["3d_fullres"]["spacing"] == [4.0, 1.0, 1.0]


def test_planned_settings_for_training_and_an_unplanned_configuration():
    from dlcanon.plan import planned_settings

    plans = ours(FIXTURES / "Dataset905_Tiny2D")
    s = planned_settings(plans, "2d")
    assert s["patch_size"] == [12, 12] and s["n_stages"] == 2 and s["deep_supervision_weights"] == [1.0]
    with pytest.raises(ValueError, match="planned: 2d"):
        planned_settings(plans, "3d_fullres")


def test_random_fingerprints_plan_valid_configurations_within_budget():
    import numpy as np

    from dlcanon.plan.planner import REFERENCE_2D, REFERENCE_3D

    rng = np.random.default_rng(1)
    for _ in range(25):
        n = int(rng.integers(1, 12))
        spacings = tuple(tuple(float(rng.choice([0.5, 0.8, 1.0, 3.0, 6.0])) for _ in range(3)) for _ in range(n))
        shapes = tuple(tuple(int(rng.choice([1, 3, 12, 40, 200, 600])) for _ in range(3)) for _ in range(n))
        vram = float(rng.choice([0.5, 2.0, 8.0, 40.0]))
        plans = plan_experiment(Fingerprint(spacings, shapes, 0.8), DatasetInfo("r", {"0": "MR"}, {"b": 0, "a": 1}, n),
                                vram_gb=vram)  # fmt: skip
        for name, c in plans["configurations"].items():
            if "patch_size" not in c:
                continue
            arch = c["architecture"]["arch_kwargs"]
            divisor = [math.prod(s[a] for s in arch["strides"]) for a in range(len(c["patch_size"]))]
            assert all(p >= 1 and p % d == 0 for p, d in zip(c["patch_size"], divisor, strict=True)), name
            memory = feature_map_size(
                c["patch_size"], arch["strides"], features=arch["features_per_stage"], num_classes=2
            )
            ref = (REFERENCE_3D if len(c["patch_size"]) == 3 else REFERENCE_2D) * vram / 8
            ref_batch = 2 if len(c["patch_size"]) == 3 else 12
            assert memory / ref_batch * 2 <= ref and c["batch_size"] >= 2, name
