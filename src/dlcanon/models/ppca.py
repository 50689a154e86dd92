"""Probabilistic PCA as a network (G1): p(z) = N(0, I_K), p(x|z) = N(x; Wz + μ, σ²I_D) (Tipping & Bishop, 1999).

The parameters are buffers (fitted in closed form or by EM by `dlcanon.objectives.ppca`, saved in the run's
checkpoint); `forward(x)` is the posterior mean E[z|x]. The notes write p(x|z) = N(x; Wz, θ²I): the OCR
turned σ into θ, and the mean μ is the data mean (zero for centred data).
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

from dlcanon.errors import UserError
from dlcanon.registry import MODELS


class LinearGaussian(nn.Module):
    """W (D, K), μ (D,), σ² (): the marginal is p(x) = N(μ, C) with C = WWᵀ + σ²I."""

    def __init__(self, shape: tuple[int, ...], latent_dim: int) -> None:
        super().__init__()
        d = math.prod(shape)
        if not 0 < latent_dim < d:
            raise UserError(f"ppca needs 0 < latent_dim < D = {d}; got {latent_dim}")
        self.shape, self.latent_dim = tuple(shape), latent_dim
        self.register_buffer("W", torch.zeros(d, latent_dim))
        self.register_buffer("mu", torch.zeros(d))
        self.register_buffer("sigma2", torch.ones(()))

    def posterior(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """p(z|x) = N(M⁻¹Wᵀ(x − μ), σ²M⁻¹), M = WᵀW + σ²I_K: means (N, K), shared covariance (K, K)."""
        w = self.W.double()
        m = w.T @ w + self.sigma2.double() * torch.eye(self.latent_dim, dtype=torch.float64, device=w.device)
        mean = torch.linalg.solve(m, w.T @ (x.flatten(1).double() - self.mu.double()).T).T
        return mean.to(x.dtype), (self.sigma2.double() * torch.linalg.inv(m)).to(x.dtype)

    def decode(self, z: Tensor) -> Tensor:
        """E[x|z] = Wz + μ, (N, K) → (N, *shape)."""
        return (z @ self.W.T + self.mu).view(-1, *self.shape)

    def forward(self, x: Tensor) -> Tensor:  # (N, *shape) -> (N, K)
        return self.posterior(x)[0]


@MODELS.register("ppca", tags=("G1",), objective="ppca", data="digits")
def build_ppca(input_shape: tuple[int, ...], num_classes: int | None, *, latent_dim: int = 10) -> LinearGaussian:
    """Probabilistic PCA with K = latent_dim; fitted in closed form (or EM), no gradient steps."""
    return LinearGaussian(input_shape, latent_dim)
