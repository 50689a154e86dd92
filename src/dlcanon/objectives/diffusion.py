"""The mathematics of Gaussian diffusion (G14) as pure functions: noise schedules, q(x_t | x_0), the posterior
q(x_{t−1} | x_t, x_0), the discretised Gaussian decoder and the terms of the variational bound.

Notation of Ho, Jain & Abbeel (2020, "Denoising Diffusion Probabilistic Models", arXiv:2006.11239), steps
t = 1 … T (arrays are indexed t − 1): α_t = 1 − β_t, ᾱ_t = ∏_{s ≤ t} α_s, ᾱ_0 = 1.

* Schedules. Linear: β_t from 10⁻⁴ to 0.02 for T = 1000; for other T both ends are multiplied by 1000/T, so
  Σβ_t and hence ᾱ_T ≈ 4·10⁻⁵ stay those of T = 1000 (unscaled, T = 50 gives ᾱ_T ≈ 0.6 and x_T is far from
  N(0, I)). Cosine (Nichol & Dhariwal, 2021, arXiv:2102.09672): ᾱ_t = f(t)/f(0), f(t) = cos²(π/2·(t/T + s)/(1 + s)),
  s = 0.008, β_t = min(1 − ᾱ_t/ᾱ_{t−1}, 0.999).
* q(x_t | x_0) = N(√ᾱ_t x_0, (1 − ᾱ_t) I), so x_t = √ᾱ_t x_0 + √(1 − ᾱ_t) ε.
* q(x_{t−1} | x_t, x_0) = N(μ̃_t, β̃_t I), μ̃_t = β_t√ᾱ_{t−1}/(1 − ᾱ_t)·x_0 + √α_t(1 − ᾱ_{t−1})/(1 − ᾱ_t)·x_t,
  β̃_t = β_t(1 − ᾱ_{t−1})/(1 − ᾱ_t) (Ho et al., eq. 6–7).
* The bound (Ho et al., eq. 5): −log p(x_0) ≤ L_T + Σ_{t=2}^T L_{t−1} + L_0 with the prior term
  L_T = KL(q(x_T | x_0) ‖ N(0, I)), L_{t−1} = KL(q(x_{t−1} | x_t, x_0) ‖ p_θ(x_{t−1} | x_t)) and the decoder
  L_0 = −log p_θ(x_0 | x_1). On data with L levels scaled to [−1, 1] the decoder is the discretised Gaussian
  (Ho et al., eq. 13): the mass of N(μ_θ(x_1, 1), σ_1²) on the bin [x − δ, x + δ], δ = 1/(L − 1), the outer
  bins extended to ±∞; the bound is then on the discrete data itself (no dequantisation offset).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cached_property

import torch
from torch import Tensor

SCHEDULES = ("linear", "cosine")
VARIANCES = ("large", "small")  # σ_t² = β_t or β̃_t (Ho et al. found both similar)


def linear_betas(steps: int, *, beta_start: float = 1e-4, beta_end: float = 0.02) -> Tensor:
    """β_1 … β_T evenly spaced from (1000/T)·β_start to (1000/T)·β_end, float64 (T,)."""
    scale = 1000.0 / steps
    if scale * beta_end >= 1:
        raise ValueError(f"the rescaled linear schedule needs T > {math.floor(1000 * beta_end)}; got T = {steps}")
    return torch.linspace(scale * beta_start, scale * beta_end, steps, dtype=torch.float64)


def cosine_alpha_bar(t: Tensor, *, s: float = 0.008) -> Tensor:
    """ᾱ(u) = f(u)/f(0), f(u) = cos²(π/2·(u + s)/(1 + s)) for the fraction u = t/T ∈ [0, 1]."""
    f = torch.cos((t + s) / (1 + s) * math.pi / 2) ** 2
    return f / math.cos(s / (1 + s) * math.pi / 2) ** 2


def cosine_betas(steps: int, *, s: float = 0.008, max_beta: float = 0.999) -> Tensor:
    """β_t = min(1 − ᾱ(t/T)/ᾱ((t − 1)/T), max_beta), float64 (T,) (Nichol & Dhariwal, 2021, eq. 17)."""
    u = torch.arange(steps + 1, dtype=torch.float64) / steps
    abar = cosine_alpha_bar(u, s=s)
    return (1 - abar[1:] / abar[:-1]).clamp(max=max_beta)


def make_betas(schedule: str, steps: int) -> Tensor:
    if schedule not in SCHEDULES:
        raise ValueError(f"schedule must be one of {', '.join(SCHEDULES)}; got {schedule!r}")
    return linear_betas(steps) if schedule == "linear" else cosine_betas(steps)


def continuous_log_alpha_bar(schedule: str, u: Tensor) -> Tensor:
    """log ᾱ(u) of the schedule's continuous-time limit, u ∈ [0, 1] (Song et al., 2021, arXiv:2011.13456, App. B):
    linear (with the 1000/T rescaling, independent of T): β(u) = β̄_min + u(β̄_max − β̄_min), β̄ = (0.1, 20),
    log ᾱ(u) = −∫₀ᵘ β = −(β̄_min u + ½(β̄_max − β̄_min)u²); cosine: log f(u)/f(0)."""
    if schedule == "linear":
        return -(0.1 * u + 0.5 * (20.0 - 0.1) * u**2)
    return torch.log(cosine_alpha_bar(u).clamp_min(1e-20))


def _at(values: Tensor, t: Tensor, like: Tensor) -> Tensor:
    """values[t − 1] for steps t (N,), shaped (N, 1, …) to broadcast against `like`, in like's dtype."""
    return values.to(like.device)[t - 1].to(like.dtype).view(-1, *[1] * (like.dim() - 1))


