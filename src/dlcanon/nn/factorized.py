"""Factorized and spatially separable convolutions (F10): fewer weights for the same receptive field.

Factorized (Simonyan & Zisserman, 2015, §2.3; Szegedy et al., "Rethinking the Inception Architecture",
CVPR 2016, §3.1): a k×k convolution is replaced by (k − 1)/2 stacked 3×3 convolutions with a nonlinearity
between them. Two 3×3 see a 5×5 window (r = 1 + 2 + 2) with 2·9·C² weights instead of 25·C² (28 % fewer),
and the nonlinearity between them makes the pair more expressive than one linear 5×5 map, not less.

Spatially separable (Szegedy et al. 2016, §3.2, "asymmetric"): a k×1 convolution then a 1×k one, k·C² + k·C²
weights (10·C² for k = 5). Without a nonlinearity between them the pair *is* a k×k convolution whose kernel
K[o, i] = Σ_m v[o, m] ⊗ h[m, i] has rank at most C_mid (rank one per channel pair when C = 1), hence the notes'
"lossy": a general 5×5 kernel is not of that form. (Not the depthwise-separable convolution of MobileNet.)

Weights counted for C_in = C_mid = C_out = C and no biases; the layers have biases by default.
"""

from __future__ import annotations

from torch import nn

from dlcanon.nn.activations import activation as make_activation

__all__ = ["FactorizedConv2d", "SeparableConv2d"]

# the curriculum IDs this module implements (read by the report's coverage page)
CURRICULUM = ("F10",)


def _odd(kernel_size: int, least: int) -> None:
    if kernel_size < least or kernel_size % 2 == 0:
        raise ValueError(f"kernel_size must be odd and >= {least}, got {kernel_size}")


class FactorizedConv2d(nn.Sequential):
    """A k×k convolution as (k − 1)/2 stacked 3×3 convolutions (padding 1) with `activation` between them.

    (N, C_in, H, W) → (N, C_out, H, W) with padding (k − 1)/2 equivalent ('same' size, stride 1). The
    intermediate layers have C_out channels; `batchnorm` puts a BatchNorm before each inner nonlinearity.
    Nothing follows the last 3×3: the caller adds its own normalisation and nonlinearity, as after a k×k.
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int = 5,
        *,
        activation: str = "relu",
        batchnorm: bool = False,
        bias: bool = True,
    ) -> None:
        _odd(kernel_size, 3)
        layers: list[nn.Module] = []
        c = in_channels
        for _ in range((kernel_size - 1) // 2 - 1):
            layers.append(nn.Conv2d(c, out_channels, 3, padding=1, bias=bias))
            if batchnorm:
                layers.append(nn.BatchNorm2d(out_channels))
            layers.append(make_activation(activation))
            c = out_channels
        layers.append(nn.Conv2d(c, out_channels, 3, padding=1, bias=bias))
        super().__init__(*layers)


class SeparableConv2d(nn.Sequential):
    """A k×k convolution as a k×1 convolution (C_in → C_out) then a 1×k one (C_out → C_out).

    (N, C_in, H, W) → (N, C_out, H, W), 'same' padding. `activation=None` (the default) keeps the pair
    linear, a rank-limited k×k convolution; a name puts that nonlinearity between the two.
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int = 5,
        *,
        activation: str | None = None,
        bias: bool = True,
    ) -> None:
        _odd(kernel_size, 1)
        p = (kernel_size - 1) // 2
        layers: list[nn.Module] = [nn.Conv2d(in_channels, out_channels, (kernel_size, 1), padding=(p, 0), bias=bias)]
        if activation is not None:
            layers.append(make_activation(activation))
        layers.append(nn.Conv2d(out_channels, out_channels, (1, kernel_size), padding=(0, p), bias=bias))
        super().__init__(*layers)
