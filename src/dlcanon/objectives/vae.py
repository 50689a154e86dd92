"""Variational autoencoders (G3) and conditional VAEs (G4), trained on the ELBO; evaluated with honest bounds.

The notes' algorithm (Kingma & Welling, 2014), with the OCR corrected: the encoder NN_φ(x) gives μ_φ(x) and
log σ²_φ(x) of q_φ(z|x) = N(z; μ_φ(x), diag σ²_φ(x)) (the notes write p_φ(z|x) for q_φ and "V_φ" for ∇_φ);
z = T_φ(x, ε) = μ_φ + σ_φ ⊙ ε, ε ~ N(0, I) (reparametrisation); the loss per sample is

    −L(x) = −log p_θ(x | z) + β·KL[q_φ(z|x) ‖ N(0, I)],

with KL = ½ Σ_i (μ_i² + σ_i² − log σ_i² − 1) (analytic; the notes' "½(…) − d" has the −d inside the ½,
see `dlcanon.losses.kl_normal`) or the one-sample estimate log q(z|x) − log p(z) (`kl="mc"`). β = 1 is the
ELBO; KL annealing (Bowman et al., 2016) ramps β linearly from 0 to its value over `anneal_steps` steps.

Decoders: Bernoulli on binarised pixels, re-binarised x ~ Bern(pixel) at every batch (dynamic binarisation,
as Burda et al., 2016), or Gaussian N(x; G_θ(z), diag σ²) on dequantised pixels, σ² learned (one
value per pixel, shared across samples) or fixed. The conditional VAE (Sohn, Lee & Yan, 2015) maximises
the same bound of log p(x|y) with y fed to encoder and decoder, and samples a chosen class.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable

import torch
from torch import Tensor, nn

from dlcanon.errors import UserError
from dlcanon.losses import kl_normal
from dlcanon.metrics.likelihood import (
    bits_per_dim,
    dequantize,
    grid_levels,
    iwae_log_likelihood,
    kl_monte_carlo,
    log_bernoulli,
    log_normal,
    log_standard_normal,
)
from dlcanon.objectives.base import Batch
from dlcanon.objectives.generative import LatentModel
from dlcanon.registry import OBJECTIVES

LIKELIHOODS = ("bernoulli", "gaussian")


def kl_weight(step: int, beta: float, anneal_steps: int) -> float:
    """β_t = β·min(1, t/anneal_steps): KL annealing from 0 (Bowman et al., 2016, used a logistic ramp; the linear
    ramp is the common simplification); β itself when anneal_steps = 0."""
    return beta if anneal_steps <= 0 else beta * min(1.0, step / anneal_steps)


def lerp(za: Tensor, zb: Tensor, steps: int) -> Tensor:
    """(1 − t)·z_a + t·z_b for t = 0 … 1 in `steps`: pairs (P, …) → (P·steps, …), each pair's path in turn."""
    t = torch.linspace(0, 1, steps, device=za.device).view(1, steps, *[1] * (za.dim() - 1))
    return ((1 - t) * za[:, None] + t * zb[:, None]).flatten(0, 1)


def full(t: Tensor) -> Tensor:
    """float32 for half-precision tensors (log-likelihoods under autocast), any other float dtype kept."""
    return t.float() if t.dtype in (torch.float16, torch.bfloat16) or not t.is_floating_point() else t


def _choice(name: str, value: str, allowed: tuple[str, ...]) -> str:
    if value not in allowed:
        raise UserError(f"{name} must be one of {', '.join(allowed)}; got {value!r}")
    return value