@dataclass
class Schedule:
    """The per-step constants of a schedule, float64 (T,) each; build with `Schedule.of(betas)`."""

    betas: Tensor
    alpha_bar: Tensor  # ᾱ_t
    alpha_bar_prev: Tensor  # ᾱ_{t−1}, ᾱ_0 = 1

    @classmethod
    def of(cls, betas: Tensor) -> Schedule:
        abar = torch.cumprod(1 - betas.double(), 0)
        return cls(betas.double(), abar, torch.cat([abar.new_ones(1), abar[:-1]]))

    @property
    def steps(self) -> int:
        return len(self.betas)

    @cached_property
    def posterior_variance(self) -> Tensor:
        """β̃_t = β_t(1 − ᾱ_{t−1})/(1 − ᾱ_t); β̃_1 = 0."""
        return self.betas * (1 - self.alpha_bar_prev) / (1 - self.alpha_bar)

    @cached_property
    def posterior_coefficients(self) -> tuple[Tensor, Tensor]:
        """(c_0, c_t) of μ̃_t = c_0·x_0 + c_t·x_t: β_t√ᾱ_{t−1}/(1 − ᾱ_t) and √α_t(1 − ᾱ_{t−1})/(1 − ᾱ_t)."""
        return (
            self.betas * self.alpha_bar_prev.sqrt() / (1 - self.alpha_bar),
            (1 - self.betas).sqrt() * (1 - self.alpha_bar_prev) / (1 - self.alpha_bar),
        )

    def reverse_variance(self, kind: str) -> Tensor:
        """σ_t² of p_θ(x_{t−1} | x_t): β_t ("large") or β̃_t ("small", with β_1 at t = 1 where β̃_1 = 0)."""
        if kind not in VARIANCES:
            raise ValueError(f"variance must be one of {', '.join(VARIANCES)}; got {kind!r}")
        if kind == "large":
            return self.betas
        return torch.cat([self.betas[:1], self.posterior_variance[1:]])

    # ----------------------------------------------------------------- q
    def q_mean_variance(self, x0: Tensor, t: Tensor) -> tuple[Tensor, Tensor]:
        """Mean √ᾱ_t x_0 and variance 1 − ᾱ_t (broadcastable) of q(x_t | x_0); t (N,) in 1 … T."""
        abar = _at(self.alpha_bar, t, x0)
        return abar.sqrt() * x0, 1 - abar

    def q_sample(self, x0: Tensor, t: Tensor, noise: Tensor) -> Tensor:
        """x_t = √ᾱ_t x_0 + √(1 − ᾱ_t) ε."""
        mean, var = self.q_mean_variance(x0, t)
        return mean + var.sqrt() * noise

    def predict_x0(self, xt: Tensor, t: Tensor, eps: Tensor) -> Tensor:
        """x̂_0 = (x_t − √(1 − ᾱ_t) ε)/√ᾱ_t, the inverse of `q_sample`."""
        abar = _at(self.alpha_bar, t, xt)
        return (xt - (1 - abar).sqrt() * eps) / abar.sqrt()

    def posterior(self, x0: Tensor, xt: Tensor, t: Tensor) -> tuple[Tensor, Tensor]:
        """μ̃_t(x_t, x_0) (N, …) and β̃_t (N, 1, …) of q(x_{t−1} | x_t, x_0)."""
        c0, ct = self.posterior_coefficients
        return _at(c0, t, xt) * x0 + _at(ct, t, xt) * xt, _at(self.posterior_variance, t, xt)

    def prior_kl(self, x0: Tensor) -> Tensor:
        """L_T = KL(q(x_T | x_0) ‖ N(0, I)) summed over the dimensions of each sample: (N, …) → (N,)."""
        t = torch.full((x0.shape[0],), self.steps, device=x0.device, dtype=torch.long)
        mean, var = self.q_mean_variance(x0.double(), t)
        return normal_kl(mean, var.log(), torch.zeros_like(mean), torch.zeros_like(mean)).flatten(1).sum(1)


