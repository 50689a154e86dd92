"""Normalizing flows as networks (G13): RealNVP, Glow and MAF, each for 2-D points and for images.

A `Flow` maps x (N, *shape) to a flat latent z (N, D) with the log-determinant of its Jacobian, and back:
`forward(x) -> (z, log|det ∂z/∂x|)`, `inverse(z) -> (x, log|det ∂x/∂z|)`; the objective (`objectives.flow`)
puts a standard normal on z and owns the data's preprocessing. The builders pick the configuration by the input
shape: (D,) gives the vector configuration (2-D toys), (C, H, W) the image one (digits 1×8×8, mnist5k 1×28×28).

* `realnvp` (Dinh, Sohl-Dickstein & Bengio, 2017, arXiv:1605.08803). Vectors: `couplings` affine couplings with
  alternating half masks, MLP conditioners. Images: a multi-scale architecture of `scales` scales; each but the
  last is 3 checkerboard couplings, a squeeze, 3 channel couplings, then half the channels are factored out;
  the last is 4 checkerboard couplings. Conditioners are small CNNs (the paper's are ResNets with batch norm;
  here 3×3 convolutions, no normalisation).
* `glow` (Kingma & Dhariwal, 2018, arXiv:1807.03039). Each step is ActNorm → invertible 1×1 convolution (LU) →
  affine coupling on channel halves. Vectors: `steps` steps (the 1×1 convolution is an invertible D×D map).
  Images: `levels` levels, each a squeeze, `steps` steps, then a split (the last level keeps everything). The
  factored-out halves get a standard normal here, not Glow's learned conditional prior.
* `maf` (Papamakarios, Pavlakou & Murray, 2017, arXiv:1705.07057): `layers` MADE layers with the order reversed
  between them, on the flattened input (images are vectors of C·H·W entries). The paper's batch-norm layers
  between MADEs are left out.
"""

from __future__ import annotations

import math

from torch import Tensor, nn

from dlcanon.nn.flows import (
    ActNorm,
    AffineCoupling,
    Flatten,
    FlowLayer,
    FlowSequence,
    InvertibleConv1x1,
    MAFLayer,
    Permute,
    Split,
    Squeeze,
    channel_mask,
    checkerboard_mask,
)
from dlcanon.registry import MODELS


class Flow(nn.Module):
    """A normalizing flow on samples of `shape`: x (N, *shape) ↔ z (N, D), D = prod(shape)."""

    def __init__(self, shape: tuple[int, ...], body: FlowLayer, *, family: str) -> None:
        super().__init__()
        self.shape, self.body, self.family = tuple(shape), body, family

    @property
    def dims(self) -> int:
        return math.prod(self.shape)

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        z, logdet = self.body(x)
        return z.flatten(1), logdet

    def inverse(self, z: Tensor) -> tuple[Tensor, Tensor]:
        return self.body.inverse(z)


# ---------------------------------------------------------------------------------------------- conditioners
def mlp_conditioner(dims: int, width: int) -> nn.Module:
    """(N, D) → (N, 2D): two hidden ReLU layers; the last layer starts at zero (the coupling starts as identity)."""
    head = nn.Linear(width, 2 * dims)
    nn.init.zeros_(head.weight)
    nn.init.zeros_(head.bias)
    return nn.Sequential(nn.Linear(dims, width), nn.ReLU(), nn.Linear(width, width), nn.ReLU(), head)


def cnn_conditioner(channels: int, width: int) -> nn.Module:
    """(N, C, H, W) → (N, 2C, H, W): 3×3, 1×1, 3×3 convolutions with ReLUs (Glow's shape); the last starts at zero."""
    head = nn.Conv2d(width, 2 * channels, 3, padding=1)
    nn.init.zeros_(head.weight)
    nn.init.zeros_(head.bias)
    return nn.Sequential(
        nn.Conv2d(channels, width, 3, padding=1), nn.ReLU(), nn.Conv2d(width, width, 1), nn.ReLU(), head
    )


def _check(name: str, *, optional: dict[str, int], **values: int) -> None:
    """Every value ≥ 1; `optional` ones ≥ 0 (0: the default for the input's kind)."""
    for key, value in values.items():
        if value < 1:
            raise ValueError(f"{name}: {key} must be ≥ 1; got {value}")
    for key, value in optional.items():
        if value < 0:
            raise ValueError(f"{name}: {key} must be ≥ 1 (or 0 for the default); got {value}")


def _image_shape(name: str, input_shape: tuple[int, ...], halvings: int) -> tuple[int, int, int]:
    if len(input_shape) == 1:
        return input_shape  # type: ignore[return-value]
    if len(input_shape) != 3:
        raise ValueError(f"{name} takes vectors (D,) or images (C, H, W); got input shape {input_shape}")
    _, h, w = input_shape
    if h % 2**halvings or w % 2**halvings:
        raise ValueError(f"{name}: {halvings} squeezes need H and W divisible by {2**halvings}; got {h}×{w}")
    return input_shape  # type: ignore[return-value]


# ---------------------------------------------------------------------------------------------- RealNVP
def realnvp_vector(dims: int, *, couplings: int, width: int) -> FlowSequence:
    masks = [channel_mask((dims,), parity=i % 2).view(1, dims) for i in range(couplings)]
    return FlowSequence([AffineCoupling(m, mlp_conditioner(dims, width)) for m in masks])


