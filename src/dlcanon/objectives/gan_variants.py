"""The GAN objective for networks that train or show themselves differently, and the registered builders.

- `LAPGAN` (Denton et al., 2015): every scale's critic sees fakes built on the real coarser image
  (`training_fakes`); views add the sampling chain at every scale (`samples-scales.png`).
- `ProGAN` (Karras et al., 2018): the trainer's step t sets the growth level and fade (`on_step`); views add
  the same noise at every resolution reached so far (`samples-resolutions.png`).
- `StyleGAN` (Karras et al., 2019): sampling takes a truncation ψ; views add the style-mixing grid
  (`samples-mixing.png`).

`gan`, `wgan` and `wgan-gp` name the loss pair; the network's declared `variant` picks the class above (or
`GAN`), so `dlcanon train progan` trains a growing network on the wgan-gp pair with no branch on the network.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from dlcanon.data.base import Split
from dlcanon.errors import UserError
from dlcanon.objectives.gan import GAN
from dlcanon.objectives.gan_protocols import AdversarialNetwork, GrowingNetwork, PyramidNetwork, StyleNetwork, require
from dlcanon.objectives.views import Grid, View
from dlcanon.registry import OBJECTIVES


def side_by_side(chain: list[Tensor]) -> Tensor:
    """Images at several sides [(n, C, s, s), …] → one batch, each nearest-up-sampled to the largest side."""
    side = max(x.shape[-1] for x in chain)
    return torch.cat([F.interpolate(x.float(), size=side, mode="nearest") for x in chain])


class LAPGAN(GAN):
    """A Laplacian pyramid of GANs trained at every scale at once on the GAN (not a penalised) loss pair."""

    protocol = PyramidNetwork

    def __init__(self, network: nn.Module, **kwargs: Any) -> None:
        super().__init__(network, **kwargs)
        if self.losses.penalty:
            raise UserError("wgan-gp interpolates whole samples; a pyramid of GANs (lapgan) trains with gan")

    def fakes(self, real: Tensor, z: Tensor, y: Tensor | None) -> list[Tensor]:
        """[l̃_k paired with up(l_{k+1}) from the real pyramid, …, G_n(z)]: what each scale's critic sees."""
        return self.network.training_fakes(real, z, y)

    @torch.no_grad()
    def pyramid(self, n: int, *, seed: int = 0) -> list[Tensor]:
        """The sampling chain in [0, 1], coarsest first: [(n, C, s₀, s₀), …, data size]."""
        device = next(self.parameters()).device
        z = self.network.sample_z(n, device, generator=torch.Generator(device).manual_seed(seed))
        return [self.unscale(x).clamp(0, 1) for x in self.network.generate_pyramid(z)]

    def views(self, split: Split, n: int, **options: Any) -> dict[str, View]:
        """Samples, and "scales": min(n, 16) chains, one row per scale up-sampled to the data size."""
        out, chain = super().views(split, n, **options), self.pyramid(min(n, 16))
        return {**out, "scales": Grid(side_by_side(chain), nrow=len(chain[0]))}


class ProGAN(GAN):
    """A growing generator and critic: step t of the run sets the level and fade (`level_and_alpha`)."""

    protocol = GrowingNetwork

    def on_step(self, step: int, total_steps: int) -> None:
        self.network.set_progress(step)

    @torch.no_grad()
    def views(self, split: Split, n: int, **options: Any) -> dict[str, View]:
        """Samples, and "resolutions": the same min(n, 10) latents at each level reached so far (stable, α = 1),
        one row per resolution, coarsest first."""
        out = super().views(split, n, **options)
        net = self.network
        reached, alpha = net.stage
        rows = []
        for level in range(reached + 1):
            net.set_level(level)
            rows.append(self.sample(min(n, 10), seed=0))
        net.set_level(reached, alpha)
        out["resolutions"] = Grid(torch.cat(rows), nrow=min(n, 10))
        return out


