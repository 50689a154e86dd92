"""DenseNet (Huang, Liu, van der Maaten & Weinberger, "Densely Connected Convolutional Networks", CVPR 2017) (C6).

Inside a dense block, layer ℓ receives the concatenation of the block input and every earlier layer's maps,
x_ℓ = H_ℓ([x_0, x_1, …, x_{ℓ−1}]), and adds k new maps (the growth rate), so a block of n layers turns c
maps into c + n·k. H_ℓ is the "B" (bottleneck) layer BN → ReLU → 1×1 conv (4k) → BN → ReLU → 3×3 conv (k).
Between blocks a transition layer BN → ReLU → 1×1 conv (⌊θ·c⌋ maps, "C": compression θ = 0.5) → 2×2 average
pool of stride 2 reduces the resolution, which concatenation inside a block cannot change.

ImageNet (224×224, 1,000 classes; 7×7/2 conv 2k → BN → ReLU → 3×3/2 max-pool, four blocks, final BN → ReLU →
global average pool → FC; k = 32, 2k = 64 initial maps, except DenseNet-161: k = 48, 96 maps):
DenseNet-121/161/169/201 (blocks 6-12-24-16, 6-12-36-24, 6-12-32-32, 6-12-48-32) have 7,978,856 / 28,681,000 /
14,149,480 / 20,013,928 parameters (torchvision's).

Small-input DenseNet-BC (`densenet_bc_small`, the paper's CIFAR layout): 3×3 conv with 2k maps, three dense
blocks of (L − 4)/6 bottleneck layers with transitions between them (28 → 14 → 7, 32 → 16 → 8), final BN →
ReLU → global average pool → FC. Registered at L = 40, k = 12 (6 layers per block, 176,122 parameters at
3×32×32 and 10 classes); `depth=100` gives the paper's DenseNet-BC (L = 100, k = 12), 0.8 M parameters (Table 2).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor, nn

from dlcanon.models.common import IMAGENET, SMALL, kaiming_init, variant
from dlcanon.nn.blurpool import antialias as make_antialiased


def bn_relu_conv(c_in: int, c_out: int, k: int) -> list[nn.Module]:
    """BN → ReLU → k×k conv (no bias): DenseNet's pre-activation composite function."""
    return [nn.BatchNorm2d(c_in), nn.ReLU(inplace=True), nn.Conv2d(c_in, c_out, k, padding=k // 2, bias=False)]


class DenseLayer(nn.Module):
    """(N, c, H, W) → (N, c + k, H, W): [x, H(x)] with H = BN-ReLU-1×1 (bn_size·k)-BN-ReLU-3×3 (k)."""

    def __init__(self, c_in: int, growth: int, bn_size: int) -> None:
        super().__init__()
        self.h = nn.Sequential(*bn_relu_conv(c_in, bn_size * growth, 1), *bn_relu_conv(bn_size * growth, growth, 3))

    def forward(self, x: Tensor) -> Tensor:
        return torch.cat([x, self.h(x)], dim=1)


def transition(c_in: int, c_out: int) -> nn.Sequential:
    """BN → ReLU → 1×1 conv → 2×2 average pool of stride 2: (N, c_in, H, W) → (N, c_out, H/2, W/2)."""
    return nn.Sequential(*bn_relu_conv(c_in, c_out, 1), nn.AvgPool2d(2, stride=2))


class DenseNet(nn.Module):
    """Stem → dense blocks with transitions between them → BN → ReLU → global average pool → FC.

    `blocks` layers per dense block, `growth` k, `init_features` maps out of the stem, `bn_size` the
    bottleneck width in units of k, `compression` θ. `stem` "imagenet" (7×7/2 conv + 3×3/2 max-pool) or
    "small" (3×3 conv). `antialias` (filter size) blurs every down-sampling step.
    """

    def __init__(
        self,
        in_channels: int = 3,
        num_classes: int = 1000,
        *,
        blocks: Sequence[int] = (6, 12, 24, 16),
        growth: int = 32,
        init_features: int = 64,
        bn_size: int = 4,
        compression: float = 0.5,
        stem: str = "imagenet",
        antialias: int = 0,
    ) -> None:
        super().__init__()
        stems = {
            "imagenet": lambda: [
                nn.Conv2d(in_channels, init_features, 7, stride=2, padding=3, bias=False),
                nn.BatchNorm2d(init_features),
                nn.ReLU(inplace=True),
                nn.MaxPool2d(3, stride=2, padding=1),
            ],
            "small": lambda: [nn.Conv2d(in_channels, init_features, 3, padding=1, bias=False)],
        }
        layers, c = stems[stem](), init_features
        for i, n in enumerate(blocks):
            for _ in range(n):
                layers.append(DenseLayer(c, growth, bn_size))
                c += growth
            if i < len(blocks) - 1:
                layers.append(transition(c, int(compression * c)))
                c = int(compression * c)
        layers += [nn.BatchNorm2d(c), nn.ReLU(inplace=True)]
        self.features = nn.Sequential(*layers)
        self.head = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(c, num_classes))
        kaiming_init(self)
        make_antialiased(self, antialias)

    def forward(self, x: Tensor) -> Tensor:  # (N, C, H, W) -> (N, num_classes)
        return self.head(self.features(x))


def build_densenet(input_shape: tuple[int, ...], num_classes: int, **kwargs) -> DenseNet:
    """DenseNet for `input_shape` (C, H, W); keyword arguments as `DenseNet`."""
    return DenseNet(input_shape[0], num_classes, **kwargs)


def build_densenet_bc(
    input_shape: tuple[int, ...], num_classes: int, *, depth: int = 40, growth: int = 12, **kwargs
) -> DenseNet:
    """DenseNet-BC for small inputs (Huang et al. §4, CIFAR): 3 blocks of (depth − 4)/6 bottleneck layers."""
    if (depth - 4) % 6:
        raise ValueError(f"DenseNet-BC depth must be 6n + 4, got {depth}")
    n = (depth - 4) // 6
    return DenseNet(
        input_shape[0], num_classes, blocks=(n, n, n), growth=growth, init_features=2 * growth, stem="small", **kwargs
    )


IMAGENET_BLOCKS = {
    121: ((6, 12, 24, 16), 32),
    161: ((6, 12, 36, 24), 48),
    169: ((6, 12, 32, 32), 32),
    201: ((6, 12, 48, 32), 32),
}
for _depth, (_blocks, _k) in IMAGENET_BLOCKS.items():
    variant(
        f"densenet{_depth}",
        build_densenet,
        f"DenseNet-{_depth} (k = {_k}), ImageNet configuration.",
        tags=("C6",),
        meta=IMAGENET,
        blocks=_blocks,
        growth=_k,
        init_features=2 * _k,
    )
variant(
    "densenet_bc_small",
    build_densenet_bc,
    "DenseNet-BC for small inputs (L = 40, k = 12), 3 dense blocks.",
    tags=("C6",),
    meta=SMALL,
)
