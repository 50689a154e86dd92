"""Encoders and decoders of (conditional) VAEs: MLP and convolutional, as plain networks.

q_φ(z|x[, y]) = N(z; μ_φ, diag σ²_φ) with (μ_φ, log σ²_φ) = Encoder(x[, y]) and the decoder G_θ(z[, y]) giving
the parameters of p_θ(x|z[, y]) per pixel (Bernoulli logits or Gaussian means before a sigmoid): the
objective (`dlcanon.objectives.vae`) reads them. A conditional network (Sohn, Lee & Yan, 2015) concatenates
the one-hot label to the encoder's flattened input and to z.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from dlcanon.errors import UserError
from dlcanon.models.mlp import MLP
from dlcanon.registry import MODELS


def one_hot(y: Tensor | None, num_classes: int, n: int, like: Tensor) -> Tensor | None:
    """(N,) labels → (N, C) one-hot floats; None for unconditional networks (num_classes = 0).

    A conditional network called without labels (a summary's forward pass) gets zeros: "no class".
    """
    if num_classes == 0:
        return None
    if y is None:
        return like.new_zeros(n, num_classes)
    return F.one_hot(y.long(), num_classes).to(like.dtype)


def _cat(h: Tensor, c: Tensor | None) -> Tensor:
    return h if c is None else torch.cat([h, c], dim=1)


class MLPEncoder(nn.Module):
    """Flattened x (and one-hot y) → hidden layers → (μ, log σ²), each (N, latent_dim)."""

    def __init__(self, in_features: int, latent_dim: int, *, hidden: Sequence[int], activation: str, cond: int):
        super().__init__()
        self.net = MLP(in_features + cond, 2 * latent_dim, hidden=hidden, activation=activation)

    def forward(self, x: Tensor, c: Tensor | None = None) -> tuple[Tensor, Tensor]:
        mu, logvar = self.net(_cat(x.flatten(1), c)).chunk(2, dim=1)
        return mu, logvar


class MLPDecoder(nn.Module):
    """z (and one-hot y) → hidden layers → one parameter per pixel, reshaped to `shape`."""

    def __init__(self, latent_dim: int, shape: tuple[int, ...], *, hidden: Sequence[int], activation: str, cond: int):
        super().__init__()
        self.shape = tuple(shape)
        self.net = MLP(latent_dim + cond, math.prod(shape), hidden=hidden, activation=activation)

    def forward(self, z: Tensor, c: Tensor | None = None) -> Tensor:  # (N, d) -> (N, *shape)
        return self.net(_cat(z, c)).view(-1, *self.shape)


class ConvEncoder(nn.Module):
    """(C, H, W) → conv 4×4/2 (H/2) → conv 4×4/2 (H/4) → flatten (+ y) → Linear → (μ, log σ²). H, W divisible by 4."""

    def __init__(self, shape: tuple[int, ...], latent_dim: int, *, channels: Sequence[int], cond: int):
        super().__init__()
        c, h, w = shape
        a, b = channels
        self.features = nn.Sequential(
            nn.Conv2d(c, a, 4, stride=2, padding=1),  # (N, a, H/2, W/2)
            nn.ReLU(),
            nn.Conv2d(a, b, 4, stride=2, padding=1),  # (N, b, H/4, W/4)
            nn.ReLU(),
            nn.Flatten(),
        )
        self.head = nn.Linear(b * (h // 4) * (w // 4) + cond, 2 * latent_dim)

    def forward(self, x: Tensor, c: Tensor | None = None) -> tuple[Tensor, Tensor]:
        mu, logvar = self.head(_cat(self.features(x), c)).chunk(2, dim=1)
        return mu, logvar


class ConvDecoder(nn.Module):
    """z (+ y) → Linear → (b, H/4, W/4) → transposed conv 4×4/2 → transposed conv 4×4/2 → (C, H, W) parameters."""

    def __init__(self, latent_dim: int, shape: tuple[int, ...], *, channels: Sequence[int], cond: int):
        super().__init__()
        c, h, w = shape
        a, b = channels
        self.start = (b, h // 4, w // 4)
        self.project = nn.Sequential(nn.Linear(latent_dim + cond, math.prod(self.start)), nn.ReLU())
        self.net = nn.Sequential(
            nn.ConvTranspose2d(b, a, 4, stride=2, padding=1),  # (N, a, H/2, W/2)
            nn.ReLU(),
            nn.ConvTranspose2d(a, c, 4, stride=2, padding=1),  # (N, C, H, W)
        )

    def forward(self, z: Tensor, c: Tensor | None = None) -> Tensor:
        return self.net(self.project(_cat(z, c)).view(-1, *self.start))


class VAENetwork(nn.Module):
    """An encoder and a decoder; `forward(x)` is the deterministic reconstruction G_θ(μ_φ(x)) (decoder parameters).

    `num_classes` > 0 makes it conditional: `encode(x, y)` and `decode(z, y)` take labels.
    """

    def __init__(
        self, encoder: nn.Module, decoder: nn.Module, *, shape: tuple[int, ...], latent_dim: int, num_classes: int = 0
    ) -> None:
        super().__init__()
        self.encoder, self.decoder = encoder, decoder
        self.shape, self.latent_dim, self.num_classes = tuple(shape), latent_dim, num_classes

    def encode(self, x: Tensor, y: Tensor | None = None) -> tuple[Tensor, Tensor]:
        """(μ, log σ²) of q_φ(z|x, y), each (N, latent_dim)."""
        return self.encoder(x, one_hot(y, self.num_classes, x.shape[0], x))

    def decode(self, z: Tensor, y: Tensor | None = None) -> Tensor:
        """Per-pixel parameters of p_θ(x|z, y), (N, C, H, W)."""
        return self.decoder(z, one_hot(y, self.num_classes, z.shape[0], z))

    def forward(self, x: Tensor, y: Tensor | None = None) -> Tensor:
        return self.decode(self.encode(x, y)[0], y)


def _conditioning(conditional: bool, num_classes: int | None) -> int:
    if not conditional:
        return 0
    if not num_classes:
        raise UserError("a conditional VAE needs labelled data with num_classes > 0")
    return num_classes


def build_mlp_vae(
    input_shape: tuple[int, ...],
    num_classes: int | None,
    *,
    latent_dim: int = 32,
    hidden: Sequence[int] = (512, 256),
    activation: str = "relu",
    conditional: bool = False,
) -> VAENetwork:
    """MLP VAE: encoder D → hidden → 2·latent_dim, decoder latent_dim → reversed hidden → D."""
    cond = _conditioning(conditional, num_classes)
    d = math.prod(input_shape)
    hidden = tuple(hidden)
    encoder = MLPEncoder(d, latent_dim, hidden=hidden, activation=activation, cond=cond)
    decoder = MLPDecoder(latent_dim, input_shape, hidden=hidden[::-1], activation=activation, cond=cond)
    return VAENetwork(encoder, decoder, shape=input_shape, latent_dim=latent_dim, num_classes=cond)


def build_conv_vae(
    input_shape: tuple[int, ...],
    num_classes: int | None,
    *,
    latent_dim: int = 32,
    channels: Sequence[int] = (32, 64),
    conditional: bool = False,
) -> VAENetwork:
    """Convolutional VAE for images whose sides are divisible by 4 (28×28, 8×8)."""
    if len(input_shape) != 3 or input_shape[1] % 4 or input_shape[2] % 4:
        raise UserError(f"vae_conv needs (C, H, W) images with H, W divisible by 4; got {input_shape}")
    cond = _conditioning(conditional, num_classes)
    encoder = ConvEncoder(input_shape, latent_dim, channels=tuple(channels), cond=cond)
    decoder = ConvDecoder(latent_dim, input_shape, channels=tuple(channels), cond=cond)
    return VAENetwork(encoder, decoder, shape=input_shape, latent_dim=latent_dim, num_classes=cond)


# training recipes: the presets of the same names (dlcanon.presets)
MODELS.register("vae", tags=("G3",), objective="vae", data="mnist5k")(build_mlp_vae)
MODELS.register("vae_conv", tags=("G3",), objective="vae", data="mnist5k")(build_conv_vae)


@MODELS.register("cvae", tags=("G4",), objective="cvae", data="mnist5k")
def build_cvae(input_shape: tuple[int, ...], num_classes: int | None, **kwargs) -> VAENetwork:
    """Conditional MLP VAE (Sohn et al., 2015): the one-hot label enters the encoder and the decoder."""
    return build_mlp_vae(input_shape, num_classes, conditional=True, **kwargs)
