"""Recognisability of image samples: how often the shipped metric classifier names a sample with confidence.

With the classifier's class probabilities p(c | x) = softmax(f(x))_c,

    recognisable = (1/N) Σ_i 1[max_c p(c | x_i) ≥ τ],   τ = 0.9 by default,

the share of samples it assigns to one class with probability at least τ. Real test digits score close to 1
(the same share for them is reported beside every generator's); noise, blobs and strokes spread their
probability over several classes and score near 0. The Fréchet distance measures how the whole feature
distribution sits; this measures what a reader sees one sample at a time: is it a digit?

A generator that draws one clear digit over and over scores high on it, so `confident_classes` (how many
classes receive at least `min_share` of the confident samples) and recall stay beside it.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

THRESHOLD = 0.9


def confidence(logits: Tensor) -> tuple[Tensor, Tensor]:
    """(max_c p(c | x), argmax_c) of logits (N, C): the classifier's confidence and label per sample (N,)."""
    return torch.softmax(logits.double(), dim=1).max(1)


def recognisable_share(logits: Tensor, *, threshold: float = THRESHOLD) -> float:
    """(1/N) Σ_i 1[max_c softmax(logits_i)_c ≥ τ] for logits (N, C)."""
    if not 0 < threshold <= 1:
        raise ValueError(f"the confidence threshold is a probability in (0, 1]; got {threshold}")
    return float((confidence(logits)[0] >= threshold).double().mean())


def confident_classes(logits: Tensor, *, threshold: float = THRESHOLD, min_share: float = 0.02) -> int:
    """How many classes hold at least `min_share` of the samples named with confidence ≥ τ (0 when none is)."""
    p, label = confidence(logits)
    confident = label[p >= threshold]
    if not len(confident):
        return 0
    counts = torch.bincount(confident, minlength=logits.shape[1]).double()
    return int(((counts > 0) & (counts / len(confident) >= min_share)).sum())


@torch.no_grad()
def recognisability(
    images: Tensor, classifier: nn.Module, *, threshold: float = THRESHOLD, batch: int = 1000
) -> dict[str, float]:
    """`recognisable` (share) and `confident_classes` of images (N, C, H, W) in [0, 1] under
    `classifier` (images → logits (N, classes)), on the CPU in batches of `batch`."""
    logits = torch.cat([classifier(x.float().cpu()) for x in images.split(batch)])
    return {
        "recognisable": recognisable_share(logits, threshold=threshold),
        "confident_classes": confident_classes(logits, threshold=threshold),
    }
