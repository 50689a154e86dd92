"""The U-Net topology nnU-Net v2 derives from a spacing and a patch size, and its feature-map memory estimate.

Isensee et al. 2021, "nnU-Net: a self-configuring method for deep learning-based biomedical image segmentation"
(Nature Methods 18, 203–211; arXiv:1809.10486). The rules are those of nnU-Net v2's `network_topology.py` and of
`compute_conv_feature_map_size` in dynamic-network-architectures (`PlainConvUNet`), re-derived here:

- Pooling: at each step, pool (stride 2) every axis whose current edge is ≥ 2·m (m = 4, the smallest bottleneck
  edge) and whose current spacing is < 2× the smallest spacing among those axes; a lone candidate axis pools only
  while its edge is ≥ 3·m. Pooling doubles an axis' spacing and halves its edge (rounded up).
- Kernels: an axis gets a 3-wide kernel once its spacing is within 2× the smallest spacing, 1 before that; the
  bottleneck always has 3s.
- The patch is padded up to a multiple of 2^(pools of the axis) on every axis.
- Memory: the number of feature-map elements the convolutions write, ∑ channels × voxels over the encoder's
  convolutions, the decoder's convolutions, its transposed convolutions and the final 1×1 head (no deep
  supervision heads).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

MIN_EDGE = 4  # nnU-Net's UNet_featuremap_min_edge_length: no bottleneck edge below 4
BASE_FEATURES = 32
MAX_FEATURES_2D, MAX_FEATURES_3D = 512, 320
CONVS_PER_STAGE = 2


@dataclass(frozen=True)
class Topology:
    """A U-Net's shape: `strides[0]` is all ones (the first stage does not pool), `kernel_sizes` has one entry per
    stage (the bottleneck's is all threes), `patch_size` is padded to a multiple of `divisor` on every axis."""

    pools_per_axis: tuple[int, ...]
    strides: tuple[tuple[int, ...], ...]
    kernel_sizes: tuple[tuple[int, ...], ...]
    patch_size: tuple[int, ...]
    divisor: tuple[int, ...]

    @property
    def n_stages(self) -> int:
        return len(self.strides)


def pad_to_multiple(size: Sequence[float], divisor: Sequence[int]) -> tuple[int, ...]:
    """The smallest multiple of each divisor that is ≥ the size: d·⌈s/d⌉ (a size may be a median, such as 127.5)."""
    return tuple(int(d * math.ceil(s / d)) for s, d in zip(size, divisor, strict=True))


def pool_and_kernel_sizes(
    spacing: Sequence[float], patch_size: Sequence[float], *, min_edge: int = MIN_EDGE, max_pools: int = 999999
) -> Topology:
    """nnU-Net v2's pooling and kernel rule (see the module docstring) for one spacing and an initial patch."""
    dim = len(spacing)
    if len(patch_size) != dim:
        raise ValueError(f"spacing has {dim} axes but the patch has {len(patch_size)}")
    spacing_now = [float(s) for s in spacing]
    edge_now = [float(p) for p in patch_size]
    pools = [0] * dim
    kernel = [1] * dim
    strides: list[tuple[int, ...]] = [(1,) * dim]
    kernels: list[tuple[int, ...]] = []
    while True:
        big_enough = [a for a in range(dim) if edge_now[a] >= 2 * min_edge]
        if not big_enough:
            break
        finest = min(spacing_now[a] for a in big_enough)
        chosen = [a for a in big_enough if spacing_now[a] / finest < 2 and pools[a] < max_pools]
        if not chosen or (len(chosen) == 1 and edge_now[chosen[0]] < 3 * min_edge):
            break
        finest_all = min(spacing_now)
        kernel = [3 if k == 3 or spacing_now[a] / finest_all < 2 else 1 for a, k in enumerate(kernel)]
        for a in chosen:
            pools[a] += 1
            spacing_now[a] *= 2
            edge_now[a] = math.ceil(edge_now[a] / 2)
        strides.append(tuple(2 if a in chosen else 1 for a in range(dim)))
        kernels.append(tuple(kernel))
    kernels.append((3,) * dim)
    divisor = tuple(2**p for p in pools)
    return Topology(tuple(pools), tuple(strides), tuple(kernels), pad_to_multiple(patch_size, divisor), divisor)


def features_per_stage(n_stages: int, dim: int, *, base: int = BASE_FEATURES) -> tuple[int, ...]:
    """32, 64, 128, ... channels, capped at 512 (2-D) or 320 (3-D)."""
    cap = MAX_FEATURES_2D if dim == 2 else MAX_FEATURES_3D
    return tuple(min(cap, base * 2**i) for i in range(n_stages))


def feature_map_size(
    patch_size: Sequence[int],
    strides: Sequence[Sequence[int]],
    *,
    features: Sequence[int],
    num_classes: int,
    convs_encoder: int = CONVS_PER_STAGE,
    convs_decoder: int = CONVS_PER_STAGE,
) -> int:
    """Feature-map elements a PlainConvUNet writes for one sample (dynamic-network-architectures' estimate).

    With sizes n_s = ⌊n_{s−1} / stride_s⌋ (n_{-1} = patch) and F_s channels at stage s of S:
        encoder  ∑_{s<S} convs_enc · F_s · |n_s|
        decoder  ∑_{s<S−1} (convs_dec + 1) · F_s · |n_s|      (+1: the transposed convolution's output)
        head     num_classes · |n_0|
    """
    if len(strides) != len(features):
        raise ValueError(f"{len(strides)} strides for {len(features)} stages")
    sizes: list[tuple[int, ...]] = []
    size = tuple(int(p) for p in patch_size)
    for stride in strides:
        size = tuple(n // s for n, s in zip(size, stride, strict=True))
        sizes.append(size)
    voxels = [math.prod(s) for s in sizes]
    encoder = sum(convs_encoder * f * v for f, v in zip(features, voxels, strict=True))
    decoder = sum((convs_decoder + 1) * f * v for f, v in zip(features[:-1], voxels[:-1], strict=True))
    return encoder + decoder + num_classes * voxels[0]


def deep_supervision_weights(n_stages: int) -> tuple[float, ...]:
    """Loss weights of the decoder's outputs, full resolution first: 1/2^i, the lowest-resolution output dropped,
    normalised to sum 1 (nnU-Net's trainer). nnU-Net has S − 1 outputs for S stages and zeroes the last one, so a
    2-stage network gets 0/0 = NaN weights (nnUNet#2670); here a single output keeps weight 1.
    """
    if n_stages < 1:
        raise ValueError(f"a U-Net has at least 1 stage; got {n_stages}")
    outputs = max(n_stages - 1, 1)
    raw = [1 / 2**i for i in range(outputs)]
    if outputs > 1:
        raw[-1] = 0.0
    total = sum(raw)
    return tuple(w / total for w in raw)
