"""Squeeze-and-Excitation (C7): re-weight channels by a gate computed from their global averages.

J. Hu, L. Shen, S. Albanie, G. Sun, E. Wu, "Squeeze-and-Excitation Networks", CVPR 2018 / TPAMI 2020:

    squeeze   z_c = (1 / HW) Σ_{i,j} x_c(i, j)              z ∈ R^C               (eq. 2)
    excite    s = σ(W₂ δ(W₁ z + b₁) + b₂)                   W₁ ∈ R^{C/r × C}, W₂ ∈ R^{C × C/r}   (eq. 3)
    scale     y_c = s_c · x_c                                                     (eq. 4)

δ is ReLU and σ the logistic sigmoid. The notes call this "SqueezeNet"; SqueezeNet (Iandola et al., 2016)
is a different network (fire modules), and what the notes describe — squeeze by global average pooling,
a small fully connected "descriptor", excite by channel scaling — is this block. The paper's formula has
no biases; its released models (and torchvision's block) have them, adding C/r + C parameters per block:
2C²/r + C/r + C in all, which is what gives SE-ResNet-50 its 28.09 M.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from dlcanon.nn.activations import activation as make_activation

__all__ = ["SqueezeExcitation"]

# the curriculum IDs this module implements (read by the report's coverage page)
CURRICULUM = ("C7",)


class SqueezeExcitation(nn.Module):
    """(N, C, H, W) → (N, C, H, W): x ⊙ σ(W₂ δ(W₁ GAP(x))), hidden width max(1, C // reduction).

    Usable after any block of any backbone (in SE-ResNet it ends the residual branch, before the addition).
    """

    def __init__(self, channels: int, reduction: int = 16, *, activation: str = "relu") -> None:
        super().__init__()
        if reduction < 1 or channels < 1:
            raise ValueError(f"channels and reduction must be >= 1, got {channels} and {reduction}")
        hidden = max(1, channels // reduction)
        self.fc1 = nn.Linear(channels, hidden)  # W₁, b₁
        self.act = make_activation(activation)  # δ
        self.fc2 = nn.Linear(hidden, channels)  # W₂, b₂

    def forward(self, x: Tensor) -> Tensor:
        z = x.mean(dim=(2, 3))  # squeeze: (N, C)
        s = torch.sigmoid(self.fc2(self.act(self.fc1(z))))  # excitation: (N, C) in (0, 1)
        return x * s[:, :, None, None]  # scale each channel
