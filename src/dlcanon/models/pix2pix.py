"""pix2pix (Isola, Zhu, Zhou & Efros, "Image-to-image translation with conditional adversarial networks",
CVPR 2017, arXiv:1611.07004): a U-Net generator and a conditional discriminator on the pair (a, b) (S5).

Generator (the paper's appendix 6.1.1; Ck = 4×4 convolution, stride 2, k filters, BatchNorm, (Leaky)ReLU;
CDk adds dropout 0.5): encoder C64-C128-C256-C512-C512-C512-C512-C512 (LeakyReLU 0.2, no BatchNorm on the first
nor on the innermost), decoder of transposed 4×4 stride-2 convolutions (ReLU, BatchNorm, dropout 0.5 on the
three innermost ones) with each encoder level i concatenated to decoder level i (the U-Net skips), ending in a
transposed convolution to the output channels and tanh. Every encoder convolution and every decoder one
followed by BatchNorm carries no bias (the convention of the authors' code: 54,413,955 parameters at 3 → 3). At
256×256 that is depth 8 (256 → 1); the depth here is d = ⌈log₂ min(H, W)⌉ capped at 8, the input reflect-padded
to a multiple of 2^d and the output cropped back, so 28×28 or 32×32 images work (the paper's unet_256 fails
below 256×256). Channels at level i: ngf·min(2^i, 8).

Discriminators on the channel concatenation [a, b] (the conditional GAN sees the input with the output):
- `patch` (the 70×70 PatchGAN, `patch_layers` = 3): C64 (no BatchNorm)-C128-C256, then a stride-1 4×4 C512
  and a stride-1 4×4 convolution to one logit per patch; receptive field 70×70 (30×30 logits at 256×256).
  `patch_layers` = 1 is the paper's 16×16 PatchGAN (C64-C128 stride 1-conv), 2 gives 34×34.
- `pixel` (the 1×1 PixelGAN): 1×1 convolutions 64 → 128 (BatchNorm) → 1: each pixel judged alone.
- `image` (whole image): stride-2 C-layers until the map is at most 4×4, then one convolution covering the
  whole map: one logit per image, the receptive field the whole input.
"""

from __future__ import annotations

import math
from typing import ClassVar

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from dlcanon.registry import MODELS

DISCRIMINATORS = ("patch", "pixel", "image")


class UNetLevel(nn.Module):
    """One level of the U-Net: down (conv 4×4/2), the inner levels, up (transposed conv 4×4/2), skip concat."""

    def __init__(self, outer: int, inner: int, *, sub: nn.Module | None, outermost: bool = False,
                 out_channels: int | None = None, dropout: float = 0.0) -> None:  # fmt: skip
        super().__init__()
        innermost = sub is None
        self.outermost = outermost
        down_norm = not (outermost or innermost)
        self.down = nn.Sequential(
            *([] if outermost else [nn.LeakyReLU(0.2)]),
            nn.Conv2d(outer, inner, 4, 2, 1, bias=False),
            *([nn.BatchNorm2d(inner)] if down_norm else []),
        )  # fmt: skip
        self.sub = sub if sub is not None else nn.Identity()
        up_in = inner if innermost else 2 * inner
        if outermost:
            self.up = nn.Sequential(nn.ReLU(), nn.ConvTranspose2d(up_in, out_channels or outer, 4, 2, 1), nn.Tanh())
        else:
            self.up = nn.Sequential(
                nn.ReLU(), nn.ConvTranspose2d(up_in, outer, 4, 2, 1, bias=False), nn.BatchNorm2d(outer),
                *([nn.Dropout(dropout)] if dropout else []),
            )  # fmt: skip

    def forward(self, x: Tensor) -> Tensor:
        y = self.up(self.sub(self.down(x)))
        return y if self.outermost else torch.cat([x, y], 1)


