"""Networks only: tensors in, tensors out. Importing this package registers every builder in MODELS.

A builder has the signature `builder(input_shape, num_classes, **kwargs) -> nn.Module`, where
`input_shape` is one sample's shape, e.g. (1, 28, 28); its registry entry carries `objective` (the
default objective) and `data` (the default dataset). Training recipes are presets (`dlcanon.presets`).
"""

from __future__ import annotations

from typing import Any

from torch import nn

from dlcanon.models import (  # noqa: F401  (registrations)
    alexnet,
    dcgan,
    densenet,
    diffusion,
    energy,
    fastcnn,
    ffjord,
    flows,
    gan,
    gmm,
    hdenseunet,
    hnet,
    inception,
    lapgan,
    lenet,
    mlp,
    nvae,
    pix2pix,
    ppca,
    progan,
    resnet,
    siren,
    srgan,
    stylegan,
    unet,
    unetpp,
    vae,
    vgg,
)
from dlcanon.registry import MODELS


def build_model(name: str, input_shape: tuple[int, ...], num_classes: int | None, **kwargs: Any) -> nn.Module:
    """Build a registered network for data of `input_shape` with `num_classes` outputs."""
    return MODELS.build(name, tuple(input_shape), num_classes, **kwargs)
