"""Adversarial objectives (G6–G8): GAN (minimax or non-saturating), WGAN (clipping), WGAN-GP; conditional
when the network is. Two declared players: the discriminator (critic) ×`n_critic` on fresh batches, then the
generator once, each with its paper's optimiser. Losses are the pure functions of `gan_losses`.

- `gan` (Goodfellow et al., 2014): Adam(2e-4, β = (0.5, 0.999)) as DCGAN (Radford et al., 2016), K = 1,
  generator_loss "nonsaturating" (default) or "minimax".
- `wgan` (Arjovsky et al., 2017): RMSprop(5e-5), n_critic = 5, critic weights clipped to [−c, c], c = 0.01.
  The clip is applied before every use of the critic, which equals clipping after each of its steps.
- `wgan-gp` (Gulrajani et al., 2017): Adam(1e-4, β = (0, 0.9)), n_critic = 5, λ = 10.
- `drift` ε (Wasserstein critics; Karras et al., 2018, use 0.001) adds ε·E[f(x)²] to the critic's loss.

Images are scaled from [0, 1] to [−1, 1] for the tanh generators; `sample(n)` returns [0, 1] images (or
2-D points). `evaluate` generates as many samples as the test split (at least 2,500 on 2-D mixtures) from a
seeded noise generator and reports mode coverage on labelled 2-D data (modes = class means of the training
split, σ = their pooled within-class standard deviation), or, on images, the Fréchet distance and
precision/recall in the shipped metric classifier's features (or a user's exported extractor, e.g.
Inception: `external_features`) and, for conditional networks, the classifier's accuracy on samples generated
for the test labels.
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
from dlcanon.objectives import gan_losses as L
from dlcanon.objectives.base import Batch, Objective, Update
from dlcanon.registry import OBJECTIVES

KINDS = ("gan", "wgan", "wgan-gp")
GENERATOR_LOSSES = ("nonsaturating", "minimax")
DEFAULTS: dict[str, dict[str, Any]] = {
    "gan": {"n_critic": 1, "optimizer": {"name": "adam", "lr": 2e-4, "betas": (0.5, 0.999)}},
    "wgan": {"n_critic": 5, "optimizer": {"name": "rmsprop", "lr": 5e-5}},
    "wgan-gp": {"n_critic": 5, "optimizer": {"name": "adam", "lr": 1e-4, "betas": (0.0, 0.9)}},
}


class GAN(Objective):
    """Adversarial training of a network with `generate(z, y)`, `discriminate(x, y)` and `sample_z(n, device)`."""

    def __init__(
        self,
        network: nn.Module,
        *,
        kind: str = "gan",
        generator_loss: str = "nonsaturating",
        n_critic: int | None = None,
        lr: float | None = None,
        betas: tuple[float, float] | None = None,
        clip: float = 0.01,
        gp_weight: float = 10.0,
        drift: float = 0.0,
        eval_seed: int = 0,
    ) -> None:
        super().__init__()
        if kind not in KINDS or generator_loss not in GENERATOR_LOSSES:
            raise UserError(f"kind ∈ {KINDS}, generator_loss ∈ {GENERATOR_LOSSES}; got {kind!r}, {generator_loss!r}")
        defaults = DEFAULTS[kind]
        self.network, self.kind, self.generator_loss = network, kind, generator_loss
        self.n_critic = int(n_critic or defaults["n_critic"])
        self.optimizer = dict(defaults["optimizer"])
        if lr is not None:
            self.optimizer["lr"] = float(lr)
        if betas is not None:
            self.optimizer["betas"] = tuple(betas)
        if self.n_critic < 1 or clip <= 0 or gp_weight < 0 or drift < 0:
            raise UserError(
                f"need n_critic ≥ 1, clip > 0, gp_weight ≥ 0, drift ≥ 0; got {n_critic}, {clip}, {gp_weight}, {drift}"
            )
        if drift and kind == "gan":
            raise UserError("drift penalises a Wasserstein critic's values; use it with wgan or wgan-gp")
        self.clip, self.gp_weight, self.drift, self.eval_seed = float(clip), float(gp_weight), float(drift), eval_seed
        if kind == "wgan-gp" and hasattr(network, "training_fakes"):
            raise UserError("wgan-gp interpolates whole samples; a pyramid of GANs (lapgan) trains with gan")
        batchnorm = any(isinstance(m, nn.modules.batchnorm._BatchNorm) for m in network.discriminator.modules())
        if kind == "wgan-gp" and batchnorm:
            raise UserError(
                "wgan-gp penalises each sample's gradient, which BatchNorm in the critic mixes across the batch: "
                "use a critic without it (--set model_args.batchnorm=false)"
            )
        k, dim = getattr(network, "data_classes", 0), network.shape[-1]
        points = len(network.shape) == 1
        self.register_buffer("mode_centres", torch.zeros(k if points else 0, dim))
        self.register_buffer("mode_std", torch.zeros(()))
        self.register_buffer("steps", torch.zeros((), dtype=torch.long))  # generator steps taken
        self.external_features: ExternalFeatures | None = None  # set by `dlcanon eval --features`

    # ------------------------------------------------------------------ players
    def updates(self) -> list[Update]:
        d = [p for p in self.network.discriminator.parameters() if p.requires_grad]
        g = [p for p in self.network.generator.parameters() if p.requires_grad]
        return [
            Update("discriminator", d, repeat=self.n_critic, optimizer=dict(self.optimizer)),
            Update("generator", g, optimizer=dict(self.optimizer)),
        ]

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

    def _labels(self, y: Tensor | None) -> Tensor | None:
        return y if self.network.num_classes else None

    def forward(self, batch: Batch, update: str = "generator") -> tuple[Tensor, dict[str, Tensor]]:
        x, y = batch
        real, y = self.scale(x), self._labels(y)
        net = self.network
        if self.kind == "wgan":
            with torch.no_grad():
                for p in net.discriminator.parameters():
                    p.clamp_(-self.clip, self.clip)
        self.sync()
        z = net.sample_z(len(x), x.device)
        if update == "discriminator":
            with torch.no_grad():
                fake = self.fakes(real, z, y)
            d_real, d_fake = net.discriminate(real, y).float(), net.discriminate(fake, y).float()
            if self.kind == "gan":
                loss = L.discriminator_loss(d_real, d_fake)
                return loss, {"loss": loss.detach(), "d_real": torch.sigmoid(d_real).mean().detach()}
            loss = L.wasserstein_critic_loss(d_real, d_fake)
            logs = {"wasserstein": -loss.detach()}
            if self.kind == "wgan-gp":
                penalty = L.gradient_penalty(lambda v: net.discriminate(v, y), L.interpolates(real, fake))
                loss = loss + self.gp_weight * penalty
                logs["gradient_penalty"] = penalty.detach()
            if self.drift:  # Karras et al. (2018): ε_drift·E[f(x)²] keeps the critic's values near 0
                loss = loss + self.drift * L.drift_penalty(d_real)
            return loss, {"loss": loss.detach(), **logs}
        if update != "generator":
            raise ValueError(f"unknown update {update!r}; expected discriminator or generator")
        with frozen(net.discriminator):  # the generator's loss must leave no gradient in the critic's .grad
            d_fake = net.discriminate(self.fakes(real, z, y), y).float()
        if self.kind != "gan":
            loss = L.wasserstein_generator_loss(d_fake)
        elif self.generator_loss == "minimax":
            loss = L.minimax_generator_loss(d_fake)
        else:
            loss = L.nonsaturating_generator_loss(d_fake)
        if self.training:
            self.steps += 1
        return loss, {"loss": loss.detach()}

    def fakes(self, real: Tensor, z: Tensor, y: Tensor | None) -> Tensor | list[Tensor]:
        """G(z), or for a pyramid of GANs (LAPGAN) what each scale's discriminator sees of the fakes."""
        if hasattr(self.network, "training_fakes"):
            return self.network.training_fakes(real, z, y)
        return self.network.generate(z, y)

    def sync(self) -> None:
        """Growing networks (Progressive GAN) take their level and fade from the generator step count."""
        if hasattr(self.network, "set_progress"):
            self.network.set_progress(int(self.steps))

    # ------------------------------------------------------------------ sampling and metrics
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
        """n samples in data space ([0, 1] images or points). Conditional networks take `label` for every
        sample or `labels` (n,) (default: 0, 1, …, C−1 in turn); `truncation` ψ needs a style-based network."""
        device, classes = next(self.parameters()).device, self.network.num_classes
        if label is not None and not (classes and 0 <= label < classes):
            raise UserError(f"--label needs a conditional model with a class in 0..{classes - 1}; got {label}")
        options = {}
        if truncation is not None:
            if not hasattr(self.network, "mix"):
                raise UserError("--truncation needs a style-based generator (stylegan)")
            options["truncation"] = float(truncation)
        self.sync()
        g = None if seed is None else torch.Generator(device).manual_seed(seed)
        z = self.network.sample_z(n, device, generator=g)
        y = None
        if classes:
            y = torch.arange(n, device=device) % classes if labels is None else labels.to(device)
            y = torch.full_like(y, label) if label is not None else y
        x = self.unscale(self.network.generate(z, y, **options)).float()
        return x.clamp(0, 1) if self.network.image else x

    @torch.no_grad()
    def pyramid(self, n: int, *, seed: int = 0) -> list[Tensor]:
        """A pyramid of GANs' (LAPGAN's) sampling chain in [0, 1], coarsest first: [(n, C, s₀, s₀), …, data size]."""
        if not hasattr(self.network, "generate_pyramid"):
            raise UserError("samples per scale need a pyramid of GANs (lapgan)")
        device = next(self.parameters()).device
        z = self.network.sample_z(n, device, generator=torch.Generator(device).manual_seed(seed))
        return [self.unscale(x).clamp(0, 1) for x in self.network.generate_pyramid(z)]

    @torch.no_grad()
    def style_mixing(self, n: int = 5, *, seed: int = 0) -> tuple[Tensor, int]:
        """A (n + 1)² grid: row 0 sources B, column 0 sources A, cell (i, j) A_i's coarse styles with B_j's
        fine styles (Karras et al., 2019, Fig. 3); returns images and the row length."""
        if not hasattr(self.network, "mix"):
            raise UserError("style mixing needs a style-based generator (stylegan)")
        device = next(self.parameters()).device
        g = torch.Generator(device).manual_seed(seed)
        za, zb = (self.network.sample_z(n, device, generator=g) for _ in range(2))
        a, b = self.network.generate(za), self.network.generate(zb)
        blank = torch.full_like(a[:1], 1.0)
        rows = [torch.cat([blank, b])]
        for i in range(n):
            mixed = self.network.mix(za[i : i + 1].expand(n, -1), zb)
            rows.append(torch.cat([a[i : i + 1], mixed]))
        return self.unscale(torch.cat(rows)).clamp(0, 1), n + 1

    @torch.no_grad()
    def evaluate(self, batches: Iterable[Batch]) -> dict[str, float]:
        self.sync()
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
        feature_net = self.external_features or feature_net_for(tuple(real.shape[1:]))
        if feature_net is None:  # no shipped classifier for this shape: pixels as features
            f_real, f_fake = real.flatten(1).cpu(), fake.flatten(1).cpu()
        else:
            f_real, f_fake = feature_net.features(real.cpu()), feature_net.features(fake.cpu())
        out = sample_quality(f_real, f_fake)
        if cond is not None and isinstance(feature_net, FeatureNet):  # a classifier: it can judge the labels
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


@OBJECTIVES.register("gan", tags=("G6", "G8"))
def build_gan(network: nn.Module, **kwargs) -> GAN:
    """GAN: non-saturating (default) or minimax generator loss, K = n_critic discriminator steps."""
    return GAN(network, kind="gan", **kwargs)


@OBJECTIVES.register("wgan", tags=("G7",))
def build_wgan(network: nn.Module, **kwargs) -> GAN:
    """WGAN: weight clipping c = 0.01, RMSprop 5e-5, n_critic = 5."""
    return GAN(network, kind="wgan", **kwargs)


@OBJECTIVES.register("wgan-gp", tags=("G7",))
def build_wgan_gp(network: nn.Module, **kwargs) -> GAN:
    """WGAN-GP: gradient penalty λ = 10 on per-sample interpolates, Adam(1e-4, β = (0, 0.9)), n_critic = 5."""
    return GAN(network, kind="wgan-gp", **kwargs)