class UNetGenerator(nn.Module):
    """G(a): (N, C_in, H, W) in [−1, 1] → (N, C_out, H, W) in [−1, 1] (see the module docstring)."""

    def __init__(self, in_channels: int, out_channels: int, *, depth: int, ngf: int = 64, dropout: float = 0.5):
        super().__init__()
        self.depth = depth
        widths = [ngf * min(2**i, 8) for i in range(depth)]  # the output channels of encoder level i
        level: nn.Module | None = None
        for i in range(depth - 1, 0, -1):  # innermost first
            inner_dropout = dropout if depth - 4 <= i <= depth - 2 and widths[i] == ngf * 8 else 0.0
            level = UNetLevel(widths[i - 1], widths[i], sub=level, dropout=inner_dropout)
        self.net = UNetLevel(in_channels, widths[0], sub=level, outermost=True, out_channels=out_channels)

    def forward(self, a: Tensor) -> Tensor:
        h, w = a.shape[-2:]
        m = 2**self.depth
        ph, pw = -h % m, -w % m
        if ph or pw:
            mode = "reflect" if ph < h and pw < w else "replicate"
            a = F.pad(a, (pw // 2, pw - pw // 2, ph // 2, ph - ph // 2), mode=mode)
        out = self.net(a)
        return out[..., ph // 2 : ph // 2 + h, pw // 2 : pw // 2 + w]


def patch_discriminator(channels: int, *, ndf: int = 64, layers: int = 3) -> nn.Sequential:
    """PatchGAN: C_ndf (no norm), `layers` − 1 stride-2 C-layers, a stride-1 C-layer, a stride-1 4×4 conv → 1."""
    mods: list[nn.Module] = [nn.Conv2d(channels, ndf, 4, 2, 1), nn.LeakyReLU(0.2)]
    c = ndf
    for i in range(1, layers + 1):
        c_out, stride = ndf * min(2**i, 8), 2 if i < layers else 1
        mods += [nn.Conv2d(c, c_out, 4, stride, 1, bias=False), nn.BatchNorm2d(c_out), nn.LeakyReLU(0.2)]
        c = c_out
    return nn.Sequential(*mods, nn.Conv2d(c, 1, 4, 1, 1))


def pixel_discriminator(channels: int, *, ndf: int = 64) -> nn.Sequential:
    """PixelGAN: 1×1 convolutions channels → ndf → 2·ndf (BatchNorm) → 1."""
    return nn.Sequential(
        nn.Conv2d(channels, ndf, 1), nn.LeakyReLU(0.2), nn.Conv2d(ndf, 2 * ndf, 1, bias=False),
        nn.BatchNorm2d(2 * ndf), nn.LeakyReLU(0.2), nn.Conv2d(2 * ndf, 1, 1, bias=False),
    )  # fmt: skip


def image_discriminator(channels: int, size: tuple[int, int], *, ndf: int = 64) -> nn.Sequential:
    """Stride-2 C-layers until the map is ≤ 4×4, then one convolution over the whole map → (N, 1, 1, 1)."""
    mods: list[nn.Module] = [nn.Conv2d(channels, ndf, 4, 2, 1), nn.LeakyReLU(0.2)]
    h, w, c, i = size[0] // 2, size[1] // 2, ndf, 1
    while max(h, w) > 4:
        c_out = ndf * min(2**i, 8)
        mods += [nn.Conv2d(c, c_out, 4, 2, 1, bias=False), nn.BatchNorm2d(c_out), nn.LeakyReLU(0.2)]
        h, w, c, i = h // 2, w // 2, c_out, i + 1
    return nn.Sequential(*mods, nn.Conv2d(c, 1, (h, w)))


def receptive_field(module: nn.Module) -> int:
    """The receptive field (pixels, along one axis) of a chain of convolutions: r ← (r − 1)·stride + kernel."""
    r = 1
    for conv in reversed([m for m in module.modules() if isinstance(m, nn.Conv2d)]):
        r = (r - 1) * conv.stride[0] + conv.kernel_size[0]
    return r


class Pix2Pix(nn.Module):
    """The generator a → b and the conditional discriminator d(a, b) → logits (N, 1, H', W') (`Translator`)."""

    variant: ClassVar[str] = "pix2pix"

    def __init__(self, generator: UNetGenerator, discriminator: nn.Module | None) -> None:
        super().__init__()
        self.generator, self.discriminator = generator, discriminator

    def forward(self, a: Tensor) -> Tensor:
        return self.generator(a)

    def translate(self, a: Tensor) -> Tensor:
        """(N, C_a, H, W) in [−1, 1] → (N, C_b, H, W) in [−1, 1]."""
        return self.generator(a)

    def discriminate(self, a: Tensor, b: Tensor) -> Tensor:
        if self.discriminator is None:
            raise ValueError("this pix2pix network has no discriminator")
        return self.discriminator(torch.cat([a, b], 1))


def build_pix2pix(
    input_shape: tuple[int, ...], num_classes: int | None = None, *, out_channels: int = 0, ngf: int = 64,
    ndf: int = 64, discriminator: str = "patch", patch_layers: int = 3, max_depth: int = 8,
    dropout: float = 0.5,
) -> Pix2Pix:  # fmt: skip
    """pix2pix for inputs (C, H, W): U-Net depth ⌈log₂ min(H, W)⌉ ≤ max_depth; `discriminator` ∈ {patch, pixel,
    image, none}; out_channels 0: as many as the input (gray2color needs model_args.out_channels=3)."""
    if len(input_shape) != 3:
        raise ValueError(f"pix2pix takes images (C, H, W); got input shape {input_shape}")
    for name, v in (
        ("out_channels", out_channels),
        ("ngf", ngf),
        ("ndf", ndf),
        ("max_depth", max_depth),
        ("patch_layers", patch_layers),
    ):
        if not isinstance(v, int) or isinstance(v, bool):
            raise ValueError(f"{name} must be an integer; got {v!r}")
    if ngf < 1 or ndf < 1 or out_channels < 0 or not 1 <= max_depth <= 8 or not 1 <= patch_layers <= 5:
        raise ValueError(f"need ngf, ndf ≥ 1, out_channels ≥ 0, max_depth in 1..8, patch_layers in 1..5; got "
                         f"{ngf}, {ndf}, {out_channels}, {max_depth}, {patch_layers}")  # fmt: skip
    if discriminator not in (*DISCRIMINATORS, "none"):
        raise ValueError(f"discriminator must be one of {', '.join(DISCRIMINATORS)}, none; got {discriminator!r}")
    if not isinstance(dropout, int | float) or not 0 <= dropout < 1:
        raise ValueError(f"dropout must be in [0, 1); got {dropout!r}")
    c, h, w = input_shape
    c_out = out_channels or c
    depth = min(max_depth, max(1, math.ceil(math.log2(min(h, w)))))
    g = UNetGenerator(c, c_out, depth=depth, ngf=ngf, dropout=float(dropout))
    pair = c + c_out
    builders = {
        "patch": lambda: patch_discriminator(pair, ndf=ndf, layers=patch_layers),
        "pixel": lambda: pixel_discriminator(pair, ndf=ndf),
        "image": lambda: image_discriminator(pair, (h, w), ndf=ndf),
        "none": lambda: None,
    }
    d = builders[discriminator]()
    return Pix2Pix(g, d)


def build_pix2pix_small(
    input_shape: tuple[int, ...], num_classes: int | None = None, **kwargs
) -> Pix2Pix:  # fmt: skip
    """pix2pix at ngf = ndf = 16 for small images on a CPU."""
    return build_pix2pix(input_shape, num_classes, **{"ngf": 16, "ndf": 16, **kwargs})


MODELS.register(
    "pix2pix", tags=("S5",), objective="pix2pix", data="edges2digits", input_shape=(3, 256, 256), num_classes=None
)(build_pix2pix)  # facades: 3 → 3 at 256×256
MODELS.register("pix2pix_small", tags=("S5",), objective="pix2pix", data="edges2digits")(build_pix2pix_small)
