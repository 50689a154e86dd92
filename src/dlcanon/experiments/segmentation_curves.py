"""Shared measurement of the segmentation experiments (S1, S2): train a registered segmenter and read its test
Dice (mean over the foreground classes, from the split's total counts) at chosen steps."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import torch
from torch import nn

from dlcanon.data.base import DataBundle, Split
from dlcanon.experiments.context import Context
from dlcanon.objectives.base import Objective
from dlcanon.objectives.segmenter import Segmenter

# one recipe for every network an experiment compares (a model's own preset may differ): the unet_small preset's
RECIPE: dict[str, Any] = {"optimizer": "adamw", "lr": 1e-2, "weight_decay": 1e-4, "schedule": "onecycle"}
BATCH_DICE = {"batch_dice": True}


def split_dice(objective: Objective, split: Split, *, batch: int = 64) -> float:
    """Mean foreground Dice of `objective` on `split`, in eval mode (the mode is restored)."""
    if not isinstance(objective, Segmenter):
        raise TypeError(f"expected a Segmenter; got {type(objective).__name__}")
    was = objective.training
    objective.eval()
    device = next(objective.parameters()).device
    batches = ((split.x[i : i + batch].to(device), split.y[i : i + batch].to(device))
               for i in range(0, len(split), batch))  # fmt: skip
    dice = objective.evaluate(batches)["dice"]
    objective.train(was)
    return dice


def dice_curve(
    ctx: Context,
    model: str,
    data: DataBundle,
    *,
    steps: int,
    checkpoints: Sequence[int],
    probe: Split,
    model_args: Mapping[str, Any] | None = None,
    objective_args: Mapping[str, Any] | None = None,
    **fields: Any,
) -> tuple[list[float], Segmenter]:
    """Test Dice on `probe` after each step in `checkpoints` (0: untrained) of a `steps`-step run of the
    registered `model` under RECIPE with batch Dice (whatever its preset), `fields` on top; the trained objective
    (CPU)."""
    objective_args = {**BATCH_DICE, **(objective_args or {})}
    cfg, objective = ctx.build(model, data, model_args=model_args, objective_args=objective_args, steps=steps,
                               **RECIPE | fields)  # fmt: skip
    curve: dict[int, float] = {}

    def snapshot(step: int, obj: Objective) -> None:
        with torch.random.fork_rng():
            curve[step] = split_dice(obj, probe)

    ctx.train(objective, data, cfg, snapshot=snapshot, snapshot_steps=checkpoints)
    assert isinstance(objective, Segmenter)
    return [curve[s] for s in checkpoints], objective


def head(split: Split, n: int) -> Split:
    """The first n samples of a split."""
    return Split(split.x[:n], None if split.y is None else split.y[:n])


def network_dice(ctx: Context, network: nn.Module, data: DataBundle, probe: Split, **fields: Any) -> float:
    """Test Dice on `probe` of an unregistered `network` trained as a Segmenter under RECIPE with batch Dice,
    `fields` (steps, batch_size, ...) on top; the caller seeds."""
    objective = Segmenter(network, **BATCH_DICE)
    ctx.train(objective, data, ctx.config(**RECIPE | fields))
    return split_dice(objective, probe)
