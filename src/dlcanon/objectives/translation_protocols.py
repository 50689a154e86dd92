"""What the image-to-image objectives read from their networks, declared as protocols (S4, S5).

`SuperResolver` (models.srgan: SRResNet, SRGAN): a generator LR (N, C, h, w) → HR (N, C, s·h, s·w) and, when
adversarial, an unconditional discriminator on HR images. `Translator` (models.pix2pix): a generator
A (N, C_a, H, W) → B (N, C_b, H, W) and a conditional discriminator on the pair (a, b), which returns a map of
patch logits (N, 1, H', W') or one logit per image (N,). `require` turns a network that lacks a member into
one UserError naming what is missing.
"""

from __future__ import annotations

from typing import Protocol

from torch import Tensor, nn

from dlcanon.errors import UserError


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


def require(network: object, protocol: type, objective: str) -> None:
    """UserError unless `network` has every member `protocol` declares (names only)."""
    declared = {n for n in (*vars(protocol).get("__annotations__", {}), *vars(protocol)) if not n.startswith("_")}
    missing = sorted(declared - set(dir(network)))
    if missing:
        raise UserError(
            f"objective {objective} needs a network with {protocol.__name__}'s members; "
            f"{type(network).__name__} lacks {', '.join(missing)}"
        )
