"""What the image-to-image objectives read from their networks, declared as protocols (S4, S5).

`SuperResolver` (models.srgan: SRResNet, SRGAN): a generator LR (N, C, h, w) → HR (N, C, s·h, s·w) and, when
adversarial, an unconditional discriminator on HR images. `Translator` (models.pix2pix): a generator
A (N, C_a, H, W) → B (N, C_b, H, W) and a conditional discriminator on the pair (a, b), which returns a map of
patch logits (N, 1, H', W') or one logit per image (N,). `require` turns a network that lacks a member into
one UserError naming what is missing (`gan_protocols.require`, shared by every protocol), and
`generator_and_critic` lists the players both objectives train.
"""

from __future__ import annotations

from typing import Protocol

from torch import Tensor, nn

from dlcanon.objectives.base import Update
from dlcanon.objectives.gan_protocols import require

__all__ = ["SuperResolver", "Translator", "generator_and_critic", "require"]


class SuperResolver(Protocol):
    generator: nn.Module
    discriminator: nn.Module | None  # None: no adversarial loss possible
    scale: int

    def translate(self, x: Tensor) -> Tensor: ...

    def discriminate(self, hr: Tensor) -> Tensor: ...


class Translator(Protocol):
    generator: nn.Module
    discriminator: nn.Module | None

    def translate(self, a: Tensor) -> Tensor: ...

    def discriminate(self, a: Tensor, b: Tensor) -> Tensor: ...


def generator_and_critic(network: SuperResolver | Translator, *, adversarial: bool) -> list[Update]:
    """The generator alone, or, with an adversarial term, the discriminator's step followed by the generator's."""
    g = [p for p in network.generator.parameters() if p.requires_grad]
    if not adversarial:
        return [Update("generator", g)]
    return [Update("discriminator", list(network.discriminator.parameters())), Update("generator", g)]
