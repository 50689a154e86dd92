"""Probabilistic PCA (G1; Tipping & Bishop, 1999): maximum likelihood in closed form or by EM; exact NLL.

With S the sample covariance (1/N) of the data and λ_1 ≥ … ≥ λ_D its eigenvalues, eigenvectors U:

    μ = mean(x),   σ² = (1/(D − K)) Σ_{j>K} λ_j,   W = U_K (Λ_K − σ²I)^{1/2} R    (R = I here),

so W spans the top-K principal subspace and σ² is the mean variance lost. EM (their eqs. 29-30, in the
form using S): M = WᵀW + σ²I,  W' = SW(σ²I + M⁻¹WᵀSW)⁻¹,  σ²' = (1/D) tr(S − SWM⁻¹W'ᵀ).
The log-likelihood is exact: log p(x) = −½[D log 2π + log|C| + (x − μ)ᵀC⁻¹(x − μ)], C = WWᵀ + σ²I.
Discrete data (a grid of L levels, e.g. digits) are dequantised before fitting and evaluation, so
`bits_per_dim` bounds the bits of the induced discrete model (see `dlcanon.metrics.likelihood`).
"""

from __future__ import annotations

from collections.abc import Iterable

import torch
from torch import Tensor, nn

from dlcanon.errors import UserError
from dlcanon.metrics.likelihood import LOG_2PI, bits_per_dim
from dlcanon.objectives.base import Batch
from dlcanon.objectives.closed_form import DequantizedDensity
from dlcanon.objectives.generative import LatentModel
from dlcanon.objectives.vae import lerp
from dlcanon.registry import OBJECTIVES


def covariance(x: Tensor) -> tuple[Tensor, Tensor]:
    """Mean (D,) and maximum-likelihood covariance S = (1/N) Σ (x − μ)(x − μ)ᵀ (D, D) of x (N, D)."""
    mu = x.mean(0)
    xc = x - mu
    return mu, xc.T @ xc / x.shape[0]


def ppca_closed_form(x: Tensor, k: int) -> tuple[Tensor, Tensor, Tensor]:
    """(W (D, K), μ (D,), σ² ()) maximising the likelihood of x (N, D) (Tipping & Bishop, eqs. 7-8)."""
    mu, s = covariance(x)
    evals, evecs = torch.linalg.eigh(s)  # ascending
    evals, evecs = evals.flip(0), evecs.flip(1)
    sigma2 = evals[k:].mean()
    w = evecs[:, :k] * (evals[:k] - sigma2).clamp_min(0).sqrt()
    return w, mu, sigma2


def ppca_em_step(s: Tensor, w: Tensor, sigma2: Tensor) -> tuple[Tensor, Tensor]:
    """One EM step from the sample covariance S (D, D): returns (W', σ²')."""
    d, k = w.shape
    eye = torch.eye(k, dtype=w.dtype, device=w.device)
    m_inv = torch.linalg.inv(w.T @ w + sigma2 * eye)
    sw = s @ w  # (D, K)
    w_new = sw @ torch.linalg.inv(sigma2 * eye + m_inv @ w.T @ sw)
    sigma2_new = torch.trace(s - sw @ m_inv @ w_new.T) / d
    return w_new, sigma2_new


def ppca_em(
    x: Tensor, k: int, *, steps: int = 1000, tol: float = 1e-12, seed: int = 0
) -> tuple[Tensor, Tensor, Tensor]:
    """EM from a random W (entries N(0, 1)) and σ² = tr(S)/D until WWᵀ and σ² move by < tol (max-abs).

    The likelihood flattens long before the parameters settle, so the test is on the parameters (WWᵀ, which
    is invariant to the rotation R that EM leaves free)."""
    mu, s = covariance(x)
    g = torch.Generator().manual_seed(seed)
    w = torch.randn(x.shape[1], k, generator=g, dtype=x.dtype).to(x.device)
    sigma2 = torch.trace(s) / x.shape[1]
    for _ in range(steps):
        w_new, sigma2_new = ppca_em_step(s, w, sigma2)
        change = (w_new @ w_new.T - w @ w.T).abs().max() + (sigma2_new - sigma2).abs()
        w, sigma2 = w_new, sigma2_new
        if change < tol:
            break
    return w, mu, sigma2


