"""Siamese embeddings (L2): one network f embeds both members of a pair (Bromley et al., 1993), trained so that
distances reflect classes. Pairs and triplets are formed inside each batch from the labels.

- `ranking` (contrastive, Hadsell, Chopra & LeCun, 2006, through margin ranking): with d = ‖f(x₁) − f(x₂)‖,
  similar pairs pay max(0, d) and dissimilar pairs max(0, m − d): margin_ranking(d, 0, y = −1 | +1, margin).
- `triplet` (Schroff et al., 2015): max(0, m + d(a, p) − d(a, n)), negatives drawn at random in the batch.
- `cosine`: 1 − cos(f(x₁), f(x₂)) for similar pairs, max(0, cos − m) for dissimilar ones.

Evaluation: 1-nearest-neighbour accuracy of the test embeddings (leave one out) and a class-separation
score = mean distance between classes / mean distance within classes (> 1: classes are apart), with
Euclidean distances, or cosine distances 1 − cos for the `cosine` loss.
"""

from __future__ import annotations

from collections.abc import Iterable

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from dlcanon import losses
from dlcanon.objectives.base import Batch, Objective
from dlcanon.registry import OBJECTIVES

LOSSES = ("ranking", "triplet", "cosine")


def _partners(y: Tensor, same: bool, g: torch.Generator | None = None) -> tuple[Tensor, Tensor]:
    """For each sample a random partner of the same (or another) class in the batch; returns (index, valid)."""
    match = (y[:, None] == y[None, :]) if same else (y[:, None] != y[None, :])
    if same:
        match.fill_diagonal_(False)
    scores = torch.rand(match.shape, generator=g, device=y.device) * match  # only matches score > 0
    return scores.argmax(1), match.any(1)


def pair_distances(z: Tensor, metric: str) -> Tensor:
    """All pairwise distances (N, N): Euclidean, or 1 − cos for `cosine`."""
    if metric == "cosine":
        u = F.normalize(z, dim=1)
        return 1 - u @ u.T
    return torch.cdist(z, z)


def separation(z: Tensor, y: Tensor, metric: str = "euclidean") -> tuple[float, float]:
    """(1-NN leave-one-out accuracy, mean between-class distance / mean within-class distance)."""
    d = pair_distances(z.double(), metric)
    same = y[:, None] == y[None, :]
    off = ~torch.eye(len(y), dtype=torch.bool, device=y.device)
    knn = y[(d + torch.diag(torch.full((len(y),), float("inf"), dtype=d.dtype, device=d.device))).argmin(1)]
    ratio = d[~same].mean() / d[same & off].mean().clamp_min(1e-12)
    return float((knn == y).double().mean()), float(ratio)


class Siamese(Objective):
    """Embedding objective on labelled batches: `loss` in ranking, triplet, cosine; `margin` m."""

    def __init__(self, network: nn.Module, *, loss: str = "ranking", margin: float | None = None) -> None:
        super().__init__()
        if loss not in LOSSES:
            raise ValueError(f"loss must be one of {', '.join(LOSSES)}; got {loss!r}")
        self.network, self.loss = network, loss
        self.margin = {"ranking": 2.0, "triplet": 1.0, "cosine": 0.0}[loss] if margin is None else margin

    def pair_loss(self, z: Tensor, y: Tensor, g: torch.Generator | None = None) -> Tensor:
        pos, has_pos = _partners(y, True, g)
        neg, has_neg = _partners(y, False, g)
        if self.loss == "triplet":
            ok = has_pos & has_neg
            return losses.triplet_margin(z[ok], z[pos[ok]], z[neg[ok]], margin=self.margin)
        a = torch.cat([z[has_pos], z[has_neg]])
        b = torch.cat([z[pos[has_pos]], z[neg[has_neg]]])
        sign = torch.cat([torch.ones(int(has_pos.sum())), -torch.ones(int(has_neg.sum()))]).to(z)
        if self.loss == "cosine":
            return losses.cosine_embedding(a, b, sign, margin=self.margin)
        d = ((a - b).pow(2).sum(1) + 1e-12).sqrt()  # ‖f(x₁) − f(x₂)‖, finite gradient at 0
        zero, sim = torch.zeros_like(d), sign > 0
        # similar (y = −1, margin 0): max(0, d); dissimilar (y = +1, margin m): max(0, m − d)
        pull = losses.margin_ranking(d[sim], zero[sim], -sign[sim], reduction="sum")
        push = losses.margin_ranking(d[~sim], zero[~sim], -sign[~sim], margin=self.margin, reduction="sum")
        return (pull + push) / len(d)

    def forward(self, batch: Batch, update: str = "model") -> tuple[Tensor, dict[str, Tensor]]:
        x, y = batch
        loss = self.pair_loss(self.network(x).float(), y)
        return loss, {"loss": loss.detach()}

    @torch.no_grad()
    def embed(self, x: Tensor) -> Tensor:
        return self.network(x).float()

    @torch.no_grad()
    def evaluate(self, batches: Iterable[Batch]) -> dict[str, float]:
        """Loss on one fixed pairing, 1-NN accuracy and class separation over the whole split."""
        xs, ys = zip(*batches, strict=True)
        z, y = self.embed(torch.cat(xs)), torch.cat(ys)
        knn, ratio = separation(z, y, "cosine" if self.loss == "cosine" else "euclidean")
        g = torch.Generator(device=z.device).manual_seed(0)
        return {"loss": float(self.pair_loss(z, y, g)), "knn_accuracy": knn, "separation": ratio}


@OBJECTIVES.register("siamese", tags=("L2",))
def build_siamese(network: nn.Module, **kwargs) -> Siamese:
    """Siamese embedding: ranking (contrastive), triplet or cosine-embedding loss on in-batch pairs."""
    return Siamese(network, **kwargs)
