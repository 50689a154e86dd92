"""Anti-aliased down-sampling (F9): blur with a binomial filter before sub-sampling (Zhang, 2019).

R. Zhang, "Making Convolutional Networks Shift-Invariant Again", ICML 2019. Sub-sampling a signal with
content above the Nyquist rate of the coarser grid aliases: a max-pool of stride 2 maps [0 0 1 1 0 0 1 1] to
[0 1 0 1] but its one-pixel shift to [1 1 1 1]. Low-pass filtering first removes most of that content:

    MaxPool_{k,s}    →  Subsample_s ∘ Blur_m ∘ Max_{k,1}      (MaxBlurPool2d: dense max, then blur-pool)
    Conv_{k,s}       →  Subsample_s ∘ Blur_m ∘ Conv_{k,1}     (the blur follows the stride-1 conv)
    AvgPool_{k,s}    →  Subsample_s ∘ Blur_m ∘ Avg_{k,1}      (a box of size k then Blur_m: a wider blur)

Blur_m is the outer product of the binomial row [C(m−1, 0), …, C(m−1, m−1)] / 2^(m−1), m = 1…7:
[1], [1 1], [1 2 1], [1 3 3 1], [1 4 6 4 1], … (m = 1 is plain sub-sampling; m = 2 is a 2×2 box).
Zhang places the blur of a strided conv after its ReLU; here it directly follows the stride-1 conv (before
any BN and ReLU), so that `antialias` can rewrite one module at a time. Either way the signal is low-passed
before it is sub-sampled, and each rewrite keeps the layer's output size (⌈M'/s⌉ with M' the stride-1 size).

For stride 2 and m ≥ 2 the two polyphase halves of the binomial row have equal sums (2^(m−2) each,
since (1 − 1)^(m−1) = 0), so the global average of a blur-pooled map is exactly invariant to every
circular shift of its input, while that of a strided max-pool is not: `tests/test_blurpool.py`.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import Tensor, nn

__all__ = ["BlurPool2d", "MaxBlurPool2d", "antialias", "binomial_filter"]

# the curriculum IDs this module implements (read by the report's coverage page)
CURRICULUM = ("F9",)


def binomial_filter(size: int) -> Tensor:
    """The (size, size) binomial blur b bᵀ / 4^(size−1), b_i = C(size−1, i); it sums to one."""
    if isinstance(size, bool) or not isinstance(size, int) or not 1 <= size <= 7:
        raise ValueError(f"binomial filter size must be an integer in 1..7, got {size!r}")
    row = torch.tensor([math.comb(size - 1, i) for i in range(size)], dtype=torch.float64)
    return torch.outer(row, row) / 4 ** (size - 1)


class BlurPool2d(nn.Module):
    """Blur each channel with the binomial filter of `filter_size`, then keep every `stride`-th sample.

    (N, C, H, W) → (N, C, ⌈H/s⌉, ⌈W/s⌉): the input is padded by ⌊(m−1)/2⌋ before and ⌈(m−1)/2⌉ after
    (`pad_mode`: "reflect" as in Zhang's code, "circular" for exact shift arithmetic, "zeros", "replicate").
    A map too small for reflection (a 1-pixel map) is padded by replication. Channel-agnostic: the filter is
    a fixed buffer expanded over the channels of whatever it receives, with no parameters.
    """

    def __init__(self, filter_size: int = 3, stride: int = 2, *, pad_mode: str = "reflect") -> None:
        super().__init__()
        if pad_mode not in ("reflect", "circular", "zeros", "replicate"):
            raise ValueError(f"pad_mode must be reflect, circular, zeros or replicate; got {pad_mode!r}")
        self.filter_size, self.stride, self.pad_mode = filter_size, int(stride), pad_mode
        self.register_buffer("filter", binomial_filter(filter_size).float(), persistent=False)

    def forward(self, x: Tensor) -> Tensor:
        m, c = self.filter_size, x.shape[1]
        lo, hi = (m - 1) // 2, m // 2
        if hi:
            mode = "constant" if self.pad_mode == "zeros" else self.pad_mode
            if mode == "reflect" and min(x.shape[-2:]) <= hi:
                mode = "replicate"
            x = F.pad(x, (lo, hi, lo, hi), mode=mode)
        weight = self.filter.to(x.dtype).expand(c, 1, m, m)  # depthwise: (C, 1, m, m)
        return F.conv2d(x, weight, stride=self.stride, groups=c)

    def extra_repr(self) -> str:
        return f"filter_size={self.filter_size}, stride={self.stride}, pad_mode={self.pad_mode!r}"


class MaxBlurPool2d(nn.Sequential):
    """MaxPool_{k,s} made anti-aliased: max over k×k windows at stride 1, then BlurPool2d(m, s)."""

    def __init__(
        self,
        kernel_size: int = 2,
        stride: int = 2,
        *,
        padding: int = 0,
        dilation: int = 1,
        filter_size: int = 3,
        pad_mode: str = "reflect",
    ) -> None:
        super().__init__(
            nn.MaxPool2d(kernel_size, stride=1, padding=padding, dilation=dilation),
            BlurPool2d(filter_size, stride, pad_mode=pad_mode),
        )


def _square(value: int | tuple[int, ...], what: str) -> int:
    pair = (value, value) if isinstance(value, int) else tuple(value)
    if pair[0] != pair[1]:
        raise ValueError(f"antialias needs equal {what} along height and width, got {pair}")
    return int(pair[0])


def _max(layer: nn.MaxPool2d, m: int, pad_mode: str) -> nn.Module | None:
    stride = _square(layer.stride, "strides")
    if stride == 1:
        return None
    if layer.ceil_mode:
        raise ValueError("a ceil_mode max-pool has no anti-aliased twin of the same output size")
    k, p, d = (
        _square(v, n)
        for v, n in ((layer.kernel_size, "kernels"), (layer.padding, "paddings"), (layer.dilation, "dilations"))
    )
    return MaxBlurPool2d(k, stride, padding=p, dilation=d, filter_size=m, pad_mode=pad_mode)


def _avg(layer: nn.AvgPool2d, m: int, pad_mode: str) -> nn.Module | None:
    stride = _square(layer.stride, "strides")
    if stride == 1:
        return None
    if layer.ceil_mode:
        raise ValueError("a ceil_mode average pool has no anti-aliased twin of the same output size")
    k, p = _square(layer.kernel_size, "kernels"), _square(layer.padding, "paddings")
    blur = BlurPool2d(m, stride, pad_mode=pad_mode)
    if k == 1 and p == 0:  # a pure sub-sampling (ResNet option-A shortcuts)
        return blur
    return nn.Sequential(nn.AvgPool2d(k, 1, p, count_include_pad=layer.count_include_pad), blur)


def _conv(layer: nn.Conv2d, m: int, pad_mode: str) -> nn.Module | None:
    stride = _square(layer.stride, "strides")
    if stride == 1:
        return None
    w = layer.weight
    dense = nn.Conv2d(
        layer.in_channels,
        layer.out_channels,
        layer.kernel_size,
        stride=1,
        padding=layer.padding,
        dilation=layer.dilation,
        groups=layer.groups,
        bias=layer.bias is not None,
        padding_mode=layer.padding_mode,
        device=w.device,
        dtype=w.dtype,
    )
    return nn.Sequential(dense, BlurPool2d(m, stride, pad_mode=pad_mode))


_REWRITES: dict[type, Callable[[nn.Module, int, str], nn.Module | None]] = {
    nn.MaxPool2d: _max,
    nn.AvgPool2d: _avg,
    nn.Conv2d: _conv,
}


def antialias(module: nn.Module, filter_size: int | bool = 3, *, pad_mode: str = "reflect") -> nn.Module:
    """Rewrite every down-sampling layer of `module` in place as its anti-aliased twin; returns `module`.

    Max-pool, average pool and convolution layers with stride s > 1 become MaxBlurPool2d, Avg + BlurPool2d
    and Conv(stride 1) + BlurPool2d with the binomial filter of `filter_size` (True means 3; 0 or False leaves
    the module as it is). Output sizes are unchanged; a rewritten conv is freshly initialised and costs
    s² times the multiply-adds of the strided one.
    """
    size = 3 if filter_size is True else int(filter_size)
    if size == 0:
        return module
    binomial_filter(size)  # a bad size fails here, before any rewrite
    for name, child in module.named_children():
        rewrite = _REWRITES.get(type(child))
        new = rewrite(child, size, pad_mode) if rewrite is not None else None
        if new is None:
            antialias(child, size, pad_mode=pad_mode)
        else:
            setattr(module, name, new)
    return module
