"""Honest likelihood metrics of latent-variable models (G16), in nats per sample unless named otherwise.

For a model p_θ(x) = ∫ p_θ(x|z) p(z) dz and an encoder q_φ(z|x):

* ELBO (Kingma & Welling, 2014): log p(x) ≥ L(x) = E_q[log p(x|z)] − KL[q(z|x) ‖ p(z)]; the first term is the
  negative *reconstruction* (distortion), the second the *rate*. Both parts are reported separately.
* IWAE_k (Burda, Grosse & Salakhutdinov, 2016): log p(x) ≥ L_k(x) = E[log (1/k) Σ_i w_i],
  w_i = p(x, z_i)/q(z_i|x), z_i ~ q(z|x) i.i.d.; L_1 = L ≤ L_k ≤ L_{k+1} → log p(x) as k → ∞.
  −L_k is the reported `nll_iwae` (an upper bound on the true NLL, tightening with k).
* Bits per dimension: bpd = NLL / (D·ln 2). When discrete data with L levels per dimension are modelled
  with a continuous density, the density is evaluated on uniformly dequantised data y = (k + u)/L,
  u ~ U[0, 1)^D, and bpd = (NLL_y + D·ln L)/(D·ln 2): by Jensen's inequality this bounds the bits of the
  induced discrete model P(k) = ∫_bin p(y) dy from above (Theis, van den Oord & Bethge, 2016). Binary data
  under a Bernoulli decoder are discrete already: no offset.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import Tensor

CURRICULUM = ("G16",)

LOG_2PI = math.log(2 * math.pi)


def _sum_last(t: Tensor, dims: int) -> Tensor:
    return t.sum(dim=tuple(range(-dims, 0))) if dims > 0 else t


def log_normal(x: Tensor, mean: Tensor, logvar: Tensor, *, event_dims: int = 1) -> Tensor:
    """log N(x; μ, diag σ²) = −½ Σ_i [log 2π + log σ_i² + (x_i − μ_i)²/σ_i²], summed over `event_dims`."""
    return _sum_last(-0.5 * (LOG_2PI + logvar + (x - mean).pow(2) * torch.exp(-logvar)), event_dims)


def log_standard_normal(z: Tensor, *, event_dims: int = 1) -> Tensor:
    """log N(z; 0, I) = −½ Σ_i (log 2π + z_i²)."""
    return _sum_last(-0.5 * (LOG_2PI + z.pow(2)), event_dims)


def log_bernoulli(x: Tensor, logits: Tensor, *, event_dims: int = 1) -> Tensor:
    """log Bern(x; σ(ℓ)) = Σ_i [x_i log σ(ℓ_i) + (1 − x_i) log(1 − σ(ℓ_i))] = Σ_i [x_i ℓ_i − softplus(ℓ_i)].

    The logit form is exact and stable for any ℓ (no clamping of log 0, unlike BCE on probabilities).
    """
    return _sum_last(x * logits - F.softplus(logits), event_dims)


def kl_monte_carlo(z: Tensor, mu: Tensor, logvar: Tensor) -> Tensor:
    """One-sample estimate of KL[q ‖ p] at z ~ q = N(μ, diag σ²), p = N(0, I): log q(z) − log p(z).

    Unbiased: E_q[log q(z) − log p(z)] = KL[q ‖ p] (= `dlcanon.losses.kl_normal`), with a variance the
    analytic formula does not have. Shape (..., d) → (...).
    """
    return log_normal(z, mu, logvar) - log_standard_normal(z)


def iwae_bound(log_weights: Tensor) -> Tensor:
    """L_k = log (1/k) Σ_i exp(log w_i) = logsumexp_i(log w_i) − log k, for log_weights of shape (k, N) → (N,).

    log-sum-exp keeps it finite when the weights are e^(−500): the largest term is factored out.
    """
    return torch.logsumexp(log_weights, dim=0) - math.log(log_weights.shape[0])


def iwae_log_likelihood(log_weights: Callable[[int], Tensor], k: int, *, chunk: int = 100) -> Tensor:
    """L_k from `log_weights(c) -> (c, N)` (c fresh samples z ~ q(z|x) per item), drawn `chunk` at a time.

    Streaming log-sum-exp: s ← log(e^s + Σ_chunk e^(log w)) with `torch.logaddexp`, so memory is that of one
    chunk whatever k; the result equals `iwae_bound` of all k weights at once.
    """
    if k < 1 or chunk < 1:
        raise ValueError(f"k and chunk must be ≥ 1; got k={k}, chunk={chunk}")
    total: Tensor | None = None
    done = 0
    while done < k:
        c = min(chunk, k - done)
        part = torch.logsumexp(log_weights(c).double(), dim=0)  # (N,)
        total = part if total is None else torch.logaddexp(total, part)
        done += c
    return total - math.log(k)


def bits_per_dim(nll: Tensor | float, dims: int, *, levels: int = 0) -> Tensor | float:
    """bpd = NLL/(D·ln 2), plus log₂ L when a density on [0, 1)^D models data with `levels` = L > 0 levels.

    `nll` in nats per sample (of the dequantised data when L > 0). See the module docstring.
    """
    offset = dims * math.log(levels) if levels > 0 else 0.0
    return (nll + offset) / (dims * math.log(2))


def dequantize(x: Tensor, levels: int, *, generator: torch.Generator | None = None) -> Tensor:
    """y = (k + u)/L with k = round(x·(L − 1)) ∈ {0, …, L − 1} and u ~ U[0, 1): data on the grid k/(L − 1)
    spread uniformly over their bins of width 1/L in [0, 1)."""
    k = torch.round(x * (levels - 1))
    u = torch.rand(x.shape, generator=generator, device=x.device, dtype=x.dtype)
    return (k + u) / levels


def grid_levels(x: Tensor, *, max_levels: int = 256, atol: float = 1e-4) -> int:
    """L when every value of x is k/(L − 1) for an integer k ∈ [0, L − 1] (digits: 17, MNIST: 256,
    binary: 2), else 0 (continuous data). L − 1 is the reciprocal of the smallest gap between values."""
    values = torch.unique(x.detach().float().cpu())
    if values.numel() < 2 or values.min() < 0 or values.max() > 1 or values.numel() > max_levels:
        return 0
    step = float(values.diff().min())
    levels = round(1.0 / step) + 1
    if levels > max_levels:
        return 0
    scaled = values * (levels - 1)
    return levels if bool(torch.allclose(scaled, scaled.round(), atol=atol * (levels - 1))) else 0


# ---------------------------------------------------------------------------------------------- flows (G13)
def logit_transform(y: Tensor, alpha: float) -> tuple[Tensor, Tensor]:
    """RealNVP's preprocessing (Dinh et al., 2017, arXiv:1605.08803, §4.1): z = logit(α + (1 − 2α)·y) for y in
    [0, 1]^D, with its log-Jacobian log|det ∂z/∂y| = Σ_i [log(1 − 2α) − log p_i − log(1 − p_i)], p = α + (1 − 2α)y.

    A density p_Z on z gives log p_Y(y) = log p_Z(z) + log-Jacobian: the term must be added back, or the reported
    likelihood is that of a different variable. Shapes: (N, *shape) → ((N, *shape), (N,)). α = 0 needs y ∈ (0, 1).
    """
    p = alpha + (1 - 2 * alpha) * y
    z = torch.log(p) - torch.log1p(-p)
    logdet = (math.log1p(-2 * alpha) - torch.log(p) - torch.log1p(-p)).flatten(1).sum(1)
    return z, logdet


def logit_inverse(z: Tensor, alpha: float) -> Tensor:
    """y = (σ(z) − α)/(1 − 2α), the inverse of `logit_transform`."""
    return (torch.sigmoid(z) - alpha) / (1 - 2 * alpha)


def dequantization_bound(log_density: Tensor, dims: int, levels: int) -> Tensor:
    """Importance-weighted bound on the log-probability of discrete data from K uniform dequantisations.

    With y_k = (x + u_k)/L, u_k ~ U[0, 1)^D the proposal of density q(y) = L^D on x's bin, the discrete model
    P(x) = ∫_bin p(y) dy = E_q[p(y)/q(y)] is bounded by log P(x) ≥ log (1/K) Σ_k p(y_k) − D log L (the IWAE
    bound, Burda et al., 2016, applied to dequantisation; Ho et al., 2019, Flow++, arXiv:1902.00275, §3.1 with a
    uniform q). K = 1 is the usual bound E[log p(y)] − D log L (`bits_per_dim` with `levels`); the bound tightens
    as K grows. `log_density`: log p(y_k) in nats, (K, N) → (N,) lower bounds on log P(x) (discrete: no offset).
    """
    return iwae_bound(log_density) - dims * math.log(levels)


def mixture_entropy(
    centres: Tensor, std: float, *, n: int = 1_000_000, generator: torch.Generator | None = None
) -> tuple[float, float]:
    """Monte Carlo entropy H = −E[log p(x)] in nats of the mixture (1/K) Σ_k N(μ_k, σ²I) and its standard error.

    x ~ p drawn as the datasets draw them (uniform component, isotropic Gaussian noise); log p(x) =
    logsumexp_k log N(x; μ_k, σ²I) − log K in float64. Returns (mean of −log p, std/√n)."""
    centres = centres.double()
    k, d = centres.shape
    total, total_sq, done = 0.0, 0.0, 0
    while done < n:
        c = min(100_000, n - done)
        comp = torch.randint(k, (c,), generator=generator)
        x = centres[comp] + std * torch.randn(c, d, generator=generator, dtype=torch.float64)
        d2 = torch.cdist(x, centres).pow(2)  # (c, K)
        log_p = torch.logsumexp(-0.5 * d2 / std**2, 1) - math.log(k) - 0.5 * d * (LOG_2PI + 2 * math.log(std))
        total, total_sq, done = total + float(-log_p.sum()), total_sq + float(log_p.pow(2).sum()), done + c
    mean = total / n
    var = max(total_sq / n - mean**2, 0.0)
    return mean, math.sqrt(var / n)