class VAE(LatentModel):
    """β-VAE objective on a `VAENetwork` (`encode(x, y) -> (μ, log σ²)`, `decode(z, y) -> pixel parameters`).

    Every weight is a field with the paper's default: beta = 1 (the ELBO), anneal_steps = 0 (no annealing).
    `sigma` (the Gaussian decoder's fixed σ, or the start of a learned one) has no paper default: 0.1. `levels`
    (grid levels of the data, for dequantisation and bits/dim) is found from the training split when None.
    `evaluate` reports the ELBO and its parts, the IWAE_k NLL bound and bits per dimension (see
    `dlcanon.metrics.likelihood`), drawing its noise from the global generator forked and seeded with
    `eval_seed`, so a run's evaluation is repeatable and training's random stream is left as it was.
    Its views (`LatentModel`): samples, reconstructions and latent interpolations of test images.
    """

    def __init__(
        self,
        network: nn.Module,
        *,
        likelihood: str = "bernoulli",
        kl: str = "analytic",
        beta: float = 1.0,
        anneal_steps: int = 0,
        variance: str = "learned",
        sigma: float = 0.1,
        levels: int | None = None,
        iwae_k: int = 100,
        iwae_batch: int = 20_000,
        eval_seed: int = 0,
    ) -> None:
        super().__init__()
        self.network = network
        self.likelihood = _choice("likelihood", likelihood, LIKELIHOODS)
        self.kl = _choice("kl", kl, ("analytic", "mc"))
        self.variance = _choice("variance", variance, ("learned", "fixed"))
        if beta < 0 or sigma <= 0 or iwae_k < 1 or iwae_batch < 1:
            raise UserError(
                f"need beta ≥ 0, sigma > 0, iwae_k ≥ 1, iwae_batch ≥ 1; got {beta}, {sigma}, {iwae_k}, {iwae_batch}"
            )
        self.beta, self.anneal_steps = float(beta), int(anneal_steps)
        self.iwae_k, self.iwae_batch, self.eval_seed = iwae_k, iwae_batch, eval_seed
        self.levels_arg = levels
        self.shape = tuple(network.shape)  # one sample, (C, H, W)
        self.register_buffer("step", torch.zeros((), dtype=torch.long))  # optimiser steps, for annealing
        self.register_buffer("levels", torch.tensor(levels or 0))  # grid levels of the data (0: continuous)
        if self.likelihood == "gaussian":  # log σ² of p(x|z), one per pixel
            logvar = torch.full(self.shape, 2 * math.log(sigma))
            if self.variance == "learned":
                self.logvar_x = nn.Parameter(logvar)
            else:
                self.register_buffer("logvar_x", logvar)

    # ------------------------------------------------------------------ data and likelihood
    @property
    def num_classes(self) -> int:
        return getattr(self.network, "num_classes", 0)

    @property
    def dims(self) -> int:
        return math.prod(self.shape)

    def check_data(self, train) -> None:
        """A Bernoulli decoder models pixels in [0, 1]: data outside it (2-D points in [−1, 1]) are refused rather
        than clamped into a likelihood of data the model never saw."""
        low, high = float(train.x.min()), float(train.x.max())
        if self.likelihood == "bernoulli" and (low < 0 or high > 1):
            raise UserError(
                f"the Bernoulli decoder models values in [0, 1]; these data lie in [{low:.3g}, {high:.3g}] "
                f"(use --set objective_args.likelihood=gaussian)"
            )

    def prepare(self, train) -> None:
        """Find the data's grid levels (17 for digits, 256 for MNIST) unless `levels` was given."""
        if self.levels_arg is None:
            self.levels.fill_(grid_levels(train.x))

    def observe(self, x: Tensor) -> Tensor:
        """What the likelihood models: Bernoulli draws of the pixels (fresh at every call: dynamic
        binarisation) or dequantised pixels (k + u)/L for a Gaussian on discrete data."""
        x = full(x)
        if self.likelihood == "bernoulli":
            return torch.bernoulli(x.clamp(0, 1))
        levels = int(self.levels)
        return dequantize(x, levels) if levels > 0 else x

    def log_px(self, x: Tensor, params: Tensor) -> Tensor:
        """log p_θ(x|z) summed over pixels: (N, C, H, W) × (N, C, H, W) → (N,)."""
        event = len(self.shape)
        if self.likelihood == "bernoulli":
            return log_bernoulli(x, full(params), event_dims=event)
        return log_normal(x, full(params), full(self.logvar_x), event_dims=event)

    def mean(self, params: Tensor) -> Tensor:
        """E[x|z]: the pixel probabilities σ(ℓ) (Bernoulli) or the Gaussian means G_θ(z)."""
        return torch.sigmoid(full(params)) if self.likelihood == "bernoulli" else full(params)

    def condition(self, y: Tensor | None) -> Tensor | None:
        return None

    # ------------------------------------------------------------------ training
    def forward(self, batch: Batch, update: str = "model") -> tuple[Tensor, dict[str, Tensor]]:
        x, y = batch
        x, y = self.observe(x), self.condition(y)
        mu, logvar = self.network.encode(x, y)  # (N, d) each
        mu, logvar = full(mu), full(logvar)
        z = mu + torch.exp(0.5 * logvar) * torch.randn_like(mu)  # reparametrisation
        log_px = self.log_px(x, self.network.decode(z, y))  # (N,)
        kl = kl_normal(mu, logvar) if self.kl == "analytic" else kl_monte_carlo(z, mu, logvar)
        beta = kl_weight(int(self.step), self.beta, self.anneal_steps)
        if self.training:
            self.step += 1
        loss = (beta * kl - log_px).mean()
        logs = {"loss": loss, "reconstruction": -log_px.mean(), "kl": kl.mean(), "elbo": (log_px - kl).mean()}
        return loss, {k: v.detach() for k, v in logs.items()} | {"beta": torch.tensor(beta)}

    # ------------------------------------------------------------------ evaluation
    def importance_terms(self, x: Tensor, y: Tensor | None) -> Callable[[int], tuple[Tensor, Tensor, Tensor]]:
        """c ↦ (log w, log p(x|z), KL), each (c, N), for c samples z ~ q(z|x): log w = log p(x|z) + log p(z) −
        log q(z|x); KL is the analytic KL of q (the same for every sample here)."""
        mu, logvar = (full(t) for t in self.network.encode(x, y))  # (N, d), computed once per batch
        kl = kl_normal(mu, logvar)  # (N,)
        n = x.shape[0]

        def draw(c: int) -> tuple[Tensor, Tensor, Tensor]:
            z = mu + torch.exp(0.5 * logvar) * torch.randn(c, *mu.shape, device=mu.device, dtype=mu.dtype)  # (c, N, d)
            yc = None if y is None else y.repeat(c)
            params = self.network.decode(z.flatten(0, 1), yc)  # (c·N, C, H, W)
            log_px = self.log_px(x.repeat(c, *[1] * (x.dim() - 1)), params).view(c, n)
            log_w = log_px + log_standard_normal(z) - log_normal(z, mu, logvar)
            return log_w, log_px, kl.expand(c, n)

        return draw

    @torch.no_grad()
    def evaluate(self, batches: Iterable[Batch]) -> dict[str, float]:
        """elbo, reconstruction (−E_q log p(x|z)), kl, nll_iwae (−IWAE_k) in nats per sample; bits_per_dim of
        nll_iwae. Reconstruction and KL average over the same k samples the IWAE bound uses."""
        device = self.step.device
        totals = torch.zeros(3, dtype=torch.float64)  # Σ log p(x|z), Σ KL, Σ IWAE_k
        count = 0
        with torch.random.fork_rng(devices=[device] if device.type == "cuda" else []):
            torch.manual_seed(self.eval_seed)
            with torch.autocast(device.type, enabled=False):  # log-likelihoods in fp32 whatever the run's precision
                for x, y in batches:
                    x, y = self.observe(x), self.condition(y)
                    draw = self.importance_terms(x, y)
                    parts = torch.zeros(2, x.shape[0], dtype=torch.float64, device=x.device)

                    def log_weights(c: int, draw=draw, parts=parts) -> Tensor:
                        log_w, log_px, kl = draw(c)
                        parts[0] += log_px.double().sum(0)
                        parts[1] += kl.double().sum(0)
                        return log_w

                    chunk = max(1, self.iwae_batch // x.shape[0])
                    ll = iwae_log_likelihood(log_weights, self.iwae_k, chunk=chunk)  # (N,)
                    totals += torch.stack([*(parts.sum(1) / self.iwae_k), ll.sum()]).cpu()
                    count += x.shape[0]
        log_px, kl, ll = (totals / count).tolist()
        levels = 0 if self.likelihood == "bernoulli" else int(self.levels)
        return {
            "elbo": log_px - kl,
            "reconstruction": -log_px,
            "kl": kl,
            "nll_iwae": -ll,
            "bits_per_dim": bits_per_dim(-ll, self.dims, levels=levels),
        }

    # ------------------------------------------------------------------ generation
    def sample_labels(self, n: int, label: int | None) -> Tensor | None:
        if label is not None:
            raise UserError("--label needs a conditional model (cvae); this model is not conditional")
        return None

    def latents(self, x: Tensor, y: Tensor | None = None) -> Tensor:
        """The posterior mean μ_φ(x), (N, d)."""
        return self.network.encode(full(x), self.condition(y))[0]

    def decode_mean(self, z: Tensor, y: Tensor | None = None) -> Tensor:
        return self.mean(self.network.decode(z, self.condition(y)))

    @torch.no_grad()
    def sample(self, n: int, label: int | None = None, *, temperature: float = 1.0) -> Tensor:
        """n images E[x|z], z ~ N(0, temperature²·I), (n, C, H, W) in [0, 1]."""
        y = self.sample_labels(n, label)
        z = temperature * torch.randn(n, self.network.latent_dim, device=self.step.device)
        return self.decode_mean(z, y)

    @torch.no_grad()
    def reconstruct(self, x: Tensor, y: Tensor | None = None) -> Tensor:
        """E[x | z = μ_φ(x)], the deterministic reconstruction."""
        return self.decode_mean(self.latents(x, y), y)

    @torch.no_grad()
    def interpolate(self, xa: Tensor, xb: Tensor, steps: int = 8, y: Tensor | None = None) -> Tensor:
        """Decode (1 − t)·μ(x_a) + t·μ(x_b) for t = 0 … 1 in `steps`: pairs (P, …) → (P·steps, C, H, W), row-wise."""
        z = lerp(self.latents(xa, y), self.latents(xb, y), steps)  # (P·steps, d)
        return self.decode_mean(z, None if y is None else y.repeat_interleave(steps))


class ConditionalVAE(VAE):
    """CVAE: the bound log p(x|y) ≥ E_q(z|x,y)[log p(x|z, y)] − KL[q(z|x, y) ‖ p(z)] with p(z) = N(0, I)."""

    def __init__(self, network: nn.Module, **kwargs) -> None:
        if getattr(network, "num_classes", 0) < 1:
            raise UserError("objective cvae needs a conditional network (model cvae, or model_args.conditional=true)")
        super().__init__(network, **kwargs)

    def condition(self, y: Tensor | None) -> Tensor:
        if y is None:
            raise UserError("objective cvae needs labelled data")
        return y

    def sample_labels(self, n: int, label: int | None) -> Tensor:
        """`label` for every sample, or the classes in turn 0, 1, …, C − 1, 0, … when None."""
        if label is not None and not 0 <= label < self.num_classes:
            raise UserError(f"--label must be a class in 0..{self.num_classes - 1}; got {label}")
        labels = torch.arange(n) % self.num_classes if label is None else torch.full((n,), label)
        return labels.to(self.step.device)


@OBJECTIVES.register("vae", tags=("G3", "G16"))
def build_vae(network: nn.Module, **kwargs) -> VAE:
    """VAE on the ELBO (β, KL annealing, analytic or MC KL, Bernoulli or Gaussian decoder); ELBO and IWAE NLL."""
    return VAE(network, **kwargs)


@OBJECTIVES.register("cvae", tags=("G4", "G16"))
def build_cvae(network: nn.Module, **kwargs) -> ConditionalVAE:
    """Conditional VAE on the bound of log p(x|y); class-conditional sampling."""
    return ConditionalVAE(network, **kwargs)
