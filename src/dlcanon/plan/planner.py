"""nnU-Net v2's experiment planning: one configuration (patch, batch, topology) and the 2d / 3d_fullres / 3d_lowres
decisions (Isensee et al. 2021, arXiv:1809.10486; nnU-Net v2's `ExperimentPlanner`, re-derived).

One configuration, for a spacing s and a median (resampled) image shape M:
1. Initial patch: proportional to 1/s, scaled to the volume of 256³ (3-D) or 2048² (2-D), rounded, clipped to M.
2. Topology from the patch (`topology.pool_and_kernel_sizes`); the patch is padded to the pooling divisor.
3. Memory: E = feature-map elements of the U-Net for one sample (`topology.feature_map_size`). Budget
   R = 560e6 (3-D, reference batch 2) or 85e6 (2-D, reference batch 12) × vram_gb / 8. While E/b_ref·2 > R, shrink
   the axis whose patch/M ratio is largest (the last such axis on ties) by its pooling divisor — recomputed for the
   shrunk patch, so no valid size is skipped — and recompute topology and E.
4. Batch: round(R/E · b_ref), at most round(5 % of the dataset's voxels / patch voxels), at least 2.

The experiment: 3d_fullres unless the images are 2-D; 3d_lowres when the full-resolution patch covers < 25 % of
the median image — the spacing grows by 1.03 per step (first only the axes more than 2× finer than the coarsest)
until the planned patch covers ≥ 25 % of the shrunk median image, and is dropped when that image is not at least
half as many voxels as the full-resolution one. 2d always.

Two of nnU-Net's traps are closed here, and only where nnU-Net itself fails: 2-D images stored as (x, y, 1) put
their one-voxel axis first (nnU-Net puts the coarsest axis first and then searches for a 3d_lowres patch in a
shrinking one-voxel axis until it divides by zero, nnUNet#2809), and a 3d_lowres search whose median image would
shrink below one voxel on an axis stops without a 3d_lowres configuration.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from dlcanon.plan.spacing import resampled_shape, singleton_axis, target_spacing, transpose
from dlcanon.plan.topology import (
    CONVS_PER_STAGE,
    MIN_EDGE,
    Topology,
    deep_supervision_weights,
    feature_map_size,
    features_per_stage,
    pool_and_kernel_sizes,
)

REFERENCE_3D, REFERENCE_2D = 560_000_000, 85_000_000  # feature-map elements that fit reference_gb
REFERENCE_GB = 8
REFERENCE_BATCH_3D, REFERENCE_BATCH_2D = 2, 12
MIN_BATCH = 2
MAX_DATASET_COVERED = 0.05
LOWRES_THRESHOLD = 0.25
LOWRES_STEP = 1.03
MAX_STAGES = 14  # nnU-Net's blocks-per-stage tables have 14 entries

NORMALIZATIONS = {
    "ct": "CTNormalization",
    "nonorm": "NoNormalization",
    "zscore": "ZScoreNormalization",
    "rescale_to_0_1": "RescaleTo01Normalization",
    "rgb_to_0_1": "RGBTo01Normalization",
}
MASKED_NORMALIZATIONS = {"ZScoreNormalization"}  # those that leave pixels outside the nonzero mask at zero
READERS = (  # nnU-Net's reader/writer classes in the order it tries them, with their file endings
    ("NaturalImage2DIO", (".png", ".bmp", ".tif")),
    ("SimpleITKIO", (".nii.gz", ".nrrd", ".mha", ".gipl")),
    ("Tiff3DIO", (".tif", ".tiff")),
    ("NibabelIO", (".nii", ".nii.gz")),
)


@dataclass(frozen=True)
class Fingerprint:
    """The fields of nnU-Net v2's dataset_fingerprint.json the planner reads (shapes after cropping to nonzero)."""

    spacings: tuple[tuple[float, ...], ...]
    shapes_after_crop: tuple[tuple[int, ...], ...]
    median_relative_size_after_cropping: float
    foreground_intensity_properties_per_channel: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class DatasetInfo:
    """The fields of nnU-Net v2's dataset.json the planner reads."""

    name: str
    channel_names: dict[str, str]
    labels: dict[str, Any]
    num_training: int
    file_ending: str = ".nii.gz"
    reader_writer: str | None = None  # dataset.json's overwrite_image_reader_writer


