"""DCGAN (Radford, Metz & Chintala, 2016): all-convolutional generator and discriminator.

G: z (N, d) → linear projection to (N, 2^n·c, s₀, s₀) → n × [ConvTranspose 4×4 stride 2 (fractional-strided),
BatchNorm, ReLU] with channels halving → the last one outputs the image channels and ends in tanh.
D: n × [Conv 4×4 stride 2, BatchNorm (not on the first), LeakyReLU(0.2)] with channels doubling → flatten
(N, 2^{n−1}·c·s₀²) → the `Critic` head. No pooling, no hidden fully connected layers; weights
N(0, 0.02), BatchNorm scales N(1, 0.02). The side s is halved n times down to s₀: 28 → 14 → 7 (n = 2),
32 → 16 → 8 → 4 (n = 3), 8 → 4 (n = 1).
"""

from __future__ import annotations

import itertools

import torch
from torch import nn

from dlcanon.models.gan import Critic, GANNetwork, build_mlp_gan
from dlcanon.registry import MODELS


def require_square(model: str, input_shape: tuple[int, ...]) -> None:
    """The image GANs build for square (C, H, W) images only."""
    if len(input_shape) != 3 or input_shape[1] != input_shape[2]:
        raise ValueError(f"{model} needs square (C, H, W) images; got {input_shape}")


def halvings(side: int) -> tuple[int, int]:
    """(n, s₀): halve `side` while it is even and above 4."""
    n = 0
    while side % 2 == 0 and side > 4:
        side, n = side // 2, n + 1
    if n == 0:
        raise ValueError(f"DCGAN needs an even image side above 4; got {side}")
    return n, side


def dcgan_init(module: nn.Module) -> None:
    """Radford et al.: conv and linear weights ~ N(0, 0.02), BatchNorm γ ~ N(1, 0.02), biases 0."""
    for m in module.modules():
        if isinstance(m, nn.Conv2d | nn.ConvTranspose2d | nn.Linear):
            nn.init.normal_(m.weight, 0.0, 0.02)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, nn.BatchNorm2d):
            nn.init.normal_(m.weight, 1.0, 0.02)
            nn.init.zeros_(m.bias)


class DCGenerator(nn.Module):
    def __init__(self, in_features: int, shape: tuple[int, ...], *, width: int = 32) -> None:
        super().__init__()
        n, s0 = halvings(shape[-1])
        channels = [width * 2 ** (n - 1 - i) for i in range(n)] + [shape[0]]  # e.g. 64, 32, 1
        self.project = nn.Sequential(
            nn.Linear(in_features, channels[0] * s0 * s0, bias=False),
            nn.Unflatten(1, (channels[0], s0, s0)),
            nn.BatchNorm2d(channels[0]),
            nn.ReLU(),
        )
        layers: list[nn.Module] = []
        for i, (a, b) in enumerate(itertools.pairwise(channels)):
            last = i == n - 1
            layers.append(nn.ConvTranspose2d(a, b, 4, stride=2, padding=1, bias=last))
            layers += [nn.Tanh()] if last else [nn.BatchNorm2d(b), nn.ReLU()]
        self.net = nn.Sequential(*layers)

    def forward(self, z: torch.Tensor) -> torch.Tensor:  # (N, d) -> (N, C, H, W)
        return self.net(self.project(z))


def dc_discriminator_body(shape: tuple[int, ...], *, width: int = 32, batchnorm: bool = True) -> tuple[nn.Module, int]:
    """Strided convolutions to (N, features); returns the body and its feature count."""
    n, s0 = halvings(shape[-1])
    layers: list[nn.Module] = []
    c = shape[0]
    for i in range(n):
        out = width * 2**i
        layers.append(nn.Conv2d(c, out, 4, stride=2, padding=1, bias=not (batchnorm and i > 0)))
        if batchnorm and i > 0:
            layers.append(nn.BatchNorm2d(out))
        layers.append(nn.LeakyReLU(0.2))
        c = out
    layers.append(nn.Flatten())
    return nn.Sequential(*layers), c * s0 * s0


def build_dcgan(
    input_shape: tuple[int, ...],
    num_classes: int | None,
    *,
    latent_dim: int = 64,
    width: int = 32,
    conditional: bool = False,
    condition: str = "projection",
    batchnorm: bool = True,
) -> GANNetwork:
    """DCGAN for square images of side 28, 32 or 8 (any even side above 4); `width` = channels of D's first conv.

    `batchnorm=False` removes BatchNorm from the critic, as WGAN-GP requires (the penalty is per sample).
    """
    require_square("dcgan", input_shape)
    cond = (num_classes or 0) if conditional else 0
    generator = DCGenerator(latent_dim + cond, input_shape, width=width)
    body, features = dc_discriminator_body(input_shape, width=width, batchnorm=batchnorm)
    network = GANNetwork(
        generator,
        Critic(body, features, num_classes=cond, condition=condition),
        latent_dim=latent_dim,
        shape=input_shape,
        num_classes=cond,
        data_classes=num_classes or 0,
    )
    dcgan_init(network)
    return network


# 20 epochs of mnist5k at batch 64: 31 steps an epoch (each a D and a G batch), 620 steps, about 35 s on one
# CPU core. Adam(β = (0.5, 0.999)) as the paper, at 1e-3 instead of its 2e-4: over 600 steps on mnist5k the
# conditional model reached a Fréchet distance of 28 at 1e-3, 59 at 5e-4 and 79 at 2e-4 (930 steps).
MODELS.register(
    "dcgan",
    tags=("G9",),
    objective="gan",
    data="mnist5k",
)(build_dcgan)


@MODELS.register(
    "cgan",
    tags=("G8",),
    objective="gan",
    data="mnist5k",
)
def build_cgan(input_shape: tuple[int, ...], num_classes: int | None, **kwargs) -> GANNetwork:
    """Conditional GAN (Mirza & Osindero, 2014): the label enters G by concatenation with z and D by projection
    (`condition=concat` for concatenation); a DCGAN on images, an MLP on points. Adam 1e-3 as `dcgan`."""
    if len(input_shape) == 3:
        return build_dcgan(input_shape, num_classes, conditional=True, **kwargs)
    kwargs = {"latent_dim": 2, "conditional": True, **kwargs}
    return build_mlp_gan(input_shape, num_classes, **kwargs)
