"""Vector fields f(t, z) of continuous normalizing flows (FFJORD; Grathwohl et al., 2019, arXiv:1810.01367).

Points: a stack of ConcatSquash layers, FFJORD's time-conditioned linear layer
h' = (W h + b) ⊙ σ(a t + c) + d t, with tanh between them (smooth activations keep the ODE non-stiff).
Images: 3×3 convolutions on [h, t] (the time as a constant extra channel), softplus between them; the last
layer's output has the image's channels.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence

import torch
from torch import Tensor, nn

from dlcanon.errors import UserError
from dlcanon.models.unet_blocks import positive_ints
from dlcanon.registry import MODELS


class ConcatSquashLinear(nn.Module):
    """(W h + b) ⊙ sigmoid(a t + c) + d t: (N, D_in), scalar t → (N, D_out)."""

    def __init__(self, in_features: int, out_features: int) -> None:
        super().__init__()
        self.linear = nn.Linear(in_features, out_features)
        self.gate = nn.Linear(1, out_features)
        self.bias = nn.Linear(1, out_features, bias=False)

    def forward(self, t: Tensor, h: Tensor) -> Tensor:
        tt = t.reshape(1, 1).to(h.dtype)
        return self.linear(h) * torch.sigmoid(self.gate(tt)) + self.bias(tt)


class PointField(nn.Module):
    """f(t, z) for points (N, D): ConcatSquash layers of widths `hidden` with tanh, then one to D."""

    def __init__(self, shape: tuple[int, ...], *, hidden: Sequence[int] = (64, 64, 64)) -> None:
        super().__init__()
        self.shape, self.image = tuple(shape), False
        widths = [shape[0], *hidden, shape[0]]
        self.layers = nn.ModuleList(ConcatSquashLinear(a, b) for a, b in itertools.pairwise(widths))

    def forward(self, t: Tensor, z: Tensor) -> Tensor:  # scalar, (N, D) → (N, D)
        h = z
        for i, layer in enumerate(self.layers):
            h = layer(t, h)
            if i < len(self.layers) - 1:
                h = torch.tanh(h)
        return h


class ImageField(nn.Module):
    """f(t, z) for images (N, C, H, W): 3×3 convolutions of [h, t] with softplus, widths `channels`, then to C."""

    def __init__(self, shape: tuple[int, ...], *, channels: Sequence[int] = (32, 32)) -> None:
        super().__init__()
        self.shape, self.image = tuple(shape), True
        widths = [shape[0], *channels, shape[0]]
        self.convs = nn.ModuleList(nn.Conv2d(a + 1, b, 3, padding=1) for a, b in itertools.pairwise(widths))

    def forward(self, t: Tensor, z: Tensor) -> Tensor:  # scalar, (N, C, H, W) → (N, C, H, W)
        h = z
        for i, conv in enumerate(self.convs):
            tt = t.to(h.dtype).expand(h.shape[0], 1, *h.shape[2:])
            h = conv(torch.cat([h, tt], 1))
            if i < len(self.convs) - 1:
                h = nn.functional.softplus(h)
        return h


@MODELS.register("ffjord", tags=("G14",), objective="ffjord", data="moons")
def build_ffjord(
    input_shape: tuple[int, ...],
    num_classes: int | None,
    *,
    hidden: Sequence[int] = (64, 64, 64),
    channels: Sequence[int] = (32, 32),
) -> nn.Module:
    """The CNF's vector field f(t, z): ConcatSquash MLP for points (D,), time-concatenated convs for images."""
    if len(input_shape) == 1:
        return PointField(input_shape, hidden=positive_ints("hidden", hidden))
    if len(input_shape) == 3:
        return ImageField(input_shape, channels=positive_ints("channels", channels))
    raise UserError(f"ffjord takes images (C, H, W) or points (D,); got shape {input_shape}")
