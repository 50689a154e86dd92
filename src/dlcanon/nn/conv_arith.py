"""Convolution arithmetic (F5): output sizes of conv, transposed conv and pooling, and receptive fields.

One spatial dimension at a time; the rules are PyTorch's, which tests check against real layers.
"""

from __future__ import annotations

from collections.abc import Sequence

from dlcanon.errors import UserError

__all__ = [
    "ConvArithmeticError",
    "conv_output_size",
    "conv_transpose_output_size",
    "pool_output_size",
    "receptive_field",
]

# the curriculum IDs this module implements (read by the report's coverage page)
CURRICULUM = ("F5",)


class ConvArithmeticError(UserError, ValueError):
    """An impossible layer configuration: a `ValueError` for callers, a `UserError` for the CLI."""


def _check(**values: int) -> None:
    """Every value an int; paddings >= 0, everything else >= 1."""
    for name, value in values.items():
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConvArithmeticError(f"{name} must be an integer, got {value!r}")
        minimum = 0 if "padding" in name else 1
        if value < minimum:
            raise ConvArithmeticError(f"{name} must be >= {minimum}, got {value}")


def _span(kernel: int, dilation: int) -> int:
    return dilation * (kernel - 1) + 1  # the extent of a dilated kernel


def conv_output_size(size: int, kernel: int, *, padding: int = 0, stride: int = 1, dilation: int = 1) -> int:
    """M' = ⌊(M + 2P − D·(K − 1) − 1) / S⌋ + 1 (nn.Conv1d/2d/3d, per dimension).

    The notes' "M = (M + 2P − D(K − 1) − 1)/c + 1" lost the floor and wrote the stride S as c: with
    S > 1 the last window that does not fit is dropped, hence the floor.
    """
    _check(size=size, kernel=kernel, padding=padding, stride=stride, dilation=dilation)
    padded, span = size + 2 * padding, _span(kernel, dilation)
    if span > padded:
        raise ConvArithmeticError(
            f"kernel spans D·(K−1)+1 = {span} > padded input M+2P = {padded}: the output would be empty"
        )
    return (padded - span) // stride + 1


def conv_transpose_output_size(
    size: int, kernel: int, *, padding: int = 0, stride: int = 1, dilation: int = 1, output_padding: int = 0
) -> int:
    """M' = (M − 1)·S − 2P + D·(K − 1) + output_padding + 1 (nn.ConvTranspose1d/2d/3d).

    The inverse shape map of `conv_output_size`; output_padding (< S or < D, as PyTorch requires)
    picks one of the S input sizes that a strided conv maps to the same M.
    """
    _check(
        size=size,
        kernel=kernel,
        padding=padding,
        stride=stride,
        dilation=dilation,
        output_padding=output_padding,
    )
    if output_padding >= max(stride, dilation):
        raise ConvArithmeticError(
            f"output_padding must be smaller than stride or dilation, got {output_padding} "
            f"with stride {stride} and dilation {dilation}"
        )
    out = (size - 1) * stride - 2 * padding + _span(kernel, dilation) + output_padding
    if out < 1:
        raise ConvArithmeticError(f"padding {padding} removes the whole output (size would be {out})")
    return out


def pool_output_size(
    size: int,
    kernel: int,
    *,
    padding: int = 0,
    stride: int | None = None,
    dilation: int = 1,
    ceil_mode: bool = False,
) -> int:
    """Output size of nn.MaxPool1d/2d (and AvgPool with dilation = 1); stride defaults to the kernel size.

    M' = ⌊(M + 2P − D·(K − 1) − 1) / S⌋ + 1, or ⌈·⌉ + 1 with ceil_mode; in ceil mode a last window that
    would start inside the right padding (at (M' − 1)·S ≥ M + P) is dropped, and a window may overhang
    the padded input (M = 2, K = 6, P = 1, S = 4 gives 1). PyTorch requires P ≤ ⌊K/2⌋.
    """
    stride = kernel if stride is None else stride
    _check(size=size, kernel=kernel, padding=padding, stride=stride, dilation=dilation)
    if 2 * padding > kernel:
        raise ConvArithmeticError(
            f"pooling padding must be at most half the kernel, got P={padding}, K={kernel}"
        )
    numerator = size + 2 * padding - _span(kernel, dilation) + (stride - 1 if ceil_mode else 0)
    out = numerator // stride + 1  # floor division, also for a negative numerator
    if ceil_mode and (out - 1) * stride >= size + padding:
        out -= 1
    if out < 1:
        raise ConvArithmeticError(
            f"pooling window spans {_span(kernel, dilation)} > padded input {size + 2 * padding}: "
            f"the output would be empty"
        )
    return out


def receptive_field(layers: Sequence[tuple[int, ...]]) -> int:
    """Receptive field of a stack of layers given as (kernel, stride, dilation) (stride, dilation default 1).

    r_L = 1 + Σ_l D_l·(K_l − 1)·Π_{i<l} S_i: each layer widens the field by its span times the product of
    the strides before it. Two 3×3 convs see 5×5, like one 5×5 (the notes' factorized convolution).
    """
    field, jump = 1, 1
    for i, layer in enumerate(layers):
        if not 1 <= len(layer) <= 3:
            raise ConvArithmeticError(f"layer {i} must be (kernel, stride, dilation), got {layer!r}")
        kernel, stride, dilation = (*layer, 1, 1)[:3]
        _check(kernel=kernel, stride=stride, dilation=dilation)
        field += dilation * (kernel - 1) * jump
        jump *= stride
    return field
