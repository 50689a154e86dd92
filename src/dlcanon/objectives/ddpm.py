"""Denoising diffusion probabilistic models (G14): Ho, Jain & Abbeel (2020, arXiv:2006.11239), ε-prediction.

Training minimises L_simple = E_{t, x_0, ε} ‖ε − ε_θ(√ᾱ_t x_0 + √(1 − ᾱ_t) ε, t)‖² (t ~ U{1 … T}, Ho et al.,
eq. 14), the per-dimension mean. Sampling is ancestral (Ho et al., Algorithm 2: μ_θ = μ̃_t(x_t, x̂_0),
x̂_0 = (x_t − √(1 − ᾱ_t) ε_θ)/√ᾱ_t, clipped to [−1, 1] on images, plus σ_t z) or DDIM with η = 0 on an evenly
spaced subsequence of S steps (Song, Meng & Ermon, 2021, arXiv:2010.02502, eq. 12):
x_{τ_{i−1}} = √ᾱ_{τ_{i−1}} x̂_0 + √(1 − ᾱ_{τ_{i−1}}) ε̂.

Data: images in [0, 1] with L grid levels are mapped to x = 2k/(L − 1) − 1 ∈ [−1, 1]; points are divided by
their training standard deviation s (the density of the original points is p(x/s)/s^D: + D log s nats).

`evaluate` reports the whole variational bound (see `objectives.diffusion`), each term L_{t−1} estimated with
one draw x_t ~ q(x_t | x_0), on the first `eval_images` test images (default 256: T network passes per batch)
or `eval_points` test points: on images `bpd` (bits/dim of the discrete data, the decoder discretised, no
offset) with its parts `prior_bpd`, `kl_bpd`, `decoder_bpd`, and the Fréchet distance `fd` of `fd_samples`
DDIM samples (`fd_steps` steps; fd_samples = 0: no FD) against as many test images in the shipped feature
net's features; on points `nll` in nats per point (a bound: the decoder a Gaussian density). `pf_ode=True`
adds the probability-flow ODE's exact log-likelihood of the same denoiser (`pf_bpd` on images, bins
dequantised uniformly: P(k) ≥ exp E[log p(x + u)]·(2/(L − 1))^D; `pf_nll` on points), solved by dopri5 from
u_0 = 1/T to 1 on the first `pf_items` items. The denoiser (`network`) is what the trainer's EMA averages.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

import torch
from torch import Tensor, nn

from dlcanon.data.base import Split
from dlcanon.errors import UserError
from dlcanon.metrics.feature_net import feature_net_for
from dlcanon.metrics.generative import frechet_distance
from dlcanon.metrics.likelihood import grid_levels
from dlcanon.objectives.base import Batch
from dlcanon.objectives.diffusion import (
    SCHEDULES,
    VARIANCES,
    Schedule,
    _at,
    discretized_gaussian_log_likelihood,
    gaussian_log_likelihood,
    make_betas,
    normal_kl,
)
from dlcanon.objectives.generative import Generative
from dlcanon.objectives.ode import cnf_log_likelihood
from dlcanon.objectives.probability_flow import ProbabilityFlow
from dlcanon.objectives.views import Grid, View, check_options, samples_view
from dlcanon.registry import OBJECTIVES


def ddim_steps(total: int, steps: int) -> list[int]:
    """τ_1 < … < τ_S: S evenly spaced steps of 1 … T ending at T."""
    return sorted({round(v) for v in torch.linspace(1, total, steps).tolist()})


class DDPM(Generative):
    """ε-prediction diffusion on a denoiser `network(x_t, t) -> ε̂` that declares `shape` and `image`."""

    def __init__(
        self,
        network: nn.Module,
        *,
        timesteps: int = 1000,
        schedule: str = "linear",
        variance: str = "large",
        clip_denoised: bool = True,
        levels: int | None = None,
        eval_images: int = 256,
        eval_points: int = 2000,
        fd_samples: int = 500,
        fd_steps: int = 50,
        pf_ode: bool = False,
        pf_items: int = 64,
        pf_tol: float = 1e-5,
        eval_seed: int = 0,
    ) -> None:
        super().__init__()
        if not isinstance(timesteps, int) or timesteps < 2:
            raise UserError(f"timesteps must be an integer ≥ 2; got {timesteps!r}")
        for name, value, allowed in (("schedule", schedule, SCHEDULES), ("variance", variance, VARIANCES)):
            if value not in allowed:
                raise UserError(f"{name} must be one of {', '.join(allowed)}; got {value!r}")
        if not isinstance(fd_samples, int) or fd_samples < 0:
            raise UserError(f"fd_samples must be a non-negative integer (0: no Fréchet distance); got {fd_samples!r}")
        counts = {"eval_images": eval_images, "eval_points": eval_points,
                  "fd_steps": fd_steps, "pf_items": pf_items}  # fmt: skip
        for name, value in counts.items():
            if not isinstance(value, int) or value < 1:
                raise UserError(f"{name} must be a positive integer; got {value!r}")
        if not 0 < pf_tol < 1:
            raise UserError(f"pf_tol must be in (0, 1); got {pf_tol}")
        try:
            betas = make_betas(schedule, timesteps)
        except ValueError as e:
            raise UserError(str(e)) from None
        self.network = network
        self.schedule_name, self.variance = schedule, variance
        self.schedule = Schedule.of(betas)
        self.log_sigma2 = self.schedule.reverse_variance(variance).log()  # log σ_t², float64 (T,)
        self.shape, self.image = tuple(network.shape), bool(network.image)
        self.clip = clip_denoised and self.image
        self.levels_arg = levels
        self.eval_images, self.eval_points, self.fd_samples, self.fd_steps = (
            eval_images,
            eval_points,
            fd_samples,
            fd_steps,
        )
        self.pf_ode, self.pf_items, self.pf_tol, self.eval_seed = pf_ode, pf_items, pf_tol, eval_seed
        self.register_buffer("levels", torch.tensor(levels or 0))
        self.register_buffer("scale", torch.ones(()))  # points: the training standard deviation s

    @property
    def timesteps(self) -> int:
        return self.schedule.steps

    @property
    def dims(self) -> int:
        return math.prod(self.shape)

    def ema_modules(self) -> list[str]:
        return ["network"]

    def prepare(self, train: Split) -> None:
        """Images: the grid levels (17 digits, 256 MNIST) unless given; points: their standard deviation s."""
        if self.image and self.levels_arg is None:
            self.levels.fill_(grid_levels(train.x))
        if not self.image:
            self.scale.fill_(float(train.x.float().std()))

    # ----------------------------------------------------------------- data space ↔ model space
    def to_model(self, x: Tensor) -> Tensor:
        """[0, 1] images → [−1, 1] (snapped to the grid when it has L levels); points → x/s."""
        x = x.float()
        if not self.image:
            return x / self.scale
        levels = int(self.levels)
        if levels > 1:
            x = torch.round(x * (levels - 1)) / (levels - 1)
        return 2 * x - 1

    def to_data(self, x: Tensor) -> Tensor:
        return ((x + 1) / 2).clamp(0, 1) if self.image else x * self.scale

    def eps(self, x: Tensor, t: Tensor) -> Tensor:
        """ε_θ(x_t, t) in float32 for steps t (N,) (integers 1 … T, or fractional for the probability flow)."""
        return self.network(x, t.float()).float()

    # ----------------------------------------------------------------- training
    def forward(self, batch: Batch, update: str = "model") -> tuple[Tensor, dict[str, Tensor]]:
        x0 = self.to_model(batch[0])
        t = torch.randint(1, self.timesteps + 1, (x0.shape[0],), device=x0.device)
        noise = torch.randn_like(x0)
        loss = (self.eps(self.schedule.q_sample(x0, t, noise), t) - noise).pow(2).mean()
        return loss, {"loss": loss.detach()}

    # ----------------------------------------------------------------- the reverse process
    def p_mean(self, xt: Tensor, t: Tensor) -> tuple[Tensor, Tensor]:
        """μ_θ(x_t, t) = μ̃_t(x_t, x̂_0) and x̂_0 (clipped to [−1, 1] on images)."""
        x0 = self.schedule.predict_x0(xt, t, self.eps(xt, t))
        if self.clip:
            x0 = x0.clamp(-1, 1)
        return self.schedule.posterior(x0, xt, t)[0], x0

    def log_variance(self, t: Tensor, like: Tensor) -> Tensor:
        """log σ_t² of p_θ(x_{t−1} | x_t), broadcastable against `like`."""
        return _at(self.log_sigma2, t, like)

    @torch.no_grad()
    def sample_chain(self, n: int, *, steps: int | None = None, keep: int = 8, seed: int | None = None) -> list[Tensor]:
        """x_T → x_0 in model space: ancestral over all T steps (steps=None) or DDIM over `steps`; returns `keep`
        evenly spaced states of the chain, x_T first and x_0 last, each (n, *shape)."""
        device = self.levels.device
        gen = torch.Generator(device=device).manual_seed(seed) if seed is not None else None
        x = torch.randn(n, *self.shape, device=device, generator=gen)
        path = ddim_steps(self.timesteps, steps) if steps else list(range(1, self.timesteps + 1))
        states = [x]
        for i in reversed(range(len(path))):
            t = torch.full((n,), path[i], device=device, dtype=torch.long)
            if steps:  # DDIM, η = 0
                eps = self.eps(x, t)
                x0 = self.schedule.predict_x0(x, t, eps)
                if self.clip:
                    x0 = x0.clamp(-1, 1)
                    abar = _at(self.schedule.alpha_bar, t, x)
                    eps = (x - abar.sqrt() * x0) / (1 - abar).sqrt()
                abar_prev = float(self.schedule.alpha_bar[path[i - 1] - 1]) if i > 0 else 1.0
                x = math.sqrt(abar_prev) * x0 + math.sqrt(1 - abar_prev) * eps
            else:
                mean, _ = self.p_mean(x, t)
                noise = torch.randn(x.shape, device=device, generator=gen) if path[i] > 1 else torch.zeros_like(x)
                x = mean + torch.exp(0.5 * self.log_variance(t, x)) * noise
            states.append(x)
        index = torch.linspace(0, len(states) - 1, keep).round().long().unique().tolist()
        return [states[i] for i in index]

    @torch.no_grad()
    def sample(self, n: int, label: int | None = None, *, steps: int | None = None, seed: int | None = None) -> Tensor:
        """n samples in data space: ancestral (steps=None: all T) or DDIM with η = 0 over `steps` steps."""
        if label is not None:
            raise UserError("--label needs a conditional model; ddpm is unconditional")
        if steps is not None and not 1 <= steps <= self.timesteps:
            raise UserError(f"--steps must be in 1..{self.timesteps}; got {steps}")
        return self.to_data(self.sample_chain(n, steps=steps, keep=2, seed=seed)[-1])

    def views(self, split: Split, n: int, **options: Any) -> dict[str, View]:
        """Samples; on images also "chain": 8 samples (rows) along the reverse chain, x_T left, x_0 right."""
        options = check_options(self.sample, options)
        out = {"samples": samples_view(self.sample(n, **options))}
        if self.image:
            chain = self.sample_chain(8, steps=options.get("steps"), keep=10, seed=options.get("seed"))
            grid = torch.stack([self.to_data(s) for s in chain], 1).flatten(0, 1)  # (8·10, C, H, W), row per sample
            out["chain"] = Grid(grid, nrow=len(chain))
        return out

    # ----------------------------------------------------------------- the bound
    def bound_terms(self, x: Tensor) -> dict[str, Tensor]:
        """The terms of −log p(x_0) ≤ L_T + Σ_{t≥2} L_{t−1} + L_0 in nats, each (N,), for x_0 in model space:
        `prior` L_T, `kl` Σ_{t=2}^T L_{t−1} (one x_t ~ q(x_t | x_0) per term), `decoder` L_0 = −log p(x_0 | x_1)."""
        n, levels = x.shape[0], int(self.levels)
        kl = torch.zeros(n, dtype=torch.float64, device=x.device)
        decoder = kl
        for step in range(1, self.timesteps + 1):
            t = torch.full((n,), step, device=x.device, dtype=torch.long)
            xt = self.schedule.q_sample(x, t, torch.randn_like(x))
            mean, _ = self.p_mean(xt, t)
            logvar = self.log_variance(t, x)
            if step == 1:
                if self.image and levels > 1:
                    ll = discretized_gaussian_log_likelihood(x, mean, logvar, levels=levels)
                else:
                    ll = gaussian_log_likelihood(x, mean, logvar)
                decoder = -ll.flatten(1).double().sum(1)
            else:
                true_mean, true_var = self.schedule.posterior(x, xt, t)
                kl = kl + normal_kl(true_mean, true_var.log(), mean, logvar).flatten(1).double().sum(1)
        return {"prior": self.schedule.prior_kl(x), "kl": kl, "decoder": decoder}

    def pf_log_likelihood(self, x: Tensor, *, tol: float | None = None) -> Tensor:
        """log p_{u_0}(x) (N,) of the probability-flow ODE of this denoiser in model space, u_0 = 1/T."""
        tol = tol or self.pf_tol
        field = ProbabilityFlow(lambda z, u: self.eps(z, u * self.timesteps), self.schedule_name)
        t1 = 1.0 if self.schedule_name == "linear" else 1.0 - 1e-3  # the cosine schedule's β(u) → ∞ at u = 1
        ll, _ = cnf_log_likelihood(field, x, trace="exact" if self.dims <= 8 else "hutchinson",
                                   t0=1.0 / self.timesteps, t1=t1, rtol=tol, atol=tol)  # fmt: skip
        return ll

    @torch.no_grad()
    def evaluate(self, batches: Iterable[Batch]) -> dict[str, float]:
        xs = [b[0] for b in batches]
        real = torch.cat(xs)
        device = self.levels.device
        limit = self.eval_images if self.image else self.eval_points
        x = self.to_model(real[:limit].to(device))
        d, levels, log2 = self.dims, int(self.levels), math.log(2)
        out: dict[str, float] = {}
        with torch.random.fork_rng(devices=[device] if device.type == "cuda" else []):
            torch.manual_seed(self.eval_seed)
            terms = {k: [] for k in ("prior", "kl", "decoder")}
            for chunk in x.split(512):
                for k, v in self.bound_terms(chunk).items():
                    terms[k].append(v.cpu())
            parts = {k: float(torch.cat(v).mean()) for k, v in terms.items()}
            total = sum(parts.values())
            if self.image:
                out["bpd"] = total / (d * log2)
                out.update({f"{k}_bpd": v / (d * log2) for k, v in parts.items()})
            else:
                out["nll"] = total + d * math.log(float(self.scale))
            if self.pf_ode:
                out.update(self.pf_metrics(x[: self.pf_items], levels))
            if self.image and self.fd_samples:
                out["fd"] = self.frechet(real)
        return out

    def pf_metrics(self, x: Tensor, levels: int) -> dict[str, float]:
        """Probability-flow NLL: `pf_bpd` of images (bins dequantised), `pf_nll` of points, on `x` (model space)."""
        d = self.dims
        if self.image and levels > 1:
            width = 2.0 / (levels - 1)
            y = x + (torch.rand_like(x) - 0.5) * width
            nll = -float(self.pf_log_likelihood(y).mean()) - d * math.log(width)
            return {"pf_bpd": nll / (d * math.log(2))}
        nll = -float(self.pf_log_likelihood(x).mean())
        return (
            {"pf_nll": nll + d * math.log(float(self.scale))} if not self.image else {"pf_bpd": nll / (d * math.log(2))}
        )

    def frechet(self, real: Tensor) -> float:
        """FD between `fd_samples` DDIM samples and as many test images, in the shipped feature net's features."""
        real = real[: self.fd_samples].float()
        fake = torch.cat([self.sample(len(c), steps=self.fd_steps, seed=self.eval_seed + i).cpu()
                          for i, c in enumerate(real.split(250))])  # fmt: skip
        net = feature_net_for(tuple(real.shape[1:]))
        if net is None:
            return frechet_distance(real.flatten(1), fake.flatten(1))
        return frechet_distance(net.features(real.cpu()), net.features(fake))


@OBJECTIVES.register("ddpm", tags=("G14",))
def build_ddpm_objective(network: nn.Module, **kwargs: Any) -> DDPM:
    """DDPM: ε-prediction on L_simple, ancestral and DDIM sampling, the full variational bound in bits/dim."""
    return DDPM(network, **kwargs)
