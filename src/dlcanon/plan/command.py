"""`dlcanon plan`: nnU-Net's own files, or a dlcanon dataset, in; the layout of nnUNetPlans.json out."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from dlcanon.errors import UserError
from dlcanon.plan.files import read_dataset, read_fingerprint
from dlcanon.plan.planner import deep_supervision, plan_experiment


def plan_command(
    *, fingerprint: Path | None, dataset: Path | None, data: str | None, vram_gb: float, spacing: str | None = None
) -> dict[str, Any]:
    """Plans for --fingerprint F --dataset D, or for --data NAME (fingerprinted here); errors are UserErrors."""
    if not 0 < vram_gb < float("inf"):
        raise UserError(f"--vram-gb must be a finite number > 0; got {vram_gb:g}")
    if data is not None:
        if fingerprint is not None or dataset is not None:
            raise UserError("give either --data NAME or --fingerprint and --dataset, not both")
        from dlcanon.data import load_data
        from dlcanon.plan.fingerprint import fingerprint_bundle

        try:
            values = None if spacing is None else tuple(float(s) for s in spacing.split(","))
        except ValueError:
            raise UserError(f"--spacing expects three numbers D,H,W such as 4,1,1; got {spacing!r}") from None
        try:
            fp, info = fingerprint_bundle(load_data(data), spacing=values)
        except ValueError as exc:
            raise UserError(str(exc)) from None
    elif fingerprint is None or dataset is None:
        raise UserError("plan needs --fingerprint dataset_fingerprint.json and --dataset dataset.json, or --data NAME")
    else:
        fp, info = read_fingerprint(fingerprint), read_dataset(dataset)
    try:
        return plan_experiment(fp, info, vram_gb=vram_gb)
    except ValueError as exc:
        raise UserError(str(exc)) from None


def render_plans(plans: dict[str, Any]) -> str:
    """One paragraph per configuration: spacing, median shape, patch, batch, stages and normalisation."""
    lines = [f"{plans['dataset_name']}: transpose {plans['transpose_forward']}"]
    for name, c in plans["configurations"].items():
        if "patch_size" not in c:
            lines.append(f"  {name}: {c}")
            continue
        arch = c["architecture"]["arch_kwargs"]
        weights = ", ".join(f"{w:.3f}" for w in deep_supervision(plans, name))
        lines += [
            f"  {name}: patch {c['patch_size']}, batch {c['batch_size']}, spacing "
            f"[{', '.join(f'{s:.4g}' for s in c['spacing'])}], median image {c['median_image_size_in_voxels']}",
            f"    {arch['n_stages']} stages, features {arch['features_per_stage']}, strides {arch['strides']}",
            f"    kernels {arch['kernel_sizes']}",
            f"    normalisation {c['normalization_schemes']} (nonzero mask {c['use_mask_for_norm']}), "
            f"deep-supervision weights [{weights}]",
        ]
    return "\n".join(lines)
