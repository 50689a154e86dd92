"""SRResNet and SRGAN (Ledig et al., "Photo-realistic single image super-resolution using a generative
adversarial network", CVPR 2017, arXiv:1609.04802), and their small variants (S4).

Generator (the paper's Fig. 4), ×4: 9×9 conv 3 → 64 + PReLU (its output u kept); B = 16 residual blocks
h ↦ h + BN(conv₃(PReLU(BN(conv₃(h))))) at 64 channels; 3×3 conv + BN, added to u (the long skip); two
upsampling stages [3×3 conv 64 → 256, PixelShuffle ×2 (256 channels at (h, w) → 64 at (2h, 2w)), PReLU];
9×9 conv 64 → 3. Convolutions carry biases, PReLUs one shared slope (PyTorch's default), BatchNorm its affine
(γ, β): with B = 16 and 64 channels that is 1,549,462 parameters (derived term by term in the tests). The
final convolution is linear (the paper's HR targets are in [−1, 1]; ours stay in [0, 1] and the output is
clamped only for evaluation).

`srresnet_small` / `srgan_small` (not in the paper): 32 channels, 6 blocks, and a global skip to the bicubic
upscaling of the input (G(x) = bicubic(x) + f(x), VDSR's residual learning, Kim et al. 2016), so a short CPU
run starts from the bicubic baseline instead of from zero (the last convolution is zero-initialised, so
G(x) = bicubic(x) at step 0); `residual=False` removes both.

Discriminator (the paper's Fig. 4): 3×3 conv 3 → 64 + LeakyReLU(0.2); seven [3×3 conv, BN, LeakyReLU(0.2)] with
(channels, stride) = (64, 2), (128, 1), (128, 2), (256, 1), (256, 2), (512, 1), (512, 2); Dense 1024,
LeakyReLU(0.2), Dense 1 (a logit; the sigmoid is in the loss). On its 96×96 HR patches the last map is 6×6×512,
flattened; any other size is average-pooled to 6×6 first (`pool=6`; the small variant pools to 1×1, a global
average, and uses 32 → 256 channels).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

from torch import Tensor, nn

from dlcanon.data.bicubic import upscale
from dlcanon.registry import MODELS

DISCRIMINATOR_STAGES = ((64, 2), (128, 1), (128, 2), (256, 1), (256, 2), (512, 1), (512, 2))


class ResidualBlock(nn.Module):
    """h + BN(conv(PReLU(BN(conv(h))))), 3×3 convolutions, `channels` wide."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(channels, channels, 3, padding=1), nn.BatchNorm2d(channels), nn.PReLU(),
            nn.Conv2d(channels, channels, 3, padding=1), nn.BatchNorm2d(channels),
        )  # fmt: skip

    def forward(self, h: Tensor) -> Tensor:
        return h + self.body(h)


class SRResNet(nn.Module):
    """The generator: (N, C, h, w) → (N, C, scale·h, scale·w); scale = 2^stages (see the module docstring)."""

    def __init__(
        self, channels: int = 3, *, width: int = 64, blocks: int = 16, scale: int = 4, residual: bool = False
    ) -> None:
        super().__init__()
        stages = {2: 1, 4: 2, 8: 3}[scale]
        self.scale, self.residual = scale, residual
        self.head = nn.Sequential(nn.Conv2d(channels, width, 9, padding=4), nn.PReLU())
        self.blocks = nn.Sequential(*[ResidualBlock(width) for _ in range(blocks)])
        self.fuse = nn.Sequential(nn.Conv2d(width, width, 3, padding=1), nn.BatchNorm2d(width))
        self.upsample = nn.Sequential(*[
            nn.Sequential(nn.Conv2d(width, 4 * width, 3, padding=1), nn.PixelShuffle(2), nn.PReLU())
            for _ in range(stages)
        ])  # fmt: skip
        self.tail = nn.Conv2d(width, channels, 9, padding=4)
        if residual:  # start at the bicubic baseline: f(x) = 0
            nn.init.zeros_(self.tail.weight)
            nn.init.zeros_(self.tail.bias)

    def forward(self, x: Tensor) -> Tensor:  # (N, C, h, w) -> (N, C, s·h, s·w)
        u = self.head(x)
        out = self.tail(self.upsample(u + self.fuse(self.blocks(u))))
        return out + upscale(x, self.scale) if self.residual else out


class SRDiscriminator(nn.Module):
    """d(x) → (N,) logits for HR images (N, C, H, W) (see the module docstring)."""

    def __init__(
        self, channels: int = 3, *, stages: Sequence[tuple[int, int]] = DISCRIMINATOR_STAGES, dense: int = 1024,
        pool: int = 6,
    ) -> None:  # fmt: skip
        super().__init__()
        first = stages[0][0]
        layers: list[nn.Module] = [nn.Conv2d(channels, first, 3, padding=1), nn.LeakyReLU(0.2)]
        c_in = first
        for c_out, stride in stages:
            layers += [nn.Conv2d(c_in, c_out, 3, stride=stride, padding=1), nn.BatchNorm2d(c_out), nn.LeakyReLU(0.2)]
            c_in = c_out
        self.features = nn.Sequential(*layers)
        self.head = nn.Sequential(
            nn.AdaptiveAvgPool2d(pool), nn.Flatten(), nn.Linear(c_in * pool * pool, dense), nn.LeakyReLU(0.2),
            nn.Linear(dense, 1),
        )  # fmt: skip

    def forward(self, x: Tensor) -> Tensor:  # (N, C, H, W) -> (N,)
        return self.head(self.features(x)).squeeze(1)


