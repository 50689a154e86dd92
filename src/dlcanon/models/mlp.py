"""Multi-layer perceptrons, including the one-hidden-layer network of the universal approximation theorem."""

from __future__ import annotations

import math
from collections.abc import Sequence

from torch import Tensor, nn

from dlcanon.nn.activations import activation as make_activation
from dlcanon.registry import MODELS


class MLP(nn.Module):
    """x ↦ W_L φ(… φ(W_1 x + b_1) …) + b_L on flattened inputs.

    Any depth (`hidden` lists the widths) and any activation of the A1 registry by name;
    optional BatchNorm after each hidden Linear (before φ) and dropout after φ.
    """

    def __init__(
        self,
        in_features: int,
        out_features: int,
        *,
        hidden: Sequence[int] = (256, 256),
        activation: str = "relu",
        batchnorm: bool = False,
        dropout: float = 0.0,
    ) -> None:
        super().__init__()
        layers: list[nn.Module] = [nn.Flatten()]
        width = in_features
        for h in hidden:
            layers.append(nn.Linear(width, h))
            if batchnorm:
                layers.append(nn.BatchNorm1d(h))
            layers.append(make_activation(activation))
            if dropout > 0:
                layers.append(nn.Dropout(dropout))
            width = h
        layers.append(nn.Linear(width, out_features))
        self.net = nn.Sequential(*layers)

    def forward(self, x: Tensor) -> Tensor:  # (N, ...) -> (N, out_features)
        return self.net(x)


class ShallowNetwork(MLP):
    """F(x) = Σ_{i=1}^N v_i φ(w_iᵀx + b_i) (+ c): one hidden layer of N units with a bounded monotone φ.

    Cybenko (1989) and Hornik (1991): for every continuous f on a compact set and every ε > 0 there is an N
    with sup|F − f| < ε. The output bias c does not change the class of functions (a constant is
    v·φ(0·x + b) up to scale) and is kept because it eases fitting.
    """

    def __init__(
        self, in_features: int, out_features: int = 1, *, units: int = 16, activation: str = "sigmoid"
    ):
        super().__init__(in_features, out_features, hidden=(units,), activation=activation)


@MODELS.register("mlp", tags=("F6",), objective="classifier", data="mnist5k")
def build_mlp(input_shape: tuple[int, ...], num_classes: int, **kwargs) -> MLP:
    """MLP classifier on flattened inputs (hidden=(256, 256), ReLU by default)."""
    return MLP(math.prod(input_shape), num_classes, **kwargs)


@MODELS.register("shallow", tags=("F1",), objective="classifier", data="digits")
def build_shallow(input_shape: tuple[int, ...], num_classes: int, **kwargs) -> ShallowNetwork:
    """One-hidden-layer sigmoid network of the universal approximation theorem (units=N)."""
    return ShallowNetwork(math.prod(input_shape), num_classes, **kwargs)
