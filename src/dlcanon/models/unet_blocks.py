"""Blocks shared by the encoder–decoder segmenters (U-Net, 3D U-Net, UNet++; later a diffusion U-Net).

Everything takes `dims` (2: images (N, C, H, W), 3: volumes (N, C, D, H, W)) so one block serves both.
Sizes per axis: a valid 3×3 convolution gives n − 2, a padded one n; a 2×2 max-pool ⌊n/2⌋; a 2×2
up-convolution (transposed, stride 2) 2n.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor, nn

NORMS = ("none", "batch", "batch_plain")  # batch_plain: BatchNorm without learnable affine (Caffe's BatchNorm)


def conv(dims: int) -> type[nn.Conv2d] | type[nn.Conv3d]:
    return {2: nn.Conv2d, 3: nn.Conv3d}[dims]


def up_conv(in_channels: int, out_channels: int, *, dims: int = 2) -> nn.Module:
    """The 2×2(×2) up-convolution, stride 2: (N, C_in, *s) → (N, C_out, *2s); C_in·C_out·2^dims + C_out parameters."""
    return {2: nn.ConvTranspose2d, 3: nn.ConvTranspose3d}[dims](in_channels, out_channels, 2, stride=2)


def max_pool(dims: int) -> nn.Module:
    """2×2(×2) max-pool, stride 2."""
    return {2: nn.MaxPool2d, 3: nn.MaxPool3d}[dims](2)


def norm_layer(norm: str, channels: int, *, dims: int) -> nn.Module:
    if norm not in NORMS:
        raise ValueError(f"norm must be one of {', '.join(NORMS)}; got {norm!r}")
    batch = {2: nn.BatchNorm2d, 3: nn.BatchNorm3d}[dims]
    return nn.Identity() if norm == "none" else batch(channels, affine=norm == "batch")


class DoubleConv(nn.Sequential):
    """[3×3 conv → norm → ReLU (→ dropout)] × 2: C_in → C_mid → C_out.

    padding 0 ("valid", Ronneberger 2015: each conv trims one pixel per side) or 1 ("same"). The convolutions
    carry a bias unless followed by an affine BatchNorm (whose β replaces it).
    """

    def __init__(
        self,
        in_channels: int,
        mid_channels: int,
        out_channels: int,
        *,
        dims: int = 2,
        padding: int = 0,
        norm: str = "none",
        dropout: float = 0.0,
    ) -> None:
        layers: list[nn.Module] = []
        for c_in, c_out in ((in_channels, mid_channels), (mid_channels, out_channels)):
            layers += [
                conv(dims)(c_in, c_out, 3, padding=padding, bias=norm != "batch"),
                norm_layer(norm, c_out, dims=dims),
                nn.ReLU(inplace=True),
            ]
            if dropout:
                layers.append(nn.Dropout(dropout))
        super().__init__(*layers)


def center_crop(x: Tensor, shape: Sequence[int]) -> Tensor:
    """The centre (*shape) of x's spatial axes (Ronneberger's "cropping ... due to the loss of border pixels")."""
    index = [slice(None), slice(None)]
    for n, m in zip(x.shape[2:], shape, strict=True):
        if m > n:
            raise ValueError(f"cannot crop spatial size {tuple(x.shape[2:])} to {tuple(shape)}")
        start = (n - m) // 2
        index.append(slice(start, start + m))
    return x[tuple(index)]


def crop_and_concat(skip: Tensor, up: Tensor) -> Tensor:
    """cat([crop(skip), up], channels): the encoder's map cropped to the up-sampled map's size."""
    return torch.cat([center_crop(skip, up.shape[2:]), up], 1)


def positive_ints(name: str, values: Sequence[int]) -> tuple[int, ...]:
    """values as a tuple of positive ints, else ValueError (a builder's refusal, a UserError at the root)."""
    out = tuple(values)
    if not out or any(not isinstance(v, int) or v < 1 for v in out):
        raise ValueError(f"{name} must be positive integers; got {values!r}")
    return out
