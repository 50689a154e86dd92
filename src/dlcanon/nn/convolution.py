"""True convolution and correlation in 1-D and 2-D (F4), batched on PyTorch's conv kernels.

Convolution  (f * g)[t] = Σ_τ f[τ]·g[t − τ]   (commutative, associative, distributive)
Correlation  (f ⋆ g)[t] = Σ_τ f[t + τ]·g[τ]   (not commutative: f ⋆ g is g ⋆ f reversed)

The discrete forms of the notes' integrals. Correlation follows the convention of scipy, numpy and
PyTorch (slide g along f); the notes' ∫ f(τ)·g(t + τ) dτ slides f along g, which is g ⋆ f here, the
same sequence reversed. `F.conv1d`/`F.conv2d` (and every nn.Conv layer) compute this *correlation*:
convolution is correlation with the kernel flipped, conv(f, g) = corr(f, flip(g)).

Modes follow `scipy.signal.convolve`/`correlate`: 'full' (every overlap, length N + M − 1), 'valid'
(only full overlaps, |N − M| + 1; one input must be at least as large as the other in every dimension),
'same' (the centre of 'full' with the size of `f`). Inputs are (*batch, N) or (*batch, H, W); the batch
dimensions of f and g broadcast, so either can hold a stack of signals or kernels.
(`scipy.signal.correlate2d` centres 'same' differently from `scipy.signal.correlate` for even kernel
sizes; here 'same' is always the centre of 'full', so corr(f, g) = conv(f, flip(g)) holds in every mode.)
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

__all__ = ["convolve1d", "convolve2d", "correlate1d", "correlate2d"]

# the curriculum IDs this module implements (read by the report's coverage page)
CURRICULUM = ("F4",)

_MODES = ("full", "valid", "same")


def _correlate(f: Tensor, g: Tensor, ndim: int, mode: str) -> Tensor:
    """Correlation over the last `ndim` dims (1 or 2), batch dims broadcast; the shared engine."""
    if mode not in _MODES:
        raise ValueError(f"mode must be one of {', '.join(_MODES)}; got {mode!r}")
    if f.dim() < ndim or g.dim() < ndim:
        raise ValueError(
            f"expected inputs with at least {ndim} dims, got shapes {tuple(f.shape)}, {tuple(g.shape)}"
        )
    dtype = torch.promote_types(torch.result_type(f, g), torch.get_default_dtype())
    f, g = f.to(dtype), g.to(dtype)
    n, m = f.shape[-ndim:], g.shape[-ndim:]
    if mode == "valid" and not (
        all(a >= b for a, b in zip(n, m, strict=True)) or all(b >= a for a, b in zip(n, m, strict=True))
    ):
        raise ValueError(f"'valid' needs one input at least as large as the other in every dim: {n} vs {m}")
    batch = torch.broadcast_shapes(f.shape[:-ndim], g.shape[:-ndim])
    b = max(1, batch.numel())
    # f: (1, B, *N) one sample with B channels; g: (B, 1, *M) one kernel per channel (groups=B)
    fx = f.expand(*batch, *n).reshape(1, b, *n)
    gx = g.expand(*batch, *m).reshape(b, 1, *m)
    pad = [k - 1 for k in m]  # full mode: every shift where the two overlap by at least one sample
    conv = F.conv1d if ndim == 1 else F.conv2d
    full = conv(fx, gx, padding=tuple(pad), groups=b)  # (1, B, *(N + M − 1))
    slices = []
    for size_f, size_g in zip(n, m, strict=True):
        length = size_f + size_g - 1
        if mode == "full":
            start, keep = 0, length
        elif mode == "same":
            start, keep = (length - size_f) // 2, size_f
        else:
            start, keep = min(size_f, size_g) - 1, abs(size_f - size_g) + 1
        slices.append(slice(start, start + keep))
    out = full[(0, slice(None), *slices)]  # (B, *L)
    return out.reshape(*batch, *out.shape[1:])


def correlate1d(f: Tensor, g: Tensor, *, mode: str = "full") -> Tensor:
    """(f ⋆ g)[t] = Σ_τ f[t + τ]·g[τ] over the last dim; what F.conv1d computes. Shapes (*, N), (*, M)."""
    return _correlate(f, g, 1, mode)


def convolve1d(f: Tensor, g: Tensor, *, mode: str = "full") -> Tensor:
    """(f * g)[t] = Σ_τ f[τ]·g[t − τ] over the last dim: correlation with g flipped. Shapes (*, N), (*, M)."""
    return _correlate(f, g.flip(-1), 1, mode)


def correlate2d(f: Tensor, g: Tensor, *, mode: str = "full") -> Tensor:
    """(f ⋆ g)[s, t] = Σ f[s + σ, t + τ]·g[σ, τ] over the last two dims; what F.conv2d computes."""
    return _correlate(f, g, 2, mode)


def convolve2d(f: Tensor, g: Tensor, *, mode: str = "full") -> Tensor:
    """(f * g)[s, t] = Σ f[σ, τ]·g[s − σ, t − τ] over the last two dims: correlation with g flipped."""
    return _correlate(f, g.flip(-2, -1), 2, mode)
