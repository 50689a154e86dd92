"""A small NVAE (Vahdat & Kautz, 2020): a hierarchical, multi-scale VAE with top-down latent groups.

Bottom-up, the encoder turns x into one feature map per latent group; top-down, the decoder starts from a
learned constant h and, group by group, forms the prior p(z_l | z_<l) from h and the posterior
q(z_l | x, z_<l) from h and the encoder feature, samples z_l and merges it into h. Groups at the coarse scale
(H/4) come first, then the decoder upsamples to H/2 for the next groups, then to H for the output logits.
The paper's pieces kept here: residual cells with squeeze-and-excitation (encoder: BN-Swish-conv3×3 twice;
decoder: BN-conv1×1 expand-BN-Swish-depthwise 5×5-BN-Swish-conv1×1-BN), batch norm, Swish, residual normal
posteriors μ_q = μ_p + Δμ, log σ_q = log σ_p + Δlog σ, and soft-clamped parameters 5·tanh(·/5). Left out
for size: normalizing flows in q, weight normalisation, many groups per scale (the paper's MNIST model has
2 scales × 10 groups × 20 channels; this one has 2 scales × `groups` × `latent_channels`).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from dlcanon.errors import UserError
from dlcanon.nn.squeeze_excitation import SqueezeExcitation
from dlcanon.registry import MODELS

RESIDUAL_SCALE = 0.1  # NVAE scales each cell's branch by 0.1 before adding it


def soft_clamp(t: Tensor, bound: float = 5.0) -> Tensor:
    """bound·tanh(t/bound): a differentiable clamp of μ and log σ to (−5, 5), as the paper's code does."""
    return bound * torch.tanh(t / bound)


