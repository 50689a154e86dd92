"""Layers and layer arithmetic the notes define: activations, convolution, conv arithmetic, summaries.

Importing this package registers the activations in `dlcanon.registry.ACTIVATIONS`.
"""

from dlcanon.nn.activations import SELU_ALPHA, SELU_SCALE, LinearActivation, Sine, activation
from dlcanon.nn.conv_arith import (
    ConvArithmeticError,
    conv_output_size,
    conv_transpose_output_size,
    pool_output_size,
    receptive_field,
)
from dlcanon.nn.convolution import convolve1d, convolve2d, correlate1d, correlate2d
from dlcanon.nn.summary import LayerRow, Summary, count_parameters, summarize, summarize_meta

__all__ = [
    "SELU_ALPHA",
    "SELU_SCALE",
    "ConvArithmeticError",
    "LayerRow",
    "LinearActivation",
    "Sine",
    "Summary",
    "activation",
    "conv_output_size",
    "conv_transpose_output_size",
    "convolve1d",
    "convolve2d",
    "correlate1d",
    "correlate2d",
    "count_parameters",
    "pool_output_size",
    "receptive_field",
    "summarize",
    "summarize_meta",
]
