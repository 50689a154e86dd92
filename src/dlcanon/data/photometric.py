"""Random photometric transforms: they change the input's values, never its geometry, so a target is left as
it is. `fn(x, generator, **strength) -> x'` for images (N, C, H, W) and volumes (N, C, D, H, W) in [0, 1]."""

from __future__ import annotations

import torch

from dlcanon.data.geometric import Range, uniform, value_range
from dlcanon.data.warp import spatial_dims
from dlcanon.errors import UserError


def adjust_intensity(x: torch.Tensor, contrast: torch.Tensor, brightness: torch.Tensor) -> torch.Tensor:
    """x' = clamp(c·(x − μ) + μ + b, 0, 1) per sample, μ = mean of the sample over (C, *spatial)."""
    view = (-1, *[1] * (spatial_dims(x) + 1))
    c, b = contrast.view(view).to(x), brightness.view(view).to(x)
    mu = x.mean(dim=tuple(range(1, x.dim())), keepdim=True)
    return (c * (x - mu) + mu + b).clamp(0.0, 1.0)


def intensity(
    x: torch.Tensor, generator: torch.Generator, *, brightness: Range = 0.1, contrast: Range = 0.2
) -> torch.Tensor:
    """x' = clamp(c·(x − μ) + μ + b, 0, 1), μ the sample mean, c ~ U(contrast: 1 ± v), b ~ U(brightness)."""
    c0, c1 = value_range(contrast, 1.0, "contrast")
    b0, b1 = value_range(brightness, 0.0, "brightness")
    c = uniform(x, generator, c0, c1)
    return adjust_intensity(x, c, uniform(x, generator, b0, b1))


def noise(x: torch.Tensor, generator: torch.Generator, *, std: float = 0.05, clip: bool = False) -> torch.Tensor:
    """Additive Gaussian noise x' = x + σ·ε, ε ~ N(0, I); clamped to [0, 1] only with clip=True."""
    if std < 0:
        raise UserError(f"augment: noise std must be ≥ 0; got {std}")
    eps = torch.randn(x.shape, generator=generator, device=x.device, dtype=x.dtype)
    out = x + std * eps
    return out.clamp(0.0, 1.0) if clip else out


PHOTOMETRIC = {"intensity": intensity, "noise": noise}
