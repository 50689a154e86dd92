"""F5: the output-size formulas equal the shapes real PyTorch layers produce, over hundreds of seeded
random configurations each (stride, dilation, padding, ceil mode), and invalid ones fail on both sides.
"""

from __future__ import annotations

import random

import pytest
import torch
from torch import nn

from dlcanon.errors import UserError
from dlcanon.nn import (
    ConvArithmeticError,
    conv_output_size,
    conv_transpose_output_size,
    pool_output_size,
    receptive_field,
)

CONFIGS = 300


def run_layer(layer: nn.Module, shape: tuple[int, ...]) -> tuple[int, ...] | None:
    """The layer's output spatial shape, or None if PyTorch rejects the configuration."""
    try:
        with torch.no_grad():
            return tuple(layer(torch.zeros(shape)).shape[2:])
    except RuntimeError:
        return None


def predicted(fn, sizes, kernels, **per_dim) -> tuple[int, ...] | None:
    try:
        return tuple(
            fn(m, k, **{key: values[i] for key, values in per_dim.items()})
            for i, (m, k) in enumerate(zip(sizes, kernels, strict=True))
        )
    except ValueError:
        return None


def pairs(rng: random.Random, low: int, high: int) -> tuple[int, int]:
    return rng.randint(low, high), rng.randint(low, high)


def check_many(make) -> None:
    """Draw configurations until CONFIGS valid ones agree with the layer; invalid ones must agree too."""
    rng = random.Random(0)
    valid = drawn = 0
    while valid < CONFIGS:
        drawn += 1
        expected, actual, config = make(rng)
        assert expected == actual, config
        valid += expected is not None
    assert drawn < 3 * CONFIGS  # the draw is not dominated by rejected configurations


def test_conv1d_matches_layer():
    def make(rng):
        m, k, p, s, d = (
            rng.randint(1, 40),
            rng.randint(1, 7),
            rng.randint(0, 3),
            rng.randint(1, 4),
            rng.randint(1, 3),
        )
        layer = nn.Conv1d(1, 1, k, stride=s, padding=p, dilation=d)
        return (
            predicted(conv_output_size, (m,), (k,), padding=(p,), stride=(s,), dilation=(d,)),
            run_layer(layer, (1, 1, m)),
            (m, k, p, s, d),
        )

    check_many(make)


def test_conv2d_matches_layer():
    def make(rng):
        m, k, p, s, d = (
            pairs(rng, 1, 30),
            pairs(rng, 1, 6),
            pairs(rng, 0, 3),
            pairs(rng, 1, 4),
            pairs(rng, 1, 3),
        )
        layer = nn.Conv2d(1, 1, k, stride=s, padding=p, dilation=d)
        expected = predicted(conv_output_size, m, k, padding=p, stride=s, dilation=d)
        return expected, run_layer(layer, (1, 1, *m)), (m, k, p, s, d)

    check_many(make)


def test_conv_transpose2d_matches_layer():
    def make(rng):
        m, k, p, s, d = (
            pairs(rng, 1, 20),
            pairs(rng, 1, 5),
            pairs(rng, 0, 3),
            pairs(rng, 1, 4),
            pairs(rng, 1, 3),
        )
        op = tuple(rng.randint(0, max(si, di) - 1) for si, di in zip(s, d, strict=True))
        layer = nn.ConvTranspose2d(1, 1, k, stride=s, padding=p, dilation=d, output_padding=op)
        expected = predicted(
            conv_transpose_output_size, m, k, padding=p, stride=s, dilation=d, output_padding=op
        )
        return expected, run_layer(layer, (1, 1, *m)), (m, k, p, s, d, op)

    check_many(make)


