"""Shared by the latent-variable experiments: train a registered model with the one trainer, on one thread."""

from __future__ import annotations

from typing import Any

import torch

from dlcanon.data import load_data
from dlcanon.data.base import DataBundle, Split
from dlcanon.experiments.base import threads
from dlcanon.objectives.base import Objective
from dlcanon.runs import build_objective, default_config
from dlcanon.train import fit


def train(
    model: str,
    *,
    epochs: int,
    data: str = "mnist5k",
    model_args: dict[str, Any] | None = None,
    objective_args: dict[str, Any] | None = None,
    seed: int = 0,
    **fields: Any,
) -> tuple[Objective, DataBundle, dict[str, Any]]:
    """`model` with its registered recipe, `epochs` epochs and any other config `fields`, trained on the CPU
    on one thread (small networks: a second thread costs more than it saves); evaluated once, at the end.
    Returns the objective in eval mode, the data and the trainer's summary."""
    cfg = default_config(model, data=data, epochs=epochs, seed=seed, **fields)
    cfg.model_args, cfg.objective_args = dict(model_args or {}), dict(objective_args or {})
    cfg.device, cfg.tensorboard, cfg.eval_every, cfg.log_every = "cpu", False, 0, 10**9
    bundle = load_data(cfg.data)
    torch.manual_seed(seed)
    objective = build_objective(cfg, bundle)
    with threads(1):
        summary = fit(objective, bundle, cfg)
    return objective.eval(), bundle, summary


def summary_metrics(summary: dict[str, Any]) -> dict[str, float]:
    """The summary's test metrics without their prefix."""
    return {k.removeprefix("test_"): v for k, v in summary["metrics"].items() if k.startswith("test_")}


@torch.no_grad()
def evaluate(objective: Any, split: Split, *, k: int | None = None, batch_size: int = 500) -> dict[str, float]:
    """objective.evaluate on `split` (with IWAE k = `k` when given), on one thread."""
    previous = getattr(objective, "iwae_k", None)
    if k is not None:
        objective.iwae_k = k
    batches = [
        (split.x[i : i + batch_size], None if split.y is None else split.y[i : i + batch_size])
        for i in range(0, len(split), batch_size)
    ]
    with threads(1):
        metrics = objective.evaluate(batches)
    if previous is not None:
        objective.iwae_k = previous
    return metrics


def image_figure(images: torch.Tensor, *, nrow: int, title: str, width: float = 5.0):
    """A figure showing (N, C, H, W) images in [0, 1] as one grid of `nrow` columns."""
    from dlcanon.plots import figure, image_grid

    grid = image_grid(images, nrow=nrow)
    rows = -(-images.shape[0] // nrow)
    fig, (ax,) = figure(width=width, height=width * rows / nrow + 0.4)
    ax.imshow(grid.squeeze(-1).numpy() if grid.shape[-1] == 1 else grid.numpy(), cmap="gray", vmin=0, vmax=1)
    ax.set(title=title, xticks=[], yticks=[])
    ax.grid(False)
    return fig