class StyleGAN(GAN):
    """A style-based generator: sampling with truncation ψ, and the style-mixing grid."""

    protocol = StyleNetwork

    @torch.no_grad()
    def sample(
        self,
        n: int,
        label: int | None = None,
        *,
        labels: Tensor | None = None,
        seed: int | None = None,
        truncation: float | None = None,
    ) -> Tensor:
        """n samples in [0, 1]; `truncation` ψ: w = w̄ + ψ(w − w̄) (None or 1: none, 0: every sample w̄)."""
        psi = 1.0 if truncation is None else float(truncation)
        return self.draw(n, label, labels=labels, seed=seed, truncation=psi)

    def latent_pair(self, n: int, seed: int) -> tuple[Tensor, Tensor]:
        """Two batches of n latents, A and B, from a generator seeded with `seed`."""
        device = next(self.parameters()).device
        g = torch.Generator(device).manual_seed(seed)
        return self.network.sample_z(n, device, generator=g), self.network.sample_z(n, device, generator=g)

    @torch.no_grad()
    def style_mixing(self, n: int = 5, *, seed: int = 0) -> tuple[Tensor, int]:
        """A (n + 1)² grid: row 0 sources B, column 0 sources A, cell (i, j) A_i's coarse styles with B_j's
        fine styles (Karras et al., 2019, Fig. 3); returns images and the row length."""
        net, (za, zb) = self.network, self.latent_pair(n, seed)
        a, b = net.generate(za), net.generate(zb)
        rows = [torch.cat([torch.full_like(a[:1], 1.0), b])]
        for i in range(n):
            rows.append(torch.cat([a[i : i + 1], net.mix(za[i : i + 1].expand(n, -1), zb)]))
        return self.unscale(torch.cat(rows)).clamp(0, 1), n + 1

    @torch.no_grad()
    def mixed_pairs(
        self, n: int, *, seed: int = 0, crossover: int | None = None
    ) -> tuple[Tensor, Tensor, Tensor]:
        """n sources A and B and their mixes, A's styles before layer `crossover` (default: the network's) with
        B's from it on, each (n, C, H, W) in [0, 1]."""
        net, (za, zb) = self.network, self.latent_pair(n, seed)
        images = (net.generate(za), net.generate(zb), net.mix(za, zb, crossover=crossover))
        return tuple(self.unscale(x).clamp(0, 1) for x in images)

    def views(self, split: Split, n: int, **options: Any) -> dict[str, View]:
        """Samples, and "mixing": the style-mixing grid of 5 × 5 latents."""
        out, (grid, nrow) = super().views(split, n, **options), self.style_mixing()
        return {**out, "mixing": Grid(grid, nrow=nrow)}


VARIANTS: dict[str, type[GAN]] = {"gan": GAN, "lapgan": LAPGAN, "progan": ProGAN, "stylegan": StyleGAN}


def gan_objective(network: nn.Module, loss: str, **kwargs: Any) -> GAN:
    """The GAN objective for `network`'s declared variant, on the loss pair `loss`."""
    require(network, AdversarialNetwork, f"{loss} (a GAN)")
    variant = network.variant
    if variant not in VARIANTS:
        name = type(network).__name__
        raise UserError(f"a GAN network's variant is one of {', '.join(VARIANTS)}; {name} has {variant!r}")
    return VARIANTS[variant](network, loss=loss, **kwargs)


@OBJECTIVES.register("gan", tags=("G6", "G8"))
def build_gan(network: nn.Module, **kwargs: Any) -> GAN:
    """GAN: non-saturating (default) or minimax generator loss, K = n_critic discriminator steps."""
    return gan_objective(network, "gan", **kwargs)


@OBJECTIVES.register("wgan", tags=("G7",))
def build_wgan(network: nn.Module, **kwargs: Any) -> GAN:
    """WGAN: critic values, weight clipping c = 0.01, n_critic = 5 (the paper's; presets set the optimiser)."""
    return gan_objective(network, "wgan", **kwargs)


@OBJECTIVES.register("wgan-gp", tags=("G7",))
def build_wgan_gp(network: nn.Module, **kwargs: Any) -> GAN:
    """WGAN-GP: gradient penalty λ = 10 (the paper's; preset wgan-gp uses 0.1) on interpolates, n_critic = 5."""
    return gan_objective(network, "wgan-gp", **kwargs)
