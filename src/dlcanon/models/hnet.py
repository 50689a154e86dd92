"""Harmonic Network classifier (Worrall et al., 2017) and a plain CNN of similar size to compare with (F7)."""

from __future__ import annotations

from torch import Tensor, nn

from dlcanon.nn.harmonic import HBatchNormReLU, HConv2d, as_harmonic, harmonic_pool, magnitude
from dlcanon.registry import MODELS


class HNet(nn.Module):
    """Two blocks of [HConv → HBN-ReLU → HConv → HBN-ReLU], 2×2 mean pool between them, rotation orders {0, 1}.

    The head averages every magnitude |z| over the image (rotation-invariant features, shape (N, 2·2c))
    and maps them to logits with one Linear: the logits are invariant to rotations up to resampling.
    """

    def __init__(self, in_channels: int, num_classes: int, *, channels: int = 8, kernel_size: int = 5) -> None:
        super().__init__()
        c, k = channels, kernel_size
        self.block1 = nn.Sequential(
            HConv2d(in_channels, c, k, in_orders=1),
            HBatchNormReLU(c),
            HConv2d(c, c, k, in_orders=2),
            HBatchNormReLU(c),
        )
        self.block2 = nn.Sequential(
            HConv2d(c, 2 * c, k, in_orders=2),
            HBatchNormReLU(2 * c),
            HConv2d(2 * c, 2 * c, k, in_orders=2),
            HBatchNormReLU(2 * c),
        )
        self.head = nn.Linear(2 * 2 * c, num_classes)

    def features(self, x: Tensor) -> Tensor:  # (N, C, H, W) -> (N, 2, 2, 2c, H/2, W/2)
        return self.block2(harmonic_pool(self.block1(as_harmonic(x))))

    def forward(self, x: Tensor) -> Tensor:  # (N, C, H, W) -> (N, num_classes)
        return self.head(magnitude(self.features(x)).mean((-2, -1)).flatten(1))


class SmallCNN(nn.Module):
    """The same layout with real 3×3 convolutions, BN and ReLU, global average pooling and one Linear."""

    def __init__(self, in_channels: int, num_classes: int, *, channels: int = 16) -> None:
        super().__init__()
        c = channels

        def block(i: int, o: int) -> list[nn.Module]:
            return [nn.Conv2d(i, o, 3, padding=1, bias=False), nn.BatchNorm2d(o), nn.ReLU()]

        self.net = nn.Sequential(
            *block(in_channels, c),
            *block(c, c),
            nn.AvgPool2d(2),
            *block(c, 2 * c),
            *block(2 * c, 2 * c),
            nn.AdaptiveAvgPool2d(1),
            nn.Flatten(),
            nn.Linear(2 * c, num_classes),
        )

    def forward(self, x: Tensor) -> Tensor:  # (N, C, H, W) -> (N, num_classes)
        return self.net(x)


@MODELS.register("hnet", tags=("F7",), objective="classifier", data="mnist5k_rot")
def build_hnet(input_shape: tuple[int, ...], num_classes: int, **kwargs) -> HNet:
    """Harmonic Network: circular-harmonic filters of orders {0, 1}, magnitude BN-ReLU, invariant head."""
    return HNet(input_shape[0], num_classes, **kwargs)


@MODELS.register("small_cnn", tags=("F7",), objective="classifier", data="mnist5k_rot")
def build_small_cnn(input_shape: tuple[int, ...], num_classes: int, **kwargs) -> SmallCNN:
    """Plain CNN with the H-Net's layout (3×3 conv-BN-ReLU ×4, one pool, GAP) for comparisons."""
    return SmallCNN(input_shape[0], num_classes, **kwargs)
