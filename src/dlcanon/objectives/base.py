"""The objective contract: it owns its networks, its losses, its updates and its evaluation.

The trainer never knows which objective it runs. Multi-player training is declared as data: `updates()`
lists the parameter groups stepped in turn, each with its repeat count and optimiser settings
(e.g. a WGAN critic step ×5, then a generator step).
"""

from __future__ import annotations

import abc
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from torch import Tensor, nn

from dlcanon.data.base import Split

Batch = tuple[Tensor, Tensor | None]


@dataclass
class Update:
    """One player of a training step: `parameters` stepped `repeat` times, each on a fresh batch.

    `optimizer` overrides the run's optimiser settings for this player (e.g. {"name": "rmsprop", "lr": 5e-5}).
    """

    name: str
    parameters: list[nn.Parameter]
    repeat: int = 1
    optimizer: dict[str, Any] = field(default_factory=dict)


class Objective(nn.Module, abc.ABC):
    """Base class: subclasses implement `forward(batch, update) -> (loss, logs)` and `evaluate(batches)`."""

    def prepare(self, train: Split) -> None:
        """Called once before the first step of a fresh run with the whole training split on the device:
        closed-form fits (PPCA, GMM by EM) and data-dependent initialisation go here. Default: nothing."""

    def updates(self) -> list[Update]:
        """By default a single player that owns every trainable parameter."""
        return [Update("model", [p for p in self.parameters() if p.requires_grad])]

    @abc.abstractmethod
    def forward(self, batch: Batch, update: str = "model") -> tuple[Tensor, dict[str, Tensor]]:
        """The scalar loss of `update` on `batch` and detached scalars to log."""

    @abc.abstractmethod
    def evaluate(self, batches: Iterable[Batch]) -> dict[str, float]:
        """Metrics over a whole split, names without the split prefix (e.g. `accuracy`, `loss`)."""

    @property
    def has_conv(self) -> bool:
        """Whether channels_last memory format helps: the objective holds 2-D convolutions."""
        return any(isinstance(m, nn.Conv2d | nn.ConvTranspose2d) for m in self.modules())
