"""BlurPool (F9): binomial filters, exact shift arithmetic of blurred down-sampling, the `antialias` rewrite."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from dlcanon.nn.blurpool import BlurPool2d, MaxBlurPool2d, antialias, binomial_filter


@pytest.mark.parametrize("size", range(1, 8))
def test_binomial_filter_sums_to_one_and_has_binomial_rows(size):
    f = binomial_filter(size)
    assert f.shape == (size, size) and torch.isclose(f.sum(), torch.tensor(1.0, dtype=f.dtype))
    row = torch.tensor([math.comb(size - 1, i) for i in range(size)], dtype=torch.float64)
    assert torch.equal(f * 4 ** (size - 1), torch.outer(row, row))  # [1], [1 1], [1 2 1], [1 3 3 1], ...


@pytest.mark.parametrize("size", [0, 8, 2.0])
def test_binomial_filter_rejects_bad_sizes(size):
    with pytest.raises(ValueError, match=r"1\.\.7"):
        binomial_filter(size)


def shift(x: torch.Tensor, k: int) -> torch.Tensor:
    return torch.roll(x, shifts=(k, k), dims=(-2, -1))  # circular shift by k along both axes


def circular_max_blur_pool(size: int) -> nn.Module:
    """MaxBlurPool2d(2, 2) on a torus: the dense 2×2 max wraps around too (M → M), then a circular blur-pool."""
    max_blur = MaxBlurPool2d(2, 2, filter_size=size, pad_mode="circular")
    return nn.Sequential(nn.CircularPad2d((0, 1, 0, 1)), *max_blur).double()


@pytest.mark.parametrize("size", [1, 2, 3, 4, 5, 7])
def test_blurpool_is_shift_equivariant_up_to_the_stride(size):
    """Shift the input by s·k (circularly) → the output shifts by k, to float precision."""
    torch.manual_seed(0)
    x = torch.randn(2, 3, 16, 16, dtype=torch.float64)
    for layer in (BlurPool2d(size, 2, pad_mode="circular").double(), circular_max_blur_pool(size)):
        for k in (1, 2, 3):
            assert torch.allclose(layer(shift(x, 2 * k)), shift(layer(x), k), atol=1e-12)


def test_blurred_downsampling_keeps_the_global_average_under_every_shift():
    """Stride 2, m ≥ 2: both polyphase halves of the binomial row sum to 2^(m−2), so GAP ∘ BlurPool is exactly
    invariant to every circular shift (odd ones too); a plain strided max-pool is not (Zhang's example)."""
    x = torch.tensor([0.0, 0, 1, 1, 0, 0, 1, 1]).repeat(8, 1)[None, None].double()  # (1, 1, 8, 8) stripes
    x = x * x.transpose(-1, -2)  # a 2-D checkerboard of 2×2 blocks
    plain = nn.MaxPool2d(2, 2)
    assert plain(x).mean() == 0.25 and plain(shift(x, 1)).mean() == 1.0  # [0 1 0 1] vs [1 1 1 1] per axis
    torch.manual_seed(0)
    noise = torch.rand(1, 2, 12, 12, dtype=torch.float64)
    for size in range(2, 8):
        blurred = circular_max_blur_pool(size)
        for signal in (x, noise):
            means = [float(blurred(shift(signal, k)).mean()) for k in range(4)]
            assert max(means) - min(means) < 1e-12, (size, means)
        assert BlurPool2d(size, 2, pad_mode="circular").double()(shift(noise, 1)).mean().item() == pytest.approx(
            noise.mean().item(), abs=1e-12
        )


def test_blurpool_output_sizes_and_filter_size_one_subsamples():
    x = torch.randn(1, 2, 7, 9)
    assert BlurPool2d(3, 2)(x).shape == (1, 2, 4, 5)  # ⌈M/s⌉
    assert torch.equal(BlurPool2d(1, 2)(x), x[..., ::2, ::2])
    assert BlurPool2d(5, 2)(torch.randn(1, 1, 1, 1)).shape == (1, 1, 1, 1)  # a 1-pixel map: replicate padding


@pytest.mark.parametrize(
    "layer",
    [
        nn.MaxPool2d(3, 2, padding=1),
        nn.MaxPool2d(2, 2),
        nn.AvgPool2d(2, 2),
        nn.AvgPool2d(1, 2),
        nn.Conv2d(3, 4, 3, stride=2, padding=1),
        nn.Conv2d(3, 4, 1, stride=2),
        nn.Conv2d(3, 4, 7, stride=2, padding=3),
    ],
)
def test_antialias_rewrites_keep_output_sizes(layer):
    net = nn.Sequential(layer)
    shapes = {m: net(torch.randn(1, 3, m, m)).shape for m in (7, 8, 28, 29)}
    antialias(net, 4)
    assert any(isinstance(m, BlurPool2d) for m in net.modules())
    assert {m: net(torch.randn(1, 3, m, m)).shape for m in shapes} == shapes


def test_antialias_leaves_stride_one_layers_and_can_be_off():
    net = nn.Sequential(nn.Conv2d(1, 2, 3, padding=1), nn.MaxPool2d(3, 1, 1), nn.Sequential(nn.MaxPool2d(2)))
    assert antialias(net, 0) is net and not any(isinstance(m, BlurPool2d) for m in net.modules())
    antialias(net, True)
    assert isinstance(net[0], nn.Conv2d) and isinstance(net[1], nn.MaxPool2d)
    assert isinstance(net[2][0], MaxBlurPool2d) and net[2][0][1].filter_size == 3  # nested children too
    with pytest.raises(ValueError, match="ceil_mode"):
        antialias(nn.Sequential(nn.MaxPool2d(2, ceil_mode=True)))
