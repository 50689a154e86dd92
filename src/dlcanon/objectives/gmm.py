"""Clustering as a latent model (G2): a Gaussian mixture fitted by EM from a k-means++ start.

p(z) = Categorical(π), p(x|z = k) = N(x; μ_k, Σ_k) (the notes' "Cute, joint (a_1, …)" is the OCR of
Categorical(π), π = (π_1, …, π_K), π_k = p(z = k), Σ_k π_k = 1). EM (Dempster, Laird & Rubin, 1977):

    E-step  r_nk = π_k N(x_n; μ_k, Σ_k) / Σ_j π_j N(x_n; μ_j, Σ_j)      (in logs, with log-sum-exp)
    M-step  N_k = Σ_n r_nk,  π_k = N_k/N,  μ_k = Σ_n r_nk x_n / N_k,
            Σ_k = Σ_n r_nk (x_n − μ_k)(x_n − μ_k)ᵀ / N_k + εI   (diag: its diagonal; spherical: its mean).

Each step cannot lower the log-likelihood. ε (`reg_covar`, 10⁻⁶ as scikit-learn) keeps Σ_k invertible. The
start is k-means++ seeding (Arthur & Vassilvitskii, 2007): the first centre uniformly, each next one with
probability ∝ its squared distance to the nearest chosen centre; then hard assignments and one M-step.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

import torch
from torch import Tensor, nn

from dlcanon.errors import UserError
from dlcanon.metrics.likelihood import bits_per_dim
from dlcanon.models.gmm import component_log_prob
from dlcanon.objectives.base import Batch
from dlcanon.objectives.closed_form import DequantizedDensity
from dlcanon.registry import OBJECTIVES

Params = tuple[Tensor, Tensor, Tensor]  # log π (K,), μ (K, D), covariances


def kmeans_plusplus(x: Tensor, k: int, *, generator: torch.Generator) -> Tensor:
    """k centres (k, D) chosen among the rows of x (N, D) by D² sampling."""
    n = x.shape[0]
    centres = [x[torch.randint(n, (1,), generator=generator)].squeeze(0)]
    d2 = (x - centres[0]).pow(2).sum(1)
    for _ in range(1, k):
        idx = torch.multinomial(d2.cpu().float() + 1e-30, 1, generator=generator)
        centres.append(x[idx.item()])
        d2 = torch.minimum(d2, (x - centres[-1]).pow(2).sum(1))
    return torch.stack(centres)


def e_step(x: Tensor, params: Params, kind: str) -> tuple[Tensor, Tensor]:
    """(log r (N, K), log p(x_n) (N,)): log r_nk = log π_k + log N_k(x_n) − logsumexp_j(…)."""
    log_weights, means, cov = params
    joint = log_weights + component_log_prob(x, means, cov, kind)  # (N, K)
    log_px = torch.logsumexp(joint, dim=1)
    return joint - log_px[:, None], log_px


def m_step(x: Tensor, resp: Tensor, kind: str, reg_covar: float) -> Params:
    """Maximum-likelihood (π, μ, Σ) given responsibilities r (N, K)."""
    nk = resp.sum(0) + 10 * torch.finfo(resp.dtype).eps  # (K,)
    means = resp.T @ x / nk[:, None]  # (K, D)
    if kind == "full":
        eye = reg_covar * torch.eye(x.shape[1], dtype=x.dtype, device=x.device)
        cov = torch.stack([(resp[:, k, None] * (x - m)).T @ (x - m) / nk[k] + eye for k, m in enumerate(means)])
    else:
        var = resp.T @ x.pow(2) / nk[:, None] - means.pow(2) + reg_covar  # (K, D)
        cov = var if kind == "diag" else var.mean(1)
    return torch.log(nk / x.shape[0]), means, cov


def initial_params(x: Tensor, k: int, kind: str, reg_covar: float, *, generator: torch.Generator) -> Params:
    """k-means++ centres → each point to its nearest centre (one-hot r) → one M-step."""
    centres = kmeans_plusplus(x, k, generator=generator)
    nearest = torch.cdist(x, centres).argmin(1)
    resp = torch.nn.functional.one_hot(nearest, k).to(x.dtype)
    return m_step(x, resp, kind, reg_covar)


def fit_em(
    x: Tensor, params: Params, kind: str, *, max_iter: int = 100, tol: float = 1e-3, reg_covar: float = 1e-6
) -> tuple[Params, list[float]]:
    """EM from `params` until the mean log-likelihood changes by < tol; returns it after each E-step."""
    history: list[float] = []
    for _ in range(max_iter):
        log_resp, log_px = e_step(x, params, kind)
        history.append(float(log_px.mean()))
        params = m_step(x, log_resp.exp(), kind, reg_covar)
        if len(history) > 1 and abs(history[-1] - history[-2]) < tol:
            break
    return params, history


class GMM(DequantizedDensity):
    """Fits a `GaussianMixture` by EM in `prepare` (best of `n_init` k-means++ starts); exact NLL, ARI."""

    def __init__(
        self,
        network: nn.Module,
        *,
        max_iter: int = 100,
        tol: float = 1e-3,
        reg_covar: float = 1e-6,
        n_init: int = 1,
        levels: int | None = None,
        seed: int = 0,
    ) -> None:
        super().__init__()
        if max_iter < 1 or n_init < 1 or reg_covar < 0:
            raise UserError(f"need max_iter ≥ 1, n_init ≥ 1, reg_covar ≥ 0; got {max_iter}, {n_init}, {reg_covar}")
        self.network, self.max_iter, self.tol, self.reg_covar = network, max_iter, tol, reg_covar
        self.n_init, self.seed = n_init, seed
        self.history: list[float] = []
        self.init_levels(levels)

    def prepare(self, train) -> None:
        x = self.observed_train(train, self.seed)
        net, best = self.network, (-math.inf, None, [])
        cpu = torch.Generator().manual_seed(self.seed)
        for _ in range(self.n_init):
            start = initial_params(x, net.components, net.kind, self.reg_covar, generator=cpu)
            params, history = fit_em(x, start, net.kind, max_iter=self.max_iter, tol=self.tol, reg_covar=self.reg_covar)
            score = float(e_step(x, params, net.kind)[1].mean())
            if score > best[0]:
                best = (score, params, history)
        self.history = best[2]
        for name, value in zip(("log_weights", "means", "covariances"), best[1], strict=True):
            getattr(net, name).copy_(value)

    def forward(self, batch: Batch, update: str = "model") -> tuple[Tensor, dict[str, Tensor]]:
        nll = -self.network.log_prob(self.observe(batch[0])).mean()
        return nll, {"nll": nll.detach()}

    @torch.no_grad()
    def evaluate(self, batches: Iterable[Batch]) -> dict[str, float]:
        """nll (nats per sample, of the dequantised data when discrete), bits_per_dim when the data are
        discrete, and adjusted_rand_index of the most responsible component against the labels."""
        from sklearn.metrics import adjusted_rand_score

        total, count, dims, clusters, labels = 0.0, 0, 0, [], []
        g = None
        for x, y in batches:
            g = g or torch.Generator(device=x.device).manual_seed(self.seed + 1)
            obs = self.observe(x, g)
            joint = self.network.joint_log_prob(obs)
            total += float(-torch.logsumexp(joint, 1).sum())
            count, dims = count + x.shape[0], obs.shape[1]
            clusters.append(joint.argmax(1).cpu())
            labels.append(None if y is None else y.cpu())
        metrics = {"nll": total / count}
        if int(self.levels):
            metrics["bits_per_dim"] = bits_per_dim(total / count, dims, levels=int(self.levels))
        if all(y is not None for y in labels):
            metrics["adjusted_rand_index"] = float(adjusted_rand_score(torch.cat(labels), torch.cat(clusters)))
        return metrics

    @torch.no_grad()
    def sample(self, n: int, label: int | None = None) -> Tensor:
        """z ~ Categorical(π), x = μ_z + L_z ε (Σ_z = L_z L_zᵀ): (n, *shape)."""
        if label is not None:
            raise UserError("--label needs a conditional model (cvae); gmm is not conditional")
        net = self.network
        z = torch.multinomial(net.log_weights.exp().float(), n, replacement=True)
        eps = torch.randn(n, net.means.shape[1], dtype=torch.float64, device=z.device)
        cov = net.covariances.double()[z]
        if net.kind == "full":
            x = net.means.double()[z] + (torch.linalg.cholesky(cov) @ eps[..., None])[..., 0]
        else:
            x = net.means.double()[z] + (cov if net.kind == "diag" else cov[:, None]).sqrt() * eps
        return x.float().view(n, *net.shape)


@OBJECTIVES.register("gmm", tags=("G2", "G16"))
def build_gmm(network: nn.Module, **kwargs) -> GMM:
    """Gaussian mixture fitted by EM from k-means++; exact NLL, adjusted Rand index against the labels."""
    return GMM(network, **kwargs)
