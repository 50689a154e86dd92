"""What the GAN objectives read from their networks, declared as protocols the networks of `models.gan`,
`models.lapgan`, `models.progan` and `models.stylegan` implement.

`variant` names the objective that trains a network: "gan" for a generator and a critic trained as one pair
(MLP GANs, DCGAN, cGAN), "lapgan" for a pyramid of GANs, "progan" for a growing pair, "stylegan" for a
style-based generator. `require` turns a network that lacks a member into one UserError naming what is missing.
"""

from __future__ import annotations

from typing import ClassVar, Generic, Protocol

import torch
from torch import Tensor, nn

from dlcanon.errors import UserError


class AdversarialNetwork(Protocol):
    """A generator G(z, y) → x̃ (N, *shape) and a critic d(x, y) → scores, with their latent prior."""

    variant: ClassVar[str]
    generator: nn.Module
    discriminator: nn.Module
    latent_dim: int
    shape: tuple[int, ...]
    num_classes: int  # > 0 only for conditional networks
    data_classes: int  # the data's label count (mixture modes, digit classes), for evaluation

    @property
    def image(self) -> bool: ...

    def sample_z(self, n: int, device: torch.device | str, *, generator: torch.Generator | None = None) -> Tensor: ...

    def generate(self, z: Tensor, y: Tensor | None = None) -> Tensor: ...

    def discriminate(self, x: Tensor, y: Tensor | None = None) -> Tensor: ...


class PyramidNetwork(AdversarialNetwork, Protocol):
    """A Laplacian pyramid of GANs: each scale's critic sees fakes built on the real coarser image."""

    def generate_pyramid(self, z: Tensor) -> list[Tensor]: ...

    def training_fakes(self, real: Tensor, z: Tensor, y: Tensor | None = None) -> list[Tensor]: ...


class GrowingNetwork(AdversarialNetwork, Protocol):
    """A generator and critic that grow together: level l = 0 … `levels` (side s₀·2^l) with fade-in α."""

    def set_progress(self, step: int) -> None: ...

    def set_level(self, level: int, alpha: float = 1.0) -> None: ...

    @property
    def stage(self) -> tuple[int, float]: ...


class StyleNetwork(AdversarialNetwork, Protocol):
    """A style-based generator: truncation ψ towards the mean style, and style mixing of two latents."""

    def generate(self, z: Tensor, y: Tensor | None = None, *, truncation: float = 1.0) -> Tensor: ...

    def mix(self, z_coarse: Tensor, z_fine: Tensor, *, crossover: int | None = None) -> Tensor: ...

    @property
    def style_layers(self) -> int: ...  # the synthesis layers that read a style; crossovers are 1 … style_layers − 1

    @property
    def default_crossover(self) -> int: ...


def members(protocol: type) -> set[str]:
    """The names a protocol declares: its annotated attributes, methods and properties, inherited ones too."""
    names: set[str] = set()
    for cls in protocol.__mro__:
        if cls in (object, Protocol, Generic):
            continue
        names |= {n for n in (*vars(cls).get("__annotations__", {}), *vars(cls)) if not n.startswith("_")}
    return names


def require(network: object, protocol: type, objective: str) -> None:
    """UserError unless `network` has every member of `protocol` (names only; signatures are the type checker's)."""
    missing = sorted(members(protocol) - set(dir(network)))
    if missing:
        raise UserError(
            f"objective {objective} needs a network with {protocol.__name__}'s members; "
            f"{type(network).__name__} lacks {', '.join(missing)}"
        )
