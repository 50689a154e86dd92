"""Semantic segmentation: cross-entropy plus soft Dice, deep supervision, Dice/IoU evaluation, overlays (S1–S3).

For scores z (N, K, *s) with p = softmax(z) over K and one-hot targets g:
    L = w_ce · CE(z, y) + w_dice · (1 − mean_c dc_c),   dc_c = (2 Σ p_c g_c + ε) / (Σ p_c + Σ g_c + ε)
with the sums over each image's pixels (per-image Dice, averaged over images) or over the whole batch
(`batch_dice`), ε = `smooth` (nnU-Net's 1e-5: a smoothing constant of 1 swamps small structures), and the
mean over the foreground classes c ≥ 1 unless `background`. A network with one output map (K = 1, UNet++ at
its authors' configuration) is binary: p = σ(z), CE is the binary cross-entropy, Dice is the foreground's.

Deep supervision: a network may return a tuple of scores, the final one first. Output i gets weight
w_i ∝ 2^{−i} ("halving", nnU-Net's decay; normalised to sum 1 and well defined for any number of outputs,
including a two-stage net's two) or 1/m ("mean", UNet++). The target is centre-cropped to the final output
(valid convolutions lose a border) and resampled (nearest) to the size of any coarser auxiliary output.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from dlcanon.data.base import Split
from dlcanon.errors import UserError
from dlcanon.metrics.segmentation import EMPTY_POLICIES, counts, dice_from_counts, iou_from_counts, mean_foreground
from dlcanon.models.unet_blocks import center_crop
from dlcanon.objectives.base import Batch, Objective
from dlcanon.objectives.views import Grid, View, device_of
from dlcanon.registry import OBJECTIVES

SUPERVISION = ("halving", "mean")
# label colours for overlays (tab10, then repeating); background is left uncoloured
PALETTE = torch.tensor([
    [0.12, 0.47, 0.71], [1.00, 0.50, 0.05], [0.17, 0.63, 0.17], [0.84, 0.15, 0.16], [0.58, 0.40, 0.74],
    [0.55, 0.34, 0.29], [0.89, 0.47, 0.76], [0.50, 0.50, 0.50], [0.74, 0.74, 0.13], [0.09, 0.75, 0.81],
])  # fmt: skip


def supervision_weights(m: int, scheme: str = "halving") -> list[float]:
    """Normalised weights of m outputs, the final one first: 2^{−i}/Σ_j 2^{−j}, or 1/m."""
    raw = [2.0**-i for i in range(m)] if scheme == "halving" else [1.0] * m
    return [w / sum(raw) for w in raw]


def match_target(y: Tensor, shape: tuple[int, ...], *, final: bool) -> Tensor:
    """y (N, *s) fitted to an output of spatial `shape`: centre-cropped for the final output, resampled
    (nearest) for a coarser auxiliary output."""
    if tuple(y.shape[1:]) == tuple(shape):
        return y
    if final:
        return center_crop(y[:, None], shape)[:, 0]
    return F.interpolate(y[:, None].float(), size=tuple(shape), mode="nearest")[:, 0].long()


class Segmenter(Objective):
    """Cross-entropy + soft Dice on label maps (see the module docstring); evaluation by overlap metrics."""

    def __init__(
        self,
        network: nn.Module,
        *,
        ce_weight: float = 1.0,
        dice_weight: float = 1.0,
        smooth: float = 1e-5,
        background: bool = False,
        batch_dice: bool = False,
        deep_supervision: str = "halving",
        empty: str = "skip",
    ) -> None:
        super().__init__()
        if ce_weight < 0 or dice_weight < 0 or ce_weight + dice_weight == 0:
            raise ValueError(f"ce_weight and dice_weight must be ≥ 0, not both 0; got {ce_weight}, {dice_weight}")
        if smooth < 0:
            raise ValueError(f"smooth must be ≥ 0; got {smooth}")
        if deep_supervision not in SUPERVISION:
            raise ValueError(f"deep_supervision must be one of {', '.join(SUPERVISION)}; got {deep_supervision!r}")
        if empty not in EMPTY_POLICIES:
            raise ValueError(f"empty must be one of {', '.join(EMPTY_POLICIES)}; got {empty!r}")
        self.network = network
        self.ce_weight, self.dice_weight, self.smooth = ce_weight, dice_weight, smooth
        self.background, self.batch_dice = background, batch_dice
        self.deep_supervision, self.empty = deep_supervision, empty

    # ------------------------------------------------------------------ losses
    def soft_dice(self, z: Tensor, y: Tensor) -> Tensor:
        """mean_c dc_c over the counted classes (and over images unless batch_dice), z (N, K, *s), y (N, *s)."""
        if z.shape[1] == 1:  # binary: the foreground map alone
            p, g = torch.sigmoid(z), (y[:, None] == 1).to(z.dtype)
        else:
            p = z.softmax(1)
            g = F.one_hot(y, z.shape[1]).movedim(-1, 1).to(z.dtype)
            if not self.background:
                p, g = p[:, 1:], g[:, 1:]
        axes = [0, *range(2, z.dim())] if self.batch_dice else list(range(2, z.dim()))
        intersection, total = (p * g).sum(axes), p.sum(axes) + g.sum(axes)
        return ((2 * intersection + self.smooth) / (total + self.smooth).clamp(min=1e-8)).mean()

    def loss(self, z: Tensor, y: Tensor) -> Tensor:
        """w_ce · CE + w_dice · (1 − soft Dice) of one output z (N, K, *s) against y (N, *s)."""
        z = z.float()
        if z.shape[1] == 1:
            if int(y.max()) > 1:
                raise UserError(f"a one-map (binary) network needs labels 0 and 1; the target holds {int(y.max())}")
            ce = F.binary_cross_entropy_with_logits(z[:, 0], y.to(z.dtype))
        else:
            ce = F.cross_entropy(z, y)
        return self.ce_weight * ce + self.dice_weight * (1 - self.soft_dice(z, y))

    def forward(self, batch: Batch, update: str = "model") -> tuple[Tensor, dict[str, Tensor]]:
        x, y = batch
        out = self.network(x)
        outputs = list(out) if isinstance(out, tuple | list) else [out]
        weights = supervision_weights(len(outputs), self.deep_supervision)
        final = outputs[0].shape[2:]
        loss = sum(w * self.loss(z, match_target(y, z.shape[2:], final=z.shape[2:] == final))
                   for w, z in zip(weights, outputs, strict=True))  # fmt: skip
        y0 = match_target(y, final, final=True)
        accuracy = (self.labels(outputs[0]) == y0).float().mean()
        return loss, {"loss": loss.detach(), "pixel_accuracy": accuracy.detach()}

    # ------------------------------------------------------------------ prediction and evaluation
    @staticmethod
    def labels(z: Tensor) -> Tensor:
        """Label map (N, *s) of scores z (N, K, *s): argmax over K, or z > 0 for one map."""
        return (z[:, 0] > 0).long() if z.shape[1] == 1 else z.argmax(1)

    def scores(self, x: Tensor) -> Tensor:
        out = self.network(x)
        return out[0] if isinstance(out, tuple | list) else out

    @torch.no_grad()
    def predict(self, x: Tensor) -> Tensor:
        return self.labels(self.scores(x))

    @torch.no_grad()
    def evaluate(self, batches: Iterable[Batch]) -> dict[str, float]:
        """loss (w_ce·CE + w_dice·(1 − soft Dice), pixel-weighted), dice and iou (mean over the foreground
        classes defined on the split), dice_c per defined class c, pixel_accuracy; from the split's total counts."""
        total_loss, pixels, tp, fp, fn, k = 0.0, 0, None, None, None, None
        for x, y in batches:
            z = self.scores(x).float()
            y = match_target(y, z.shape[2:], final=True)
            k = max(2, z.shape[1])
            total_loss += float(self.loss(z, y)) * y.numel()
            pixels += y.numel()
            c = counts(self.labels(z), y, k)
            tp, fp, fn = c if tp is None else (tp + c[0], fp + c[1], fn + c[2])
        if tp is None:
            raise UserError("evaluate: the split is empty")
        dice, iou = dice_from_counts(tp, fp, fn, empty=self.empty), iou_from_counts(tp, fp, fn, empty=self.empty)
        metrics = {"loss": total_loss / pixels, "dice": mean_foreground(dice), "iou": mean_foreground(iou),
                   "pixel_accuracy": float(tp.sum()) / pixels}  # fmt: skip
        metrics |= {f"dice_{c}": float(d) for c, d in enumerate(dice.tolist()) if c and d == d}  # NaN: undefined
        return metrics

    # ------------------------------------------------------------------ views
    def views(self, split: Split, n: int, **options: Any) -> dict[str, View]:
        """"samples": rows of (image, ground truth over the image, prediction over the image) for the first n
        samples of `split`; a volume shows its middle slice along D."""
        if options:
            raise UserError(f"--{next(iter(options))} is not an option of segmentation views; they take none")
        if split.y is None or len(split) == 0:
            raise UserError("segmentation views need a split with label maps")
        x, y = split.x[:n].to(device_of(self)), split.y[:n].to(device_of(self))
        was_training = self.training
        self.eval()
        pred = self.predict(x)
        self.train(was_training)
        x, y = center_crop(x, pred.shape[1:]), match_target(y, tuple(pred.shape[1:]), final=True)
        if x.dim() == 5:  # (N, C, D, H, W): the middle slice
            d = x.shape[2] // 2
            x, y, pred = x[:, :, d], y[:, d], pred[:, d]
        image = x[:, :1].expand(-1, 3, -1, -1).clamp(0, 1)
        rows = torch.stack([image, overlay(image, y), overlay(image, pred)], 1)  # (N, 3, 3, H, W)
        return {"samples": Grid(rows.flatten(0, 1).cpu(), nrow=3)}


def overlay(image: Tensor, labels: Tensor, *, alpha: float = 0.5) -> Tensor:
    """RGB image (N, 3, H, W) with every labelled pixel (label ≥ 1) blended with its class colour."""
    colours = PALETTE.to(image)[(labels - 1).clamp(min=0) % len(PALETTE)].movedim(-1, 1)  # (N, 3, H, W)
    mask = (labels > 0)[:, None].to(image)
    return image * (1 - alpha * mask) + alpha * mask * colours


@OBJECTIVES.register("segmenter", tags=("S1",))
def build_segmenter(network: nn.Module, **kwargs) -> Segmenter:
    """Cross-entropy + soft Dice (smooth 1e-5, background excluded), deep supervision; dice, iou, pixel accuracy."""
    return Segmenter(network, **kwargs)
