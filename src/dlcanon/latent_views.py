"""Pictures of a latent-variable model's test images: reconstructions and latent interpolations.

Used by `dlcanon sample` for objectives with `reconstruct(x, y)` and `interpolate(x_a, x_b, steps, y)` (VAE,
CVAE, NVAE, PPCA). Files go next to the sample grid: `<stem>-reconstructions.png` (originals in the top row,
reconstructions below) and `<stem>-interpolation.png` (one row per pair, from x_a to x_b).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from dlcanon.data.base import Split
from dlcanon.plots import save_image_grid


def pick(split: Split, n: int, label: int | None = None) -> tuple[torch.Tensor, torch.Tensor | None]:
    """The first n test images (of class `label` when given and the split is labelled)."""
    index = torch.arange(len(split))
    if label is not None and split.y is not None:
        index = index[split.y == label]
    index = index[:n]
    return split.x[index], None if split.y is None else split.y[index]


@torch.no_grad()
def save_latent_views(
    objective: Any, split: Split, path: Path, *, n: int = 10, steps: int = 10, label: int | None = None
) -> dict[str, str]:
    """Write the reconstructions and interpolation grids beside `path`; {} when the model has no encoder
    or the data are not images."""
    if not hasattr(objective, "reconstruct") or split.x.dim() != 4:
        return {}
    x, y = pick(split, 2 * n, label)
    n = min(n, len(x) // 2)
    if n < 1:
        return {}
    device = next((b.device for b in objective.buffers()), torch.device("cpu"))
    x = x.to(device)
    y = None if y is None else y.to(device)
    recon = objective.reconstruct(x[:n], None if y is None else y[:n])
    stem = Path(path).with_suffix("")
    out = {
        "reconstructions": save_image_grid(
            torch.cat([x[:n], recon.view_as(x[:n])]), Path(f"{stem}-reconstructions.png"), nrow=n
        )
    }
    ya = None if y is None else y[:n]
    path_images = objective.interpolate(x[:n], x[n : 2 * n], steps, y=ya)
    out["interpolation"] = save_image_grid(
        path_images.view(-1, *x.shape[1:]), Path(f"{stem}-interpolation.png"), nrow=steps
    )
    return {k: str(v) for k, v in out.items()}
