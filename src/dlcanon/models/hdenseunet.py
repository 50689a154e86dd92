"""H-DenseUNet (Li, Chen, Qi, Dou, Fu & Heng, 2018): a 2-D DenseUNet on slices, a 3-D DenseUNet on the volume
with the 2-D scores, and hybrid feature fusion (S2).

DenseUNet encoder (DenseNet, Huang et al. 2017): stem 7×7 conv stride 2 → BN → ReLU (skip box₀), 3×3 max-pool
stride 2; dense blocks of BN-ReLU-1×1 conv (4k)-BN-ReLU-3×3 conv (k) layers, each adding k maps, with
transitions BN-ReLU-1×1 conv (× compression)-2×2 average pool between them (skip box_b after block b).
2-D decoder (the authors' `denseunet.py`): up-sample ×2 (nearest), add the skip of that scale (the deepest one
through a 1×1 projection to the bottom width), 3×3 conv → BN → ReLU, five times, widths box₂, box₁, box₀, box₀,
F = 64; then a 1×1 conv to K scores. The 3-D decoder (`hybridnet.py`) has no skips: widths bottom, box₂, box₁,
box₀, F; transitions and the first up-samplings act on (H, W) only, so depth is reduced only ×4 by the stem.

Hybrid feature fusion on a volume x (N, C, D, H, W): every slice d goes through the 2-D net with its neighbours
(d−1, d, d+1, edges repeated) as channels; the 2-D features f₂ (N, F, D, H, W) and scores s₂ are stacked back
into volumes; the 3-D net reads [x, s₂] and gives f₃; the fused map f₃ + f₂ → 3×3×3 conv (F) → dropout 0.1 → BN
→ ReLU → 1×1×1 conv gives the scores. In training the network also returns s₂, so the loss is
L_hybrid + ½·L_2d (the paper's λ = 0.5) under weights 1, 1/2 normalised. The official code scales s₂ by 250 to
match Hounsfield-unit inputs; our inputs lie in [0, 1], so s₂ enters unscaled.

Paper configuration: 2-D DenseUNet-167 (DenseNet-161 encoder: 96 maps, growth 48, blocks 6, 12, 36, 24),
3-D DenseUNet-65 (96 maps, growth 32, blocks 3, 4, 12, 8), compression 0.5, F = 64, 3 classes, 12 slices of
224×224. BatchNorm counts γ and β (Keras BatchNormalization + Scale).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor, nn

from dlcanon.models.common import variant
from dlcanon.models.unet_blocks import conv, positive_ints

CURRICULUM = ("S2",)


def bn(dims: int, channels: int) -> nn.Module:
    return {2: nn.BatchNorm2d, 3: nn.BatchNorm3d}[dims](channels)


class DenseLayer(nn.Module):
    """x ↦ [x, H(x)], H = BN-ReLU-Conv1×1(4k)-BN-ReLU-Conv3×3(k), no biases."""

    def __init__(self, channels: int, growth: int, *, dims: int) -> None:
        super().__init__()
        self.h = nn.Sequential(
            bn(dims, channels), nn.ReLU(inplace=True), conv(dims)(channels, 4 * growth, 1, bias=False),
            bn(dims, 4 * growth), nn.ReLU(inplace=True), conv(dims)(4 * growth, growth, 3, padding=1, bias=False),
        )  # fmt: skip

    def forward(self, x: Tensor) -> Tensor:
        return torch.cat([x, self.h(x)], 1)


def up_block(dims: int, c_in: int, c_out: int, scale: tuple[int, ...]) -> nn.Sequential:
    """Up-sample by `scale` (nearest), 3×3 conv with bias → BN → ReLU."""
    return nn.Sequential(nn.Upsample(scale_factor=scale, mode="nearest"),
                         conv(dims)(c_in, c_out, 3, padding=1), bn(dims, c_out), nn.ReLU(inplace=True))  # fmt: skip


class DenseUNet(nn.Module):
    """(N, C, *s) → (features (N, F, *s), scores (N, K, *s)); 2-D with additive skips, 3-D without (see above).

    Spatial sizes: (H, W) multiples of 2^(len(blocks) + 1); for 3-D, D a multiple of 4.
    """

    def __init__(self, in_channels: int, num_classes: int, *, dims: int, init: int, growth: int,
                 blocks: Sequence[int], compression: float = 0.5, features: int = 64) -> None:  # fmt: skip
        super().__init__()
        blocks = positive_ints("blocks", blocks)
        if len(blocks) < 2 or not 0 < compression <= 1:
            raise ValueError(f"need ≥ 2 dense blocks and compression in (0, 1]; got {blocks}, {compression}")
        self.dims = dims
        plane = (2, 2) if dims == 2 else (1, 2, 2)  # transitions keep the depth of a volume
        self.stem = nn.Sequential(conv(dims)(in_channels, init, 7, stride=2, padding=3, bias=False),
                                  bn(dims, init), nn.ReLU(inplace=True))  # fmt: skip
        self.pool = {2: nn.MaxPool2d, 3: nn.MaxPool3d}[dims](3, stride=2, padding=1)
        self.blocks, self.transitions = nn.ModuleList(), nn.ModuleList()
        widths, c = [init], init  # box widths: stem, then after each block but the last
        for b, n in enumerate(blocks):
            layers = []
            for _ in range(n):
                layers.append(DenseLayer(c, growth, dims=dims))
                c += growth
            self.blocks.append(nn.Sequential(*layers))
            if b < len(blocks) - 1:
                widths.append(c)
                out = int(c * compression)
                pool = {2: nn.AvgPool2d, 3: nn.AvgPool3d}[dims](plane)
                self.transitions.append(
                    nn.Sequential(bn(dims, c), nn.ReLU(inplace=True), conv(dims)(c, out, 1, bias=False), pool)
                )
                c = out
        self.final = nn.Sequential(bn(dims, c), nn.ReLU(inplace=True))
        n = len(blocks)
        full = (2,) * dims
        if dims == 2:  # widths box_{n−2} … box_0, box_0, F; the deepest skip is projected to the bottom width
            self.project = conv(dims)(widths[-1], c, 1)
            outs = [*reversed(widths[:-1]), widths[0], features]
            scales = [full] * (n + 1)
        else:  # widths bottom, box_{n−2} … box_0, F
            self.project = None
            outs = [c, *reversed(widths[:-1]), features]
            scales = [plane] * (n - 1) + [full, full]
        self.skip_widths = widths
        self.ups = nn.ModuleList()
        for c_out, scale in zip(outs, scales, strict=True):
            self.ups.append(up_block(dims, c, c_out, scale))
            c = c_out
        self.head = conv(dims)(features, num_classes, 1)

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        x = self.stem(x)
        boxes = [x]
        x = self.pool(x)
        for b, block in enumerate(self.blocks):
            x = block(x)
            if b < len(self.transitions):
                boxes.append(x)
                x = self.transitions[b](x)
        x = self.final(x)
        if self.project is None:  # 3-D: no skips
            for up in self.ups:
                x = up(x)
        else:  # 2-D: skips box_{n−1} (projected), box_{n−2}, …, box_0 are added after the up-sampling
            skips = [self.project(boxes[-1]), *reversed(boxes[:-1])]
            for k, up in enumerate(self.ups):
                x = up[1:](up[0](x) + skips[k]) if k < len(skips) else up(x)
        return x, self.head(x)


def neighbour_slices(x: Tensor) -> Tensor:
    """(N, C, D, H, W) → (N·D, 3C, H, W): slice d with d − 1 and d + 1 as channels, the edge slices repeated."""
    n, c, d, h, w = x.shape
    padded = torch.cat([x[:, :, :1], x, x[:, :, -1:]], 2)
    stack = torch.stack([padded[:, :, k : k + d] for k in range(3)], 1)  # (N, 3, C, D, H, W)
    return stack.reshape(n, 3 * c, d, h, w).transpose(1, 2).reshape(n * d, 3 * c, h, w)


def to_volume(t: Tensor, n: int) -> Tensor:
    """(N·D, F, H, W) → (N, F, D, H, W)."""
    nd, f, h, w = t.shape
    return t.reshape(n, nd // n, f, h, w).transpose(1, 2)


class HDenseUNet(nn.Module):
    """Volume (N, C, D, H, W) → scores (N, K, D, H, W); in training (scores, 2-D scores)."""

    def __init__(self, in_channels: int, num_classes: int, *, init2d: int = 96, growth2d: int = 48,
                 blocks2d: Sequence[int] = (6, 12, 36, 24), init3d: int = 96, growth3d: int = 32,
                 blocks3d: Sequence[int] = (3, 4, 12, 8), features: int = 64,
                 compression: float = 0.5) -> None:  # fmt: skip
        super().__init__()
        positive_ints("in_channels, num_classes and features", (in_channels, num_classes, features))
        shared = {"compression": compression, "features": features}
        # each half's configuration, kept so that `halves` can build either one alone
        self.settings = {2: dict(init=init2d, growth=growth2d, blocks=tuple(blocks2d), **shared),
                         3: dict(init=init3d, growth=growth3d, blocks=tuple(blocks3d), **shared)}  # fmt: skip
        self.in_channels, self.num_classes = in_channels, num_classes
        self.net2d = DenseUNet(3 * in_channels, num_classes, dims=2, **self.settings[2])
        self.net3d = DenseUNet(in_channels + num_classes, num_classes, dims=3, **self.settings[3])
        self.fusion = nn.Sequential(
            nn.Conv3d(features, features, 3, padding=1), nn.Dropout(0.1), nn.BatchNorm3d(features),
            nn.ReLU(inplace=True), nn.Conv3d(features, num_classes, 1),
        )  # fmt: skip
        self.xy_step, self.d_step = 2 ** (len(self.net2d.blocks) + 1), 4

    def forward(self, x: Tensor) -> Tensor | tuple[Tensor, Tensor]:
        n = x.shape[0]
        f2, s2 = self.net2d(neighbour_slices(x))
        f2, s2 = to_volume(f2, n), to_volume(s2, n)  # (N, F | K, D, H, W)
        f3, _ = self.net3d(torch.cat([x, s2], 1))
        scores = self.fusion(f3 + f2)
        return (scores, s2) if self.training else scores


class SliceHalf(nn.Module):
    """H-DenseUNet's 2-D half alone: the 2-D DenseUNet on every slice with its neighbours as channels, its scores
    stacked back into a volume; (N, C, D, H, W) → (N, K, D, H, W)."""

    def __init__(self, net2d: DenseUNet) -> None:
        super().__init__()
        self.net2d = net2d

    def forward(self, x: Tensor) -> Tensor:
        return to_volume(self.net2d(neighbour_slices(x))[1], x.shape[0])


class VolumeHalf(nn.Module):
    """H-DenseUNet's 3-D half alone: the 3-D DenseUNet on the volume, without the 2-D scores; (N, C, D, H, W) →
    (N, K, D, H, W)."""

    def __init__(self, net3d: DenseUNet) -> None:
        super().__init__()
        self.net3d = net3d

    def forward(self, x: Tensor) -> Tensor:
        return self.net3d(x)[1]


def halves(hybrid: HDenseUNet) -> dict[str, nn.Module]:
    """Fresh networks of `hybrid`'s configuration, each half alone: the 2-D DenseUNet on slices, and the 3-D
    DenseUNet reading only the volume's C channels (not C + K: there are no 2-D scores to read)."""
    c, k = hybrid.in_channels, hybrid.num_classes
    return {
        "2-D half": SliceHalf(DenseUNet(3 * c, k, dims=2, **hybrid.settings[2])),
        "3-D half": VolumeHalf(DenseUNet(c, k, dims=3, **hybrid.settings[3])),
    }


