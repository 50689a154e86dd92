"""The activations of the notes (A1), each an `nn.Module` registered by name in `ACTIVATIONS`.

`ACTIVATIONS.build("celu", alpha=0.5)` returns a module; `activation("gelu", approximate="tanh")` is what
models call to accept either a name or a ready module. Formulas are the notes', corrected where the OCR
garbled them; the numerics are PyTorch's fused kernels, which tests check against the formulas.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

import torch
from torch import nn

from dlcanon.errors import UserError
from dlcanon.registry import ACTIVATIONS

__all__ = ["SELU_ALPHA", "SELU_SCALE", "LinearActivation", "Sine", "activation"]

# the curriculum IDs this module implements (read by the report's coverage page)
CURRICULUM = ("A1", "A3")

_TAGS = ("A1",)
# SELU's constants (Klambauer et al., 2017, eq. 14): the solution of its mean-0 / variance-1 fixed point.
SELU_ALPHA = 1.6732632423543772848170429916717
SELU_SCALE = 1.0507009873554804934193349852946


class LinearActivation(nn.Module):
    """Linear (identity up to scale): f(x) = c·x.

    A network made only of these collapses to one affine map (the notes: "behaves single-layered").
    """

    def __init__(self, c: float = 1.0) -> None:
        super().__init__()
        self.c = float(c)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x if self.c == 1.0 else self.c * x

    def extra_repr(self) -> str:
        return f"c={self.c}"


class Sine(nn.Module):
    """SIREN's periodic activation: f(x) = sin(ω₀·x), ω₀ = 30 (Sitzmann et al., 2020).

    ω₀ spreads the first layer's pre-activations over several periods of the sine; SIREN's weight
    initialisation (uniform in ±√(6/n)/ω₀ for hidden layers) lives with the SIREN network, not here.
    """

    def __init__(self, w0: float = 30.0) -> None:
        super().__init__()
        self.w0 = float(w0)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.sin(self.w0 * x)

    def extra_repr(self) -> str:
        return f"w0={self.w0}"


def _positive(name: str, value: float) -> float:
    if not value > 0:
        raise UserError(f"{name} must be > 0, got {value!r}")
    return float(value)


@ACTIVATIONS.register("linear", tags=_TAGS)
def linear(c: float = 1.0) -> nn.Module:
    """Linear: f(x) = c·x (c = 1 is the identity)."""
    return LinearActivation(c)


@ACTIVATIONS.register("sigmoid", tags=_TAGS)
def sigmoid() -> nn.Module:
    """Sigmoid: f(x) = 1 / (1 + e^(−x)); saturates, so gradients vanish for |x| ≫ 2."""
    return nn.Sigmoid()


@ACTIVATIONS.register("tanh", tags=_TAGS)
def tanh() -> nn.Module:
    """Tanh: f(x) = (e^x − e^(−x)) / (e^x + e^(−x)) = 2·sigmoid(2x) − 1; zero-centred."""
    return nn.Tanh()


@ACTIVATIONS.register("relu", tags=_TAGS)
def relu() -> nn.Module:
    """ReLU: f(x) = max(0, x); sparse activations, units can die (stay at 0)."""
    return nn.ReLU()


@ACTIVATIONS.register("leaky_relu", tags=_TAGS)
def leaky_relu(negative_slope: float = 0.01) -> nn.Module:
    """LeakyReLU: f(x) = max(0, x) + a·min(0, x) with a fixed slope a = 0.01.

    The notes' "PreLU: as above only 0.01 = a" is this layer: a *fixed* 0.01 is LeakyReLU; PReLU learns a.
    """
    return nn.LeakyReLU(float(negative_slope))


@ACTIVATIONS.register("prelu", tags=_TAGS)
def prelu(init: float = 0.25, num_parameters: int = 1) -> nn.Module:
    """PReLU: f(x) = max(0, x) + a·min(0, x) with a *learned* slope a (He et al., 2015).

    Default init a = 0.25 as in the paper and PyTorch; pass init=0.01 for the notes' value (which then
    starts as LeakyReLU(0.01) but keeps learning). num_parameters = 1 (shared) or the channel count.
    """
    if int(num_parameters) < 1:
        raise UserError(f"num_parameters must be >= 1, got {num_parameters!r}")
    return nn.PReLU(num_parameters=int(num_parameters), init=float(init))


@ACTIVATIONS.register("softplus", tags=_TAGS)
def softplus(beta: float = 1.0, threshold: float = 20.0) -> nn.Module:
    """Softplus: f(x) = (1/β)·log(1 + e^(β·x)); reverts to f(x) = x where β·x > threshold (PyTorch).

    Larger β is closer to ReLU. Past the threshold the switch is exact to float precision: the gap
    (1/β)·log(1 + e^(−β·x)) is below e^(−20)/β.
    """
    return nn.Softplus(beta=_positive("beta", beta), threshold=float(threshold))


@ACTIVATIONS.register("elu", tags=_TAGS)
def elu(alpha: float = 1.0) -> nn.Module:
    """ELU: f(x) = max(0, x) + min(0, α·(e^x − 1)) (Clevert et al., 2016).

    The notes describe ELU through CELU ("CELU with x/α = x"): ELU puts e^x where CELU puts e^(x/α);
    the two coincide at α = 1 and ELU is C¹ only at α = 1.
    """
    return nn.ELU(alpha=float(alpha))


@ACTIVATIONS.register("celu", tags=_TAGS)
def celu(alpha: float = 1.0) -> nn.Module:
    """CELU: f(x) = max(0, x) + min(0, α·(e^(x/α) − 1)) (Barron, 2017); C¹ for every α > 0."""
    return nn.CELU(alpha=_positive("alpha", alpha))


@ACTIVATIONS.register("selu", tags=_TAGS)
def selu() -> nn.Module:
    """SELU: f(x) = λ·(max(0, x) + min(0, α·(e^x − 1))) (Klambauer et al., 2017).

    α ≈ 1.6732632423543772, λ ≈ 1.0507009873554805 make N(0, 1) a fixed point of mean 0 / variance 1
    for LeCun-normal weights. The notes' max/min form equals the paper's piecewise form
    λx (x > 0), λα(e^x − 1) (x ≤ 0).
    """
    return nn.SELU()


@ACTIVATIONS.register("gelu", tags=_TAGS)
def gelu(approximate: str = "none") -> nn.Module:
    """GELU: f(x) = x·Φ(x), Φ the standard normal CDF = ½(1 + erf(x/√2)) (Hendrycks & Gimpel, 2016).

    approximate="tanh": ½x(1 + tanh(√(2/π)(x + 0.044715x³))), within 1e-3 of the exact form.
    """
    if approximate not in ("none", "tanh"):
        raise UserError(f"approximate must be 'none' or 'tanh', got {approximate!r}")
    return nn.GELU(approximate=approximate)


@ACTIVATIONS.register("relu6", tags=_TAGS)
def relu6() -> nn.Module:
    """ReLU6: f(x) = min(max(0, x), 6); saturates at 6 (MobileNet)."""
    return nn.ReLU6()


@ACTIVATIONS.register("logsigmoid", tags=_TAGS)
def logsigmoid() -> nn.Module:
    """LogSigmoid: f(x) = log(1 / (1 + e^(−x))) = −softplus(−x), computed without overflow."""
    return nn.LogSigmoid()


# Softmin/Softmax/LogSoftmax normalise along `dim`, default −1 (the last axis: classes of (N, C) logits
# or of (N, L, C) sequences). Pass dim=1 for channel-first maps (N, C, H, W). PyTorch's implicit dim is
# deprecated, so the default is explicit here.


@ACTIVATIONS.register("softmin", tags=_TAGS)
def softmin(dim: int = -1) -> nn.Module:
    """Softmin: f(x)_i = e^(−x_i) / Σ_j e^(−x_j) = softmax(−x)_i; emphasises the smallest values."""
    return nn.Softmin(dim=int(dim))


@ACTIVATIONS.register("softmax", tags=_TAGS)
def softmax(dim: int = -1) -> nn.Module:
    """Softmax: f(x)_i = e^(x_i) / Σ_j e^(x_j), computed as e^(x_i − m) / Σ_j e^(x_j − m), m = max x."""
    return nn.Softmax(dim=int(dim))


@ACTIVATIONS.register("log_softmax", tags=_TAGS)
def log_softmax(dim: int = -1) -> nn.Module:
    """LogSoftmax: f(x)_i = log(e^(x_i) / Σ_j e^(x_j)) = x_i − logsumexp(x), finite for large logits."""
    return nn.LogSoftmax(dim=int(dim))


@ACTIVATIONS.register("sine", tags=("A1", "A3"))
def sine(w0: float = 30.0) -> nn.Module:
    """Sine (SIREN): f(x) = sin(ω₀·x), ω₀ = 30."""
    return Sine(w0)


def _check_kwargs(name: str, builder: Callable[..., Any], kwargs: dict[str, Any]) -> None:
    try:
        inspect.signature(builder).bind(**kwargs)
    except TypeError:
        accepted = ", ".join(inspect.signature(builder).parameters) or "no arguments"
        raise UserError(f"activation {name!r} accepts {accepted}; got {', '.join(kwargs)}") from None


def activation(name_or_module: str | nn.Module | type[nn.Module], /, **kwargs: Any) -> nn.Module:
    """Return an activation module from a registered name, a module (returned as is), or a module class.

    `activation("leaky_relu", negative_slope=0.2)`; `activation(nn.ReLU)`; `activation(my_module)`.
    A module is returned as is, so reusing it shares its parameters (PReLU's slope); a name or class
    builds a fresh module per call. Unknown names and arguments are `UserError`s.
    """
    if isinstance(name_or_module, nn.Module):
        if kwargs:
            raise UserError(f"arguments {sorted(kwargs)} given with an already built module")
        return name_or_module
    if isinstance(name_or_module, type) and issubclass(name_or_module, nn.Module):
        return name_or_module(**kwargs)
    if isinstance(name_or_module, str):
        builder = ACTIVATIONS.entry(name_or_module).builder
        _check_kwargs(name_or_module, builder, kwargs)
        return builder(**kwargs)
    raise UserError(f"expected an activation name or nn.Module, got {type(name_or_module).__name__}")
