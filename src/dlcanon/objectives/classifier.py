"""Supervised classification: cross-entropy with optional label smoothing; accuracy."""

from __future__ import annotations

from collections.abc import Iterable

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from dlcanon.objectives.base import Batch, Objective
from dlcanon.registry import OBJECTIVES


class Classifier(Objective):
    """L = −(1/N) Σ_n Σ_c q_{n,c} log softmax(f(x_n))_c with q = (1 − ε)·onehot(y) + ε/C (Szegedy et al., 2016)."""

    def __init__(self, network: nn.Module, *, label_smoothing: float = 0.0) -> None:
        super().__init__()
        if not 0.0 <= label_smoothing < 1.0:
            raise ValueError(f"label_smoothing must be in [0, 1); got {label_smoothing}")
        self.network = network
        self.label_smoothing = label_smoothing

    def forward(self, batch: Batch, update: str = "model") -> tuple[Tensor, dict[str, Tensor]]:
        x, y = batch
        logits = self.network(x)  # (N, C)
        loss = F.cross_entropy(logits.float(), y, label_smoothing=self.label_smoothing)
        accuracy = (logits.argmax(1) == y).float().mean()
        return loss, {"loss": loss.detach(), "accuracy": accuracy.detach()}

    @torch.no_grad()
    def evaluate(self, batches: Iterable[Batch]) -> dict[str, float]:
        """Mean cross-entropy (without smoothing) and accuracy, summed over every sample of the split."""
        total_loss = torch.zeros((), dtype=torch.float64)
        correct = total = 0
        for x, y in batches:
            logits = self.network(x).float()
            total_loss += F.cross_entropy(logits, y, reduction="sum").double().cpu()
            correct += int((logits.argmax(1) == y).sum())
            total += y.numel()
        return {"loss": float(total_loss) / total, "accuracy": correct / total}

    @torch.no_grad()
    def predict(self, x: Tensor) -> Tensor:
        return self.network(x).argmax(1)


@OBJECTIVES.register("classifier", tags=("L1",))
def build_classifier(network: nn.Module, **kwargs) -> Classifier:
    """Cross-entropy classifier (label_smoothing option); metrics loss and accuracy."""
    return Classifier(network, **kwargs)
