"""Metrics of generated samples that mean something on small data, offline.

- Fréchet distance (Heusel et al., 2017) between Gaussians fitted to features of real and generated samples:
  FD = ‖μ_r − μ_g‖² + tr(Σ_r + Σ_g − 2(Σ_r Σ_g)^{1/2}). tr((Σ_r Σ_g)^{1/2}) = tr((A Σ_g A)^{1/2}) with
  A = Σ_r^{1/2}: A Σ_g A is symmetric PSD, so both square roots come from symmetric eigendecompositions
  (eigenvalues clipped at 0), in float64. The features come from a small classifier trained on the same data
  (`dlcanon.metrics.feature_net`, shipped weights); given features of a locally available Inception network
  the same function computes the usual FID (nothing is downloaded).
- Precision and recall (Kynkäänniemi et al., 2019): the manifold of a set is the union of balls around its
  points with radius the distance to their k-th nearest neighbour; precision is the share of generated
  samples inside the real manifold, recall the share of real samples inside the generated manifold.
- Mode coverage on 2-D mixtures (Srivastava et al., 2017, VEEGAN; Lin et al., 2018, PacGAN): each sample
  goes to its nearest mode; it is high quality when within 3σ of it; a mode is covered when it receives at
  least `min_count` high-quality samples (20 per 2,500 samples, PacGAN's threshold, scaled to the sample
  count). In 2-D only 1 − e^{−9/2} ≈ 98.9% of a mode's own mass lies within 3σ of its centre.
- Class-conditional accuracy: the metric classifier's accuracy on samples generated for given labels.
"""

from __future__ import annotations

import torch
from torch import Tensor

CURRICULUM = ("G16",)


def _sqrtm_psd(m: Tensor) -> Tensor:
    """Square root of a symmetric PSD matrix by eigendecomposition (negative round-off eigenvalues → 0)."""
    vals, vecs = torch.linalg.eigh((m + m.T) / 2)
    return (vecs * vals.clamp_min(0).sqrt()) @ vecs.T


def gaussian_frechet_distance(mu1: Tensor, sigma1: Tensor, mu2: Tensor, sigma2: Tensor) -> float:
    """‖μ₁ − μ₂‖² + tr(Σ₁) + tr(Σ₂) − 2 tr((Σ₁^{1/2} Σ₂ Σ₁^{1/2})^{1/2}): the 2-Wasserstein distance² of
    N(μ₁, Σ₁) and N(μ₂, Σ₂)."""
    mu1, mu2, sigma1, sigma2 = (t.double() for t in (mu1, mu2, sigma1, sigma2))
    root1 = _sqrtm_psd(sigma1)
    cross = _sqrtm_psd(root1 @ sigma2 @ root1)
    value = (mu1 - mu2).pow(2).sum() + sigma1.trace() + sigma2.trace() - 2 * cross.trace()
    return float(value.clamp_min(0))


def feature_statistics(features: Tensor) -> tuple[Tensor, Tensor]:
    """Mean (F,) and unbiased covariance (F, F) of features (N, F), in float64."""
    f = features.double().flatten(1)
    return f.mean(0), torch.cov(f.T).reshape(f.shape[1], f.shape[1])


def frechet_distance(real: Tensor, fake: Tensor) -> float:
    """Fréchet distance between Gaussians fitted to two feature sets (N, F) and (M, F)."""
    return gaussian_frechet_distance(*feature_statistics(real), *feature_statistics(fake))


def _kth_radii(x: Tensor, k: int) -> Tensor:
    """Distance of each row to its k-th nearest other row (N,)."""
    d = torch.cdist(x, x)
    return d.kthvalue(k + 1, dim=1).values  # the 1st smallest is the point itself (0)


def _inside(points: Tensor, centres: Tensor, radii: Tensor) -> Tensor:
    """Whether each point lies in some ball B(centre_j, radius_j)."""
    return (torch.cdist(points, centres) <= radii.unsqueeze(0)).any(1)


def precision_recall(real: Tensor, fake: Tensor, *, k: int = 3) -> tuple[float, float]:
    """(precision, recall) of generated features `fake` (M, F) against real features `real` (N, F)."""
    real, fake = real.double().flatten(1), fake.double().flatten(1)
    precision = _inside(fake, real, _kth_radii(real, k)).double().mean()
    recall = _inside(real, fake, _kth_radii(fake, k)).double().mean()
    return float(precision), float(recall)


def sample_quality(real: Tensor, fake: Tensor) -> dict[str, float]:
    """Fréchet distance, precision and recall of generated features `fake` against real features `real`."""
    precision, recall = precision_recall(real, fake)
    return {"frechet_distance": frechet_distance(real, fake), "precision": precision, "recall": recall}


def mode_coverage(samples: Tensor, centres: Tensor, std: float, *, min_count: int | None = None) -> dict[str, float]:
    """`modes_covered` (count) and `high_quality_share` of 2-D samples (N, 2) for modes (K, 2) of σ `std`.

    A sample is high quality when ‖x − μ_k‖ ≤ 3σ for its nearest mode k; a mode is covered when it gets at
    least `min_count` high-quality samples (default 20 per 2,500 samples, PacGAN's threshold, at least 1).
    """
    if min_count is None:
        min_count = max(1, round(20 * len(samples) / 2500))
    dist = torch.cdist(samples.double(), centres.double())
    nearest, index = dist.min(1)
    good = nearest <= 3 * std
    counts = torch.bincount(index[good], minlength=len(centres))
    return {"modes_covered": int((counts >= min_count).sum()), "high_quality_share": float(good.double().mean())}


def conditional_accuracy(predicted: Tensor, labels: Tensor) -> float:
    """Share of samples generated for label y that the metric classifier assigns to y."""
    return float((predicted == labels).double().mean())