def normalization_schemes(channel_names: Sequence[str], median_relative_size: float) -> tuple[list[str], list[bool]]:
    """Per channel: "CT" → CTNormalization, "noNorm", "zscore", "rescale_to_0_1", "rgb_to_0_1" by name (any case),
    anything else → ZScoreNormalization; the nonzero mask is used (z-score only) when cropping to the nonzero
    region left a median of < 75 % of the image."""
    schemes = [NORMALIZATIONS.get(name.casefold(), "ZScoreNormalization") for name in channel_names]
    cropped = median_relative_size < 3 / 4
    return schemes, [cropped and s in MASKED_NORMALIZATIONS for s in schemes]


def reader_writer(info: DatasetInfo) -> str:
    if info.reader_writer and info.reader_writer != "None":
        return info.reader_writer
    ending = info.file_ending.lower()
    return next((name for name, endings in READERS if ending in endings), "SimpleITKIO")


def _last_argmax(values: Sequence[float]) -> int:
    top = max(values)
    return max(i for i, v in enumerate(values) if v == top)


def plan_configuration(
    spacing: Sequence[float],
    median_shape: Sequence[float],
    *,
    num_classes: int,
    dataset_voxels: float,
    vram_gb: float = REFERENCE_GB,
    min_edge: int = MIN_EDGE,
) -> dict[str, Any]:
    """Patch, batch and topology of one configuration (steps 1–4 of the module docstring)."""
    spacing = np.asarray(spacing, dtype=np.float64)
    dim = len(spacing)
    if dim not in (2, 3) or not all(s > 0 for s in spacing):
        raise ValueError(f"a configuration needs 2 or 3 positive spacings; got {spacing.tolist()}")
    median = [float(m) for m in median_shape[:dim]]
    inverse = 1 / spacing
    side = 256 if dim == 3 else 2048
    scaled = inverse * (side**dim / np.prod(inverse)) ** (1 / dim)
    patch: list[float] = [min(round(p), m) for p, m in zip(scaled, median, strict=True)]

    def estimate(topo: Topology) -> int:
        feats = features_per_stage(topo.n_stages, dim)
        return feature_map_size(topo.patch_size, topo.strides, features=feats, num_classes=num_classes)

    topo = pool_and_kernel_sizes(spacing, patch, min_edge=min_edge)
    memory = estimate(topo)
    reference = (REFERENCE_3D if dim == 3 else REFERENCE_2D) * (vram_gb / REFERENCE_GB)
    ref_batch = REFERENCE_BATCH_3D if dim == 3 else REFERENCE_BATCH_2D
    while memory / ref_batch * 2 > reference:
        size = list(topo.patch_size)
        axis = _last_argmax([p / m for p, m in zip(size, median, strict=True)])
        trial = list(size)
        trial[axis] -= topo.divisor[axis]
        size[axis] -= pool_and_kernel_sizes(spacing, trial, min_edge=min_edge).divisor[axis]
        if size[axis] < 1:
            raise ValueError(f"a memory budget of {vram_gb:g} GB holds no patch of this configuration")
        topo = pool_and_kernel_sizes(spacing, size, min_edge=min_edge)
        memory = estimate(topo)
    if topo.n_stages > MAX_STAGES:
        raise ValueError(f"the patch {list(topo.patch_size)} needs {topo.n_stages} stages; nnU-Net allows {MAX_STAGES}")
    batch = round(reference / memory * ref_batch)
    five_percent = round(dataset_voxels * MAX_DATASET_COVERED / np.prod(topo.patch_size, dtype=np.float64))
    batch = max(min(batch, five_percent), MIN_BATCH)
    return {
        "batch_size": int(batch),
        "topology": topo,
        "features": features_per_stage(topo.n_stages, dim),
        "memory": int(memory),
    }


def _architecture(plan: dict[str, Any], dim: int) -> dict[str, Any]:
    topo = plan["topology"]
    conv = "Conv3d" if dim == 3 else "Conv2d"
    norm = "InstanceNorm3d" if dim == 3 else "InstanceNorm2d"
    n = topo.n_stages
    return {
        "network_class_name": "dynamic_network_architectures.architectures.unet.PlainConvUNet",
        "arch_kwargs": {
            "n_stages": n,
            "features_per_stage": list(plan["features"]),
            "conv_op": f"torch.nn.modules.conv.{conv}",
            "kernel_sizes": [list(k) for k in topo.kernel_sizes],
            "strides": [list(s) for s in topo.strides],
            "n_conv_per_stage": [CONVS_PER_STAGE] * n,
            "n_conv_per_stage_decoder": [CONVS_PER_STAGE] * (n - 1),
            "conv_bias": True,
            "norm_op": f"torch.nn.modules.instancenorm.{norm}",
            "norm_op_kwargs": {"eps": 1e-05, "affine": True},
            "dropout_op": None,
            "dropout_op_kwargs": None,
            "nonlin": "torch.nn.LeakyReLU",
            "nonlin_kwargs": {"inplace": True},
        },
        "_kw_requires_import": ["conv_op", "norm_op", "dropout_op", "nonlin"],
    }


