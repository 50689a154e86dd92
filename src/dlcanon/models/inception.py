"""GoogLeNet / Inception v1 (Szegedy et al., "Going Deeper with Convolutions", CVPR 2015) (C4).

The Inception module runs four paths in parallel on the same input and concatenates their maps:
1×1 | 1×1 reduction → 3×3 | 1×1 reduction → 5×5 | 3×3 max-pool → 1×1 projection (Fig. 2b); 'same'
padding (1 for 3×3, 2 for 5×5) keeps the paths aligned. The notes' first module (3a, on 192 maps of 28×28):
1×1: 64; 1×1 96 → 3×3 128; 1×1 16 → 5×5 32; pool → 1×1 32, so 256 maps out.

Cost of one convolution, in multiply-adds: k²·c_in·c_out·m_h·m_w (×2 in our FLOP convention). The notes'
module form c_in·m_h·m_w·Σ_j k_j²·c_out,j holds when every path convolves the module's input directly,
i.e. for the naive module (Fig. 2a; `Inception(..., c3r=0, c5r=0, cp=0)`); with reductions each conv
has its own c_in (the 3×3 sees c3r maps, not c_in), which is where the savings come from: on 3a's input
the reduced module costs 128.0 M multiply-adds, the naive one with the same 1×1/3×3/5×5 widths 303.5 M.

GoogLeNet here is torchvision's layout (BatchNorm after each conv, eps 1e-3, no LRN) with the paper's true
5×5 kernels: 7,005,832 parameters at 224×224 / 1,000 classes. torchvision's `googlenet` (6,624,904) uses 3×3
kernels in the "5×5" paths, a bug it keeps for its pretrained weights; `branch5_kernel=3` reproduces it. The
paper's Table 1 counts weights only (no biases, no BN) in units of 1,024: conv2 112K and 3a 159K match, but
some later entries do not follow from the table's own channel columns (4c: 497.5K by them, 463K listed).
Auxiliary heads (§5; `aux=True`): on 4a and 4d, 5×5/3 average pool (adaptive to 4×4 here) → 1×1 conv 128 →
FC 1024 → dropout 0.7 → FC classes; in training the network then returns (logits, aux1, aux2), which the
`classifier_aux` objective weighs 1, 0.3, 0.3; in eval mode only the logits.

Small-input configuration (`googlenet_small`): every width divided by 4, a 3×3 conv (48 maps) as the stem
and one 3×3/2 max-pool before 3a instead of the stem's two down-samplings (28 → 14 → 7 → 4, 8 → 4 → 2 → 1).
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor, nn

from dlcanon.models.common import IMAGENET, SMALL, conv_bn, variant
from dlcanon.nn.blurpool import antialias as make_antialiased

# (c1, c3r, c3, c5r, c5, cp) of each module, Table 1
MODULES: dict[str, tuple[int, int, int, int, int, int]] = {
    "3a": (64, 96, 128, 16, 32, 32),
    "3b": (128, 128, 192, 32, 96, 64),
    "4a": (192, 96, 208, 16, 48, 64),
    "4b": (160, 112, 224, 24, 64, 64),
    "4c": (128, 128, 256, 24, 64, 64),
    "4d": (112, 144, 288, 32, 64, 64),
    "4e": (256, 160, 320, 32, 128, 128),
    "5a": (256, 160, 320, 32, 128, 128),
    "5b": (384, 192, 384, 48, 128, 128),
}
POOL_BEFORE = ("4a", "5a")  # max-pool 3×3/2 between stages 3-4 and 4-5


class Inception(nn.Module):
    """(N, c_in, H, W) → (N, c1 + c3 + c5 + (cp or c_in), H, W): four parallel paths, concatenated.

    A reduction width of 0 (c3r, c5r) convolves the input directly; cp = 0 passes the pooled input through
    unprojected: all three zero give the naive module. `conv(c_in, c_out, k)` builds each conv (+ BN + ReLU).
    """

    def __init__(
        self,
        c_in: int,
        c1: int,
        c3r: int,
        c3: int,
        c5r: int,
        c5: int,
        cp: int,
        *,
        conv: Callable[[int, int, int], nn.Module] = conv_bn,
        branch5_kernel: int = 5,
    ) -> None:
        super().__init__()

        def path(*steps: tuple[int, int, int]) -> nn.Sequential:  # (c_in, c_out, k) per conv; c_out 0: skipped
            return nn.Sequential(*(conv(a, b, k) for a, b, k in steps if b))

        self.branch1 = path((c_in, c1, 1))
        self.branch3 = path((c_in, c3r, 1), (c3r or c_in, c3, 3))
        self.branch5 = path((c_in, c5r, 1), (c5r or c_in, c5, branch5_kernel))
        self.branch_pool = nn.Sequential(nn.MaxPool2d(3, stride=1, padding=1), *path((c_in, cp, 1)))
        self.out_channels = c1 + c3 + c5 + (cp or c_in)

    def forward(self, x: Tensor) -> Tensor:
        paths = (self.branch1, self.branch3, self.branch5, self.branch_pool)
        return torch.cat([p(x) for p in paths], dim=1)  # (N, c1 + c3 + c5 + cp, H, W)


class AuxHead(nn.Module):
    """Auxiliary classifier (§5): avg-pool to 4×4 → 1×1 conv 128 → FC 1024 → ReLU → dropout 0.7 → FC."""

    def __init__(self, c_in: int, num_classes: int, *, scale: int = 1, batchnorm: bool = True) -> None:
        super().__init__()
        width, hidden = 128 // scale, 1024 // scale
        self.pool = nn.AdaptiveAvgPool2d(4)
        self.conv = conv_bn(c_in, width, 1, batchnorm=batchnorm, eps=1e-3)
        self.fc = nn.Sequential(
            nn.Flatten(),
            nn.Linear(width * 16, hidden),
            nn.ReLU(inplace=True),
            nn.Dropout(0.7),
            nn.Linear(hidden, num_classes),
        )

    def forward(self, x: Tensor) -> Tensor:
        return self.fc(self.conv(self.pool(x)))


class GoogLeNet(nn.Module):
    """Stem → 3a, 3b → pool → 4a–4e → pool → 5a, 5b → global average pool → dropout 0.4 → FC.

    `scale` divides every width; `stem` "imagenet" (7×7/2 conv 64 → pool 3/2 → 1×1 64 → 3×3 192 → pool 3/2)
    or "small" (3×3 conv 192/scale → pool 3/2). Max-pools are 3×3/2 with padding 1 (the paper's sizes,
    112 → 56 → 28 → 14 → 7, without ceil mode). `antialias` (filter size) blurs every down-sampling step.
    """

    def __init__(
        self,
        in_channels: int = 3,
        num_classes: int = 1000,
        *,
        scale: int = 1,
        stem: str = "imagenet",
        aux: bool = False,
        batchnorm: bool = True,
        branch5_kernel: int = 5,
        dropout: float = 0.4,
        antialias: int = 0,
    ) -> None:
        super().__init__()

        def conv(c_in: int, c_out: int, k: int, stride: int = 1) -> nn.Sequential:
            return conv_bn(c_in, c_out, k, stride=stride, batchnorm=batchnorm, eps=1e-3)

        def pool() -> nn.MaxPool2d:
            return nn.MaxPool2d(3, stride=2, padding=1)

        stems = {
            "imagenet": lambda: [conv(in_channels, 64, 7, 2), pool(), conv(64, 64, 1), conv(64, 192, 3), pool()],
            "small": lambda: [conv(in_channels, 192 // scale, 3), pool()],
        }
        if stem not in stems:
            raise ValueError(f"stem must be one of {', '.join(stems)}; got {stem!r}")
        layers, c = stems[stem](), 192 // scale
        self.aux_heads = nn.ModuleDict()
        self.taps: list[int] = []  # indices in self.layers whose output feeds an auxiliary head
        for name, widths in MODULES.items():
            if name in POOL_BEFORE:
                layers.append(pool())
            c1, c3r, c3, c5r, c5, cp = (w // scale for w in widths)
            module = Inception(c, c1, c3r, c3, c5r, c5, cp, conv=conv, branch5_kernel=branch5_kernel)
            layers.append(module)
            c = module.out_channels
            if aux and name in ("4a", "4d"):
                self.taps.append(len(layers) - 1)
                self.aux_heads[str(len(layers) - 1)] = AuxHead(c, num_classes, scale=scale, batchnorm=batchnorm)
        self.layers = nn.Sequential(*layers)
        self.head = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Dropout(dropout), nn.Linear(c, num_classes))
        make_antialiased(self, antialias)

    def forward(self, x: Tensor) -> Tensor | tuple[Tensor, ...]:
        aux = []
        for i, layer in enumerate(self.layers):
            x = layer(x)
            if self.training and i in self.taps:
                aux.append(self.aux_heads[str(i)](x))
        logits = self.head(x)  # (N, num_classes)
        return (logits, *aux) if aux else logits


def build_googlenet(input_shape: tuple[int, ...], num_classes: int, **kwargs) -> GoogLeNet:
    """GoogLeNet for `input_shape` (C, H, W); keyword arguments as `GoogLeNet`."""
    return GoogLeNet(input_shape[0], num_classes, **kwargs)


C4 = ("C4",)
variant(
    "googlenet",
    build_googlenet,
    "GoogLeNet (Inception v1) with BN, ImageNet configuration (7.0 M).",
    tags=C4,
    meta={**IMAGENET, "objective": "classifier_aux"},
)
variant(
    "googlenet_small",
    build_googlenet,
    "Small-input GoogLeNet: widths ÷ 4, 3×3 stem, one pool before 3a.",
    tags=C4,
    meta={**SMALL, "objective": "classifier_aux"},
    scale=4,
    stem="small",
)
