"""Supervised regression: mean squared error; reports RMSE and the sup-norm error."""

from __future__ import annotations

from collections.abc import Iterable

import torch
from torch import Tensor, nn

import dlcanon.losses  # noqa: F401  (registers LOSSES)
from dlcanon.objectives.base import Batch, Objective
from dlcanon.registry import LOSSES, OBJECTIVES


class Regressor(Objective):
    """L = (1/N) Σ_n ℓ(f(x_n), y_n) with ℓ a regression loss of L1 by name (l2 by default)."""

    def __init__(self, network: nn.Module, *, loss: str = "l2") -> None:
        super().__init__()
        self.network = network
        self.loss_name = loss
        self.loss_fn = LOSSES.build(loss)

    def forward(self, batch: Batch, update: str = "model") -> tuple[Tensor, dict[str, Tensor]]:
        x, y = batch
        pred = self.network(x).reshape(y.shape)
        loss = self.loss_fn(pred.float(), y.float())
        return loss, {"loss": loss.detach()}

    @torch.no_grad()
    def evaluate(self, batches: Iterable[Batch]) -> dict[str, float]:
        """mse, rmse and sup_error = max_n |f(x_n) − y_n| over the split."""
        sq = torch.zeros((), dtype=torch.float64)
        sup = torch.zeros((), dtype=torch.float64)
        total = 0
        for x, y in batches:
            err = (self.network(x).reshape(y.shape).double() - y.double()).cpu()
            sq += err.pow(2).sum()
            sup = torch.maximum(sup, err.abs().max())
            total += err.numel()
        mse = float(sq) / total
        return {"mse": mse, "rmse": mse**0.5, "sup_error": float(sup)}


@OBJECTIVES.register("regressor", tags=("L1",))
def build_regressor(network: nn.Module, **kwargs) -> Regressor:
    """Regression with a named loss (l2, l1, smooth_l1); metrics mse, rmse, sup_error."""
    return Regressor(network, **kwargs)
