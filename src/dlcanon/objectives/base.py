"""The objective contract: it owns its networks, its losses, its updates and its evaluation.

The trainer never knows which objective it runs. Multi-player training is declared as data: `updates()`
lists the parameter groups stepped in turn, each with its repeat count (e.g. a WGAN critic step ×5, then a
generator step); every player's optimiser comes from the run's configuration (`TrainConfig.players` overrides
one player's settings). The trainer tells the objective the horizon (`on_step`) and which of its modules to
average (`ema_modules`).
"""

from __future__ import annotations

import abc
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from torch import Tensor, nn

from dlcanon.data.base import Split
from dlcanon.errors import UserError
from dlcanon.objectives.views import View

if TYPE_CHECKING:
    from dlcanon.metrics.feature_net import ExternalFeatures

Batch = tuple[Tensor, Tensor | None]


@dataclass
class Update:
    """One player of a training step: `parameters` stepped `repeat` times, each on a fresh batch.

    Its optimiser is the run's (`optimizer`, `lr`, `betas`, ...) with `TrainConfig.players[name]` on top.
    """

    name: str
    parameters: list[nn.Parameter]
    repeat: int = 1


class Objective(nn.Module, abc.ABC):
    """Base class: subclasses implement `forward(batch, update) -> (loss, logs)` and `evaluate(batches)`.

    `network` is the network the objective wraps (set in `__init__`; what `dlcanon check` and `info` inspect)."""

    network: nn.Module

    def check_data(self, train: Split) -> None:
        """Called when the trainer is built, before anything is written: refuse, with a UserError, data this
        objective cannot model (values outside its likelihood's support, a target it cannot use). Default: all."""

    def prepare(self, train: Split) -> None:
        """Called once before the first step of a fresh run with the whole training split on the device:
        closed-form fits (PPCA, GMM by EM) and data-dependent initialisation go here. Default: nothing."""

    def updates(self) -> list[Update]:
        """By default a single player that owns every trainable parameter."""
        return [Update("model", [p for p in self.parameters() if p.requires_grad])]

    def on_step(self, step: int, total_steps: int) -> None:
        """Called by the trainer before every training step t = 0 … T − 1 of a T-step run: schedules that
        depend on the run's progress t/T (KL warm-up, progressive growth) read it here. Default: nothing."""

    def ema_modules(self) -> list[str]:
        """Dotted names of the submodules whose weights the trainer averages when `ema` > 0 (a GAN's generator,
        a diffusion model's denoiser); `[""]`, the default, is the whole objective."""
        return [""]

    @abc.abstractmethod
    def forward(self, batch: Batch, update: str = "model") -> tuple[Tensor, dict[str, Tensor]]:
        """The scalar loss of `update` on `batch` and detached scalars to log."""

    @abc.abstractmethod
    def evaluate(self, batches: Iterable[Batch]) -> dict[str, float]:
        """Metrics over a whole split, names without the split prefix (e.g. `accuracy`, `loss`)."""

    def views(self, split: Split, n: int, **options: Any) -> dict[str, View]:
        """Named pictures of the trained model that `dlcanon sample` saves (see `objectives.views`), `n` samples
        drawn with the user's `options` (`label`, `truncation`, ...); `split` (the test split) supplies images to
        reconstruct. Default: none; objectives that sample (`objectives.generative.Generative`) show samples."""
        return {}

    def predict(self, x: Tensor) -> Tensor:
        """The model's answer for inputs x (N, *shape), what `dlcanon predict` writes: class labels (N,) of a
        classifier, label maps (N, *s) of a segmenter, images (N, C, H, W) in [0, 1] of an image-to-image model.
        Default: a UserError, the objective maps no input to an output."""
        raise UserError(
            f"{type(self).__name__} maps no input to an output: `dlcanon predict` runs classifiers, segmenters and "
            "image-to-image models (sr, pix2pix)"
        )

    def use_features(self, extractor: ExternalFeatures) -> None:
        """Score with a user's feature extractor (`dlcanon eval --features`, e.g. Inception) instead of the
        shipped one. Default: a UserError, the objective's metrics read no image features."""
        raise UserError(f"--features applies to GANs of images; {type(self).__name__} is scored without image features")

    @property
    def has_conv(self) -> bool:
        """Whether channels_last memory format helps: the objective holds 2-D convolutions."""
        return any(isinstance(m, nn.Conv2d | nn.ConvTranspose2d) for m in self.modules())