def _resampling(order: int, *, is_seg: bool) -> dict[str, Any]:
    return {"is_seg": is_seg, "order": order, "order_z": 0, "force_separate_z": None}


def _configuration(
    name: str,
    spacing: Sequence[float],
    median_shape: Sequence[float],
    *,
    info: DatasetInfo,
    fingerprint: Fingerprint,
    dataset_voxels: float,
    vram_gb: float,
    plans_name: str,
) -> dict[str, Any]:
    dim = len(spacing)
    plan = plan_configuration(
        spacing, median_shape, num_classes=len(info.labels), dataset_voxels=dataset_voxels, vram_gb=vram_gb
    )
    schemes, masks = normalization_schemes(
        list(info.channel_names.values()), fingerprint.median_relative_size_after_cropping
    )
    return {
        "data_identifier": f"{plans_name}_{name}",
        "preprocessor_name": "DefaultPreprocessor",
        "batch_size": plan["batch_size"],
        "patch_size": list(plan["topology"].patch_size),
        "median_image_size_in_voxels": [m if isinstance(m, int) else float(m) for m in median_shape[:dim]],
        "spacing": [float(s) for s in spacing],
        "normalization_schemes": schemes,
        "use_mask_for_norm": masks,
        "resampling_fn_data": "resample_data_or_seg_to_shape",
        "resampling_fn_seg": "resample_data_or_seg_to_shape",
        "resampling_fn_data_kwargs": _resampling(3, is_seg=False),
        "resampling_fn_seg_kwargs": _resampling(1, is_seg=True),
        "resampling_fn_probabilities": "resample_data_or_seg_to_shape",
        "resampling_fn_probabilities_kwargs": _resampling(1, is_seg=False),
        "architecture": _architecture(plan, dim),
    }


def _lowres(
    fullres: dict[str, Any], median: np.ndarray, *, configure: Callable[[np.ndarray, list[int], float], dict[str, Any]]
) -> dict[str, Any] | None:
    """Grow the spacing until the patch covers ≥ 25 % of the median image (see the module docstring)."""
    full_spacing = np.asarray(fullres["spacing"], dtype=np.float64)
    median_voxels = np.prod(median, dtype=np.float64)
    patch_voxels = np.prod(fullres["patch_size"], dtype=np.float64)
    spacing = full_spacing.copy()
    lowres = None
    while patch_voxels / median_voxels < LOWRES_THRESHOLD:
        coarsest = max(spacing)
        finer = (coarsest / spacing) > 2
        if np.any(finer):
            spacing[finer] *= LOWRES_STEP
        else:
            spacing *= LOWRES_STEP
        shrunk = full_spacing / spacing * median
        median_voxels = np.prod(shrunk, dtype=np.float64)
        shape = [round(m) for m in shrunk]
        if min(shape) < 1:  # nnU-Net divides by zero here (nnUNet#2809): no 3d_lowres
            return None
        lowres = configure(spacing.copy(), shape, float(median_voxels))
        patch_voxels = np.prod(lowres["patch_size"], dtype=np.int64)
    if np.prod(median, dtype=np.float64) / median_voxels < 2:
        return None
    return lowres


