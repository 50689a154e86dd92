"""F4 and F11: algebra of true convolution, correlation as PyTorch's conv, references from numpy/scipy,
and a 1×1 convolution as a per-pixel linear layer.
"""

from __future__ import annotations

import numpy as np
import pytest
import scipy.signal
import torch
import torch.nn.functional as F
from torch import nn

from dlcanon.nn import convolve1d, convolve2d, correlate1d, correlate2d

MODES = ["full", "same", "valid"]


def rand(*shape: int, seed: int = 0) -> torch.Tensor:
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)


def ref(array: np.ndarray) -> torch.Tensor:
    return torch.tensor(np.ascontiguousarray(array))  # scipy may return negative strides


def close(a: torch.Tensor, b: torch.Tensor) -> None:
    torch.testing.assert_close(a, b, rtol=1e-10, atol=1e-10)


def test_convolution_is_commutative_associative_distributive_1d():
    f, g, h, k = rand(9, seed=1), rand(4, seed=2), rand(6, seed=3), rand(4, seed=4)
    close(convolve1d(f, g), convolve1d(g, f))
    close(convolve1d(convolve1d(f, g), h), convolve1d(f, convolve1d(g, h)))
    close(convolve1d(f, g + k), convolve1d(f, g) + convolve1d(f, k))


def test_convolution_is_commutative_associative_distributive_2d():
    f, g, h, k = rand(7, 6, seed=1), rand(3, 4, seed=2), rand(2, 5, seed=3), rand(3, 4, seed=4)
    close(convolve2d(f, g), convolve2d(g, f))
    close(convolve2d(convolve2d(f, g), h), convolve2d(f, convolve2d(g, h)))
    close(convolve2d(f, g + k), convolve2d(f, g) + convolve2d(f, k))


def test_correlation_is_not_commutative_but_is_convolution_with_a_flipped_kernel():
    f, g = rand(9, seed=1), rand(4, seed=2)
    assert not torch.allclose(correlate1d(f, g), correlate1d(g, f))
    close(correlate1d(f, g), correlate1d(g, f).flip(-1))  # swapping the arguments reverses the result
    assert not torch.allclose(convolve1d(f, g), correlate1d(f, g))
    f2, g2 = rand(6, 7, seed=3), rand(3, 2, seed=4)
    assert not torch.allclose(correlate2d(f2, g2), correlate2d(g2, f2))
    for mode in MODES:
        close(correlate1d(f, g, mode=mode), convolve1d(f, g.flip(-1), mode=mode))
        close(correlate2d(f2, g2, mode=mode), convolve2d(f2, g2.flip(-2, -1), mode=mode))


def test_pytorch_conv_computes_correlation():
    f, g = rand(12, seed=5), rand(5, seed=6)
    torch_conv = F.conv1d(f[None, None], g[None, None])[0, 0]
    close(correlate1d(f, g, mode="valid"), torch_conv)
    assert not torch.allclose(convolve1d(f, g, mode="valid"), torch_conv)
    close(convolve1d(f, g, mode="valid"), F.conv1d(f[None, None], g.flip(-1)[None, None])[0, 0])
    f2, g2 = rand(8, 9, seed=7), rand(3, 4, seed=8)
    close(correlate2d(f2, g2, mode="valid"), F.conv2d(f2[None, None], g2[None, None])[0, 0])


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize(("n", "m"), [(9, 4), (8, 4), (5, 5), (4, 9), (1, 3)])
def test_1d_equals_numpy_and_scipy(mode, n, m):
    f, g = rand(n, seed=n), rand(m, seed=10 + m)
    fn, gn = f.numpy(), g.numpy()
    close(convolve1d(f, g, mode=mode), ref(scipy.signal.convolve(fn, gn, mode=mode)))
    close(correlate1d(f, g, mode=mode), ref(scipy.signal.correlate(fn, gn, mode=mode)))
    if n >= m:  # numpy's 'same' has length max(n, m): it agrees when f is the longer one
        close(convolve1d(f, g, mode=mode), ref(np.convolve(fn, gn, mode=mode)))
        close(correlate1d(f, g, mode=mode), ref(np.correlate(fn, gn, mode=mode)))


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize(("n", "m"), [((7, 6), (3, 2)), ((6, 6), (3, 3)), ((3, 2), (7, 6)), ((5, 8), (5, 3))])
def test_2d_equals_scipy(mode, n, m):
    f, g = rand(*n, seed=1), rand(*m, seed=2)
    fn, gn = f.numpy(), g.numpy()
    close(convolve2d(f, g, mode=mode), ref(scipy.signal.convolve2d(fn, gn, mode=mode)))
    close(correlate2d(f, g, mode=mode), ref(scipy.signal.correlate(fn, gn, mode=mode)))
    if mode != "same" or all(
        k % 2 == 1 for k in m
    ):  # correlate2d centres 'same' differently for even kernels
        close(correlate2d(f, g, mode=mode), ref(scipy.signal.correlate2d(fn, gn, mode=mode)))


def test_batched_inputs_broadcast():
    f, g = rand(3, 10, seed=1), rand(4, seed=2)
    out = convolve1d(f, g, mode="same")
    assert out.shape == (3, 10)
    for i in range(3):
        close(out[i], convolve1d(f[i], g, mode="same"))
    kernels = rand(3, 4, seed=3)  # one kernel per signal
    paired = correlate1d(f, kernels)
    for i in range(3):
        close(paired[i], correlate1d(f[i], kernels[i]))
    images, kernel = rand(2, 3, 6, 5, seed=4), rand(3, 3, seed=5)
    out2 = convolve2d(images, kernel, mode="valid")
    assert out2.shape == (2, 3, 4, 3)
    close(out2[1, 2], convolve2d(images[1, 2], kernel, mode="valid"))


def test_integer_inputs_and_errors():
    out = convolve1d(torch.tensor([1, 2, 3]), torch.tensor([0, 1, 0.5]))
    close(out.double(), torch.tensor([0.0, 1.0, 2.5, 4.0, 1.5], dtype=torch.float64))
    assert convolve1d(torch.tensor([1, 2]), torch.tensor([1, 1])).dtype == torch.get_default_dtype()
    with pytest.raises(ValueError, match="mode"):
        convolve1d(rand(4), rand(2), mode="circular")
    with pytest.raises(ValueError, match="valid"):
        convolve2d(rand(5, 2), rand(2, 5), mode="valid")
    with pytest.raises(ValueError, match="dims"):
        convolve2d(rand(5), rand(2, 2))


def test_one_by_one_convolution_is_a_per_pixel_linear_layer():
    torch.manual_seed(0)
    conv = nn.Conv2d(6, 4, kernel_size=1)
    linear = nn.Linear(6, 4)
    with torch.no_grad():
        linear.weight.copy_(conv.weight.view(4, 6))  # (c_out, c_in, 1, 1) → (c_out, c_in)
        linear.bias.copy_(conv.bias)
    x = torch.randn(2, 6, 5, 7)  # (N, C, H, W)
    per_pixel = linear(x.permute(0, 2, 3, 1)).permute(0, 3, 1, 2)  # Linear on (N, H, W, C)
    torch.testing.assert_close(conv(x), per_pixel, rtol=1e-5, atol=1e-6)
    with torch.no_grad():  # and changing one pixel changes only that pixel's output
        y = x.clone()
        y[0, :, 2, 3] += 1.0
        changed = (conv(y) - conv(x)).abs().sum(1) > 0
    assert changed.sum() == 1 and changed[0, 2, 3]
