"""Layers and layer arithmetic the notes define: activations, convolution, conv arithmetic, summaries.

The names below are loaded on first use (PEP 562), so that `dlcanon.nn.conv_arith`, which needs only the standard
library, can be imported without PyTorch (`dlcanon convsize` answers at once). Importing
`dlcanon.nn.activations` registers the activations in `dlcanon.registry.ACTIVATIONS`.
"""

from __future__ import annotations

import importlib
from typing import Any

# public name -> the submodule that defines it
_HOME = {
    "SELU_ALPHA": "activations",
    "SELU_SCALE": "activations",
    "LinearActivation": "activations",
    "Sine": "activations",
    "activation": "activations",
    "ConvArithmeticError": "conv_arith",
    "conv_output_size": "conv_arith",
    "conv_transpose_output_size": "conv_arith",
    "pool_output_size": "conv_arith",
    "receptive_field": "conv_arith",
    "convolve1d": "convolution",
    "convolve2d": "convolution",
    "correlate1d": "convolution",
    "correlate2d": "convolution",
    "LayerRow": "summary",
    "Summary": "summary",
    "count_parameters": "summary",
    "summarize": "summary",
    "summarize_meta": "summary",
}
__all__ = sorted(_HOME)


def __getattr__(name: str) -> Any:
    if name not in _HOME:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{_HOME[name]}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *_HOME])