def realnvp_image(shape: tuple[int, int, int], *, scales: int, width: int) -> FlowLayer:
    """One scale of the multi-scale architecture, recursing into the factored-in half."""
    c, h, w = shape
    if scales == 1:
        layers = [AffineCoupling(checkerboard_mask(shape, parity=i % 2), cnn_conditioner(c, width)) for i in range(4)]
        return FlowSequence([*layers, Flatten(shape)])
    layers: list[nn.Module] = [
        AffineCoupling(checkerboard_mask(shape, parity=i % 2), cnn_conditioner(c, width)) for i in range(3)
    ]
    squeezed = (4 * c, h // 2, w // 2)
    layers.append(Squeeze())
    layers += [AffineCoupling(channel_mask(squeezed, parity=i % 2), cnn_conditioner(4 * c, width)) for i in range(3)]
    rest = realnvp_image((4 * c - 2 * c, h // 2, w // 2), scales=scales - 1, width=width)
    layers.append(Split(squeezed, rest))
    return FlowSequence(layers)


@MODELS.register("realnvp", tags=("G13",), objective="flow", data="gaussians8")
def build_realnvp(
    input_shape: tuple[int, ...], num_classes: int | None, *, couplings: int = 8, scales: int = 2, width: int = 0
) -> Flow:
    """RealNVP: affine couplings (vectors: `couplings`, MLP width 128; images: `scales` scales, CNN width 64)."""
    _check("realnvp", couplings=couplings, scales=scales, optional={"width": width})
    shape = _image_shape("realnvp", tuple(input_shape), scales - 1)
    if len(shape) == 1:
        return Flow(shape, realnvp_vector(shape[0], couplings=couplings, width=width or 128), family="realnvp")
    return Flow(shape, realnvp_image(shape, scales=scales, width=width or 64), family="realnvp")


# ---------------------------------------------------------------------------------------------- Glow
def glow_step(shape: tuple[int, ...], conditioner: nn.Module, seed: int) -> list[nn.Module]:
    """ActNorm → invertible 1×1 convolution (LU) → affine coupling on the channel halves."""
    c = shape[0]
    mask = channel_mask(shape)  # (1, *shape): the first ⌈C/2⌉ channels condition the rest
    return [ActNorm(c), InvertibleConv1x1(c, seed=seed), AffineCoupling(mask, conditioner)]


def glow_image(shape: tuple[int, int, int], *, levels: int, steps: int, width: int, seed: int = 0) -> FlowLayer:
    c, h, w = shape
    squeezed = (4 * c, h // 2, w // 2)
    layers: list[nn.Module] = [Squeeze()]
    for k in range(steps):
        layers += glow_step(squeezed, cnn_conditioner(4 * c, width), seed=seed + k)
    if levels == 1:
        return FlowSequence([*layers, Flatten(squeezed)])
    rest = glow_image((4 * c - 2 * c, h // 2, w // 2), levels=levels - 1, steps=steps, width=width, seed=seed + steps)
    return FlowSequence([*layers, Split(squeezed, rest)])


@MODELS.register("glow", tags=("G13",), objective="flow", data="gaussians8")
def build_glow(
    input_shape: tuple[int, ...], num_classes: int | None, *, steps: int = 0, levels: int = 2, width: int = 0
) -> Flow:
    """Glow: ActNorm, LU 1×1 convolution, affine coupling (vectors: 8 steps, MLP width 128; images: `levels`
    levels of 4 steps, CNN width 64)."""
    _check("glow", levels=levels, optional={"steps": steps, "width": width})
    shape = _image_shape("glow", tuple(input_shape), levels)
    if len(shape) == 1:
        d, k = shape[0], steps or 8
        layers = [m for i in range(k) for m in glow_step(shape, mlp_conditioner(d, width or 128), seed=i)]
        return Flow(shape, FlowSequence(layers), family="glow")
    return Flow(shape, glow_image(shape, levels=levels, steps=steps or 4, width=width or 64), family="glow")


# ---------------------------------------------------------------------------------------------- MAF
@MODELS.register("maf", tags=("G13",), objective="flow", data="gaussians8")
def build_maf(
    input_shape: tuple[int, ...], num_classes: int | None, *, layers: int = 5, hidden: int = 0, depth: int = 2
) -> Flow:
    """MAF: `layers` MADEs with `depth` hidden layers of `hidden` units (vectors: 128; images: min(512, 4D)), orders
    reversed in between, on the flattened input."""
    _check("maf", layers=layers, depth=depth, optional={"hidden": hidden})
    shape = tuple(input_shape)
    if len(shape) not in (1, 3):
        raise ValueError(f"maf takes vectors (D,) or images (C, H, W); got input shape {shape}")
    d = math.prod(shape)
    width = hidden or (128 if len(shape) == 1 else min(512, 4 * d))
    body: list[nn.Module] = [] if len(shape) == 1 else [Flatten(shape)]
    for i in range(layers):
        body.append(MAFLayer(d, [width] * depth))
        if i < layers - 1:
            body.append(Permute(d))
    return Flow(shape, FlowSequence(body), family="maf")
