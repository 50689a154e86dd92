"""Pieces shared by the classification families: conv → BN → ReLU, the fully connected head, metadata.

The ImageNet configurations are registered with `IMAGENET` metadata: `input_shape` (3, 224, 224) and
`num_classes` 1000 let `dlcanon list models` and `dlcanon info` size them without loading any data.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import partial
from typing import Any

from torch import nn

from dlcanon.nn.activations import activation as make_activation
from dlcanon.registry import MODELS

IMAGENET: dict[str, Any] = {
    "objective": "classifier",
    "data": "imagenet224",  # a label, not an embedded dataset: train with --data folder:PATH
    "input_shape": (3, 224, 224),
    "num_classes": 1000,
}
SMALL: dict[str, Any] = {"objective": "classifier", "data": "mnist5k"}


def variant(
    name: str, builder: Callable[..., nn.Module], doc: str, *, tags: tuple[str, ...], meta: dict, **kwargs: Any
) -> None:
    """Register `partial(builder, **kwargs)` as model `name` with a one-line description `doc`."""
    fn = partial(builder, **kwargs)
    fn.__doc__ = doc
    MODELS.add(name, fn, tags=tags, **meta)


def conv_bn(
    in_channels: int,
    out_channels: int,
    kernel_size: int | tuple[int, int],
    *,
    stride: int = 1,
    padding: int | tuple[int, int] | None = None,
    batchnorm: bool = True,
    activation: str | None = "relu",
    eps: float = 1e-5,
    bias: bool | None = None,
) -> nn.Sequential:
    """Conv → BatchNorm → activation: BN after the conv, before the nonlinearity (Ioffe & Szegedy, 2015).

    'same' padding (k − 1)/2 by default; by default the conv has a bias only without BN (BN's β replaces it).
    """
    k = (kernel_size, kernel_size) if isinstance(kernel_size, int) else kernel_size
    padding = (k[0] // 2, k[1] // 2) if padding is None else padding
    layers: list[nn.Module] = [
        nn.Conv2d(
            in_channels, out_channels, k, stride=stride, padding=padding, bias=not batchnorm if bias is None else bias
        )
    ]
    if batchnorm:
        layers.append(nn.BatchNorm2d(out_channels, eps=eps))
    if activation is not None:
        layers.append(make_activation(activation))
    return nn.Sequential(*layers)


def mlp_head(features: int, num_classes: int, hidden: Sequence[int] = (), *, dropout: float = 0.0) -> nn.Sequential:
    """Flatten → [Dropout → Linear → ReLU] per hidden width → Linear to the classes (AlexNet's, VGG's head)."""
    layers: list[nn.Module] = [nn.Flatten()]
    for width in hidden:
        if dropout > 0:
            layers.append(nn.Dropout(dropout))
        layers += [nn.Linear(features, width), nn.ReLU(inplace=True)]
        features = width
    layers.append(nn.Linear(features, num_classes))
    return nn.Sequential(*layers)


def kaiming_init(module: nn.Module) -> None:
    """He et al. (2015) normal init, fan-out, for convs; BN γ = 1, β = 0 (torchvision's ResNet/DenseNet init)."""
    for m in module.modules():
        if isinstance(m, nn.Conv2d):
            nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, nn.BatchNorm2d):
            nn.init.ones_(m.weight)
            nn.init.zeros_(m.bias)