def squeeze_excitation(channels: int) -> SqueezeExcitation:
    """SE with max(4, C/16) hidden units, as NVAE's code (the shared block's reduction chosen to give that)."""
    return SqueezeExcitation(channels, reduction=max(1, min(16, channels // 4)))


class EncoderCell(nn.Module):
    """x + 0.1·SE(conv3×3(Swish(BN(conv3×3(Swish(BN(x)))))))  (NVAE Fig. 3b)."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.branch = nn.Sequential(
            nn.BatchNorm2d(channels),
            nn.SiLU(),
            nn.Conv2d(channels, channels, 3, padding=1),
            nn.BatchNorm2d(channels),
            nn.SiLU(),
            nn.Conv2d(channels, channels, 3, padding=1),
            squeeze_excitation(channels),
        )

    def forward(self, x: Tensor) -> Tensor:
        return x + RESIDUAL_SCALE * self.branch(x)


class DecoderCell(nn.Module):
    """x + 0.1·SE(BN(conv1×1(Swish(BN(dwconv5×5(Swish(BN(conv1×1_E(BN(x)))))))))) (NVAE Fig. 3a), E = expansion."""

    def __init__(self, channels: int, expansion: int = 3) -> None:
        super().__init__()
        wide = channels * expansion
        self.branch = nn.Sequential(
            nn.BatchNorm2d(channels),
            nn.Conv2d(channels, wide, 1),
            nn.BatchNorm2d(wide),
            nn.SiLU(),
            nn.Conv2d(wide, wide, 5, padding=2, groups=wide),  # depthwise: a large receptive field, cheaply
            nn.BatchNorm2d(wide),
            nn.SiLU(),
            nn.Conv2d(wide, channels, 1),
            nn.BatchNorm2d(channels),
            squeeze_excitation(channels),
        )

    def forward(self, x: Tensor) -> Tensor:
        return x + RESIDUAL_SCALE * self.branch(x)


def _params(head: nn.Module, h: Tensor) -> tuple[Tensor, Tensor]:
    """A conv head's (μ, log σ²), soft-clamped: (N, 2c, h, w) → two (N, c, h, w). log σ² = 2·log σ."""
    mu, log_sigma = head(F.elu(h)).chunk(2, dim=1)
    return soft_clamp(mu), 2 * soft_clamp(log_sigma)


class NVAENetwork(nn.Module):
    """Two latent scales (H/4 then H/2), `groups` latent groups per scale of `latent_channels` channels each.

    `encode(x)` → encoder features in top-down order; `top_down(features, …)` → (output logits, groups), each
    group a dict of z, mu_q, logvar_q, mu_p, logvar_p (N, c, h, w) (q entries only when features are given).
    """

    def __init__(
        self,
        shape: tuple[int, ...],
        *,
        channels: Sequence[int] = (16, 32),
        groups: int = 2,
        latent_channels: int = 4,
        expansion: int = 3,
    ) -> None:
        super().__init__()
        c_in, height, width = shape
        if height % 4 or width % 4:
            raise UserError(f"nvae needs image sides divisible by 4; got {shape}")
        c2, c4 = channels  # at H/2, H/4
        self.shape, self.groups, self.latent_channels = tuple(shape), groups, latent_channels
        self.scales = [(c4, height // 4, width // 4), (c2, height // 2, width // 2)]  # top-down order
        # bottom-up: a strided stem to H/2 (full-resolution cells cost too much on a CPU), cells per group
        self.stem = nn.Conv2d(c_in, c2, 3, stride=2, padding=1)
        self.down = nn.Conv2d(c2, c4, 3, stride=2, padding=1)
        self.enc_cells = nn.ModuleList([EncoderCell(c) for c in (c2,) * groups + (c4,) * groups])
        # top-down
        self.h0 = nn.Parameter(torch.zeros(1, c4, height // 4, width // 4))
        per_group = [c for c, _, _ in self.scales for _ in range(groups)]
        self.enc_combine = nn.ModuleList([nn.Conv2d(c, c, 1) for c in per_group])  # e + conv(h)
        self.posterior = nn.ModuleList([nn.Conv2d(c, 2 * latent_channels, 3, padding=1) for c in per_group])
        self.prior = nn.ModuleList([nn.Conv2d(c, 2 * latent_channels, 3, padding=1) for c in per_group])
        self.dec_combine = nn.ModuleList([nn.Conv2d(c + latent_channels, c, 1) for c in per_group])  # [h, z] → h
        self.dec_cells = nn.ModuleList([DecoderCell(c, expansion) for c in per_group])
        self.up = nn.Conv2d(c4, c2, 1)  # after nearest ×2 upsampling, H/4 → H/2
        self.post = nn.Sequential(nn.ELU(), nn.ConvTranspose2d(c2, c_in, 4, stride=2, padding=1))  # → (C, H, W)

    @property
    def group_sizes(self) -> list[int]:
        """Latent dimensions per group, top-down."""
        return [self.latent_channels * h * w for _, h, w in self.scales for _ in range(self.groups)]

    def encode(self, x: Tensor) -> list[Tensor]:
        s = self.stem(x.contiguous(memory_format=torch.channels_last))  # (N, c2, H/2, W/2); NHWC: faster convs
        feats = []
        for i, cell in enumerate(self.enc_cells):
            if i == self.groups:
                s = self.down(s)  # (N, c4, H/4, W/4)
            s = cell(s)
            feats.append(s)
        return feats[::-1]  # the deepest feature serves the top group

    def top_down(
        self,
        feats: list[Tensor] | None = None,
        *,
        n: int | None = None,
        latents: list[Tensor] | None = None,
        temperature: float = 1.0,
        use_mean: bool = False,
    ) -> tuple[Tensor, list[dict[str, Tensor]]]:
        """Posterior path when `feats` are given, else the prior (z from `latents` when given, else sampled).

        `use_mean` takes z_l = μ_l instead of a sample (reconstructions, latent interpolation).
        """
        n = n or (feats[0] if feats is not None else latents[0]).shape[0]
        h = self.h0.expand(n, -1, -1, -1).contiguous(memory_format=torch.channels_last)
        out = []
        for i in range(len(self.dec_cells)):
            if i == self.groups:  # next scale
                h = self.up(F.interpolate(h, scale_factor=2.0, mode="nearest"))
            if i == 0:  # the top group's prior is N(0, I)
                mu_p = torch.zeros(n, self.latent_channels, *h.shape[2:], device=h.device, dtype=h.dtype)
                logvar_p = torch.zeros_like(mu_p)
            else:
                mu_p, logvar_p = _params(self.prior[i], h)
            group = {"mu_p": mu_p, "logvar_p": logvar_p}
            mu, logvar = mu_p, logvar_p
            if feats is not None:  # residual normal: q's parameters are offsets from p's
                d_mu, d_logvar = _params(self.posterior[i], feats[i] + self.enc_combine[i](h))
                mu, logvar = mu_p + d_mu, logvar_p + d_logvar
                group.update(mu_q=mu, logvar_q=logvar)
            if latents is not None:
                z = latents[i]
            elif use_mean:
                z = mu
            else:
                z = mu + temperature * torch.exp(0.5 * logvar) * torch.randn_like(mu)
            group["z"] = z
            out.append(group)
            h = self.dec_cells[i](self.dec_combine[i](torch.cat([h, z], dim=1)))
        return self.post(h), out

    def forward(self, x: Tensor) -> Tensor:
        """Deterministic reconstruction logits: every z_l at its posterior mean."""
        return self.top_down(self.encode(x), use_mean=True)[0]


@MODELS.register("nvae", tags=("G5",), objective="nvae", data="mnist5k")  # recipe: the preset nvae
def build_nvae(input_shape: tuple[int, ...], num_classes: int | None, **kwargs) -> NVAENetwork:
    """Small NVAE: 2 latent scales of residual SE cells, top-down groups, residual normal posteriors."""
    return NVAENetwork(input_shape, **kwargs)
