"""Classification with auxiliary heads (GoogLeNet's deep supervision, Szegedy et al., 2015, §5)."""

from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor, nn

from dlcanon.objectives.base import Batch
from dlcanon.objectives.classifier import Classifier
from dlcanon.registry import OBJECTIVES


class AuxiliaryClassifier(Classifier):
    """L = CE(f(x), y) + w · Σ_i CE(a_i(x), y), w = 0.3 (the paper's "discount weight").

    The network returns (logits, aux_1, …) in training mode and plain logits in eval mode (GoogLeNet with
    `aux=True`); a network that always returns plain logits trains exactly as under `Classifier`.
    Evaluation and prediction use the main head only (the paper discards the auxiliary heads at inference).
    """

    def __init__(self, network: nn.Module, *, aux_weight: float = 0.3, label_smoothing: float = 0.0) -> None:
        super().__init__(network, label_smoothing=label_smoothing)
        if aux_weight < 0:
            raise ValueError(f"aux_weight must be >= 0; got {aux_weight}")
        self.aux_weight = aux_weight

    def forward(self, batch: Batch, update: str = "model") -> tuple[Tensor, dict[str, Tensor]]:
        x, y = batch
        out = self.network(x)
        logits, *aux = out if isinstance(out, tuple) else (out,)
        ce = [F.cross_entropy(o.float(), y, label_smoothing=self.label_smoothing) for o in (logits, *aux)]
        loss = ce[0] + self.aux_weight * sum(ce[1:])
        logs = {"loss": loss.detach(), "accuracy": (logits.argmax(1) == y).float().mean().detach()}
        if aux:
            logs["main_loss"] = ce[0].detach()
        return loss, logs


@OBJECTIVES.register("classifier_aux", tags=("C4",))
def build_classifier_aux(network: nn.Module, **kwargs) -> AuxiliaryClassifier:
    """Cross-entropy of the main head plus 0.3 × that of each auxiliary head (GoogLeNet); metrics as classifier."""
    return AuxiliaryClassifier(network, **kwargs)
