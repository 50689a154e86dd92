"""StyleGAN (Karras, Laine & Aila, 2019), with StyleGAN2's skip outputs (and, as an option, its weight
modulation/demodulation).

- Mapping network f: z → w, z pixel-normed, 4 equalised-lr linear layers with LeakyReLU(0.2) (paper: 8),
  learning 100× slower than the rest (the paper's learning-rate multiplier 0.01).
- Synthesis starts from a learned constant (C, s₀, s₀) and at each of its L convolutions reads its own style
  from w through an affine map A. `layer="adain"` (the default, the 2019 paper): conv → per-pixel noise B·ε
  (ε ~ N(0, 1) one map per sample, a learned scale B per layer initialised 0) → bias → LeakyReLU(0.2) →
  AdaIN(x, y) = y_s·(x − μ(x))/σ(x) + y_b with (y_s, y_b) = A(w) (`AdaINLayer`). `layer="modulate"`
  (Karras et al., 2020): the style s = A(w) scales the weights instead, w'_{oik} = s_i·w_{oik},
  w''_{oik} = w'_{oik}/√(Σ_{i,k} w'²_{oik} + ε), one shared convolution (`ModulatedConv2d`), then noise, bias,
  LeakyReLU. Each resolution adds a modulated 1×1 toRGB (no demodulation) to the up-sampled running image;
  with `tanh` the sum is squashed into the data's range [−1, 1], as DCGAN's output is.
- Style mixing regularisation: with probability `mixing` a training sample uses w₁ for the layers before a
  random crossover and w₂ after it. `mix(z_a, z_b)` generates with z_a's styles at the coarse half.
- Truncation: w ← w̄ + ψ(w − w̄), w̄ the running mean of w over training (decay 0.995).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from dlcanon.models.dcgan import dc_discriminator_body, halvings, require_square
from dlcanon.models.gan import Critic, GANNetwork
from dlcanon.models.progan import EqualizedConv2d, EqualizedLinear, act, level_channels, minibatch_std, pixel_norm
from dlcanon.registry import MODELS


class ModulatedConv2d(nn.Module):
    """k×k convolution whose input channels are scaled per sample by the style s = A(w) (N, in).

    Computed without per-sample weights: conv(x ⊙ s, c·w) ⊙ d equals the convolution with
    w''_{n,oik} = d_{n,o}·c·s_{n,i}·w_{oik}, where d_{n,o} = 1/√(Σ_i s²_{n,i} Σ_k (c·w_{oik})² + ε) (1 without
    demodulation). One shared convolution is several times faster on a CPU than N grouped ones; a test checks
    it against the grouped per-sample-weight form."""

    def __init__(self, in_channels: int, out_channels: int, kernel: int, w_dim: int, *, demodulate: bool = True):
        super().__init__()
        self.weight = nn.Parameter(torch.randn(out_channels, in_channels, kernel, kernel))
        self.scale = 1 / math.sqrt(in_channels * kernel * kernel)
        self.affine = EqualizedLinear(w_dim, in_channels, gain=1.0, bias_init=1.0)
        self.demodulate, self.padding = demodulate, kernel // 2

    def forward(self, x: Tensor, w: Tensor) -> Tensor:  # (N, in, H, W), (N, w_dim) -> (N, out, H, W)
        s = self.affine(w)  # (N, in)
        weight = self.scale * self.weight  # (out, in, k, k)
        out = F.conv2d(x * s[:, :, None, None], weight, padding=self.padding)
        if self.demodulate:
            d = torch.rsqrt(s.pow(2) @ weight.pow(2).sum((2, 3)).t() + 1e-8)  # (N, out)
            out = out * d[:, :, None, None]
        return out


class ToRGB(ModulatedConv2d):
    """tRGB: a 1×1 modulated convolution without demodulation, plus a bias (StyleGAN2's ToRGBLayer has one; without
    it the image's background level must be built from the features at every pixel)."""

    def __init__(self, in_channels: int, out_channels: int, w_dim: int) -> None:
        super().__init__(in_channels, out_channels, 1, w_dim, demodulate=False)
        self.bias = nn.Parameter(torch.zeros(out_channels))

    def forward(self, x: Tensor, w: Tensor) -> Tensor:  # (N, in, H, W), (N, w_dim) -> (N, out, H, W)
        return super().forward(x, w) + self.bias[None, :, None, None]


def with_noise(x: Tensor, strength: Tensor) -> Tensor:
    """x + B·ε: per-pixel noise ε ~ N(0, 1), one map per sample shared by the channels, scaled by B."""
    return x + strength * torch.randn(x.shape[0], 1, *x.shape[2:], device=x.device, dtype=x.dtype)


class StyleLayer(nn.Module):
    """Modulated conv → noise B·ε → bias → LeakyReLU(0.2)."""

    def __init__(self, in_channels: int, out_channels: int, w_dim: int) -> None:
        super().__init__()
        self.conv = ModulatedConv2d(in_channels, out_channels, 3, w_dim)
        self.noise_strength = nn.Parameter(torch.zeros(()))
        self.bias = nn.Parameter(torch.zeros(out_channels))

    def forward(self, x: Tensor, w: Tensor) -> Tensor:
        return act(with_noise(self.conv(x, w), self.noise_strength) + self.bias.view(1, -1, 1, 1))


class AdaIN(nn.Module):
    """AdaIN(x, w) = y_s·(x − μ(x))/σ(x) + y_b, μ and σ per sample and channel over the pixels, and the style
    (y_s, y_b) = A(w) an affine map of w, y_s's bias initialised to 1 (Karras et al., 2019, eq. 1)."""

    def __init__(self, channels: int, w_dim: int) -> None:
        super().__init__()
        self.scale = EqualizedLinear(w_dim, channels, gain=1.0, bias_init=1.0)
        self.shift = EqualizedLinear(w_dim, channels, gain=1.0)

    def forward(self, x: Tensor, w: Tensor) -> Tensor:  # (N, C, H, W), (N, w_dim) -> (N, C, H, W)
        return self.scale(w)[:, :, None, None] * F.instance_norm(x) + self.shift(w)[:, :, None, None]


class AdaINLayer(nn.Module):
    """The 2019 paper's layer: conv 3×3 (equalised lr) → noise B·ε → bias → LeakyReLU(0.2) → AdaIN(·, w)."""

    def __init__(self, in_channels: int, out_channels: int, w_dim: int) -> None:
        super().__init__()
        self.conv = EqualizedConv2d(in_channels, out_channels, 3)  # its bias is the layer's: + b commutes with + B·ε
        self.noise_strength = nn.Parameter(torch.zeros(()))
        self.adain = AdaIN(out_channels, w_dim)

    def forward(self, x: Tensor, w: Tensor) -> Tensor:
        return self.adain(act(with_noise(self.conv(x), self.noise_strength)), w)


LAYERS = {"adain": AdaINLayer, "modulate": StyleLayer}  # StyleGAN (2019) and StyleGAN2 (2020)


class StyleGenerator(nn.Module):
    """(N, L, w_dim) per-layer styles → image; `layers` = L = 1 + 2n style inputs for n up-samplings.

    Channels: `width` at s₀, halved at each finer resolution (`progan.level_channels`) when `halve`."""

    def __init__(
        self,
        shape: tuple[int, ...],
        *,
        width: int,
        w_dim: int,
        halve: bool = False,
        layer: str = "adain",
        tanh: bool = True,
    ) -> None:
        super().__init__()
        self.tanh = tanh
        n, s0 = halvings(shape[-1])
        c = level_channels(width, n) if halve else [width] * (n + 1)
        Layer = LAYERS[layer]
        self.const = nn.Parameter(torch.randn(1, width, s0, s0))
        self.convs = nn.ModuleList([Layer(width, width, w_dim)])
        self.to_rgb = nn.ModuleList([ToRGB(width, shape[0], w_dim)])
        for i in range(n):
            self.convs.extend([Layer(c[i], c[i + 1], w_dim), Layer(c[i + 1], c[i + 1], w_dim)])
            self.to_rgb.append(ToRGB(c[i + 1], shape[0], w_dim))
        self.layers = len(self.convs)

    def forward(self, ws: Tensor) -> Tensor:
        x = self.convs[0](self.const.expand(ws.shape[0], -1, -1, -1), ws[:, 0])
        image = self.to_rgb[0](x, ws[:, 0])
        for i in range(1, len(self.to_rgb)):
            x = F.interpolate(x, scale_factor=2, mode="bilinear", align_corners=False)
            x = self.convs[2 * i](self.convs[2 * i - 1](x, ws[:, 2 * i - 1]), ws[:, 2 * i])
            image = F.interpolate(image, scale_factor=2, mode="bilinear", align_corners=False)
            image = image + self.to_rgb[i](x, ws[:, 2 * i])
        return torch.tanh(image) if self.tanh else image


class StyleNetworks(nn.Module):
    """The generator half: mapping network and synthesis; `forward(z)` applies mixing in training mode."""

    def __init__(
        self,
        latent_dim: int,
        shape: tuple[int, ...],
        *,
        width: int,
        mapping_layers: int,
        mixing: float,
        halve: bool,
        layer: str,
        tanh: bool,
    ):
        super().__init__()
        self.mapping = nn.Sequential(
            *(EqualizedLinear(latent_dim, latent_dim, lr_multiplier=0.01) for _ in range(mapping_layers))
        )
        self.synthesis = StyleGenerator(shape, width=width, w_dim=latent_dim, halve=halve, layer=layer, tanh=tanh)
        self.mixing = mixing
        self.register_buffer("w_avg", torch.zeros(latent_dim))

    def map(self, z: Tensor) -> Tensor:
        w = pixel_norm(z)
        for layer in self.mapping:
            w = act(layer(w))
        return w

    def forward(self, z: Tensor, *, truncation: float = 1.0) -> Tensor:  # (N, d) -> images
        w = self.map(z)
        if self.training:
            with torch.no_grad():
                self.w_avg.lerp_(w.detach().float().mean(0), 0.005)
        if truncation != 1.0:
            w = (self.w_avg + truncation * (w.float() - self.w_avg)).to(w.dtype)
        w2 = cut = None
        if self.training and self.mixing > 0 and torch.rand(()) < self.mixing:
            w2 = self.map(torch.randn_like(z))
            cut = int(torch.randint(1, self.synthesis.layers, ()))
        return self.synthesis(self.styles(w, w2, cut))

    def styles(self, w: Tensor, w2: Tensor | None = None, cut: int | None = None) -> Tensor:
        """(N, L, w_dim): w for every layer, or w for layers before `cut` and w2 from it on."""
        ws = w.unsqueeze(1).repeat(1, self.synthesis.layers, 1)
        if w2 is not None:
            ws[:, cut:] = w2.unsqueeze(1)
        return ws


class BatchStdBody(nn.Module):
    """DCGAN's discriminator body (`dc_discriminator_body`) with the minibatch standard deviation channel
    (Karras et al., 2018; StyleGAN's discriminator keeps it) entering its last convolution: the critic sees how
    varied the batch is, so a generator that draws one digit over and over is told apart from the data."""

    def __init__(self, shape: tuple[int, ...], *, width: int) -> None:
        super().__init__()
        body, self.features = dc_discriminator_body(shape, width=width, batchnorm=False)
        layers = list(body)  # [conv, LeakyReLU] × n, Flatten
        last = layers[-3]
        layers[-3] = nn.Conv2d(last.in_channels + 1, last.out_channels, last.kernel_size, last.stride, last.padding)
        self.head, self.tail = nn.Sequential(*layers[:-3]), nn.Sequential(*layers[-3:])

    def forward(self, x: Tensor) -> Tensor:  # (N, C, H, W) -> (N, features)
        return self.tail(minibatch_std(self.head(x)))


class StyleGAN(GANNetwork):
    """A `GANNetwork` with a style-based generator; `generate(z, truncation=ψ)` and `mix(z_a, z_b)`.

    Implements `objectives.gan_protocols.StyleNetwork`."""

    variant = "stylegan"

    def generate(self, z: Tensor, y: Tensor | None = None, *, truncation: float = 1.0) -> Tensor:
        return self.generator(z, truncation=truncation).view(-1, *self.shape)

    @property
    def style_layers(self) -> int:
        """L = 1 + 2n: the constant's layer, then two per up-sampling."""
        return self.generator.synthesis.layers

    @property
    def default_crossover(self) -> int:
        """The first layer of the output resolution."""
        return max(1, self.style_layers - 2)

    def mix(self, z_coarse: Tensor, z_fine: Tensor, *, crossover: int | None = None) -> Tensor:
        """Images with z_coarse's styles before layer `crossover` and z_fine's from it on. The default splits by
        resolution, as the paper's Fig. 3 does: the coarse styles are those of every resolution below the
        output's (7×7 and 14×14 for 28×28 digits), the fine ones the output resolution's two convolutions'."""
        g = self.generator
        cut = self.default_crossover if crossover is None else crossover
        return g.synthesis(g.styles(g.map(z_coarse), g.map(z_fine), cut))


@MODELS.register(
    "stylegan",
    tags=("G12",),
    objective="gan",
    data="mnist5k",
)
def build_stylegan(
    input_shape: tuple[int, ...],
    num_classes: int | None,
    *,
    latent_dim: int = 64,
    width: int = 32,
    mapping_layers: int = 4,
    mixing: float = 0.9,
    batchnorm: bool = True,
    halve: bool = True,
    batch_std: bool = False,
    layer: str = "adain",
    tanh: bool = True,
) -> StyleGAN:
    """Small StyleGAN (mapping 4×64, AdaIN, noise, mixing 0.9, channels 32 → 16 → 8, tanh output) against
    DCGAN's discriminator (with its BatchNorm, so that the comparison with DCGAN isolates the generator).

    NS-GAN loss, Adam 5e-4 (β = (0.5, 0.999)). Scores below are (Fréchet distance, share the metric classifier
    names with p ≥ 0.9 / classes named, recall) of `gan_images.scored_run` on mnist5k, seed 0, 500 test images.

    Until these defaults the synthesis used StyleGAN2's modulation/demodulation (`layer="modulate"`), no tanh,
    full-width channels and a discriminator without BatchNorm: it collapsed onto a few digits at every budget
    and recipe tried — 8 epochs FD 252, 0.23 / 7, recall 0.04; R1 γ = 1 or 10, the paper's Adam (2e-3,
    β = (0, 0.99)) for G, a slower D, `batch_std`, wider or halved channels: recall ≤ 0.08 in each; 40 epochs
    FD 453, recall 0.004. What ended the collapse was the 2019 paper's own layer, AdaIN, with the output
    squashed into the data's range: 8 epochs, `modulate` + tanh FD 682, 0.50 / 2 (collapsed); `adain`
    without tanh FD 724, 0.32 / 6, recall 0.24; `adain` + tanh FD 146, 0.27 / 7, recall 0.41. Halving the
    channels makes a step about 3× cheaper, so 16 epochs cost what 8 did: FD 140, 0.34 / 7, recall 0.36 (seeds
    1, 2: 0.27, 0.24). DCGAN's discriminator with BatchNorm then raised the share named over seeds 0–2 from
    0.34, 0.27, 0.24 to 0.38, 0.34, 0.28 (FD 125, 118, 127; recall 0.35–0.43); with the modulated generator
    it had not helped (FD 299 after 620 steps: its noise inputs grew into speckle). At 40 epochs (AdaIN, tanh,
    halved, D without BatchNorm) the share named was 0.24 (FD 127, recall 0.44): more steps alone did not
    raise it."""
    require_square("stylegan", input_shape)
    if layer not in LAYERS:
        raise ValueError(f"stylegan: layer must be one of {', '.join(LAYERS)}; got {layer!r}")
    generator = StyleNetworks(
        latent_dim,
        input_shape,
        width=width,
        mapping_layers=mapping_layers,
        mixing=mixing,
        halve=halve,
        layer=layer,
        tanh=tanh,
    )
    if batch_std and batchnorm:
        raise ValueError("stylegan: batch_std reads the batch's spread, which BatchNorm normalises away")
    if batch_std:
        body = BatchStdBody(input_shape, width=width)
        features = body.features
    else:
        body, features = dc_discriminator_body(input_shape, width=width, batchnorm=batchnorm)
    return StyleGAN(
        generator, Critic(body, features), latent_dim=latent_dim, shape=input_shape, data_classes=num_classes or 0
    )