def ppca_log_likelihood(x: Tensor, w: Tensor, mu: Tensor, sigma2: Tensor) -> Tensor:
    """log N(x_n; μ, WWᵀ + σ²I) for x (N, D) → (N,), through the Cholesky factor of C."""
    c = w @ w.T + sigma2 * torch.eye(w.shape[0], dtype=w.dtype, device=w.device)
    chol = torch.linalg.cholesky(c)
    sol = torch.linalg.solve_triangular(chol, (x - mu).T, upper=False)  # (D, N)
    logdet = 2 * torch.log(torch.diagonal(chol)).sum()
    return -0.5 * (w.shape[0] * LOG_2PI + logdet + sol.pow(2).sum(0))


class PPCA(LatentModel, DequantizedDensity):
    """Fits a `LinearGaussian` in `prepare` (no gradient steps); `evaluate` gives the exact test NLL; its views
    (`LatentModel`) are samples, reconstructions and latent interpolations of test images."""

    def __init__(
        self,
        network: nn.Module,
        *,
        method: str = "closed_form",
        em_steps: int = 1000,
        levels: int | None = None,
        seed: int = 0,
    ) -> None:
        super().__init__()
        if method not in ("closed_form", "em"):
            raise UserError(f"method must be closed_form or em; got {method!r}")
        self.network, self.method, self.em_steps, self.seed = network, method, em_steps, seed
        self.init_levels(levels)

    def prepare(self, train) -> None:
        x = self.observed_train(train, self.seed)
        k = self.network.latent_dim
        fitted = (
            ppca_closed_form(x, k)
            if self.method == "closed_form"
            else ppca_em(x, k, steps=self.em_steps, seed=self.seed)
        )
        for name, value in zip(("W", "mu", "sigma2"), fitted, strict=True):
            getattr(self.network, name).copy_(value)

    def log_prob(self, x: Tensor) -> Tensor:
        """log p(x) of (already observed) data, (N,)."""
        net = self.network
        return ppca_log_likelihood(x, net.W.double(), net.mu.double(), net.sigma2.double())

    def forward(self, batch: Batch, update: str = "model") -> tuple[Tensor, dict[str, Tensor]]:
        nll = -self.log_prob(self.observe(batch[0])).mean()
        return nll, {"nll": nll.detach()}

    @torch.no_grad()
    def evaluate(self, batches: Iterable[Batch]) -> dict[str, float]:
        """nll: exact −log p(x) per sample in nats (of the dequantised data when discrete); bits_per_dim."""
        total, count, dims = 0.0, 0, 0
        g = None
        for x, _ in batches:
            g = g or torch.Generator(device=x.device).manual_seed(self.seed + 1)
            obs = self.observe(x, g)
            total += float(-self.log_prob(obs).sum())
            count, dims = count + x.shape[0], obs.shape[1]
        nll = total / count
        return {"nll": nll, "bits_per_dim": bits_per_dim(nll, dims, levels=int(self.levels))}

    @torch.no_grad()
    def sample(self, n: int, label: int | None = None) -> Tensor:
        """x = Wz + μ + σε, z ~ N(0, I_K), ε ~ N(0, I_D): (n, *shape)."""
        if label is not None:
            raise UserError("--label needs a conditional model (cvae); ppca is not conditional")
        net = self.network
        z = torch.randn(n, net.latent_dim, device=net.W.device)
        return net.decode(z) + net.sigma2.sqrt() * torch.randn(n, *net.shape, device=net.W.device)

    def latents(self, x: Tensor, y: Tensor | None = None) -> Tensor:
        return self.network.posterior(x.float())[0]

    def decode_mean(self, z: Tensor, y: Tensor | None = None) -> Tensor:
        return self.network.decode(z)

    @torch.no_grad()
    def reconstruct(self, x: Tensor, y: Tensor | None = None) -> Tensor:
        """W·E[z|x] + μ: the projection onto the principal subspace, shrunk by the posterior."""
        return self.decode_mean(self.latents(x))

    @torch.no_grad()
    def interpolate(self, xa: Tensor, xb: Tensor, steps: int = 8, y: Tensor | None = None) -> Tensor:
        return self.decode_mean(lerp(self.latents(xa), self.latents(xb), steps))


@OBJECTIVES.register("ppca", tags=("G1", "G16"))
def build_ppca(network: nn.Module, **kwargs) -> PPCA:
    """Probabilistic PCA fitted in closed form or by EM; exact test NLL and bits per dimension."""
    return PPCA(network, **kwargs)
