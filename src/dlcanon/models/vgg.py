"""VGG (Simonyan & Zisserman, "Very Deep Convolutional Networks for Large-Scale Image Recognition", ICLR 2015).

One block, repeated from one table: a stage is n convolutions (3×3, padding 1, ReLU; BatchNorm between
conv and ReLU in the `_bn` variants) followed by a 2×2 max-pool of stride 2; five stages of widths
64-128-256-512-512, then FC 4096 → FC 4096 → FC classes with dropout 0.5 (Table 1 columns A, B, D, E).
Stacks of narrow 3×3 convolutions replace wide ones: three 3×3 see 7×7 with 27·C² weights instead of 49·C²,
with three nonlinearities instead of one (§2.3).

ImageNet parameter counts (224×224, 1,000 classes; torchvision's, with an adaptive 7×7 average pool that is
the identity at 224): VGG-11/13/16/19 132,863,336 / 133,047,848 / 138,357,544 / 143,667,240; with BN
132,868,840 / 133,053,736 / 138,365,992 / 143,678,248 (the convs keep their biases, as in torchvision).

Small-input configurations (`vgg11_small`, …): widths 16-32-64-128-128, max-pools after the first three
stages only (28 → 14 → 7 → 3, 32 → 16 → 8 → 4, 8 → 4 → 2 → 1), a global average pool and FC 256 → 256 →
classes: the same depth (8/10/13/16 convs + 3 FC) at sizes a CPU trains in minutes.

F10 variants (`vgg5x5_small`, `vgg_factorized_small`, `vgg_separable_small`): the VGG-11 small layout with every
3×3 replaced by a 5×5, by two 3×3 with a ReLU between (factorized) or by 5×1 then 1×5 (separable).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from torch import Tensor, nn

from dlcanon.models.common import IMAGENET, SMALL, kaiming_init, mlp_head, variant
from dlcanon.nn.blurpool import antialias as make_antialiased
from dlcanon.nn.factorized import FactorizedConv2d, SeparableConv2d

# convolutions per stage (Table 1: A = VGG-11, B = VGG-13, D = VGG-16, E = VGG-19)
STAGES = {11: (1, 1, 2, 2, 2), 13: (2, 2, 2, 2, 2), 16: (2, 2, 3, 3, 3), 19: (2, 2, 4, 4, 4)}
IMAGENET_WIDTHS = (64, 128, 256, 512, 512)
SMALL_WIDTHS = (16, 32, 64, 128, 128)

# 'same'-size convolution layers by name: (c_in, c_out) -> module
CONVS: dict[str, Callable[[int, int], nn.Module]] = {
    "3x3": lambda c_in, c_out: nn.Conv2d(c_in, c_out, 3, padding=1),
    "5x5": lambda c_in, c_out: nn.Conv2d(c_in, c_out, 5, padding=2),
    "factorized": lambda c_in, c_out: FactorizedConv2d(c_in, c_out, 5),
    "separable": lambda c_in, c_out: SeparableConv2d(c_in, c_out, 5),
}


def vgg_stage(in_channels: int, out_channels: int, n: int, *, conv: str, batchnorm: bool) -> list[nn.Module]:
    """n × (conv → [BN] → ReLU), the first taking `in_channels`: the block every VGG is made of."""
    layers: list[nn.Module] = []
    for i in range(n):
        layers.append(CONVS[conv](in_channels if i == 0 else out_channels, out_channels))
        if batchnorm:
            layers.append(nn.BatchNorm2d(out_channels))
        layers.append(nn.ReLU(inplace=True))
    return layers


class VGG(nn.Module):
    """Stages of `vgg_stage`, a max-pool 2/2 after each of the first `pools` stages, pool to `pool_size`², head.

    (N, C, H, W) → (N, num_classes). `stages` gives the convolutions per stage and `widths` their channels;
    `hidden` the widths of the head's hidden FC layers (empty: one Linear). `antialias` (filter size) makes
    every max-pool a MaxBlurPool2d.
    """

    def __init__(
        self,
        in_channels: int = 3,
        num_classes: int = 1000,
        *,
        stages: Sequence[int] = STAGES[16],
        widths: Sequence[int] = IMAGENET_WIDTHS,
        batchnorm: bool = False,
        conv: str = "3x3",
        pools: int = 5,
        pool_size: int = 7,
        hidden: Sequence[int] = (4096, 4096),
        dropout: float = 0.5,
        antialias: int = 0,
    ) -> None:
        super().__init__()
        if conv not in CONVS:
            raise ValueError(f"conv must be one of {', '.join(CONVS)}; got {conv!r}")
        if len(stages) != len(widths):
            raise ValueError(f"stages and widths must have the same length, got {len(stages)} and {len(widths)}")
        layers: list[nn.Module] = []
        c = in_channels
        for i, (n, width) in enumerate(zip(stages, widths, strict=True)):
            layers += vgg_stage(c, width, n, conv=conv, batchnorm=batchnorm)
            if i < pools:
                layers.append(nn.MaxPool2d(2, stride=2))
            c = width
        self.features = nn.Sequential(*layers)
        self.pool = nn.AdaptiveAvgPool2d(pool_size)
        self.classifier = mlp_head(c * pool_size**2, num_classes, hidden, dropout=dropout)
        kaiming_init(self)  # He normal (fan-out) convs as torchvision; PyTorch's default init for the head
        make_antialiased(self, antialias)

    def forward(self, x: Tensor) -> Tensor:  # (N, C, H, W) -> (N, num_classes)
        return self.classifier(self.pool(self.features(x)))


def build_vgg(input_shape: tuple[int, ...], num_classes: int, *, depth: int = 16, **kwargs) -> VGG:
    """VGG-`depth` (11, 13, 16 or 19) for `input_shape` (C, H, W); keyword arguments as `VGG`."""
    if depth not in STAGES:
        raise ValueError(f"VGG depth must be one of {', '.join(map(str, STAGES))}; got {depth}")
    return VGG(input_shape[0], num_classes, stages=STAGES[depth], **kwargs)


SMALL_ARGS = {"widths": SMALL_WIDTHS, "pools": 3, "pool_size": 1, "hidden": (256, 256)}
for _depth in STAGES:
    for _bn, _suffix in ((False, ""), (True, "_bn")):
        _label = f"VGG-{_depth}{' with BatchNorm' if _bn else ''}"
        variant(
            f"vgg{_depth}{_suffix}",
            build_vgg,
            f"{_label}, ImageNet configuration (224×224, 1,000 classes).",
            tags=("C3",),
            meta=IMAGENET,
            depth=_depth,
            batchnorm=_bn,
        )
        variant(
            f"vgg{_depth}{_suffix}_small",
            build_vgg,
            f"{_label}, small input: widths 16-128, 3 pools, FC 256.",
            tags=("C3",),
            meta=SMALL,
            depth=_depth,
            batchnorm=_bn,
            **SMALL_ARGS,
        )
for _name, _conv, _what in (
    ("vgg5x5_small", "5x5", "5×5 convs"),
    ("vgg_factorized_small", "factorized", "two 3×3 per 5×5"),
    ("vgg_separable_small", "separable", "5×1 then 1×5"),
):
    variant(
        _name,
        build_vgg,
        f"VGG-11 small layout with {_what} (F10), BatchNorm.",
        tags=("F10",),
        meta=SMALL,
        depth=11,
        batchnorm=True,
        conv=_conv,
        **SMALL_ARGS,
    )
