"""A Gaussian mixture as a network (G2): z ~ Categorical(π), x | z = k ~ N(μ_k, Σ_k).

Parameters are buffers fitted by EM in `dlcanon.objectives.gmm`. Covariances: `full` (K, D, D), `diag`
(K, D) or `spherical` (K,) (Σ_k = σ_k²·I). `forward(x)` gives the responsibilities p(z = k | x), (N, K).
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

from dlcanon.errors import UserError
from dlcanon.registry import MODELS

COVARIANCES = ("full", "diag", "spherical")
LOG_2PI = math.log(2 * math.pi)


def component_log_prob(x: Tensor, means: Tensor, cov: Tensor, kind: str) -> Tensor:
    """log N(x_n; μ_k, Σ_k) for x (N, D), means (K, D) → (N, K).

    full: with Σ_k = L_k L_kᵀ (Cholesky), −½[D log 2π + 2 Σ_i log L_k,ii + ‖L_k⁻¹(x − μ_k)‖²];
    diag: −½ Σ_i [log 2π + log σ²_ki + (x_i − μ_ki)²/σ²_ki]; spherical: diag with σ²_ki = σ²_k.
    """
    d = x.shape[1]
    if kind == "full":
        chol = torch.linalg.cholesky(cov)  # (K, D, D)
        logdet = 2 * torch.log(torch.diagonal(chol, dim1=-2, dim2=-1)).sum(-1)  # (K,)
        maha = torch.stack(  # one component at a time: (D, N) solves, no (N, K, D) tensor
            [
                torch.linalg.solve_triangular(c, (x - m).T, upper=False).pow(2).sum(0)
                for c, m in zip(chol, means, strict=True)
            ],
            1,
        )
        return -0.5 * (d * LOG_2PI + logdet + maha)
    var = cov if kind == "diag" else cov[:, None].expand(-1, d)  # (K, D)
    maha = (x.pow(2) @ (1 / var).T) - 2 * x @ (means / var).T + (means.pow(2) / var).sum(1)  # (N, K)
    return -0.5 * (d * LOG_2PI + torch.log(var).sum(-1) + maha)


class GaussianMixture(nn.Module):
    """log π (K,), μ (K, D) and covariances of `kind`; log p(x) = logsumexp_k [log π_k + log N(x; μ_k, Σ_k)]."""

    def __init__(self, shape: tuple[int, ...], components: int, *, covariance: str = "full") -> None:
        super().__init__()
        if covariance not in COVARIANCES:
            raise UserError(f"covariance must be one of {', '.join(COVARIANCES)}; got {covariance!r}")
        d = math.prod(shape)
        self.shape, self.components, self.kind = tuple(shape), components, covariance
        self.register_buffer("log_weights", torch.full((components,), -math.log(components)))
        self.register_buffer("means", torch.zeros(components, d))
        cov = {"full": torch.eye(d).repeat(components, 1, 1), "diag": torch.ones(components, d)}
        self.register_buffer("covariances", cov.get(covariance, torch.ones(components)))

    def joint_log_prob(self, x: Tensor) -> Tensor:
        """log π_k + log N(x_n; μ_k, Σ_k), (N, K), in float64."""
        x = x.flatten(1).double()
        return self.log_weights.double() + component_log_prob(
            x, self.means.double(), self.covariances.double(), self.kind
        )

    def log_prob(self, x: Tensor) -> Tensor:
        """log p(x_n), (N,): log-sum-exp over components keeps it finite far from every mean."""
        return torch.logsumexp(self.joint_log_prob(x), dim=1)

    def forward(self, x: Tensor) -> Tensor:  # (N, *shape) -> responsibilities (N, K)
        return torch.softmax(self.joint_log_prob(x), dim=1).to(x.dtype)


@MODELS.register("gmm", tags=("G2",), objective="gmm", data="gaussians8")
def build_gmm(
    input_shape: tuple[int, ...], num_classes: int | None, *, components: int | None = None, covariance: str = "full"
) -> GaussianMixture:
    """Gaussian mixture (full, diag or spherical covariances), K = components (default: the data's classes)."""
    k = components or num_classes
    if not k:
        raise UserError("gmm needs components=K for unlabelled data")
    return GaussianMixture(input_shape, k, covariance=covariance)
