"""UNet++ (Zhou, Rahman Siddiquee, Tajbakhsh & Liang, 2018): nested, densely connected skips (S2).

Nodes X^{i,j}, i the down-sampling level (0 = full resolution), j the column:
    X^{i,0} = H(pool(X^{i−1,0}))                                   (the backbone; X^{0,0} = H(x))
    X^{i,j} = H([X^{i,0}, …, X^{i,j−1}, Up(X^{i+1,j−1})])          j ≥ 1
H: two 3×3 convolutions with ReLU (and dropout in the authors' code), Up: a 2×2 up-convolution to level i's
width. Deep supervision puts a 1×1 head on each of X^{0,1}, …, X^{0,depth}; the loss averages them.
Pruned inference at depth L computes only the nodes with i + j ≤ L and answers with the head on X^{0,L}.

The configuration of the authors' code (MrGiovanni/UNetPlusPlus, `Nest_Net`): depth 4, filters 32, 64, 128,
256, 512, 1 input channel, 1 output map, padded convolutions with bias, dropout 0.5 after each convolution,
no normalisation. 9,041,601 parameters with one head, as their summary prints; 9,041,700 with the four deep-
supervision heads (+ 3 · (32 + 1)).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor, nn

from dlcanon.models.common import variant
from dlcanon.models.unet_blocks import DoubleConv, conv, max_pool, positive_ints, up_conv

CURRICULUM = ("S2",)
AUTHORS_FILTERS = (32, 64, 128, 256, 512)


class UNetPlusPlus(nn.Module):
    """(N, C, *s) → in training with deep supervision a tuple of scores (X^{0,depth} head first, then
    X^{0,depth−1}, …, X^{0,1}), each (N, K, *s); otherwise the scores of the head on X^{0,prune or depth}.

    Spatial sizes must be multiples of 2^depth (padded convolutions; the nested nodes add maps of equal size).
    """

    def __init__(
        self,
        in_channels: int,
        num_classes: int,
        *,
        filters: Sequence[int] = AUTHORS_FILTERS,
        dims: int = 2,
        deep_supervision: bool = True,
        dropout: float = 0.5,
        norm: str = "none",
    ) -> None:
        super().__init__()
        f = positive_ints("filters", filters)
        if len(f) < 2:
            raise ValueError(f"filters needs ≥ 2 levels; got {filters!r}")
        if not 0 <= dropout < 1:
            raise ValueError(f"dropout must be in [0, 1); got {dropout}")
        positive_ints("in_channels and num_classes", (in_channels, num_classes))
        self.depth, self.deep_supervision, self.prune = len(f) - 1, deep_supervision, 0
        kw = dict(dims=dims, padding=1, norm=norm, dropout=dropout)
        self.nodes = nn.ModuleDict()  # "i,j" -> H
        self.ups = nn.ModuleDict()  # "i,j" -> Up(X^{i+1,j−1}) to level i's width
        for i in range(self.depth + 1):
            self.nodes[f"{i},0"] = DoubleConv(in_channels if i == 0 else f[i - 1], f[i], f[i], **kw)
        for j in range(1, self.depth + 1):
            for i in range(self.depth + 1 - j):
                self.ups[f"{i},{j}"] = up_conv(f[i + 1], f[i], dims=dims)
                self.nodes[f"{i},{j}"] = DoubleConv((j + 1) * f[i], f[i], f[i], **kw)
        columns = range(1, self.depth + 1) if deep_supervision else (self.depth,)
        self.heads = nn.ModuleDict({str(j): conv(dims)(f[0], num_classes, 1) for j in columns})
        self.pool = max_pool(dims)

    def set_prune(self, depth: int) -> None:
        """Answer with X^{0,depth} at inference (0: the full depth); needs the deep-supervision heads."""
        if not 0 <= depth <= self.depth:
            raise ValueError(f"prune depth must be in 0..{self.depth}; got {depth}")
        if depth and str(depth) not in self.heads:
            raise ValueError("pruned inference needs the deep-supervision heads (deep_supervision=True)")
        self.prune = depth

    def nodes_to(self, x: Tensor, depth: int) -> dict[tuple[int, int], Tensor]:
        """Every node X^{i,j} with i + j ≤ depth (the network pruned to `depth` computes no other)."""
        X: dict[tuple[int, int], Tensor] = {(0, 0): self.nodes["0,0"](x)}
        for i in range(1, depth + 1):  # the backbone, as deep as the pruned network needs
            X[i, 0] = self.nodes[f"{i},0"](self.pool(X[i - 1, 0]))
        for j in range(1, depth + 1):
            for i in range(depth + 1 - j):
                inputs = [X[i, k] for k in range(j)] + [self.ups[f"{i},{j}"](X[i + 1, j - 1])]
                X[i, j] = self.nodes[f"{i},{j}"](torch.cat(inputs, 1))
        return X

    def supervised(self, x: Tensor) -> tuple[Tensor, ...]:
        """The scores of every head: X^{0,depth} first, then X^{0,depth−1}, …, X^{0,1}."""
        X = self.nodes_to(x, self.depth)
        return tuple(self.heads[str(j)](X[0, j]) for j in range(self.depth, 0, -1) if str(j) in self.heads)

    def forward(self, x: Tensor) -> Tensor | tuple[Tensor, ...]:
        if self.training and self.deep_supervision:
            return self.supervised(x)
        depth = self.prune or self.depth
        return self.heads[str(depth)](self.nodes_to(x, depth)[0, depth])


def build_unetpp(
    input_shape: tuple[int, ...],
    num_classes: int,
    *,
    filters: Sequence[int] = AUTHORS_FILTERS,
    deep_supervision: bool = True,
    dropout: float = 0.5,
    norm: str = "none",
) -> UNetPlusPlus:
    """UNet++ for images (C, H, W) or volumes (C, D, H, W); spatial sizes must be multiples of 2^depth."""
    if len(input_shape) not in (3, 4):
        raise ValueError(f"UNet++ takes images (C, H, W) or volumes (C, D, H, W); got input shape {input_shape}")
    if not isinstance(num_classes, int) or num_classes < 1:
        raise ValueError(f"UNet++ needs a class count ≥ 1 (a label map); got {num_classes}")
    net = UNetPlusPlus(input_shape[0], num_classes, filters=filters, dims=len(input_shape) - 1,
                       deep_supervision=deep_supervision, dropout=dropout, norm=norm)  # fmt: skip
    step = 2**net.depth
    if any(s % step for s in input_shape[1:]):
        raise ValueError(f"UNet++ of depth {net.depth} needs spatial sizes divisible by {step}; got {input_shape[1:]}")
    return net


SEGMENT = {"objective": "segmenter"}
variant("unetpp", build_unetpp, "UNet++ (Zhou 2018), authors' code: depth 4, 32→512, 1 map out, deep supervision.",
        tags=("S2",), meta=SEGMENT | {"data": "digitseg", "input_shape": (1, 96, 96), "num_classes": 1})  # fmt: skip
variant("unetpp_small", build_unetpp, "Small UNet++: depth 3, 16→128, BatchNorm, no dropout; for 64×64 digitseg.",
        tags=("S2",), meta=SEGMENT | {"data": "digitseg"}, filters=(16, 32, 64, 128), dropout=0.0,
        norm="batch")  # fmt: skip
