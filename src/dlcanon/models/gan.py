"""GAN networks: a generator and a discriminator (critic) held together, unconditional or conditional.

`GANNetwork.generate(z, y) -> x̃` (N, *shape) and `discriminate(x, y) -> d` (N,) scores (logits for the
GAN loss, critic values for WGAN). Image generators end in tanh, so x̃ ∈ [−1, 1]; the objective scales real
images from [0, 1] to match. Conditioning (Mirza & Osindero, 2014): the generator reads [z, onehot(y)];
the discriminator's features φ(x) (N, F) meet the label either by concatenation,
d = w₂ᵀ LeakyReLU(W₁[φ(x), onehot(y)]), or by projection (Miyato & Koyama, 2018), d = ψ(φ(x)) + e_yᵀφ(x)
with a learned class embedding e_y.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from typing import ClassVar

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from dlcanon.registry import MODELS

CONDITIONS = ("concat", "projection")


def one_hot(y: Tensor | None, num_classes: int, n: int, like: Tensor) -> Tensor | None:
    """(N,) labels → (N, C) floats; None when unconditional; zeros ("no class") when labels are missing."""
    if num_classes == 0:
        return None
    if y is None:
        return like.new_zeros(n, num_classes)
    return F.one_hot(y.long(), num_classes).to(like.dtype)


class Critic(nn.Module):
    """d(x, y) on features φ(x) ∈ R^F: a linear head, with the label by concatenation or projection."""

    def __init__(self, body: nn.Module, features: int, *, num_classes: int = 0, condition: str = "projection"):
        super().__init__()
        if condition not in CONDITIONS:
            raise ValueError(f"condition must be one of {', '.join(CONDITIONS)}; got {condition!r}")
        self.body, self.num_classes, self.condition = body, num_classes, condition
        concat = num_classes > 0 and condition == "concat"
        self.joint = nn.Sequential(nn.Linear(features + num_classes, features), nn.LeakyReLU(0.2)) if concat else None
        self.head = nn.Linear(features, 1)
        self.embed = nn.Embedding(num_classes, features) if num_classes > 0 and condition == "projection" else None

    def forward(self, x: Tensor, y: Tensor | None = None) -> Tensor:  # (N, *shape) -> (N,)
        h = self.body(x)
        if self.joint is not None:
            h = self.joint(torch.cat([h, one_hot(y, self.num_classes, len(h), h)], 1))
        out = self.head(h).squeeze(1)
        if self.embed is not None and y is not None:
            out = out + (self.embed(y.long()) * h).sum(1)
        return out


class GANNetwork(nn.Module):
    """`generator` maps [z, onehot(y)] (N, latent_dim + C) to samples; `discriminator` is a `Critic`.

    `data_classes` is the label count of the data (mixture modes of 2-D toys, digit classes), used by
    evaluation; `num_classes` > 0 only for conditional networks. `forward(x, y)` is the critic's score.
    Implements `objectives.gan_protocols.AdversarialNetwork`; `variant` names the objective that trains it.
    """

    variant: ClassVar[str] = "gan"

    def __init__(
        self,
        generator: nn.Module,
        discriminator: nn.Module,
        *,
        latent_dim: int,
        shape: tuple[int, ...],
        num_classes: int = 0,
        data_classes: int = 0,
    ) -> None:
        super().__init__()
        self.generator, self.discriminator = generator, discriminator
        self.latent_dim, self.shape = latent_dim, tuple(shape)
        self.num_classes, self.data_classes = num_classes, data_classes

    @property
    def image(self) -> bool:
        return len(self.shape) == 3

    def sample_z(self, n: int, device: torch.device | str, *, generator: torch.Generator | None = None) -> Tensor:
        return torch.randn(n, self.latent_dim, device=device, generator=generator)

    def generate(self, z: Tensor, y: Tensor | None = None) -> Tensor:  # (N, latent) -> (N, *shape)
        c = one_hot(y, self.num_classes, len(z), z)
        return self.generator(z if c is None else torch.cat([z, c], 1)).view(-1, *self.shape)

    def discriminate(self, x: Tensor, y: Tensor | None = None) -> Tensor:  # (N, *shape) -> (N,)
        return self.discriminator(x, y)

    def forward(self, x: Tensor, y: Tensor | None = None) -> Tensor:
        return self.discriminate(x, y)


def mlp(sizes: Sequence[int], activation: nn.Module, *, last: nn.Module | None = None) -> nn.Sequential:
    """Linear layers of `sizes` with `activation` between them and `last` after the final one."""
    layers: list[nn.Module] = []
    for i, (a, b) in enumerate(itertools.pairwise(sizes)):
        layers.append(nn.Linear(a, b))
        if i < len(sizes) - 2:
            layers.append(activation)
    if last is not None:
        layers.append(last)
    return nn.Sequential(*layers)


def build_mlp_gan(
    input_shape: tuple[int, ...],
    num_classes: int | None,
    *,
    latent_dim: int = 2,
    hidden: Sequence[int] = (128, 128, 128),
    conditional: bool = False,
    condition: str = "projection",
) -> GANNetwork:
    """MLP generator (ReLU) and critic (LeakyReLU(0.2)) on flattened samples; tanh output for images."""
    dim, width = math.prod(input_shape), list(hidden)
    cond = (num_classes or 0) if conditional else 0
    if conditional and not cond:
        raise ValueError("a conditional GAN needs labelled data with num_classes > 0")
    last = nn.Tanh() if len(input_shape) == 3 else None
    generator = mlp([latent_dim + cond, *width, dim], nn.ReLU(), last=last)
    body = nn.Sequential(nn.Flatten(), mlp([dim, *width], nn.LeakyReLU(0.2)), nn.LeakyReLU(0.2))
    critic = Critic(body, width[-1], num_classes=cond, condition=condition)
    return GANNetwork(
        generator, critic, latent_dim=latent_dim, shape=input_shape, num_classes=cond, data_classes=num_classes or 0
    )


# one toy network for the four 2-D GANs: the presets gan, nsgan, wgan and wgan-gp (dlcanon.presets) train it
MODELS.register("mlp_gan", tags=("G6", "G7"), objective="gan", data="ring8")(build_mlp_gan)
