"""S3: nnU-Net's experiment planning (Isensee et al. 2021, arXiv:1809.10486) on three dlcanon datasets, and the
Dice of the planned 2-D configuration against a hand-set one.

Part 1 plans a 2-D dataset (phantom), an isotropic 3-D one (phantom3d, spacing 1:1:1) and an anisotropic 3-D one
(phantom3d keeping every 4th slice, spacing 4:1:1) under a memory budget that suits a CPU (`vram_gb` ≪ 8), and
tabulates each planned configuration: the values come straight from `plan_experiment` (a test re-plans the same
fingerprints and compares). nnU-Net's anisotropy rule (`plan.topology`): an axis is pooled (stride 2) only while
its current spacing is < 2× the smallest, and gets a 3-wide kernel only once its spacing is within 2× the smallest
— so a 4:1:1 volume is pooled in-plane only (strides 1×2×2), with 1×3×3 kernels, until pooling has brought the
in-plane spacing up to the thick axis'.

Part 2 trains the planned 2-D configuration of phantom against the hand-set `unet_small` (its registered widths
and its preset's batch size), both under unet_small's preset recipe (optimiser, schedule, batch Dice), for the
same number of optimiser steps. Mapped onto `build_unet`: features per stage → `levels` (2 convs each), 3×3
kernels and stride-2 pooling (what the plan asks for on 2-D phantom), batch size, and nnU-Net's per-image z-score
normalisation of the input, x ← (x − mean(x)) / std(x). Not expressible with `build_unet`: instance norm
(BatchNorm is used, as in unet_small), LeakyReLU (ReLU), strided convolutions instead of max-pooling, deep
supervision (one output), and the 3-D plans' anisotropic 1×3×3 kernels and 1×2×2 strides — hence the 2-D task.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from torch import nn

from dlcanon.data import load_data
from dlcanon.data.base import DataBundle, Split
from dlcanon.experiments.base import Result, Table, experiment
from dlcanon.experiments.context import Context, final_metrics
from dlcanon.models.unet import UNet
from dlcanon.objectives.segmenter import Segmenter
from dlcanon.plan.fingerprint import fingerprint_bundle
from dlcanon.plan.planner import plan_experiment, planned_settings
from dlcanon.plots import figure

QUICK = {"steps": 64, "n_train": 256, "n_test": 64, "size": 32, "n_volumes": 8, "vram_gb": 0.1, "seeds": 1}
FULL = {"steps": 600, "n_train": 512, "n_test": 128, "size": 64, "n_volumes": 48, "vram_gb": 0.1, "seeds": 3}
COLUMNS = ["dataset", "configuration", "spacing", "patch size", "batch size", "n_stages", "pooling strides",
           "kernel sizes", "features", "normalisation"]  # fmt: skip
HAND_MODEL = "unet_small"


def plan_datasets(s: dict[str, Any]) -> list[tuple[str, str, dict[str, Any], tuple[float, ...] | None]]:
    """(label, registered dataset, its arguments, voxel spacing) of the three planned datasets."""
    volume = {"n_train": s["n_volumes"], "n_test": 2, "size": s["size"]}
    return [
        ("2-D phantom", "phantom", {"n_train": s["n_train"], "n_test": s["n_test"], "size": s["size"]}, None),
        ("isotropic phantom3d", "phantom3d", volume, (1.0, 1.0, 1.0)),
        ("anisotropic phantom3d", "phantom3d", {**volume, "anisotropy": 4}, (4.0, 1.0, 1.0)),
    ]


def _fmt(values: Any) -> str:
    """Compact text of a planned value: [[1, 2, 2], ...] → 1×2×2, ...; spacings with 4 significant digits."""
    if isinstance(values, list) and values and isinstance(values[0], list):
        return ", ".join("×".join(str(v) for v in inner) for inner in values)
    if isinstance(values, list):
        return "×".join(f"{v:.4g}" if isinstance(v, float) else str(v) for v in values)
    return str(values)


def plan_row(label: str, plans: dict[str, Any], configuration: str) -> list[str]:
    """One table row of a planned configuration, every value read from the plans."""
    c = plans["configurations"][configuration]
    p = planned_settings(plans, configuration)
    return [label, configuration, _fmt(c["spacing"]), _fmt(p["patch_size"]), str(p["batch_size"]),
            str(p["n_stages"]), _fmt(p["strides"]), _fmt(p["kernel_sizes"]), _fmt(p["features_per_stage"]),
            ", ".join(p["normalization_schemes"])]  # fmt: skip


def zscore(bundle: DataBundle) -> DataBundle:
    """nnU-Net's ZScoreNormalization without a mask: each image x ← (x − mean x) / max(std x, 1e-8)."""

    def norm(split: Split) -> Split:
        axes = tuple(range(1, split.x.dim()))
        mean, std = split.x.mean(axes, keepdim=True), split.x.std(axes, keepdim=True)
        return Split((split.x - mean) / std.clamp_min(1e-8), split.y)

    return dataclasses.replace(bundle, train=norm(bundle.train), test=norm(bundle.test))


