"""Time-conditioned denoisers ε_θ(x_t, t) for diffusion models (G14): a small U-Net for images and an MLP for
points, both fed a sinusoidal embedding of the (possibly fractional) step t.

Sinusoidal embedding (Vaswani et al., 2017, as used by Ho et al., 2020, arXiv:2006.11239):
emb(t)_i = sin(t·ω_i), emb(t)_{d/2+i} = cos(t·ω_i), ω_i = 10000^(−i/(d/2 − 1)); then Linear → SiLU → Linear.

The U-Net (Ho et al.'s architecture, shrunk): per level a residual block [GroupNorm → SiLU → 3×3 conv, + a
projection of the time embedding, GroupNorm → SiLU → 3×3 conv] plus a 1×1 skip, 2×2 max-pool down and 2×2
up-convolution up (`unet_blocks.max_pool`, `unet_blocks.up_conv`, `unet_blocks.crop_and_concat`: padded
convolutions, so the crop is the identity); a zero-initialised 1×1 output convolution predicts ε. With
channels (32, 64, 64) it has ≈ 0.43M parameters on one channel and works on sides divisible by 4 (28×28, 8×8).
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence

import torch
from torch import Tensor, nn

from dlcanon.errors import UserError
from dlcanon.models.unet_blocks import conv, crop_and_concat, max_pool, positive_ints, up_conv
from dlcanon.registry import MODELS


def timestep_embedding(t: Tensor, dim: int) -> Tensor:
    """Sinusoidal features of steps t (N,) → (N, dim), dim even: [sin(tω), cos(tω)]."""
    half = dim // 2
    freqs = torch.exp(-math.log(10_000) * torch.arange(half, device=t.device, dtype=torch.float32) / max(half - 1, 1))
    args = t.float()[:, None] * freqs[None]
    return torch.cat([torch.sin(args), torch.cos(args)], 1)


class TimeEmbedding(nn.Module):
    """t (N,) → sinusoidal (N, dim) → Linear → SiLU → Linear (N, dim)."""

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.dim = dim
        self.mlp = nn.Sequential(nn.Linear(dim, dim), nn.SiLU(), nn.Linear(dim, dim))

    def forward(self, t: Tensor) -> Tensor:
        return self.mlp(timestep_embedding(t, self.dim))


def _groups(channels: int) -> int:
    return math.gcd(8, channels)


class TimeResBlock(nn.Module):
    """x + time → GN → SiLU → conv3 → (+ W·emb) → GN → SiLU → conv3, plus a 1×1 skip when C changes."""

    def __init__(self, in_channels: int, out_channels: int, time_dim: int) -> None:
        super().__init__()
        self.norm1, self.norm2 = (
            nn.GroupNorm(_groups(in_channels), in_channels),
            nn.GroupNorm(_groups(out_channels), out_channels),
        )
        self.conv1 = conv(2)(in_channels, out_channels, 3, padding=1)
        self.conv2 = conv(2)(out_channels, out_channels, 3, padding=1)
        self.time = nn.Linear(time_dim, out_channels)
        self.act = nn.SiLU()
        self.skip = nn.Identity() if in_channels == out_channels else conv(2)(in_channels, out_channels, 1)

    def forward(self, x: Tensor, emb: Tensor) -> Tensor:  # (N, C_in, H, W), (N, E) → (N, C_out, H, W)
        h = self.conv1(self.act(self.norm1(x))) + self.time(emb)[:, :, None, None]
        return self.skip(x) + self.conv2(self.act(self.norm2(h)))


class TimeUNet(nn.Module):
    """ε_θ(x, t) for images (N, C, H, W): encoder levels `channels`, one residual block each, and a mirror decoder."""

    def __init__(self, shape: tuple[int, ...], *, channels: Sequence[int] = (32, 64, 64), time_dim: int = 64) -> None:
        super().__init__()
        self.shape, self.image = tuple(shape), True
        c_in = shape[0]
        self.embed = TimeEmbedding(time_dim)
        self.stem = conv(2)(c_in, channels[0], 3, padding=1)
        self.down = nn.ModuleList()
        prev = channels[0]
        for c in channels:
            self.down.append(TimeResBlock(prev, c, time_dim))
            prev = c
        self.pool = max_pool(2)
        self.middle = TimeResBlock(prev, prev, time_dim)
        self.ups, self.up_blocks = nn.ModuleList(), nn.ModuleList()
        for skip in reversed(channels[:-1]):
            self.ups.append(up_conv(prev, skip, dims=2))
            self.up_blocks.append(TimeResBlock(2 * skip, skip, time_dim))
            prev = skip
        self.out = nn.Sequential(nn.GroupNorm(_groups(prev), prev), nn.SiLU(), conv(2)(prev, c_in, 1))
        nn.init.zeros_(self.out[-1].weight)
        nn.init.zeros_(self.out[-1].bias)

    def forward(self, x: Tensor, t: Tensor) -> Tensor:  # (N, C, H, W), (N,) → (N, C, H, W)
        emb = self.embed(t)
        h = self.stem(x)
        skips = []
        for i, block in enumerate(self.down):
            h = block(h if i == 0 else self.pool(h), emb)
            skips.append(h)
        h = self.middle(h, emb)
        for up, block, skip in zip(self.ups, self.up_blocks, reversed(skips[:-1]), strict=True):
            h = block(crop_and_concat(skip, up(h)), emb)
        return self.out(h)


class TimeMLP(nn.Module):
    """ε_θ(x, t) for points (N, D): [Linear → + W·emb(t) → SiLU] per hidden width, then Linear to D."""

    def __init__(self, shape: tuple[int, ...], *, hidden: Sequence[int] = (128, 128, 128), time_dim: int = 64) -> None:
        super().__init__()
        self.shape, self.image = tuple(shape), False
        self.embed = TimeEmbedding(time_dim)
        widths = [shape[0], *hidden]
        self.layers = nn.ModuleList(nn.Linear(a, b) for a, b in itertools.pairwise(widths))
        self.times = nn.ModuleList(nn.Linear(time_dim, b) for b in hidden)
        self.act = nn.SiLU()
        self.out = nn.Linear(widths[-1], shape[0])

    def forward(self, x: Tensor, t: Tensor) -> Tensor:  # (N, D), (N,) → (N, D)
        emb = self.embed(t)
        h = x
        for layer, time in zip(self.layers, self.times, strict=True):
            h = self.act(layer(h) + time(emb))
        return self.out(h)


@MODELS.register("ddpm", tags=("G14",), objective="ddpm", data="mnist5k")
def build_ddpm(
    input_shape: tuple[int, ...],
    num_classes: int | None,
    *,
    channels: Sequence[int] = (32, 64, 64),
    hidden: Sequence[int] = (128, 128, 128),
    time_dim: int = 64,
) -> nn.Module:
    """Denoiser ε_θ(x_t, t): a time-conditioned U-Net for images (C, H, W), an MLP for points (D,)."""
    if not isinstance(time_dim, int) or time_dim < 2 or time_dim % 2:
        raise ValueError(f"time_dim must be an even integer ≥ 2; got {time_dim!r}")
    if len(input_shape) == 3:
        channels = positive_ints("channels", channels)
        factor = 2 ** (len(channels) - 1)
        if input_shape[1] % factor or input_shape[2] % factor:
            raise UserError(f"ddpm with {len(channels)} levels needs sides divisible by {factor}; got {input_shape}")
        return TimeUNet(input_shape, channels=channels, time_dim=time_dim)
    if len(input_shape) == 1:
        return TimeMLP(input_shape, hidden=positive_ints("hidden", hidden), time_dim=time_dim)
    raise UserError(f"ddpm takes images (C, H, W) or points (D,); got shape {input_shape}")
