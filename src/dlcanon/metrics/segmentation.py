"""Overlap metrics of label maps (S1–S3): Dice, IoU (Jaccard), pixel accuracy.

For class c with predicted set P_c and ground-truth set G_c (pixels or voxels):
    Dice_c = 2|P_c ∩ G_c| / (|P_c| + |G_c|) = 2TP / (2TP + FP + FN)       (= F1 of class c)
    IoU_c  = |P_c ∩ G_c| / |P_c ∪ G_c|     = TP / (TP + FP + FN)           (= Jaccard of class c)
    pixel accuracy = Σ_c TP_c / #pixels.
Empty ground truth: with G_c = ∅ and P_c ≠ ∅ both scores are 0 (every predicted pixel is a false positive).
With G_c = P_c = ∅ they are 0/0; the policy decides: "skip" (default) leaves the class undefined (NaN), so it
drops out of every mean (MONAI's NaN, made explicit); "one" scores it 1 (perfect agreement on absence).
The mean foreground score averages the defined classes c ≠ 0 (background excluded); NaN if none is defined.

Counts add up over batches, so a split's scores are computed from its total counts ("global" Dice); `per_image`
scores average per-image scores instead.
"""

from __future__ import annotations

import torch
from torch import Tensor

EMPTY_POLICIES = ("skip", "one")


def counts(pred: Tensor, target: Tensor, num_classes: int) -> tuple[Tensor, Tensor, Tensor]:
    """(TP, FP, FN) per class, each (K,) int64, of integer maps pred, target of one shape (any)."""
    if pred.shape != target.shape:
        raise ValueError(f"prediction {tuple(pred.shape)} and target {tuple(target.shape)} differ in shape")
    k = num_classes
    joint = torch.bincount((target.reshape(-1) * k + pred.reshape(-1)).long(), minlength=k * k).reshape(k, k)
    tp = joint.diagonal()
    return tp, joint.sum(0) - tp, joint.sum(1) - tp  # columns: predicted, rows: true


def _ratio(num: Tensor, den: Tensor, empty: str) -> Tensor:
    if empty not in EMPTY_POLICIES:
        raise ValueError(f"empty must be one of {', '.join(EMPTY_POLICIES)}; got {empty!r}")
    num, den = num.double(), den.double()
    undefined = torch.tensor(float("nan") if empty == "skip" else 1.0, dtype=torch.float64)
    return torch.where(den > 0, num / den.clamp(min=1), undefined)


def dice_from_counts(tp: Tensor, fp: Tensor, fn: Tensor, *, empty: str = "skip") -> Tensor:
    """Dice_c = 2TP/(2TP + FP + FN) per class (float64); 0/0 by the `empty` policy."""
    return _ratio(2 * tp, 2 * tp + fp + fn, empty)


def iou_from_counts(tp: Tensor, fp: Tensor, fn: Tensor, *, empty: str = "skip") -> Tensor:
    """IoU_c = TP/(TP + FP + FN) per class (float64); 0/0 by the `empty` policy."""
    return _ratio(tp, tp + fp + fn, empty)


def mean_foreground(scores: Tensor, *, background: bool = False) -> float:
    """Mean of the defined (non-NaN) per-class scores, class 0 left out unless `background`; NaN if none."""
    s = scores if background else scores[1:]
    s = s[~torch.isnan(s)]
    return float(s.mean()) if s.numel() else float("nan")


def dice(pred: Tensor, target: Tensor, num_classes: int, *, empty: str = "skip", per_image: bool = False) -> Tensor:
    """Per-class Dice (K,) of maps (N, *spatial): from the total counts, or (per_image) the mean over images of
    each image's Dice, images where the class is undefined left out."""
    return _scores(dice_from_counts, pred, target, num_classes, empty, per_image)


def iou(pred: Tensor, target: Tensor, num_classes: int, *, empty: str = "skip", per_image: bool = False) -> Tensor:
    """Per-class IoU (K,), as `dice`."""
    return _scores(iou_from_counts, pred, target, num_classes, empty, per_image)


def _scores(score, pred: Tensor, target: Tensor, k: int, empty: str, per_image: bool) -> Tensor:
    if not per_image:
        return score(*counts(pred, target, k), empty=empty)
    rows = torch.stack([score(*counts(p, t, k), empty=empty) for p, t in zip(pred, target, strict=True)])
    return rows.nanmean(0)


def pixel_accuracy(pred: Tensor, target: Tensor) -> float:
    """Σ_c TP_c / #pixels: the fraction of pixels whose label is right."""
    if pred.shape != target.shape:
        raise ValueError(f"prediction {tuple(pred.shape)} and target {tuple(target.shape)} differ in shape")
    return float((pred == target).double().mean())
