"""Matplotlib helpers: one style for every figure, image grids, PNG saving.

Importing this module changes no global state: figures are built with `matplotlib.figure.Figure` (no pyplot, so
no GUI backend is chosen or switched, and a notebook keeps its own), and the house style is applied inside
`style()` rather than written into the user's rcParams.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

import matplotlib
import matplotlib.image
import torch
from matplotlib.figure import Figure

STYLE = {
    "figure.dpi": 110,
    "axes.grid": True,
    "grid.alpha": 0.3,
    "axes.spines.top": False,
    "axes.spines.right": False,
}


@contextlib.contextmanager
def style() -> Iterator[None]:
    """The house style for every figure made inside the block (the report's experiments, `dlcanon sample`)."""
    with matplotlib.rc_context(STYLE):
        yield


def figure(ncols: int = 1, *, nrows: int = 1, width: float = 4.2, height: float = 3.2) -> tuple[Figure, list]:
    """A styled figure with `nrows` × `ncols` axes (a flat list, row by row), each `width` × `height` inches."""
    with style():
        fig = Figure(figsize=(width * ncols, height * nrows), layout="constrained")
        axes = fig.subplots(nrows, ncols, squeeze=False)
    return fig, list(axes.flat)


def save_figure(fig: Figure, path: Path) -> Path:
    """Save `fig` as a PNG in the house style; axes that show an image lose the grid, which would cross its pixels."""
    path.parent.mkdir(parents=True, exist_ok=True)
    for ax in fig.axes:
        if ax.images:
            ax.grid(False)
    with style():
        fig.savefig(path)
    if fig.canvas.manager is not None:  # a pyplot figure: release it from pyplot's registry
        import matplotlib.pyplot as plt

        plt.close(fig)
    return path


def image_grid(images: torch.Tensor, *, nrow: int | None = None, pad: int = 1) -> torch.Tensor:
    """(N, C, H, W) in [0, 1] → one (H', W', C) grid image with `pad` pixels between tiles."""
    images = images.detach().float().clamp(0, 1).cpu()
    n, c, h, w = images.shape
    nrow = nrow or max(1, int(n**0.5))
    ncol = -(-n // nrow)
    grid = torch.ones(c, ncol * (h + pad) + pad, nrow * (w + pad) + pad)
    for i in range(n):
        r, q = divmod(i, nrow)
        grid[
            :, pad + r * (h + pad) : pad + r * (h + pad) + h, pad + q * (w + pad) : pad + q * (w + pad) + w
        ] = images[i]
    return grid.permute(1, 2, 0)


def scale_rows(chain: list[torch.Tensor]) -> torch.Tensor:
    """Images at several sides [(n, C, s, s), …] → one batch, each nearest-up-sampled to the largest side."""
    side = max(x.shape[-1] for x in chain)
    return torch.cat([torch.nn.functional.interpolate(x.float(), size=side, mode="nearest") for x in chain])


def save_image_grid(images: torch.Tensor, path: Path, *, nrow: int | None = None) -> Path:
    grid = image_grid(images, nrow=nrow)
    path.parent.mkdir(parents=True, exist_ok=True)
    matplotlib.image.imsave(
        path, grid.squeeze(-1).numpy() if grid.shape[-1] == 1 else grid.numpy(), cmap="gray", vmin=0, vmax=1
    )
    return path
