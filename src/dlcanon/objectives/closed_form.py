"""Shared by the density models fitted in closed form or by EM (PPCA, GMM): no gradient updates, and data on a
grid of L levels dequantised before fitting and evaluation (a continuous density on discrete data)."""

from __future__ import annotations

import torch
from torch import Tensor

from dlcanon.data.base import Split
from dlcanon.metrics.likelihood import dequantize, grid_levels
from dlcanon.objectives.base import Update
from dlcanon.objectives.generative import Generative


class DequantizedDensity(Generative):
    """Base class: call `init_levels(levels)` in `__init__`; `observed_train(train, seed)` in `prepare`.
    Both densities sample, so their view is their samples (`Generative`)."""

    def init_levels(self, levels: int | None) -> None:
        """`levels`: the data's grid size L, or None to read it from the training data in `prepare`."""
        self.levels_arg = levels
        self.register_buffer("levels", torch.tensor(levels or 0))

    def updates(self) -> list[Update]:
        return []

    def observe(self, x: Tensor, generator: torch.Generator | None = None) -> Tensor:
        """Flattened float64 data, dequantised when they lie on a grid of L levels."""
        x = x.flatten(1).double()
        return dequantize(x, int(self.levels), generator=generator) if int(self.levels) else x

    def observed_train(self, train: Split, seed: int) -> Tensor:
        """The training data as the model sees them, with the grid size read from them if it was not given."""
        if self.levels_arg is None:
            self.levels.fill_(grid_levels(train.x))
        return self.observe(train.x, torch.Generator(device=train.x.device).manual_seed(seed))