class SuperResolutionNetwork(nn.Module):
    """A generator LR → HR and, for SRGAN, a discriminator on HR images (`discriminator` None for SRResNet).

    What the SR objective reads (`objectives.translation_protocols.SuperResolver`)."""

    variant: ClassVar[str] = "sr"

    def __init__(self, generator: SRResNet, discriminator: nn.Module | None) -> None:
        super().__init__()
        self.generator, self.discriminator = generator, discriminator
        self.scale = generator.scale

    def forward(self, x: Tensor) -> Tensor:
        return self.generator(x)

    def translate(self, x: Tensor) -> Tensor:
        """(N, C, h, w) LR in [0, 1] → (N, C, s·h, s·w) HR, not clamped."""
        return self.generator(x)

    def discriminate(self, hr: Tensor) -> Tensor:
        """(N, C, H, W) HR images → (N,) logits."""
        if self.discriminator is None:
            raise ValueError("this network has no discriminator (an SRResNet); train it without adversarial loss")
        return self.discriminator(hr)


def _check(input_shape: tuple[int, ...], width: int, blocks: int, scale: int) -> None:
    if len(input_shape) != 3:
        raise ValueError(f"SR networks take images (C, H, W); got input shape {input_shape}")
    for name, value in (("width", width), ("blocks", blocks), ("scale", scale)):
        if not isinstance(value, int) or isinstance(value, bool):
            raise ValueError(f"{name} must be an integer; got {value!r}")
    if width < 1 or blocks < 0 or scale not in (2, 4, 8):
        raise ValueError(f"need width ≥ 1, blocks ≥ 0 and scale in 2, 4, 8; got {width}, {blocks}, {scale}")


def build_srresnet(
    input_shape: tuple[int, ...], num_classes: int | None = None, *, width: int = 64, blocks: int = 16,
    scale: int = 4, residual: bool = False,
) -> SuperResolutionNetwork:  # fmt: skip
    """SRResNet: the generator alone, trained by pixel (and content) losses."""
    _check(input_shape, width, blocks, scale)
    g = SRResNet(input_shape[0], width=width, blocks=blocks, scale=scale, residual=bool(residual))
    return SuperResolutionNetwork(g, None)


def build_srgan(
    input_shape: tuple[int, ...], num_classes: int | None = None, *, width: int = 64, blocks: int = 16,
    scale: int = 4, residual: bool = False, d_width: int = 64, d_dense: int = 1024, d_pool: int = 6,
) -> SuperResolutionNetwork:  # fmt: skip
    """SRGAN: the SRResNet generator and the SRGAN discriminator (d_width 64 → 8·d_width channels)."""
    _check(input_shape, width, blocks, scale)
    if not isinstance(d_width, int) or not isinstance(d_dense, int) or not isinstance(d_pool, int):
        raise ValueError(f"d_width, d_dense and d_pool must be integers; got {d_width!r}, {d_dense!r}, {d_pool!r}")
    if d_width < 1 or d_dense < 1 or d_pool < 1:
        raise ValueError(f"need d_width, d_dense, d_pool ≥ 1; got {d_width}, {d_dense}, {d_pool}")
    g = SRResNet(input_shape[0], width=width, blocks=blocks, scale=scale, residual=bool(residual))
    stages = tuple((c * d_width // 64, s) for c, s in DISCRIMINATOR_STAGES)
    return SuperResolutionNetwork(g, SRDiscriminator(input_shape[0], stages=stages, dense=d_dense, pool=d_pool))


def build_srresnet_small(
    input_shape: tuple[int, ...], num_classes: int | None = None, **kwargs
) -> SuperResolutionNetwork:
    """srresnet at 32 channels, 6 blocks, with the global bicubic skip."""
    return build_srresnet(input_shape, num_classes, **{"width": 32, "blocks": 6, "residual": True, **kwargs})


def build_srgan_small(input_shape: tuple[int, ...], num_classes: int | None = None, **kwargs) -> SuperResolutionNetwork:
    """srgan_small: srresnet_small's generator; discriminator 32 → 256 channels, global average pool, Dense 256."""
    small = {"width": 32, "blocks": 6, "residual": True, "d_width": 32, "d_dense": 256, "d_pool": 1}
    return build_srgan(input_shape, num_classes, **{**small, **kwargs})


SR = {"objective": "sr", "data": "sr"}
PAPER = SR | {"input_shape": (3, 24, 24), "num_classes": None}  # 96×96 HR training patches at ×4
MODELS.register("srresnet", tags=("S4",), **PAPER)(build_srresnet)
MODELS.register("srgan", tags=("S4",), **PAPER)(build_srgan)
MODELS.register("srresnet_small", tags=("S4",), **SR)(build_srresnet_small)
MODELS.register("srgan_small", tags=("S4",), **SR)(build_srgan_small)
