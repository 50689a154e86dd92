"""What an objective can show: named pictures, declared by `Objective.views(split, n, **options)`.

A view is an image grid (`Grid`: images (N, C, H, W) in [0, 1], `nrow` tiles a row), a cloud of 2-D points
(`Points`: (N, 2), drawn as a scatter) or a finished matplotlib figure (`Figure`). `dlcanon sample` saves
every declared view: the one named "samples" as the PNG it is given (default `samples.png`), any other name
`<name>` beside it as `samples-<name>.png`. No plotting library is imported here: objectives hand over tensors.
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
    """2-D points (N, 2), drawn as a scatter plot."""

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
