"""The adversarial objective (G6–G8): a generator and a critic trained in turn on one loss pair; conditional
when the network is. Two declared players: the discriminator (critic) ×`n_critic` on fresh batches, then the
generator once. The pair (`gan_losses.LossPair`) is chosen once, by name:

- `gan` (Goodfellow et al., 2014): the discriminator's −V(D, G) and the generator loss "nonsaturating"
  (default) or "minimax"; K = 1.
- `wgan` (Arjovsky et al., 2017): n_critic = 5, critic weights clipped to [−c, c], c = 0.01. The clip is
  applied before every use of the critic, which equals clipping after each of its steps.
- `wgan-gp` (Gulrajani et al., 2017): n_critic = 5, gradient penalty λ = 10.
- `drift` ε (Wasserstein critics; Karras et al., 2018, use 0.001) adds ε·E[f(x)²] to the critic's loss.
- `r1` γ (Mescheder et al., 2018; StyleGAN uses γ = 10) adds (γ/2)·E_x[‖∇_x D(x)‖²] on real samples: the
  discriminator is pushed towards zero gradient on the data, which keeps the non-saturating game from cycling.

The objective carries no optimiser settings: each player's optimiser is the run's (`TrainConfig.players`
overrides one player's); the papers' optimisers live in the presets. What the objective reads from its
network is the protocol `gan_protocols.AdversarialNetwork`; pyramids, growing and style-based networks are
trained by the subclasses of `gan_variants`.

Images are scaled from [0, 1] to [−1, 1] for the tanh generators; `sample(n)` returns [0, 1] images (or
2-D points). `evaluate` generates as many samples as the test split (at least 2,500 on 2-D mixtures) from a
seeded noise generator and reports mode coverage on labelled 2-D data (modes = class means of the training
split, σ = their pooled within-class standard deviation), or, on images, the Fréchet distance and
precision/recall in the shipped metric classifier's features (or a user's exported extractor, e.g.
Inception: `use_features`), the share of samples the classifier names with probability ≥ 0.9
(`metrics.recognisability`) and, for conditional networks, its accuracy on samples generated for the test
labels.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Iterator
from typing import Any

import torch
from torch import Tensor, nn

from dlcanon.data.base import Split
from dlcanon.errors import UserError
from dlcanon.metrics.feature_net import ExternalFeatures, FeatureNet, feature_net_for
from dlcanon.metrics.generative import conditional_accuracy, mode_coverage, sample_quality
from dlcanon.metrics.recognisability import recognisability
from dlcanon.objectives import gan_losses as L
from dlcanon.objectives.base import Batch, Update
from dlcanon.objectives.gan_protocols import AdversarialNetwork, require
from dlcanon.objectives.generative import Generative


class GAN(Generative):
    """Adversarial training of an `AdversarialNetwork` on the loss pair `loss` ∈ {gan, wgan, wgan-gp}."""

    protocol: type = AdversarialNetwork  # what this objective reads from its network

    def __init__(
        self,
        network: nn.Module,
        *,
        loss: str = "gan",
        generator_loss: str | None = None,
        n_critic: int | None = None,
        clip: float = 0.01,
        gp_weight: float = 10.0,
        drift: float = 0.0,
        r1: float = 0.0,
        eval_seed: int = 0,
    ) -> None:
        super().__init__()
        require(network, self.protocol, type(self).__name__)
        self.network: Any = network
        self.losses = L.loss_pair(loss, generator_loss)
        self.n_critic = int(n_critic or self.losses.n_critic)
        if self.n_critic < 1 or clip <= 0 or gp_weight < 0 or drift < 0 or r1 < 0:
            raise UserError(
                f"need n_critic ≥ 1, clip > 0, gp_weight ≥ 0, drift ≥ 0, r1 ≥ 0; got {n_critic}, {clip}, {gp_weight}, "
                f"{drift}, {r1}"
            )
        if drift and not self.losses.wasserstein:
            raise UserError("drift penalises a Wasserstein critic's values; use it with wgan or wgan-gp")
        self.clip, self.gp_weight, self.drift, self.eval_seed = float(clip), float(gp_weight), float(drift), eval_seed
        self.r1 = float(r1)
        batchnorm = any(isinstance(m, nn.modules.batchnorm._BatchNorm) for m in network.discriminator.modules())
        if (self.losses.penalty or self.r1) and batchnorm:
            raise UserError(
                f"{'wgan-gp' if self.losses.penalty else 'r1'} penalises each sample's gradient, which BatchNorm in "
                "the critic mixes across the batch: use a critic without it (--set model_args.batchnorm=false)"
            )
        k, points = network.data_classes, not network.image
        self.register_buffer("mode_centres", torch.zeros(k if points else 0, network.shape[-1]))
        self.register_buffer("mode_std", torch.zeros(()))
        self.features: ExternalFeatures | None = None  # a user's extractor, set by `use_features`

    # ------------------------------------------------------------------ players
    def updates(self) -> list[Update]:
        d = [p for p in self.network.discriminator.parameters() if p.requires_grad]
        g = [p for p in self.network.generator.parameters() if p.requires_grad]
        return [Update("discriminator", d, repeat=self.n_critic), Update("generator", g)]

    def ema_modules(self) -> list[str]:
        """The generator alone is averaged: samples come from it, the critic only trains it."""
        return ["network.generator"]

    def prepare(self, train: Split) -> None:
        """On labelled 2-D mixtures: the modes are the class means, σ the pooled within-class std."""
        if len(self.mode_centres) and train.y is not None:
            x, y = train.x.float(), train.y
            for k in range(len(self.mode_centres)):
                self.mode_centres[k] = x[y == k].mean(0)
            self.mode_std.fill_((x - self.mode_centres[y]).pow(2).mean().sqrt())

    def scale(self, x: Tensor) -> Tensor:
        """Data → the generator's range: [0, 1] images to [−1, 1]; points unchanged."""
        return x * 2 - 1 if self.network.image else x

    def unscale(self, x: Tensor) -> Tensor:
        return (x + 1) / 2 if self.network.image else x

    def forward(self, batch: Batch, update: str = "generator") -> tuple[Tensor, dict[str, Tensor]]:
        x, y = batch
        real, y = self.scale(x), y if self.network.num_classes else None
        if self.losses.clip:
            with torch.no_grad():
                for p in self.network.discriminator.parameters():
                    p.clamp_(-self.clip, self.clip)
        z = self.network.sample_z(len(x), x.device)
        if update == "discriminator":
            return self.critic_loss(real, z, y)
        if update != "generator":
            raise ValueError(f"unknown update {update!r}; expected discriminator or generator")
        with frozen(self.network.discriminator):  # the generator's loss must leave no gradient in the critic's .grad
            d_fake = self.network.discriminate(self.fakes(real, z, y), y).float()
        loss = self.losses.generator(d_fake)
        return loss, {"loss": loss.detach()}

    def critic_loss(self, real: Tensor, z: Tensor, y: Tensor | None) -> tuple[Tensor, dict[str, Tensor]]:
        """The pair's critic loss on real and (detached) fake samples, plus its penalties."""
        net = self.network
        with torch.no_grad():
            fake = self.fakes(real, z, y)
        d_real, d_fake = net.discriminate(real, y).float(), net.discriminate(fake, y).float()
        loss = self.losses.critic(d_real, d_fake)
        logs = {"wasserstein": -loss.detach()} if self.losses.wasserstein else {"d_real": torch.sigmoid(d_real).mean()}
        if self.losses.penalty:
            penalty = L.gradient_penalty(lambda v: net.discriminate(v, y), L.interpolates(real, fake))
            loss = loss + self.gp_weight * penalty
            logs["gradient_penalty"] = penalty.detach()
        if self.drift:  # Karras et al. (2018): ε_drift·E[f(x)²] keeps the critic's values near 0
            loss = loss + self.drift * L.drift_penalty(d_real)
        if self.r1:  # Mescheder et al. (2018): (γ/2)·E[‖∇ₓD(x)‖²] on the real samples
            penalty = L.r1_penalty(lambda v: net.discriminate(v, y), real)
            loss = loss + self.r1 / 2 * penalty
            logs["r1"] = penalty.detach()
        return loss, {"loss": loss.detach(), **{k: v.detach() for k, v in logs.items()}}

    def fakes(self, real: Tensor, z: Tensor, y: Tensor | None) -> Tensor | list[Tensor]:
        """What the critic sees of the fakes: G(z, y) (a pyramid of GANs overrides it)."""
        return self.network.generate(z, y)

    # ------------------------------------------------------------------ sampling and metrics
    @torch.no_grad()
    def sample(
        self, n: int, label: int | None = None, *, labels: Tensor | None = None, seed: int | None = None
    ) -> Tensor:
        """n samples in data space ([0, 1] images or points). Conditional networks take `label` for every
        sample or `labels` (n,) (default: 0, 1, …, C−1 in turn); `seed` fixes the noise."""
        return self.draw(n, label, labels=labels, seed=seed)

    def draw(self, n: int, label: int | None, *, labels: Tensor | None, seed: int | None, **options: Any) -> Tensor:
        """`sample`, with `options` for the network's `generate` (a style-based network's truncation)."""
        device, classes = next(self.parameters()).device, self.network.num_classes
        if label is not None and not (classes and 0 <= label < classes):
            raise UserError(f"--label needs a conditional model with a class in 0..{classes - 1}; got {label}")
        g = None if seed is None else torch.Generator(device).manual_seed(seed)
        z = self.network.sample_z(n, device, generator=g)
        y = None
        if classes:
            y = torch.arange(n, device=device) % classes if labels is None else labels.to(device)
            y = torch.full_like(y, label) if label is not None else y
        x = self.unscale(self.network.generate(z, y, **options)).float()
        return x.clamp(0, 1) if self.network.image else x

    def use_features(self, extractor: ExternalFeatures) -> None:
        if not self.network.image:
            super().use_features(extractor)
        self.features = extractor

    @torch.no_grad()
    def evaluate(self, batches: Iterable[Batch]) -> dict[str, float]:
        xs, ys = zip(*batches, strict=True)
        real = torch.cat(xs).float()
        labels = None if ys[0] is None else torch.cat(ys)
        if not self.network.image:
            if not len(self.mode_centres):
                return {}
            fake = self.sample(max(2500, len(real)), seed=self.eval_seed)
            return mode_coverage(fake, self.mode_centres, float(self.mode_std))
        cond = labels if self.network.num_classes else None
        fake = torch.cat([self.sample(len(c), labels=c, seed=self.eval_seed + i) for i, c in _chunks(real, cond)])
        feature_net = self.features or feature_net_for(tuple(real.shape[1:]))
        if feature_net is None:  # no shipped classifier for this shape: pixels as features
            f_real, f_fake = real.flatten(1).cpu(), fake.flatten(1).cpu()
        else:
            f_real, f_fake = feature_net.features(real.cpu()), feature_net.features(fake.cpu())
        out = sample_quality(f_real, f_fake)
        if isinstance(feature_net, FeatureNet):  # a classifier: it can judge what the samples show
            out |= recognisability(fake, feature_net)
            if cond is not None:
                out["conditional_accuracy"] = conditional_accuracy(feature_net(fake.cpu()).argmax(1), cond.cpu())
        return out


@contextlib.contextmanager
def frozen(module: nn.Module) -> Iterator[None]:
    """Build the graph with `module`'s parameters excluded from autograd, then restore their flags.

    The trainer zeroes only the stepped player's gradients; without this, a generator step would leave
    ∂(−f(G(z)))/∂θ_D in the critic's .grad, added to its next step's gradient."""
    flags = [(p, p.requires_grad) for p in module.parameters()]
    for p, _ in flags:
        p.requires_grad_(False)
    try:
        yield
    finally:
        for p, flag in flags:
            p.requires_grad_(flag)


def _chunks(real: Tensor, labels: Tensor | None, size: int = 500):
    """(index, labels or a count) for generating len(real) samples in chunks of `size`."""
    for i, start in enumerate(range(0, len(real), size)):
        n = min(size, len(real) - start)
        yield i, (labels[start : start + n] if labels is not None else torch.zeros(n, dtype=torch.long))
