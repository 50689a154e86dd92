"""U-Net (Ronneberger, Fischer & Brox, 2015) and 3D U-Net (Çiçek et al., 2016): one encoder–decoder for images
and volumes (S1, S2).

Encoder level l: DoubleConv (mid_l, out_l), then a 2×2 max-pool (not after the bottom level). Decoder, from the
bottom up: a 2×2 up-convolution (C → C/2 in U-Net, C → C in 3D U-Net), crop-and-concatenate with the encoder's
map of that level (the skip), DoubleConv to out_l; a 1×1 convolution gives the K class scores.

U-Net, 2015: 1 channel in, 2 classes, levels (64,64) … (1024,1024), valid convolutions, bias, ReLU, no
normalisation. 572×572 → 388×388: 572 −4 → 568 /2 → 284 −4 → 280 /2 → 140 −4 → 136 /2 → 68 −4 → 64 /2 → 32 −4 → 28
(bottom) ×2 → 56 −4 → 52 ×2 → 104 −4 → 100 ×2 → 200 −4 → 196 ×2 → 392 −4 → 388. Parameters (2 classes):
31,030,658 (31,030,593 with a single output map).

3D U-Net, 2016: 3 channels in, 3 labels, levels (32,64), (64,128), (128,256), bottom (256,512), 2×2×2
up-convolutions keeping the channels (512, 256, 128), valid convolutions, BatchNorm before each ReLU.
132×132×116 → 44×44×28. Caffe's BatchNorm layer has no learnable scale or shift, so the paper configuration uses
`norm="batch_plain"` (no BN parameters): 19,070,851 parameters, all convolution weights and biases
(19,075,523 if every BN also learned γ and β: + 2 · 2,336 channels).
"""

from __future__ import annotations

from collections.abc import Sequence

from torch import Tensor, nn

from dlcanon.models.common import variant
from dlcanon.models.unet_blocks import DoubleConv, crop_and_concat, max_pool, positive_ints, up_conv

CURRICULUM = ("S1", "S2")
PAPER_LEVELS = ((64, 64), (128, 128), (256, 256), (512, 512), (1024, 1024))
PAPER_LEVELS_3D = ((32, 64), (64, 128), (128, 256), (256, 512))
# 8→128 over 5 levels: at 64×64 the bottom map is 4×4 and its 3×3 convolutions see the whole canvas; an 8-map top
# level costs a third of a 16-map one (95 vs 289 MFLOPs a 64×64 image) at the same parameter count (486 k vs 483 k)
SMALL_LEVELS = ((8, 8), (16, 16), (32, 32), (64, 64), (128, 128))
SMALL_LEVELS_3D = ((8, 16), (16, 32), (32, 64))


class UNet(nn.Module):
    """Encoder–decoder with crop-and-concatenate skips; (N, C, *s) → (N, K, *s') with s' = `output_size(s)`.

    levels: (mid, out) channels per level, the last one the bottom. padding: "valid" (paper) or "same".
    norm: "none", "batch" (learnable γ, β; convolutions without bias) or "batch_plain" (no affine).
    skips: False drops the concatenations (the decoder sees only the up-sampled path). halve_up: the
    up-convolution halves the channels (U-Net) or keeps them (3D U-Net).
    """

    def __init__(
        self,
        in_channels: int,
        num_classes: int,
        *,
        levels: Sequence[Sequence[int]] = PAPER_LEVELS,
        dims: int = 2,
        padding: str = "valid",
        norm: str = "none",
        skips: bool = True,
        halve_up: bool = True,
    ) -> None:
        super().__init__()
        if padding not in ("valid", "same"):
            raise ValueError(f"padding must be 'valid' or 'same'; got {padding!r}")
        pairs = [positive_ints("levels", level) for level in levels]
        if len(pairs) < 2 or any(len(p) != 2 for p in pairs):
            raise ValueError(f"levels must be ≥ 2 (mid, out) channel pairs; got {levels!r}")
        positive_ints("in_channels and num_classes", (in_channels, num_classes))
        self.dims, self.depth, self.valid = dims, len(pairs) - 1, padding == "valid"
        kw = dict(dims=dims, padding=0 if self.valid else 1, norm=norm)
        self.encoder = nn.ModuleList()
        c = in_channels
        for mid, out in pairs:
            self.encoder.append(DoubleConv(c, mid, out, **kw))
            c = out
        self.pool = max_pool(dims)
        self.skips = skips
        self.ups, self.decoder = nn.ModuleList(), nn.ModuleList()
        for _, out in reversed(pairs[:-1]):
            up = c // 2 if halve_up else c
            self.ups.append(up_conv(c, up, dims=dims))
            self.decoder.append(DoubleConv(up + (out if skips else 0), out, out, **kw))
            c = out
        self.head = {2: nn.Conv2d, 3: nn.Conv3d}[dims](c, num_classes, 1)

    def output_size(self, size: int) -> int:
        """Output length along one axis of length `size`; ValueError (naming the nearest valid size) if a pooled
        map would have odd length (valid convolutions) or vanish."""
        out = self._trace(size)
        if out is None:
            valid = [s for s in range(max(1, size - 64), size + 65) if self._trace(s) is not None]
            best = min(valid, key=lambda s: abs(s - size)) if valid else None
            near = f"the nearest valid size is {best}" if best else "use a larger one"
            raise ValueError(f"input size {size} does not fit this U-Net's {self.depth} poolings; {near}")
        return out

    def _trace(self, size: int) -> int | None:
        trim, n = (4 if self.valid else 0), size
        for _ in range(self.depth):
            n -= trim
            if n < 2 or (self.valid and n % 2):
                return None
            n //= 2
        n -= trim
        if n < 1:
            return None
        for _ in range(self.depth):
            n = 2 * n - trim
        return n if n >= 1 else None

    def forward(self, x: Tensor) -> Tensor:  # (N, C, *s) -> (N, K, *output_size(s))
        skips = []
        for level, block in enumerate(self.encoder):
            x = block(x)
            if level < self.depth:
                skips.append(x)
                x = self.pool(x)
        for up, block, skip in zip(self.ups, self.decoder, reversed(skips), strict=True):
            x = up(x)
            x = block(crop_and_concat(skip, x) if self.skips else x)
        return self.head(x)