def plan_experiment(
    fingerprint: Fingerprint,
    info: DatasetInfo,
    *,
    vram_gb: float = REFERENCE_GB,
    plans_name: str = "nnUNetPlans",
) -> dict[str, Any]:
    """nnU-Net v2's plans (the layout of nnUNetPlans.json) for a dataset fingerprint and its dataset.json."""
    if not 0 < vram_gb < float("inf"):
        raise ValueError(f"the memory budget must be a finite number of GB > 0; got {vram_gb}")
    spacings, shapes = fingerprint.spacings, fingerprint.shapes_after_crop
    if not spacings or len(spacings) != len(shapes) or any(len(s) != 3 for s in (*spacings, *shapes)):
        raise ValueError("the fingerprint needs one 3-axis spacing and one 3-axis shape per case")
    full_spacing = target_spacing(spacings, shapes)
    flat = singleton_axis(shapes)
    nnunet_first = int(np.argmax(full_spacing))
    forward, backward = transpose(full_spacing, first=flat if flat is not None else nnunet_first)
    new_shapes = np.array(
        [resampled_shape(n, s, new_spacing=full_spacing) for n, s in zip(shapes, spacings, strict=True)]
    )
    if flat is not None:
        new_shapes[:, flat] = 1  # one slice stays one slice
    median = np.median(new_shapes, axis=0)[forward]
    if median.min() <= 0:
        raise ValueError(
            f"the median image resampled to the spacing {full_spacing.tolist()} is empty: {median.tolist()}"
        )
    spacing_t = full_spacing[forward]
    dataset_voxels = float(np.prod(median, dtype=np.float64) * info.num_training)
    common = {"info": info, "fingerprint": fingerprint, "vram_gb": vram_gb, "plans_name": plans_name}

    configurations: dict[str, Any] = {}
    fullres = lowres = None
    if median[0] != 1:
        fullres = _configuration("3d_fullres", spacing_t, median, dataset_voxels=dataset_voxels, **common)

        def configure(spacing: np.ndarray, shape: list[int], voxels: float) -> dict[str, Any]:
            return _configuration("3d_lowres", spacing, shape, dataset_voxels=voxels * info.num_training, **common)

        lowres = _lowres(fullres, median, configure=configure)
        fullres["batch_dice"] = lowres is not None
    plan_2d = _configuration("2d", spacing_t[1:], median[1:], dataset_voxels=dataset_voxels, **common)
    plan_2d["batch_dice"] = True
    configurations["2d"] = plan_2d
    if lowres is not None:
        lowres["batch_dice"] = False
        lowres["next_stage"] = "3d_cascade_fullres"
        configurations["3d_lowres"] = lowres
    if fullres is not None:
        configurations["3d_fullres"] = fullres
        if lowres is not None:
            configurations["3d_cascade_fullres"] = {"inherits_from": "3d_fullres", "previous_stage": "3d_lowres"}
    original_spacing = np.median(np.asarray(spacings, dtype=np.float64), axis=0)[forward]
    original_shape = np.median(np.asarray(shapes, dtype=np.float64), axis=0)[forward]
    return {
        "dataset_name": info.name,
        "plans_name": plans_name,
        "original_median_spacing_after_transp": [float(s) for s in original_spacing],
        "original_median_shape_after_transp": [round(float(s)) for s in original_shape],
        "image_reader_writer": reader_writer(info),
        "transpose_forward": forward,
        "transpose_backward": backward,
        "configurations": configurations,
        "experiment_planner_used": "ExperimentPlanner",
        "label_manager": "LabelManager",
        "foreground_intensity_properties_per_channel": fingerprint.foreground_intensity_properties_per_channel,
    }


def deep_supervision(plans: dict[str, Any], configuration: str) -> tuple[float, ...]:
    """The normalised deep-supervision weights of a planned configuration (safe for 2 stages)."""
    return deep_supervision_weights(plans["configurations"][configuration]["architecture"]["arch_kwargs"]["n_stages"])


def planned_settings(plans: dict[str, Any], configuration: str) -> dict[str, Any]:
    """What a training run takes from a planned configuration, flat: patch, batch, depth, channels, strides,
    kernels, normalisation and deep-supervision weights."""
    if configuration not in plans["configurations"] or "patch_size" not in plans["configurations"][configuration]:
        have = [k for k, c in plans["configurations"].items() if "patch_size" in c]
        raise ValueError(f"no planned configuration {configuration!r}; planned: {', '.join(have)}")
    c = plans["configurations"][configuration]
    arch = c["architecture"]["arch_kwargs"]
    return {
        "patch_size": list(c["patch_size"]),
        "batch_size": c["batch_size"],
        "n_stages": arch["n_stages"],
        "features_per_stage": list(arch["features_per_stage"]),
        "strides": [list(s) for s in arch["strides"]],
        "kernel_sizes": [list(k) for k in arch["kernel_sizes"]],
        "normalization_schemes": list(c["normalization_schemes"]),
        "use_mask_for_norm": list(c["use_mask_for_norm"]),
        "deep_supervision_weights": list(deep_supervision(plans, configuration)),
    }
