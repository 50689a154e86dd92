"""Shared by the latent-variable experiments (trained by `Context.build` and `Context.train`): bounds on a split,
image grids."""

from __future__ import annotations

from typing import Any

import torch

from dlcanon.data.base import Split


@torch.no_grad()
def evaluate(objective: Any, split: Split, *, k: int | None = None, batch_size: int = 500) -> dict[str, float]:
    """objective.evaluate on `split` (with IWAE k = `k` when given)."""
    previous = getattr(objective, "iwae_k", None)
    if k is not None:
        objective.iwae_k = k
    batches = [
        (split.x[i : i + batch_size], None if split.y is None else split.y[i : i + batch_size])
        for i in range(0, len(split), batch_size)
    ]
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