def build_unet(
    input_shape: tuple[int, ...],
    num_classes: int,
    *,
    levels: Sequence[Sequence[int]] = PAPER_LEVELS,
    padding: str = "valid",
    norm: str = "none",
    skips: bool = True,
    halve_up: bool = True,
) -> UNet:
    """U-Net for images (C, H, W) or volumes (C, D, H, W): the input's rank picks 2-D or 3-D; a valid-padding
    configuration checks that every spatial size divides cleanly (else ValueError naming the nearest size)."""
    if len(input_shape) not in (3, 4):
        raise ValueError(f"U-Net takes images (C, H, W) or volumes (C, D, H, W); got input shape {input_shape}")
    if not isinstance(num_classes, int) or num_classes < 1:
        raise ValueError(f"U-Net needs a class count ≥ 1 (a label map); got {num_classes}")
    net = UNet(
        input_shape[0],
        num_classes,
        levels=levels,
        dims=len(input_shape) - 1,
        padding=padding,
        norm=norm,
        skips=skips,
        halve_up=halve_up,
    )
    for size in input_shape[1:]:
        net.output_size(size)
    return net


SEGMENT = {"objective": "segmenter"}
variant("unet", build_unet, "U-Net (Ronneberger 2015): valid convs, 64→1024, 572² → 388², 2 classes.", tags=("S1",),
        meta=SEGMENT | {"data": "digitseg", "input_shape": (1, 572, 572), "num_classes": 2})  # fmt: skip
variant("unet_bn", build_unet, "U-Net 64→1024 with padded convs and BatchNorm (output size = input size).",
        tags=("S1",), meta=SEGMENT | {"data": "digitseg", "input_shape": (1, 512, 512), "num_classes": 2},
        padding="same", norm="batch")  # fmt: skip
variant("unet_small", build_unet, "Small U-Net: padded convs, BatchNorm, 8→128 over 5 levels; for 64×64 digitseg.",
        tags=("S1",), meta=SEGMENT | {"data": "digitseg"}, levels=SMALL_LEVELS, padding="same",
        norm="batch")  # fmt: skip
variant("unet_small_noskip", build_unet, "unet_small without its skip connections (the S1 ablation).",
        tags=("S1",), meta=SEGMENT | {"data": "digitseg"}, levels=SMALL_LEVELS, padding="same", norm="batch",
        skips=False)  # fmt: skip
variant("unet3d", build_unet, "3D U-Net (Çiçek 2016): 32→512, valid convs, BN, 132×132×116 → 44×44×28, 3 labels.",
        tags=("S2",), meta=SEGMENT | {"data": "phantom3d", "input_shape": (3, 116, 132, 132), "num_classes": 3},
        levels=PAPER_LEVELS_3D, norm="batch_plain", halve_up=False)  # fmt: skip
variant("unet3d_small", build_unet, "Small 3D U-Net: padded convs, BatchNorm, 8→64 over 3 levels; for phantom3d.",
        tags=("S2",), meta=SEGMENT | {"data": "phantom3d"}, levels=SMALL_LEVELS_3D, padding="same", norm="batch",
        halve_up=False)  # fmt: skip