def _train_dice(
    ctx: Context, data: DataBundle, *, steps: int, seed: int, model_args: dict[str, Any], **fields: Any
) -> dict[str, Any]:
    """Test Dice, parameter count, batch size and per-stage widths of `HAND_MODEL` with `model_args` under its
    preset's recipe with `fields` on top, trained `steps` steps from seed ctx.seed + seed."""
    ctx.manual_seed(seed)
    cfg, objective = ctx.build(HAND_MODEL, data, model_args=model_args, steps=steps, seed=ctx.seed + seed,
                               eval_every=0, **fields)  # fmt: skip
    dice = final_metrics(ctx.train(objective, data, cfg))["dice"]
    assert isinstance(objective, Segmenter) and isinstance(objective.network, UNet)
    widths = [[m for m in block.modules() if isinstance(m, nn.Conv2d)][-1].out_channels
              for block in objective.network.encoder]  # fmt: skip
    params = sum(p.numel() for p in objective.parameters())
    return {"dice": dice, "params": params, "batch": cfg.batch_size, "widths": widths}


@experiment(
    "planning",
    tags=("S3",),
    claim="nnU-Net's planner turns a dataset fingerprint into a configuration: anisotropic spacing changes the "
    "pooling and kernels per axis, and the planned configuration segments at least as well as a hand-set one "
    "(Isensee et al. 2021: the planned configuration is competitive without manual tuning).",
)
def planning(ctx: Context) -> Result:
    """Plans for a 2-D, an isotropic 3-D and an anisotropic 3-D dataset; planned vs hand-set Dice on phantom."""
    s = ctx.pick(QUICK, FULL)
    rows, plans_by = [], {}
    bundles = {}
    for label, name, args, spacing in plan_datasets(s):
        bundle = load_data(name, **args)
        bundles[label] = bundle
        fp, info = fingerprint_bundle(bundle, spacing=spacing)
        plans = plan_experiment(fp, info, vram_gb=s["vram_gb"])
        plans_by[label] = plans
        configs = ["2d"] if bundle.kind == "image" else ["3d_fullres", "3d_lowres"]
        rows += [plan_row(label, plans, c) for c in configs if c in plans["configurations"]]
    aniso = planned_settings(plans_by["anisotropic phantom3d"], "3d_fullres")
    iso = planned_settings(plans_by["isotropic phantom3d"], "3d_fullres")
    in_plane_only = [i for i, st in enumerate(aniso["strides"]) if st[0] == 1 and max(st) > 1]
    flat_kernels = [i for i, k in enumerate(aniso["kernel_sizes"]) if k[0] == 1]

    # part 2: planned 2-D configuration vs unet_small on phantom, same step budget
    planned = planned_settings(plans_by["2-D phantom"], "2d")
    data = bundles["2-D phantom"]
    expressible = (all(k == [3, 3] for k in planned["kernel_sizes"])
                   and all(st == [2, 2] for st in planned["strides"][1:])
                   and planned["patch_size"] == list(data.input_shape[1:]))  # fmt: skip
    if not expressible:
        raise RuntimeError(f"the planned 2-D configuration does not map onto build_unet: {planned}")
    levels = [[f, f] for f in planned["features_per_stage"]]
    normalised = zscore(data) if planned["normalization_schemes"] == ["ZScoreNormalization"] else data
    runs_planned, runs_hand, runs_hand_z = [], [], []
    for seed in range(s["seeds"]):
        runs_planned.append(_train_dice(ctx, normalised, steps=s["steps"], batch_size=planned["batch_size"],
                                        model_args={"levels": levels}, seed=seed))  # fmt: skip
        runs_hand.append(_train_dice(ctx, data, steps=s["steps"], model_args={}, seed=seed))
        runs_hand_z.append(_train_dice(ctx, normalised, steps=s["steps"], model_args={}, seed=seed))
    params_planned, params_hand = runs_planned[0]["params"], runs_hand[0]["params"]
    hand_batch, hand_widths = runs_hand[0]["batch"], runs_hand[0]["widths"]
    dices_planned, dices_hand = [r["dice"] for r in runs_planned], [r["dice"] for r in runs_hand]
    dice_planned, dice_hand = sum(dices_planned) / len(dices_planned), sum(dices_hand) / len(dices_hand)
    dice_hand_z = sum(r["dice"] for r in runs_hand_z) / len(runs_hand_z)
    wins = sum(p >= h for p, h in zip(dices_planned, dices_hand, strict=True))
    params_ratio = params_planned / params_hand
    holds = wins == s["seeds"] and bool(in_plane_only) and bool(flat_kernels)
    dice_rows = [
        ["planned (2d)", f"{len(levels)} stages, {_fmt(planned['features_per_stage'])}", planned["batch_size"],
         params_planned, "z-score per image", round(dice_planned, 4)],
        [f"hand-set ({HAND_MODEL})", f"{len(hand_widths)} stages, {_fmt(hand_widths)}", hand_batch, params_hand,
         "none ([0, 1])", round(dice_hand, 4)],
        ["hand-set + planned normalisation", f"{len(hand_widths)} stages, {_fmt(hand_widths)}", hand_batch,
         params_hand, "z-score per image", round(dice_hand_z, 4)],
    ]  # fmt: skip
    fig, (ax,) = figure(1, width=6.0, height=3.4)
    labels = ["planned (2d)", f"hand-set\n({HAND_MODEL})", "hand-set +\nz-score input"]
    values = [dice_planned, dice_hand, dice_hand_z]
    ax.bar(labels, values, color=["tab:blue", "tab:gray", "tab:olive"])
    for i, v in enumerate(values):
        ax.text(i, v + 0.01, f"{v:.3f}", ha="center", fontsize=9)
    ax.set(title=f"phantom {s['size']}×{s['size']}: test Dice after {s['steps']} steps", ylabel="mean foreground Dice",
           ylim=(0, 1))  # fmt: skip
    caption = (f"Test Dice of nnU-Net's planned 2-D configuration ({s['vram_gb']:g} GB budget) against "
               f"{HAND_MODEL}, same step budget, mean of {s['seeds']} seed(s).")  # fmt: skip
    verdict = (
        f"Memory budget {s['vram_gb']:g} GB (nnU-Net's reference is 8). On the anisotropic 4:1:1 phantom3d the "
        f"anisotropy rule keeps the thick axis unpooled in stage(s) {in_plane_only} (strides 1×2×2) and gives "
        f"1×3×3 kernels in stage(s) {flat_kernels}, where the isotropic volume gets "
        f"{_fmt(iso['strides'][1:])} strides and 3×3×3 kernels throughout. After {s['steps']} steps on "
        f"{s['size']}×{s['size']} phantom, the planned 2-D configuration ({len(levels)} stages, batch "
        f"{planned['batch_size']}) reaches a test Dice of {dice_planned:.3f} against {dice_hand:.3f} for the "
        f"hand-set {HAND_MODEL} (batch {hand_batch}; mean of {s['seeds']} seed(s)): the planned configuration "
        + ("matched or beat" if wins == s["seeds"] else "did NOT always match")
        + f" the hand-set one at this budget ({wins}/{s['seeds']} seeds; equal steps, so the planned run saw "
        f"{planned['batch_size']}/{hand_batch} as many images, with about {params_ratio:.1f}× the parameters). "
        f"unet_small's widths and batch were set by hand for 64×64 digitseg; given the planned z-score input "
        f"normalisation alone it reaches {dice_hand_z:.3f}: the normalisation accounts for "
        f"{dice_hand_z - dice_hand:+.3f} of the {dice_planned - dice_hand:+.3f} difference, the rest comes with the "
        "planned widths, depth and batch together (not separated here)."
    )
    return Result(
        verdict=verdict,
        holds=holds,
        figures={"planned_vs_hand": fig},
        captions={"planned_vs_hand": caption},
        tables=[
            Table(f"nnU-Net plans at a {s['vram_gb']:g} GB memory budget", COLUMNS, rows),
            Table(
                f"Planned vs hand-set U-Net on {s['size']}×{s['size']} phantom, {s['steps']} steps each",
                ["configuration", "network", "batch", "parameters", "input normalisation", "test Dice"],
                dice_rows,
            ),
        ],
        numbers={
            "dice_planned": dice_planned,
            "dice_hand": dice_hand,
            "dice_hand_zscore": dice_hand_z,
            "dice_planned_per_seed": dices_planned,
            "dice_hand_per_seed": dices_hand,
            "params_planned": params_planned,
            "params_hand": params_hand,
            "vram_gb": s["vram_gb"],
            "in_plane_only_stages": in_plane_only,
            "flat_kernel_stages": flat_kernels,
            "mapped": "features→levels, 3×3 kernels, stride-2 max-pool, batch size, z-score input",
            "not_mapped": "instance norm (BatchNorm), LeakyReLU (ReLU), strided convs, deep supervision",
        },
    )
