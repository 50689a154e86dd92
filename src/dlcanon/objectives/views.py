"""What an objective can show: named pictures, declared by `Objective.views(split, n, **options)`.

A view is an image grid (`Grid`: images (N, C, H, W) in [0, 1], `nrow` tiles a row), a cloud of 2-D points
(`Points`: (N, 2), drawn as a scatter) or a finished matplotlib figure (`Figure`). `dlcanon sample` saves
every declared view: the one named "samples" as the PNG it is given (default `samples.png`), any other name
`<name>` beside it as `samples-<name>.png`; the trainer logs the same views to TensorBoard. Objectives hand over
tensors; `points_figure` draws a Points view over the real data when a picture is wanted.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from torch import Tensor, nn

from dlcanon.errors import UserError


@dataclass(frozen=True)
class Grid:
    """Images (N, C, H, W) in [0, 1], `nrow` to a row (None: a square-ish grid)."""

    images: Tensor
    nrow: int | None = None


@dataclass(frozen=True)
class Points:
    """2-D points (N, 2), drawn as a scatter plot (over the real data, on equal axes: `points_figure`)."""

    xy: Tensor


@dataclass(frozen=True)
class Figure:
    """A finished `matplotlib.figure.Figure`, saved as it is."""

    figure: Any


View = Grid | Points | Figure


def samples_view(samples: Tensor) -> View:
    """Samples as a picture: images (N, C, H, W) as a grid, 2-D points (N, 2) as a scatter."""
    if samples.dim() == 4:
        return Grid(samples)
    if samples.dim() == 2 and samples.shape[1] == 2:
        return Points(samples)
    raise UserError(f"samples of shape {tuple(samples.shape[1:])} have no picture; images (C, H, W) or 2-D points do")


def check_options(fn: Callable[..., Any], options: dict[str, Any]) -> dict[str, Any]:
    """`options` unchanged if `fn` (a bound `sample`) takes each of them by name; otherwise a UserError that
    lists what it takes, named as the command-line option (`--truncation`)."""
    accepted = [p for p in inspect.signature(fn).parameters if p != "n"]
    for option in options:
        if option not in accepted:
            raise UserError(
                f"--{option} is not an option of {fn.__qualname__}; it takes: {', '.join(accepted) or 'nothing'}"
            )
    return options


def device_of(module: nn.Module) -> Any:
    """The device of a module's first parameter or buffer (CPU for a module with neither)."""
    for tensor in (*module.parameters(), *module.buffers()):
        return tensor.device
    return "cpu"


REAL_POINTS = 2000  # of the real data drawn under a sample scatter


def points_figure(xy: Tensor, real: Tensor | None = None) -> Any:
    """Samples (N, 2) drawn over the real data (grey, when `real` holds 2-D points) on equal axes, so that a
    scatter shows which modes the samples cover and whether they are stretched."""
    from dlcanon.plots import figure

    fig, (ax,) = figure()
    if real is not None and real.dim() == 2 and real.shape[1] == 2:
        ax.scatter(*real[:REAL_POINTS].float().cpu().T, s=2, color="0.75", label="data")
    ax.scatter(*xy.float().cpu().T, s=2, label="samples")
    ax.set_aspect("equal", adjustable="datalim")
    if real is not None:
        ax.legend(loc="upper right", markerscale=4)
    return fig


def view_pixels(view: View, real: Tensor | None = None) -> Tensor:
    """A view as one (H, W, C) image in [0, 1], for TensorBoard: a grid's tiles, or a figure (a points view drawn
    over the `real` data) rendered off screen."""
    import torch
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    from dlcanon.plots import image_grid

    if isinstance(view, Grid):
        return image_grid(view.images, nrow=view.nrow)
    fig = points_figure(view.xy, real) if isinstance(view, Points) else view.figure
    canvas = FigureCanvasAgg(fig)
    canvas.draw()
    rgba = torch.frombuffer(bytearray(canvas.buffer_rgba()), dtype=torch.uint8)
    width, height = canvas.get_width_height()
    return rgba.view(height, width, 4)[..., :3].float() / 255