@pytest.mark.parametrize("ceil_mode", [False, True])
def test_maxpool2d_matches_layer(ceil_mode):
    def make(rng):
        m, k, s, d = pairs(rng, 1, 30), pairs(rng, 1, 6), pairs(rng, 1, 5), pairs(rng, 1, 3)
        p = tuple(rng.randint(0, ki // 2) for ki in k)
        layer = nn.MaxPool2d(k, stride=s, padding=p, dilation=d, ceil_mode=ceil_mode)
        expected = predicted(
            pool_output_size, m, k, padding=p, stride=s, dilation=d, ceil_mode=(ceil_mode,) * 2
        )
        return expected, run_layer(layer, (1, 1, *m)), (m, k, p, s, d)

    check_many(make)


@pytest.mark.parametrize("ceil_mode", [False, True])
def test_avgpool2d_matches_layer(ceil_mode):
    def make(rng):
        m, k, s = pairs(rng, 1, 30), pairs(rng, 1, 6), pairs(rng, 1, 5)
        p = tuple(rng.randint(0, ki // 2) for ki in k)
        layer = nn.AvgPool2d(k, stride=s, padding=p, ceil_mode=ceil_mode)
        expected = predicted(pool_output_size, m, k, padding=p, stride=s, ceil_mode=(ceil_mode,) * 2)
        return expected, run_layer(layer, (1, 1, *m)), (m, k, p, s)

    check_many(make)


def test_ceil_mode_drops_a_window_starting_in_the_padding():
    # M=5, K=2, S=2, P=1: ⌈(5 + 2 − 2)/2⌉ + 1 = 4, but the 4th window would start at 6 ≥ M + P = 6
    assert pool_output_size(5, 2, stride=2, padding=1, ceil_mode=True) == 3
    assert run_layer(nn.MaxPool1d(2, stride=2, padding=1, ceil_mode=True), (1, 1, 5)) == (3,)
    assert pool_output_size(6, 3, stride=2, ceil_mode=True) == 3 and pool_output_size(6, 3, stride=2) == 2
    assert pool_output_size(8, 2) == 4  # stride defaults to the kernel


def test_known_values_and_floor():
    assert conv_output_size(28, 5) == 24
    assert conv_output_size(32, 3, padding=1) == 32
    assert conv_output_size(32, 3, padding=1, stride=2) == 16
    assert conv_output_size(8, 3, stride=2) == 3  # ⌊5/2⌋ + 1: without the floor 3.5
    assert conv_output_size(7, 3, dilation=2) == 3
    assert conv_transpose_output_size(16, 4, stride=2, padding=1) == 32  # DCGAN's doubling
    assert (
        conv_output_size(conv_transpose_output_size(16, 4, stride=2, padding=1), 4, stride=2, padding=1) == 16
    )


def test_invalid_arguments_raise_clear_errors():
    with pytest.raises(ValueError, match="kernel spans"):
        conv_output_size(3, 5)
    with pytest.raises(ValueError, match="kernel spans"):
        conv_output_size(5, 3, dilation=3)
    for kwargs in ({"stride": 0}, {"padding": -1}, {"dilation": 0}):
        with pytest.raises(ValueError, match=">="):
            conv_output_size(10, 3, **kwargs)
    with pytest.raises(ValueError, match="integer"):
        conv_output_size(10.0, 3)
    with pytest.raises(ValueError, match="integer"):
        conv_output_size(10, True)
    with pytest.raises(ValueError, match="output_padding"):
        conv_transpose_output_size(4, 3, stride=2, output_padding=2)
    with pytest.raises(ValueError, match="half the kernel"):
        pool_output_size(10, 2, padding=2)
    with pytest.raises(ValueError):
        conv_transpose_output_size(1, 1, padding=1)
    with pytest.raises(UserError):  # the CLI reports it as a user's mistake
        conv_output_size(0, 3)
    assert issubclass(ConvArithmeticError, ValueError) and issubclass(ConvArithmeticError, UserError)


def measured_receptive_field(layers) -> int:
    """Count the input samples that reach one output sample through a stack of real Conv1d layers."""
    modules = [nn.Conv1d(1, 1, k, stride=s, dilation=d, bias=False) for k, s, d in layers]
    for module in modules:
        nn.init.ones_(module.weight)
    x = torch.zeros(1, 1, 200, requires_grad=True)
    y = nn.Sequential(*modules)(x)
    y[0, 0, y.shape[-1] // 2].backward()
    hit = (x.grad[0, 0] != 0).nonzero().flatten()
    return int(hit.max() - hit.min() + 1)  # the extent (dilation leaves holes inside it)


def test_receptive_field():
    assert receptive_field([(3, 1, 1), (3, 1, 1)]) == receptive_field([(5, 1, 1)]) == 5  # two 3×3 = one 5×5
    assert receptive_field([(3, 1, 1)] * 3) == 7
    assert receptive_field([(3, 2), (3,)]) == 7  # stride 2 doubles the next layer's step
    assert receptive_field([]) == 1
    rng = random.Random(1)
    for _ in range(30):
        layers = [(rng.randint(1, 5), rng.randint(1, 3), rng.randint(1, 3)) for _ in range(rng.randint(1, 4))]
        assert receptive_field(layers) == measured_receptive_field(layers), layers
    with pytest.raises(ValueError):
        receptive_field([(3, 1, 1, 1)])


def test_the_command_line_and_conv_arithmetic_import_without_torch():
    """`dlcanon convsize` needs no tensors: neither the CLI module nor conv_arith may pull PyTorch in."""
    import subprocess
    import sys

    code = "import sys, dlcanon.cli, dlcanon.nn.conv_arith; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