def normal_kl(mean1: Tensor, logvar1: Tensor, mean2: Tensor, logvar2: Tensor) -> Tensor:
    """KL(N(μ₁, σ₁²) ‖ N(μ₂, σ₂²)) = ½[log σ₂²/σ₁² + (σ₁² + (μ₁ − μ₂)²)/σ₂² − 1], elementwise."""
    return 0.5 * (logvar2 - logvar1 + torch.exp(logvar1 - logvar2) + (mean1 - mean2) ** 2 * torch.exp(-logvar2) - 1)


def _log_cdf_difference(a: Tensor, b: Tensor) -> Tensor:
    """log(Φ(b) − Φ(a)) for a < b, stable in both tails: reflected, Φ(b) − Φ(a) = Φ(−a) − Φ(−b) when a > 0."""
    flip = a > 0
    lo, hi = torch.where(flip, -b, a), torch.where(flip, -a, b)
    log_hi, log_lo = torch.special.log_ndtr(hi), torch.special.log_ndtr(lo)
    return log_hi + torch.log1p(-torch.exp(log_lo - log_hi).clamp(max=1 - 1e-12))


def discretized_gaussian_log_likelihood(x: Tensor, mean: Tensor, logvar: Tensor, *, levels: int) -> Tensor:
    """log P(x) elementwise for x on the grid 2k/(L − 1) − 1 of [−1, 1] under N(mean, e^logvar) discretised to
    bins [x − δ, x + δ], δ = 1/(L − 1), the first bin (−∞, −1 + δ] and the last [1 − δ, ∞) (Ho et al., eq. 13).
    The L bins partition ℝ, so Σ_k P(k) = 1 for every mean and variance."""
    delta = 1.0 / (levels - 1)
    inv_std = torch.exp(-0.5 * logvar)
    lower, upper = (x - delta - mean) * inv_std, (x + delta - mean) * inv_std
    first, last = x < -1 + delta / 2, x > 1 - delta / 2
    inner = _log_cdf_difference(lower, upper)
    return torch.where(first, torch.special.log_ndtr(upper), torch.where(last, torch.special.log_ndtr(-lower), inner))


def gaussian_log_likelihood(x: Tensor, mean: Tensor, logvar: Tensor) -> Tensor:
    """log N(x; mean, e^logvar) elementwise: the decoder of continuous data."""
    return -0.5 * (math.log(2 * math.pi) + logvar + (x - mean) ** 2 * torch.exp(-logvar))
