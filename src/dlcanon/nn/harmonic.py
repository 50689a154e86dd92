"""Harmonic Networks (Worrall, Garbin, Turmukhambetov & Brostow, CVPR 2017): rotation-equivariant layers (F7).

A filter of rotation order m is a circular harmonic W_m(r, φ) = R(r)·e^{i(mφ + β)}: rotating it by θ only
multiplies it by e^{imθ}. Cross-correlating a feature map of order n with it gives a map of order n + m:
rotating the input by θ rotates the output map and multiplies it by e^{i(n+m)θ}, so magnitudes |z| are
rotation-equivariant maps and their global averages rotation-invariant features. Each layer keeps a fixed set
of output orders (default {0, 1}) and sums every path n → n + m that lands on one ("rotation orders summed
along paths"). R(r) is learned as weights on Gaussian rings r = 0, 1, …, K//2 (σ = 0.5 px), β per path and
channel pair; for m ≠ 0 the centre tap is zero (e^{imφ} is undefined there). Nonlinearity and batch norm
act on magnitudes only and keep the phase: z ↦ ReLU(BN(|z|))·z/|z|.

Features are real tensors of shape (N, O, 2, C, H, W): O rotation orders, (real, imaginary), C channels.
On the pixel grid a 90° rotation maps every tap to a tap at equal radius, so equivariance to rot90 is exact
up to float rounding; other angles are exact only up to the filters' and images' resampling.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

CURRICULUM = ("F7",)


def polar_grid(kernel_size: int) -> tuple[Tensor, Tensor]:
    """r, φ (K, K) of each tap from the kernel centre; rows are y (down), columns x."""
    c = (kernel_size - 1) / 2
    y, x = torch.meshgrid(torch.arange(kernel_size) - c, torch.arange(kernel_size) - c, indexing="ij")
    return torch.sqrt(x**2 + y**2), torch.atan2(y, x)


class HConv2d(nn.Module):
    """Complex circular-harmonic cross-correlation from orders `in_orders` to orders `out_orders` (|m| ≤ max_m).

    Output order p sums Σ_n X_n ⋆ W_{p−n}; every path (n, p) with |p − n| ≤ max_m has its own radial
    profile (C_out, C_in, rings) and phase β (C_out, C_in). Zero padding K//2 keeps the spatial size.
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int = 5,
        *,
        in_orders: int = 1,
        out_orders: int = 2,
        max_m: int = 1,
        sigma: float = 0.5,
    ) -> None:
        super().__init__()
        self.cin, self.cout, self.k = in_channels, out_channels, kernel_size
        self.in_orders, self.out_orders = in_orders, out_orders
        self.paths = [(n, p) for p in range(out_orders) for n in range(in_orders) if abs(p - n) <= max_m]
        r, phi = polar_grid(kernel_size)
        rings = torch.arange(kernel_size // 2 + 1, dtype=torch.float32)
        basis = torch.exp(-((r[None] - rings[:, None, None]) ** 2) / (2 * sigma**2))  # (J, K, K)
        self.register_buffer("basis", basis)
        self.register_buffer("phi", phi)
        self.register_buffer("centre", (r > 0).float())
        fan_in = in_channels * kernel_size**2 * len(self.paths) / out_orders
        std = math.sqrt(2.0 / fan_in) / basis.sum((1, 2)).mean().sqrt()  # He-like scale per ring weight
        self.radial = nn.Parameter(torch.randn(len(self.paths), out_channels, in_channels, len(rings)) * std)
        self.phase = nn.Parameter(torch.rand(len(self.paths), out_channels, in_channels) * 2 * math.pi)

    def filters(self) -> tuple[Tensor, Tensor]:
        """Real and imaginary parts of every path's filters, each (paths, C_out, C_in, K, K)."""
        profile = torch.einsum("aoij,jxy->aoixy", self.radial, self.basis)
        m = torch.tensor([p - n for n, p in self.paths], dtype=torch.float32, device=profile.device)
        angle = m[:, None, None, None, None] * self.phi + self.phase[..., None, None]
        mask = torch.where(m[:, None, None] == 0, torch.ones_like(self.centre), self.centre)  # (paths, K, K)
        profile = profile * mask[:, None, None]
        return profile * torch.cos(angle), profile * torch.sin(angle)

    def weight(self) -> Tensor:
        """The real block kernel (O_out·2·C_out, O_in·2·C_in, K, K): (a + ib)(w + iv) = (aw − bv) + i(av + bw)."""
        wr, wi = self.filters()
        big = wr.new_zeros(self.out_orders, 2, self.cout, self.in_orders, 2, self.cin, self.k, self.k)
        for a, (n, p) in enumerate(self.paths):
            big[p, 0, :, n, 0] += wr[a]
            big[p, 0, :, n, 1] -= wi[a]
            big[p, 1, :, n, 0] += wi[a]
            big[p, 1, :, n, 1] += wr[a]
        return big.reshape(self.out_orders * 2 * self.cout, self.in_orders * 2 * self.cin, self.k, self.k)

    def forward(self, z: Tensor) -> Tensor:  # (N, O_in, 2, C_in, H, W) -> (N, O_out, 2, C_out, H, W)
        n, _, _, _, h, w = z.shape
        y = F.conv2d(z.reshape(n, -1, h, w), self.weight(), padding=self.k // 2)
        return y.reshape(n, self.out_orders, 2, self.cout, h, w)


def as_harmonic(x: Tensor) -> Tensor:
    """A real image (N, C, H, W) as an order-0 feature map (N, 1, 2, C, H, W) with zero imaginary part."""
    return torch.stack([x, torch.zeros_like(x)], 1)[:, None]


def magnitude(z: Tensor, eps: float = 1e-6) -> Tensor:
    """|z| (N, O, C, H, W) of harmonic features (N, O, 2, C, H, W); eps keeps the gradient finite at 0."""
    return torch.sqrt(z[:, :, 0] ** 2 + z[:, :, 1] ** 2 + eps)


class HBatchNormReLU(nn.Module):
    """z ↦ ReLU(BN(|z|))·z/|z|: batch norm and ReLU on magnitudes (one BN channel per order and channel)."""

    def __init__(self, channels: int, orders: int = 2) -> None:
        super().__init__()
        self.bn = nn.BatchNorm2d(orders * channels)

    def forward(self, z: Tensor) -> Tensor:  # (N, O, 2, C, H, W) -> same
        n, o, _, c, h, w = z.shape
        mag = magnitude(z)
        scaled = F.relu(self.bn(mag.reshape(n, o * c, h, w))).reshape(n, o, c, h, w)
        return z * (scaled / mag)[:, :, None]


def harmonic_pool(z: Tensor, size: int = 2) -> Tensor:
    """Average pooling of real and imaginary parts (complex-linear, so orders are kept)."""
    n, o, t, c, h, w = z.shape
    y = F.avg_pool2d(z.reshape(n, o * t * c, h, w), size)
    return y.reshape(n, o, t, c, *y.shape[-2:])
