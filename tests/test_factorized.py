"""Factorized and separable convolutions (F10): weights, receptive fields, the linear separable = rank-1 kernel."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from dlcanon.nn.conv_arith import receptive_field
from dlcanon.nn.factorized import FactorizedConv2d, SeparableConv2d
from dlcanon.nn.summary import count_parameters, summarize


def weights(module: nn.Module) -> int:
    return count_parameters(module) - sum(
        m.bias.numel() for m in module.modules() if getattr(m, "bias", None) is not None
    )


@pytest.mark.parametrize("c", [1, 8, 32])
def test_weight_counts(c):
    assert weights(nn.Conv2d(c, c, 5)) == 25 * c * c
    assert weights(FactorizedConv2d(c, c, 5)) == 2 * 9 * c * c  # 18C² < 25C²
    assert weights(SeparableConv2d(c, c, 5)) == 10 * c * c  # 5C² + 5C²
    assert weights(FactorizedConv2d(c, c, 7)) == 3 * 9 * c * c  # three 3×3 for a 7×7 (VGG's 27C² vs 49C²)


def input_support(module: nn.Module, size: int = 15) -> tuple[int, int]:
    """Height and width of the input pixels that reach the centre output pixel (from the input gradient)."""
    torch.manual_seed(0)
    for m in module.modules():  # positive weights, so no gradient cancels by accident
        if isinstance(m, nn.Conv2d):
            nn.init.uniform_(m.weight, 0.1, 1.0)
    x = torch.zeros(1, module[0].in_channels, size, size, requires_grad=True)
    module(x + 1)[0, 0, size // 2, size // 2].backward()
    rows, cols = torch.nonzero(x.grad[0].abs().sum(0), as_tuple=True)
    return int(rows.max() - rows.min() + 1), int(cols.max() - cols.min() + 1)


def test_receptive_fields_equal_the_5x5():
    assert receptive_field([(3,), (3,)]) == receptive_field([(5,)]) == 5  # two 3×3 see 5×5
    assert receptive_field([(5,), (1,)]) == receptive_field([(1,), (5,)]) == 5  # 5×1 then 1×5, per axis
    assert input_support(FactorizedConv2d(2, 2, 5)) == (5, 5)
    assert input_support(SeparableConv2d(2, 2, 5)) == (5, 5)
    assert input_support(FactorizedConv2d(2, 2, 7)) == (7, 7)


def test_flops_and_same_size():
    m = 12
    for module, per_pixel in [(FactorizedConv2d(8, 8, 5), 18 * 64), (SeparableConv2d(8, 8, 5), 10 * 64)]:
        s = summarize(module, (8, m, m))
        assert s.output_shape == (1, 8, m, m) and s.flops == 2 * per_pixel * m * m


def test_linear_separable_pair_is_a_rank_one_5x5_conv():
    torch.manual_seed(0)
    sep = SeparableConv2d(1, 1, 5, bias=False).double()
    v, h = sep[0].weight[0, 0, :, 0], sep[1].weight[0, 0, 0, :]  # (5,), (5,)
    kernel = torch.outer(v, h)[None, None]  # (1, 1, 5, 5): K = v hᵀ, rank one
    x = torch.randn(2, 1, 9, 9, dtype=torch.float64)
    assert torch.allclose(sep(x), F.conv2d(x, kernel, padding=2), atol=1e-12)  # everywhere, borders included
    assert torch.linalg.matrix_rank(kernel[0, 0]) == 1


def test_factorized_has_a_nonlinearity_between_and_rejects_even_kernels():
    assert isinstance(FactorizedConv2d(4, 4, 5)[1], nn.ReLU) and len(FactorizedConv2d(4, 4, 5)) == 3
    assert isinstance(SeparableConv2d(4, 4, 5, activation="relu")[1], nn.ReLU)
    with pytest.raises(ValueError, match="odd"):
        FactorizedConv2d(4, 4, 4)
