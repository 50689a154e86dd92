"""Progressive GAN (Karras, Aila, Laine & Lehtinen, 2018): G and D grow from s₀×s₀ to the data size.

Resolutions s₀·2^l, l = 0..n (s₀ = 4 for 32×32 images: 4 → 8 → 16 → 32; s₀ = 7 for 28×28: 7 → 14 → 28).
Training runs `phase_steps` generator steps at s₀, then for each new level l a fade-in of `phase_steps` steps,
α rising linearly from 0 to 1, and `phase_steps` stable steps. During a fade the generator outputs
(1 − α)·up(toRGB_{l−1}(h_{l−1})) + α·toRGB_l(h_l), and the discriminator reads
(1 − α)·fromRGB_{l−1}(down(x)) + α·block_l(fromRGB_l(x)); real images are faded the same way,
x ← (1 − α)·up(down(x)) + α·x. The generator's image is up-sampled (nearest) to the data size, and the
discriminator average-pools its input to the current resolution, so the objective never sees the level.
Channels halve at each finer resolution (`level_channels`: 32 → 16 → 8 by default), as the paper does above
32×32.

Also from the paper: equalised learning rate (weights ~ N(0, 1) scaled at run time by the He constant
√(2/fan_in)), pixel norm after every generator conv (a ← a/√(mean_c a² + 10⁻⁸)), and a minibatch standard
deviation channel (the mean over features of the per-feature standard deviation across the batch) before
the discriminator's last block.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from dlcanon.models.dcgan import halvings, require_square
from dlcanon.models.gan import Critic, GANNetwork
from dlcanon.registry import MODELS


class EqualizedLinear(nn.Module):
    """y = (c·W)x + μ·b with W ~ N(0, 1/μ²), c = μ·gain/√fan_in: every weight learns at the same rate under
    Adam, μ times the optimiser's (StyleGAN's mapping network uses μ = 0.01)."""

    def __init__(
        self,
        in_features: int,
        out_features: int,
        *,
        gain: float = math.sqrt(2),
        bias_init: float = 0.0,
        lr_multiplier: float = 1.0,
    ):
        super().__init__()
        self.weight = nn.Parameter(torch.randn(out_features, in_features) / lr_multiplier)
        self.bias = nn.Parameter(torch.full((out_features,), float(bias_init) / lr_multiplier))
        self.scale, self.lr_multiplier = lr_multiplier * gain / math.sqrt(in_features), lr_multiplier

    def forward(self, x: Tensor) -> Tensor:
        return F.linear(x, self.weight * self.scale, self.bias * self.lr_multiplier)


class EqualizedConv2d(nn.Module):
    """Same-padded k×k convolution with run-time He scaling c = gain/√(in·k²)."""

    def __init__(self, in_channels: int, out_channels: int, kernel: int, *, gain: float = math.sqrt(2)):
        super().__init__()
        self.weight = nn.Parameter(torch.randn(out_channels, in_channels, kernel, kernel))
        self.bias = nn.Parameter(torch.zeros(out_channels))
        self.scale, self.padding = gain / math.sqrt(in_channels * kernel * kernel), kernel // 2

    def forward(self, x: Tensor) -> Tensor:
        return F.conv2d(x, self.weight * self.scale, self.bias, padding=self.padding)


def pixel_norm(x: Tensor, eps: float = 1e-8) -> Tensor:
    """a / √(mean over channels of a² + ε), per pixel."""
    return x * torch.rsqrt(x.pow(2).mean(1, keepdim=True) + eps)


def minibatch_std(x: Tensor) -> Tensor:
    """Append one constant channel: mean over (C, H, W) of the standard deviation over the batch."""
    std = (x.var(0, unbiased=False) + 1e-8).sqrt().mean()
    return torch.cat([x, std.expand(x.shape[0], 1, *x.shape[2:])], 1)


def act(x: Tensor) -> Tensor:
    return F.leaky_relu(x, 0.2)


def level_and_alpha(step: int, levels: int, phase: int) -> tuple[int, float]:
    """(l, α) at generator step `step`: s₀ for `phase` steps, then per new level a fade and a stable phase."""
    if step < phase:
        return 0, 1.0
    k, within = divmod(step - phase, 2 * phase)
    if k + 1 > levels:
        return levels, 1.0
    return k + 1, min(1.0, within / phase)


class Growing(nn.Module):
    """The schedule both networks follow: buffers `level` and `alpha` set by `set_progress(step)`."""

    def __init__(self, levels: int, phase_steps: int) -> None:
        super().__init__()
        self.levels, self.phase_steps = levels, phase_steps
        self.register_buffer("level", torch.zeros((), dtype=torch.long))
        self.register_buffer("alpha", torch.ones(()))

    def set_progress(self, step: int) -> None:
        self.set_level(*level_and_alpha(step, self.levels, self.phase_steps))

    def set_level(self, level: int, alpha: float = 1.0) -> None:
        self.level.fill_(level)
        self.alpha.fill_(alpha)


def level_channels(width: int, levels: int) -> list[int]:
    """Channels at resolutions s₀·2^l, l = 0..levels: `width` at s₀, halved per level down to min(8, width).
    The paper keeps 512 up to 32×32 and halves above it, to 16 at 1024×1024; our images stop at 32×32."""
    return [max(min(8, width), width >> level) for level in range(levels + 1)]


class ProGenerator(Growing):
    def __init__(self, in_features: int, shape: tuple[int, ...], *, width: int, phase_steps: int) -> None:
        n, s0 = halvings(shape[-1])
        super().__init__(n, phase_steps)
        c = level_channels(width, n)
        self.s0, self.width = s0, width
        self.project = EqualizedLinear(in_features, width * s0 * s0, gain=math.sqrt(2) / 4)
        self.first = EqualizedConv2d(width, width, 3)
        self.blocks = nn.ModuleList(
            nn.ModuleList([EqualizedConv2d(c[i], c[i + 1], 3), EqualizedConv2d(c[i + 1], c[i + 1], 3)])
            for i in range(n)
        )
        self.to_rgb = nn.ModuleList(EqualizedConv2d(c[i], shape[0], 1, gain=1.0) for i in range(n + 1))

    def forward(self, z: Tensor) -> Tensor:  # (N, d) -> (N, C, H, W) at the data size
        level, alpha = int(self.level), float(self.alpha)
        h = pixel_norm(act(self.project(pixel_norm(z)).view(-1, self.width, self.s0, self.s0)))
        h = pixel_norm(act(self.first(h)))
        previous = h
        for block in self.blocks[:level]:
            previous = h
            h = F.interpolate(h, scale_factor=2, mode="nearest")
            for conv in block:
                h = pixel_norm(act(conv(h)))
        image = self.to_rgb[level](h)
        if level > 0 and alpha < 1:
            low = F.interpolate(self.to_rgb[level - 1](previous), scale_factor=2, mode="nearest")
            image = (1 - alpha) * low + alpha * image
        return F.interpolate(image, scale_factor=2 ** (self.levels - level), mode="nearest")


class ProDiscriminatorBody(Growing):
    def __init__(self, shape: tuple[int, ...], *, width: int, phase_steps: int) -> None:
        n, s0 = halvings(shape[-1])
        super().__init__(n, phase_steps)
        c = level_channels(width, n)
        self.from_rgb = nn.ModuleList(EqualizedConv2d(shape[0], c[i], 1) for i in range(n + 1))
        self.blocks = nn.ModuleList(  # block i runs at level i + 1 and leaves level i's channels
            nn.ModuleList([EqualizedConv2d(c[i + 1], c[i + 1], 3), EqualizedConv2d(c[i + 1], c[i], 3)])
            for i in range(n)
        )
        self.last = EqualizedConv2d(width + 1, width, 3)
        self.dense = EqualizedLinear(width * s0 * s0, width)
        self.features = width

    def forward(self, x: Tensor) -> Tensor:  # (N, C, H, W) at the data size -> (N, width)
        level, alpha = int(self.level), float(self.alpha)
        x = F.avg_pool2d(x, 2 ** (self.levels - level)) if level < self.levels else x
        fading = level > 0 and alpha < 1
        if fading:
            x = (1 - alpha) * F.interpolate(F.avg_pool2d(x, 2), scale_factor=2, mode="nearest") + alpha * x
        h = act(self.from_rgb[level](x))
        for i in range(level, 0, -1):
            for conv in self.blocks[i - 1]:
                h = act(conv(h))
            h = F.avg_pool2d(h, 2)
            if i == level and fading:
                h = (1 - alpha) * act(self.from_rgb[level - 1](F.avg_pool2d(x, 2))) + alpha * h
        h = act(self.last(minibatch_std(h)))
        return act(self.dense(h.flatten(1)))


class ProGAN(GANNetwork):
    """A `GANNetwork` whose two halves follow one growth schedule (`set_progress(generator_step)`).

    Implements `objectives.gan_protocols.GrowingNetwork`."""

    variant = "progan"

    def set_progress(self, step: int) -> None:
        """The level and fade of generator step `step` (`level_and_alpha`), in both halves."""
        self.set_level(*level_and_alpha(step, self.generator.levels, self.generator.phase_steps))

    def set_level(self, level: int, alpha: float = 1.0) -> None:
        """Run at resolution s₀·2^level, fading it in with weight α (1: stable)."""
        self.generator.set_level(level, alpha)
        self.discriminator.body.set_level(level, alpha)

    @property
    def stage(self) -> tuple[int, float]:
        """(level, α) the networks run at."""
        return int(self.generator.level), float(self.generator.alpha)


@MODELS.register(
    "progan",
    tags=("G11",),
    objective="wgan-gp",
    data="mnist5k",
)
def build_progan(
    input_shape: tuple[int, ...],
    num_classes: int | None,
    *,
    latent_dim: int = 64,
    width: int = 32,
    phase_steps: int = 120,
) -> ProGAN:
    """Progressive GAN (WGAN-GP, n_critic = 1, drift 0.001, Adam(1e-3, β = (0, 0.99)) as the paper), growing
    every 120 steps.

    Batch 32 (the paper's at 256² and above), 1,240 steps in 20 epochs of mnist5k: 120 at 7×7, fade-in and
    stable phases of 120 at 14×14 and 28×28, then 640 more at 28×28. In one minute batch 32 reached a lower
    Fréchet distance than batch 64 (250 against 332); the non-saturating loss collapsed to blank images."""
    require_square("progan", input_shape)
    generator = ProGenerator(latent_dim, input_shape, width=width, phase_steps=phase_steps)
    body = ProDiscriminatorBody(input_shape, width=width, phase_steps=phase_steps)
    return ProGAN(
        generator, Critic(body, body.features), latent_dim=latent_dim, shape=input_shape, data_classes=num_classes or 0
    )
