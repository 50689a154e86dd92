"""Full-reference image quality: PSNR and SSIM, on RGB or on the Y channel with a border crop (S4, S5).

- Luma (ITU-R BT.601, studio swing, as MATLAB's `rgb2ycbcr` and the SR literature use it): for R, G, B in
  [0, 1], Y = 16 + 65.481 R + 128.553 G + 24.966 B ∈ [16, 235], on a 0–255 scale.
- PSNR = 10 log₁₀(L² / MSE), L the data range (1 for [0, 1] RGB, 255 for Y).
- SSIM (Wang, Bovik, Sheikh & Simoncelli, "Image quality assessment: from error visibility to structural
  similarity", IEEE TIP 2004): with Gaussian-weighted local statistics (11×11 window, σ = 1.5) μ_x, μ_y, σ_x²,
  σ_y², σ_xy,
      SSIM(x, y) = mean over valid windows of (2μ_xμ_y + C₁)(2σ_xy + C₂) / ((μ_x² + μ_y² + C₁)(σ_x² + σ_y² + C₂)),
  C₁ = (0.01 L)², C₂ = (0.03 L)²; "valid": windows that fit inside the image (no padding), population
  (not sample) covariances; on RGB the mean over the three channels. This is scikit-image's
  `structural_similarity(gaussian_weights=True, sigma=1.5, use_sample_covariance=False)`.
- Super-resolution convention (SRCNN, SRGAN, EDSR, ...): both on Y with `crop` = scale pixels removed from
  every border (the border that bicubic and the network cannot reconstruct). Numbers on RGB are lower; the
  two are not comparable (many "cannot reproduce PSNR" reports mix them).

Every function takes batches (N, C, H, W) in [0, 1] and returns per-image values (N,).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

BT601 = (65.481, 128.553, 24.966)


def rgb_to_y(x: Tensor) -> Tensor:
    """(N, 3, H, W) RGB in [0, 1] → (N, 1, H, W) BT.601 luma on the 0–255 scale, in [16, 235]."""
    if x.shape[1] != 3:
        raise ValueError(f"rgb_to_y needs 3 channels; got {x.shape[1]}")
    w = torch.tensor(BT601, dtype=x.dtype, device=x.device).view(1, 3, 1, 1)
    return 16.0 + (x * w).sum(1, keepdim=True)


def shave(x: Tensor, crop: int) -> Tensor:
    """x without `crop` pixels on each border."""
    return x[..., crop : x.shape[-2] - crop, crop : x.shape[-1] - crop] if crop else x


def _prepare(x: Tensor, y: Tensor, *, channel: str, crop: int) -> tuple[Tensor, Tensor, float]:
    if x.shape != y.shape:
        raise ValueError(f"image quality needs equal shapes; got {tuple(x.shape)} and {tuple(y.shape)}")
    if channel not in ("y", "rgb"):
        raise ValueError(f"channel must be 'y' or 'rgb'; got {channel!r}")
    x, y = x.double(), y.double()
    if channel == "y" and x.shape[1] == 3:
        return shave(rgb_to_y(x), crop), shave(rgb_to_y(y), crop), 255.0
    if channel == "y":  # a grey image is its own luma: scaled as Y would be (219 levels between 16 and 235)
        return shave(16 + 219 * x, crop), shave(16 + 219 * y, crop), 255.0
    return shave(x, crop), shave(y, crop), 1.0


def psnr(x: Tensor, y: Tensor, *, channel: str = "y", crop: int = 0) -> Tensor:
    """Per-image PSNR (N,) in dB of x against the reference y, both (N, C, H, W) in [0, 1]."""
    x, y, peak = _prepare(x, y, channel=channel, crop=crop)
    mse = (x - y).pow(2).flatten(1).mean(1)
    return 10 * torch.log10(peak**2 / mse)


def gaussian_window(size: int = 11, sigma: float = 1.5, *, dtype: torch.dtype = torch.float64) -> Tensor:
    """The normalised (size, size) Gaussian window of Wang et al. (2004)."""
    t = torch.arange(size, dtype=dtype) - (size - 1) / 2
    g = torch.exp(-(t**2) / (2 * sigma**2))
    g = g / g.sum()
    return g[:, None] * g[None, :]


def ssim(x: Tensor, y: Tensor, *, channel: str = "y", crop: int = 0, size: int = 11, sigma: float = 1.5) -> Tensor:
    """Per-image SSIM (N,) of x against y (see the module docstring); on RGB the mean over channels."""
    x, y, peak = _prepare(x, y, channel=channel, crop=crop)
    c = x.shape[1]
    if min(x.shape[-2:]) < size:
        raise ValueError(f"SSIM's {size}×{size} window needs images at least that large; got {tuple(x.shape[-2:])}")
    w = gaussian_window(size, sigma, dtype=x.dtype).to(x.device).expand(c, 1, size, size)

    def blur(t: Tensor) -> Tensor:
        return F.conv2d(t, w, groups=c)  # valid windows only

    mu_x, mu_y = blur(x), blur(y)
    var_x = blur(x * x) - mu_x**2
    var_y = blur(y * y) - mu_y**2
    cov = blur(x * y) - mu_x * mu_y
    c1, c2 = (0.01 * peak) ** 2, (0.03 * peak) ** 2
    s = (2 * mu_x * mu_y + c1) * (2 * cov + c2) / ((mu_x**2 + mu_y**2 + c1) * (var_x + var_y + c2))
    return s.flatten(1).mean(1)
