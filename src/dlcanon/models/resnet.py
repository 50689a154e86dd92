"""Residual networks (He, Zhang, Ren & Sun, "Deep Residual Learning for Image Recognition", CVPR 2016) (C5),
their plain twins, and SE-ResNets (Hu et al., 2018) (C7).

A residual unit computes y = ReLU(F(x) + S(x)): the layers learn the residual F = H − id around an identity,
so a block that should do nothing only has to drive F to 0 instead of learning the identity. F is
3×3 conv → BN → ReLU → 3×3 conv → BN (basic, ResNet-18/34 and the CIFAR nets; the notes' order) or
1×1 → BN → ReLU → 3×3 → BN → ReLU → 1×1 (4× wider) → BN (bottleneck, ResNet-50/101/152). S is the identity,
or where the shape changes option A (sub-sample by taking every s-th pixel, pad the new channels with zeros:
no parameters; the CIFAR nets, Table 6) or option B (1×1 conv of stride s + BN; the ImageNet nets, as
torchvision). The stride of a bottleneck sits on its 3×3 (torchvision's "v1.5"; the paper puts it on the
first 1×1): the same parameters, slightly more multiply-adds.

A plain twin (`plain18`, `plain20`, …) has the same layers with the shortcut removed, y = ReLU(F(x)); where
the residual net has a projection shortcut (option B) that projection goes too, as in the paper's plain
baselines, so e.g. `plain18` has 11,515,688 parameters, 173,824 fewer than `resnet18`.

ImageNet (224×224, 1,000 classes; 7×7/2 conv 64 → BN → ReLU → 3×3/2 max-pool, four stages 64-128-256-512,
strides 1-2-2-2, global average pool, FC): ResNet-18/34/50/101/152 11,689,512 / 21,797,672 / 25,557,032 /
44,549,160 / 60,192,808. SE-ResNet-18/50 (an SE block, reduction 16, with biases, ending each residual
branch): 11,778,592 / 28,088,024 (Hu et al. Table 2 quote 28.09 M; without SE biases 28,071,976).

CIFAR (32×32, 10 classes; 3×3 conv 16 → BN → ReLU, three stages of n basic blocks with 16-32-64 maps at
strides 1-2-2, global average pool, FC; 6n + 2 layers; option A): ResNet-20/32/44/56/110 with 269,722 /
464,154 / 658,586 / 853,018 / 1,727,962 parameters at 3×32×32 (Table 6: 0.27 / 0.46 / 0.66 / 0.85 / 1.7 M, the
same to two significant figures). Option A is implemented as the paper's CIFAR nets; B only where a 1×1 conv
projection is asked for (the ImageNet layouts).

Small-input variants of the ImageNet families (`resnet18_small`, `resnet50_small`, `plain…`, `se_…`): the
CIFAR stem (3×3 conv, no max-pool), the same four stages at a quarter of the widths (16-32-64-128), option B;
the SE variants use reduction 4 so their narrowest gate keeps 4 hidden units, as in the ImageNet net.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch.nn.functional as F
from torch import Tensor, nn

from dlcanon.models.common import IMAGENET, SMALL, conv_bn, kaiming_init, variant
from dlcanon.nn.blurpool import antialias as make_antialiased
from dlcanon.nn.squeeze_excitation import SqueezeExcitation


def basic_branch(c_in: int, planes: int, stride: int) -> list[nn.Module]:
    """3×3 (stride s) → BN → ReLU → 3×3 → BN: (N, c_in, H, W) → (N, planes, H/s, W/s)."""
    return [conv_bn(c_in, planes, 3, stride=stride), conv_bn(planes, planes, 3, activation=None)]


def bottleneck_branch(c_in: int, planes: int, stride: int) -> list[nn.Module]:
    """1×1 → BN → ReLU → 3×3 (stride s) → BN → ReLU → 1×1 → BN: (N, c_in, H, W) → (N, 4·planes, H/s, W/s)."""
    return [
        conv_bn(c_in, planes, 1),
        conv_bn(planes, planes, 3, stride=stride),
        conv_bn(planes, 4 * planes, 1, activation=None),
    ]


BRANCHES = {"basic": (basic_branch, 1), "bottleneck": (bottleneck_branch, 4)}  # branch, expansion


class PadShortcut(nn.Module):
    """Option A: x[:, :, ::s, ::s] with zero maps appended up to `out_channels` (parameter-free)."""

    def __init__(self, in_channels: int, out_channels: int, stride: int) -> None:
        super().__init__()
        self.extra = out_channels - in_channels
        self.subsample = nn.AvgPool2d(1, stride)  # a 1×1 average pool of stride s = sub-sampling

    def forward(self, x: Tensor) -> Tensor:
        return F.pad(self.subsample(x), (0, 0, 0, 0, 0, self.extra))  # (N, out_channels, H/s, W/s)


SHORTCUTS = {
    "A": PadShortcut,
    "B": lambda c_in, c_out, stride: conv_bn(c_in, c_out, 1, stride=stride, padding=0, activation=None),
}


class ResidualBlock(nn.Module):
    """y = ReLU(F(x) + S(x)) (residual) or y = ReLU(F(x)) (plain), F ending in an SE block if asked."""

    def __init__(
        self,
        c_in: int,
        planes: int,
        stride: int,
        *,
        block: str,
        shortcut: str,
        residual: bool,
        se_reduction: int,
    ) -> None:
        super().__init__()
        branch, expansion = BRANCHES[block]
        c_out = planes * expansion
        layers = branch(c_in, planes, stride)
        if se_reduction:
            layers.append(SqueezeExcitation(c_out, se_reduction))
        self.branch = nn.Sequential(*layers)
        self.shortcut: nn.Module | None = None
        if residual:
            changes = stride != 1 or c_in != c_out
            self.shortcut = SHORTCUTS[shortcut](c_in, c_out, stride) if changes else nn.Identity()
        self.relu = nn.ReLU(inplace=True)

    def forward(self, x: Tensor) -> Tensor:
        out = self.branch(x)
        if self.shortcut is not None:
            out = out + self.shortcut(x)
        return self.relu(out)


class ResNet(nn.Module):
    """Stem → stages of residual (or plain) blocks → global average pool → FC.

    `layers` blocks per stage with `widths` planes (a bottleneck outputs 4× planes); the first stage keeps
    the resolution, every later one halves it in its first block. `stem` "imagenet" (7×7/2 conv, 3×3/2 max-pool)
    or "small" (3×3 conv). `antialias` (filter size) blurs every down-sampling step (strided convs, the stem's
    max-pool, option-A sub-sampling).
    """

    def __init__(
        self,
        in_channels: int = 3,
        num_classes: int = 1000,
        *,
        block: str = "basic",
        layers: Sequence[int] = (2, 2, 2, 2),
        widths: Sequence[int] = (64, 128, 256, 512),
        stem: str = "imagenet",
        shortcut: str = "B",
        residual: bool = True,
        se_reduction: int = 0,
        antialias: int = 0,
    ) -> None:
        super().__init__()
        if block not in BRANCHES or shortcut not in SHORTCUTS:
            raise ValueError(f"block must be basic or bottleneck and shortcut A or B; got {block!r}, {shortcut!r}")
        stems = {
            "imagenet": lambda: [conv_bn(in_channels, widths[0], 7, stride=2), nn.MaxPool2d(3, stride=2, padding=1)],
            "small": lambda: [conv_bn(in_channels, widths[0], 3)],
        }
        self.stem = nn.Sequential(*stems[stem]())
        blocks: list[nn.Module] = []
        c = widths[0]
        for i, (n, planes) in enumerate(zip(layers, widths, strict=True)):
            for j in range(n):
                stride = 2 if i > 0 and j == 0 else 1
                kw = dict(block=block, shortcut=shortcut, residual=residual, se_reduction=se_reduction)
                blocks.append(ResidualBlock(c, planes, stride, **kw))
                c = planes * BRANCHES[block][1]
        self.stages = nn.Sequential(*blocks)
        self.head = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(c, num_classes))
        kaiming_init(self)
        make_antialiased(self, antialias)

    def forward(self, x: Tensor) -> Tensor:  # (N, C, H, W) -> (N, num_classes)
        return self.head(self.stages(self.stem(x)))


def build_resnet(input_shape: tuple[int, ...], num_classes: int, **kwargs) -> ResNet:
    """ResNet for `input_shape` (C, H, W); keyword arguments as `ResNet`."""
    return ResNet(input_shape[0], num_classes, **kwargs)


IMAGENET_LAYERS = {
    18: ("basic", (2, 2, 2, 2)),
    34: ("basic", (3, 4, 6, 3)),
    50: ("bottleneck", (3, 4, 6, 3)),
    101: ("bottleneck", (3, 4, 23, 3)),
    152: ("bottleneck", (3, 8, 36, 3)),
}
SMALL_ARGS = {"widths": (16, 32, 64, 128), "stem": "small"}
CIFAR_ARGS = {"block": "basic", "widths": (16, 32, 64), "stem": "small", "shortcut": "A"}

for _depth, (_block, _layers) in IMAGENET_LAYERS.items():
    for _prefix, _residual in (("resnet", True), ("plain", False)):
        _what = f"{'ResNet' if _residual else 'Plain (no shortcut) twin of ResNet'}-{_depth}"
        variant(
            f"{_prefix}{_depth}",
            build_resnet,
            f"{_what}, ImageNet configuration.",
            tags=("C5",),
            meta=IMAGENET,
            block=_block,
            layers=_layers,
            residual=_residual,
        )
        if _depth in (18, 50):
            variant(
                f"{_prefix}{_depth}_small",
                build_resnet,
                f"{_what}, small input: 3×3 stem, widths 16-128.",
                tags=("C5",),
                meta=SMALL,
                block=_block,
                layers=_layers,
                residual=_residual,
                **SMALL_ARGS,
            )
for _depth in (20, 32, 44, 56, 110):
    for _prefix, _residual in (("resnet", True), ("plain", False)):
        _what = f"{'ResNet' if _residual else 'Plain twin of ResNet'}-{_depth}"
        variant(
            f"{_prefix}{_depth}",
            build_resnet,
            f"{_what} for CIFAR (32×32): 16-32-64 maps, option A.",
            tags=("C5",),
            meta=SMALL,
            layers=((_depth - 2) // 6,) * 3,
            residual=_residual,
            **CIFAR_ARGS,
        )
for _depth in (18, 50):
    _block, _layers = IMAGENET_LAYERS[_depth]
    variant(
        f"se_resnet{_depth}",
        build_resnet,
        f"SE-ResNet-{_depth} (reduction 16), ImageNet configuration.",
        tags=("C5", "C7"),
        meta=IMAGENET,
        block=_block,
        layers=_layers,
        se_reduction=16,
    )
    variant(
        f"se_resnet{_depth}_small",
        build_resnet,
        f"SE-ResNet-{_depth}, small input (reduction 4, widths 16-128).",
        tags=("C5", "C7"),
        meta=SMALL,
        block=_block,
        layers=_layers,
        se_reduction=4,
        **SMALL_ARGS,
    )