def build_hdenseunet(input_shape: tuple[int, ...], num_classes: int, *, init2d: int = 96, growth2d: int = 48,
                     blocks2d: Sequence[int] = (6, 12, 36, 24), init3d: int = 96, growth3d: int = 32,
                     blocks3d: Sequence[int] = (3, 4, 12, 8), features: int = 64,
                     compression: float = 0.5) -> HDenseUNet:  # fmt: skip
    """H-DenseUNet for volumes (C, D, H, W): D a multiple of 4, H and W of 2^(len(blocks2d) + 1)."""
    if len(input_shape) != 4:
        raise ValueError(f"H-DenseUNet takes volumes (C, D, H, W); got input shape {input_shape}")
    if not isinstance(num_classes, int) or num_classes < 1:
        raise ValueError(f"H-DenseUNet needs a class count ≥ 1 (a label map); got {num_classes}")
    net = HDenseUNet(input_shape[0], num_classes, init2d=init2d, growth2d=growth2d, blocks2d=blocks2d, init3d=init3d,
                     growth3d=growth3d, blocks3d=blocks3d, features=features, compression=compression)  # fmt: skip
    if len(blocks2d) != len(blocks3d):
        raise ValueError(f"blocks2d and blocks3d need as many blocks (equal strides); got {blocks2d}, {blocks3d}")
    _, d, h, w = input_shape
    if d % net.d_step or h % net.xy_step or w % net.xy_step:
        step = f"D divisible by {net.d_step}, H and W by {net.xy_step}"
        raise ValueError(f"H-DenseUNet needs {step}; got {input_shape[1:]}")
    return net


SEGMENT = {"objective": "segmenter", "data": "phantom3d"}
variant("hdenseunet", build_hdenseunet, "H-DenseUNet (Li 2018): 2-D DenseUNet-167 + 3-D DenseUNet-65, hybrid fusion.",
        tags=("S2",), meta=SEGMENT | {"input_shape": (1, 12, 224, 224), "num_classes": 3})  # fmt: skip
variant("hdenseunet_small", build_hdenseunet, "Small H-DenseUNet: growth 8, 3 blocks of 2 layers; for phantom3d.",
        tags=("S2",), meta=SEGMENT, init2d=16, growth2d=8, blocks2d=(2, 2, 2), init3d=16, growth3d=8,
        blocks3d=(2, 2, 2), features=16)  # fmt: skip
