"""Objectives that sample (`Generative`) and latent-variable models that also encode (`LatentModel`).

Their views (see `objectives.views`): a generative objective shows its samples; a latent-variable model (VAE,
CVAE, NVAE, PPCA) also shows reconstructions of the first test images (originals in the top row, E[x | z(x)]
below) and latent interpolations (one row per pair of test images, x_a to x_b in `steps`).
"""

from __future__ import annotations

import abc
from typing import Any

import torch
from torch import Tensor

from dlcanon.data.base import Split
from dlcanon.objectives.base import Objective
from dlcanon.objectives.views import Grid, View, check_options, device_of, samples_view


class Generative(Objective):
    """An objective with `sample(n, label=None, **options)`; its one view is "samples"."""

    @abc.abstractmethod
    def sample(self, n: int, label: int | None = None) -> Tensor:
        """n samples in data space: [0, 1] images (n, C, H, W) or points (n, D); `label` for conditional models."""

    def views(self, split: Split, n: int, **options: Any) -> dict[str, View]:
        """{"samples": n samples}, drawn with the user's `options` (each must be an option of `sample`)."""
        with torch.no_grad():
            return {"samples": samples_view(self.sample(n, **check_options(self.sample, options)))}


def pick(split: Split, n: int, label: int | None = None) -> tuple[Tensor, Tensor | None]:
    """The first n images of `split` (of class `label` when given and the split is labelled)."""
    index = torch.arange(len(split))
    if label is not None and split.y is not None:
        index = index[split.y == label]
    index = index[:n]
    return split.x[index], None if split.y is None else split.y[index]


class LatentModel(Generative):
    """A generative model with an encoder: `reconstruct(x, y)` and `interpolate(x_a, x_b, steps, y)`."""

    latent_views = 10  # pairs of test images in the reconstruction and interpolation grids
    interpolation_steps = 10

    @abc.abstractmethod
    def reconstruct(self, x: Tensor, y: Tensor | None = None) -> Tensor:
        """The deterministic reconstruction of x (N, *shape), same shape."""

    @abc.abstractmethod
    def interpolate(self, xa: Tensor, xb: Tensor, steps: int = 8, y: Tensor | None = None) -> Tensor:
        """Decoded latent paths from x_a to x_b: pairs (P, *shape) → (P·steps, *shape), pair by pair."""

    @torch.no_grad()
    def views(self, split: Split, n: int, **options: Any) -> dict[str, View]:
        """Samples, then on images "reconstructions" (n ≤ 10 test images over their reconstructions) and
        "interpolation" (one row per pair); the pictures come from class `label` when it is given."""
        out = super().views(split, n, **options)
        x, y = pick(split, 2 * self.latent_views, options.get("label"))
        pairs = len(x) // 2
        if split.x.dim() != 4 or pairs < 1:
            return out
        device = device_of(self)
        x, y = x.to(device), None if y is None else y.to(device)
        xa, ya = x[:pairs], None if y is None else y[:pairs]
        recon = self.reconstruct(xa, ya).view_as(xa)
        path = self.interpolate(xa, x[pairs : 2 * pairs], self.interpolation_steps, y=ya)
        out["reconstructions"] = Grid(torch.cat([xa, recon]), nrow=pairs)
        out["interpolation"] = Grid(path.view(-1, *x.shape[1:]), nrow=self.interpolation_steps)
        return out
