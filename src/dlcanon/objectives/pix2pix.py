"""pix2pix's objective (Isola et al. 2017, arXiv:1611.07004, eq. 4): a conditional GAN plus λ·L1 (S5).

    G* = arg min_G max_D  L_cGAN(G, D) + λ·L_L1(G),   λ = 100,
    L_cGAN = E[log D(a, b)] + E[log(1 − D(a, G(a)))],   L_L1 = E‖b − G(a)‖₁,

with D's logits averaged over its patches. Players: the discriminator minimises ½·(E[softplus(−d(a, b))] +
E[softplus(d(a, G(a)))]) — the loss halved "to slow down the rate at which D learns relative to G" (§3.3) —
then the generator minimises `gan_weight`·E[softplus(−d(a, G(a)))] (non-saturating, `gan_losses`) +
`l1_weight`·L1. The ablation of the paper's Table 1: L1 alone (`gan_weight` 0, a single player), cGAN alone
(`l1_weight` 0), L1 + cGAN. The noise z is the generator's dropout, kept on at test time as in the paper
(`test_dropout`). Images are scaled from [0, 1] to [−1, 1] for the tanh generator (the L1 loss is computed in
that range, as the paper's code does; reported L1 is on [0, 1]).

Evaluation on the test pairs: l1 (mean |G(a) − b| on [0, 1]), psnr and ssim (on all channels, no border crop;
`metrics.image_quality`), and on 28×28 grey digits the Fréchet distance of G(a) to b in the shipped mnist5k
classifier's features (`metrics.feature_net`).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from dlcanon.data.base import Split
from dlcanon.errors import UserError
from dlcanon.metrics.feature_net import feature_net_for
from dlcanon.metrics.generative import frechet_distance
from dlcanon.metrics.image_quality import psnr, ssim
from dlcanon.objectives import gan_losses as L
from dlcanon.objectives.base import Batch, Objective, Update
from dlcanon.objectives.gan import frozen
from dlcanon.objectives.translation_protocols import Translator, generator_and_critic, require
from dlcanon.objectives.views import Grid, View, device_of
from dlcanon.registry import OBJECTIVES


class Pix2PixObjective(Objective):
    """cGAN + λ·L1 for a `Translator` network (see the module docstring)."""

    def __init__(
        self, network: nn.Module, *, l1_weight: float = 100.0, gan_weight: float = 1.0, test_dropout: bool = True
    ) -> None:
        super().__init__()
        require(network, Translator, "pix2pix")
        for name, w in (("l1_weight", l1_weight), ("gan_weight", gan_weight)):
            if not isinstance(w, int | float) or isinstance(w, bool) or w < 0:
                raise UserError(f"{name} must be a number ≥ 0; got {w!r}")
        if not l1_weight and not gan_weight:
            raise UserError("l1_weight and gan_weight cannot both be 0")
        if gan_weight and network.discriminator is None:
            raise UserError("gan_weight > 0 needs a discriminator (model_args.discriminator=patch|pixel|image)")
        self.network: Any = network
        self.l1_weight, self.gan_weight, self.test_dropout = float(l1_weight), float(gan_weight), bool(test_dropout)

    def updates(self) -> list[Update]:
        return generator_and_critic(self.network, adversarial=bool(self.gan_weight))

    def ema_modules(self) -> list[str]:
        return ["network.generator"]

    def pair(self, batch: Batch) -> tuple[Tensor, Tensor]:
        a, b = batch
        if b is None:
            raise UserError("pix2pix needs paired data: input x and target image y (e.g. --data edges2digits)")
        return a * 2 - 1, b * 2 - 1

    def forward(self, batch: Batch, update: str = "generator") -> tuple[Tensor, dict[str, Tensor]]:
        a, b = self.pair(batch)
        net = self.network
        if update == "discriminator":
            with torch.no_grad():
                fake = self.matched(net.translate(a), b)
            loss = 0.5 * L.discriminator_loss(net.discriminate(a, b).float(), net.discriminate(a, fake).float())
            return loss, {"loss": loss.detach()}
        if update != "generator":
            raise ValueError(f"unknown update {update!r}; expected generator or discriminator")
        fake = self.matched(net.translate(a).float(), b)
        l1 = F.l1_loss(fake, b)
        loss = self.l1_weight * l1
        logs = {"l1": l1.detach()}
        if self.gan_weight:
            with frozen(net.discriminator):
                adv = L.nonsaturating_generator_loss(net.discriminate(a, fake).float())
            loss = loss + self.gan_weight * adv
            logs["adversarial"] = adv.detach()
        return loss, {"loss": loss.detach(), **logs}

    @staticmethod
    def matched(fake: Tensor, b: Tensor) -> Tensor:
        """`fake` unchanged when it has the target's shape; else a UserError naming the fix."""
        if fake.shape != b.shape:
            raise UserError(f"pix2pix: the generator makes {tuple(fake.shape[1:])} but the target is "
                            f"{tuple(b.shape[1:])}; set model_args.out_channels={b.shape[1]}")  # fmt: skip
        return fake

    def predict(self, x: Tensor) -> Tensor:
        return self.translate(x)

    @torch.no_grad()
    def translate(self, a: Tensor) -> Tensor:
        """B images in [0, 1] for A images in [0, 1]; dropout stays on when `test_dropout` (the paper's noise)."""
        was = self.network.generator.training
        self.network.generator.eval()
        if self.test_dropout:
            for m in self.network.generator.modules():
                if isinstance(m, nn.Dropout):
                    m.train()
        out = ((self.network.translate(a * 2 - 1).float() + 1) / 2).clamp(0, 1)
        self.network.generator.train(was)
        return out

    @torch.no_grad()
    def evaluate(self, batches: Iterable[Batch]) -> dict[str, float]:
        fakes, reals = [], []
        for a, b in batches:
            if b is None:
                raise UserError("pix2pix evaluation needs paired data")
            fakes.append(self.translate(a))
            reals.append(b.float())
        if not fakes:
            raise UserError("evaluate: the split is empty")
        fake, real = torch.cat(fakes), torch.cat(reals)
        if fake.shape != real.shape:
            raise UserError(f"pix2pix: outputs {tuple(fake.shape[1:])} do not match targets {tuple(real.shape[1:])}")
        out = {"l1": float((fake - real).abs().mean()), "psnr": float(psnr(fake, real, channel="rgb").mean())}
        if min(real.shape[-2:]) >= 11:
            out["ssim"] = float(ssim(fake, real, channel="rgb").mean())
        net = feature_net_for(tuple(real.shape[1:]))
        if net is not None:
            out["fd"] = float(frechet_distance(net.features(real.cpu()), net.features(fake.cpu())))
        return out

    def views(self, split: Split, n: int, **options: Any) -> dict[str, View]:
        """The view "samples": rows of (input A, G(A), target B) for the first n test pairs (grey shown as grey)."""
        if options:
            raise UserError(f"--{next(iter(options))} is not an option of pix2pix views; they take none")
        if split.y is None or len(split) == 0:
            raise UserError("pix2pix views need a split of (A, B) pairs")
        a, b = split.x[:n].to(device_of(self)), split.y[:n].to(device_of(self)).float()
        fake = self.translate(a)
        c = max(a.shape[1], b.shape[1])
        rows = torch.stack([t.expand(-1, c, -1, -1) if t.shape[1] == 1 else t for t in (a, fake, b)], 1)
        return {"samples": Grid(rows.flatten(0, 1).cpu(), nrow=3)}


@OBJECTIVES.register("pix2pix", tags=("S5",))
def build_pix2pix_objective(network: nn.Module, **kwargs) -> Pix2PixObjective:
    """pix2pix: conditional GAN (discriminator loss halved) + λ·L1, λ = 100; L1, PSNR, SSIM, FD."""
    return Pix2PixObjective(network, **kwargs)
