"""Bicubic resampling as a pure function: the kernel of Keys (1981) with a = −0.5, antialiased when shrinking.

The cubic convolution kernel (Keys, "Cubic convolution interpolation for digital image processing", 1981):

    k(t) = (a + 2)|t|³ − (a + 3)|t|² + 1             for |t| ≤ 1
           a|t|³ − 5a|t|² + 8a|t| − 4a               for 1 < |t| < 2
           0                                        otherwise,      a = −0.5

(a = −0.5 is Keys' choice and MATLAB's `imresize` and PIL's; PyTorch's non-antialiased bicubic uses −0.75).
Resizing n → m samples along an axis maps output sample i to the input position c = (i + ½)·n/m − ½ (pixel
centres aligned, "half-pixel" convention). Antialiasing: when shrinking (m < n) the kernel is stretched by
s = n/m, weight_j = k((j − c)/s), so it low-passes before sampling (support 4s taps); when enlarging, s = 1.
Taps outside the image are dropped and each row of weights renormalised to sum 1 (PIL's and
`torch.nn.functional.interpolate(mode="bicubic", antialias=True)`'s border rule). Separable: a resize is
Y = W_h · X · W_wᵀ with one (m, n) weight matrix per axis.
"""

from __future__ import annotations

import torch
from torch import Tensor

A = -0.5  # Keys' parameter


def cubic(t: Tensor, a: float = A) -> Tensor:
    """Keys' cubic convolution kernel k(t) (see the module docstring)."""
    t = t.abs()
    near = ((a + 2) * t - (a + 3)) * t * t + 1
    far = ((a * t - 5 * a) * t + 8 * a) * t - 4 * a
    return torch.where(t <= 1, near, torch.where(t < 2, far, torch.zeros_like(t)))


def weights(
    n: int, m: int, *, antialias: bool = True, dtype: torch.dtype = torch.float64, device: torch.device | str = "cpu"
) -> Tensor:
    """The (m, n) matrix resampling n samples to m: row i holds k((j − c_i)/s)/s over the taps j in the image,
    c_i = (i + ½)·n/m − ½, s = max(1, n/m) when antialiased (else 1), each row normalised to sum 1."""
    if n < 1 or m < 1:
        raise ValueError(f"bicubic resize needs sizes ≥ 1; got {n} → {m}")
    s = max(1.0, n / m) if antialias else 1.0
    centre = (torch.arange(m, dtype=dtype, device=device) + 0.5) * (n / m) - 0.5  # (m,)
    j = torch.arange(n, dtype=dtype, device=device)  # (n,)
    w = cubic((j[None, :] - centre[:, None]) / s)  # (m, n); zero outside the support 2s
    return w / w.sum(1, keepdim=True)


def resize(x: Tensor, size: tuple[int, int], *, antialias: bool = True) -> Tensor:
    """Images (N, C, H, W) → (N, C, *size) by separable bicubic resampling (a = −0.5); no clamping."""
    h, w = x.shape[-2:]
    wh = weights(h, size[0], antialias=antialias, device=x.device).to(x.dtype)  # (H', H)
    ww = weights(w, size[1], antialias=antialias, device=x.device).to(x.dtype)  # (W', W)
    return torch.einsum("ih,nchw,jw->ncij", wh, x, ww)


def downscale(x: Tensor, scale: int) -> Tensor:
    """(N, C, H, W) → (N, C, H/scale, W/scale), antialiased bicubic; H and W must be multiples of `scale`."""
    h, w = x.shape[-2:]
    if h % scale or w % scale:
        raise ValueError(f"a ×{scale} bicubic downscale needs sides divisible by {scale}; got {h}×{w}")
    return resize(x, (h // scale, w // scale))


def upscale(x: Tensor, scale: int) -> Tensor:
    """(N, C, h, w) → (N, C, scale·h, scale·w), bicubic (the SR baseline); no clamping."""
    h, w = x.shape[-2:]
    return resize(x, (scale * h, scale * w))


def quantize(x: Tensor, levels: int = 256) -> Tensor:
    """x clamped to [0, 1] and rounded to the grid k/(levels − 1): an 8-bit image, as stored LR images are."""
    q = levels - 1
    return torch.round(x.clamp(0, 1) * q) / q
