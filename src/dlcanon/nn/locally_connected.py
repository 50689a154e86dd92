"""Locally connected 2-D layer: a convolution's locality without its weight sharing (F6).

y[n, o, p] = b[o, p] + Σ_{c, u} W[p, o, c, u] · x[n, c, p·S + u − P]: every output position p has its own
K×K×C_in filter, so the layer has L·C_out·C_in·K² + C_out·L parameters (L = H'·W' output positions)
where a convolution has C_out·C_in·K² + C_out and a fully connected layer (C_in·H·W)·(C_out·L) + C_out·L.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from dlcanon.nn.conv_arith import conv_output_size

CURRICULUM = ("F6",)


class LocallyConnected2d(nn.Module):
    """Unshared weights per output position; same output shape as `nn.Conv2d` with these arguments."""

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        input_size: tuple[int, int],
        kernel_size: int,
        *,
        stride: int = 1,
        padding: int = 0,
        bias: bool = True,
    ) -> None:
        super().__init__()
        self.kernel_size, self.stride, self.padding = kernel_size, stride, padding
        self.output_size = tuple(conv_output_size(s, kernel_size, padding=padding, stride=stride) for s in input_size)
        positions = math.prod(self.output_size)
        fan_in = in_channels * kernel_size**2
        bound = 1 / math.sqrt(fan_in)  # the default bound of nn.Conv2d, per position
        self.weight = nn.Parameter(torch.empty(positions, out_channels, fan_in).uniform_(-bound, bound))
        self.bias = nn.Parameter(torch.empty(out_channels, *self.output_size).uniform_(-bound, bound)) if bias else None

    def forward(self, x: Tensor) -> Tensor:  # (N, C_in, H, W) -> (N, C_out, H', W')
        cols = F.unfold(x, self.kernel_size, padding=self.padding, stride=self.stride)  # (N, C_in·K², L)
        y = torch.einsum("ncl,loc->nol", cols, self.weight)  # (N, C_out, L)
        y = y.reshape(x.shape[0], -1, *self.output_size)
        return y if self.bias is None else y + self.bias

    def extra_repr(self) -> str:
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}, out={self.output_size}"


def parameter_counts(in_channels: int, out_channels: int, size: int, kernel_size: int, padding: int = 0) -> dict:
    """Parameters of a fully connected, a locally connected and a convolutional layer with the same maps."""
    out = conv_output_size(size, kernel_size, padding=padding)
    positions, taps = out * out, in_channels * kernel_size**2
    return {
        "fully connected": in_channels * size * size * out_channels * positions + out_channels * positions,
        "locally connected": positions * out_channels * taps + out_channels * positions,
        "convolution (shared)": out_channels * taps + out_channels,
    }
