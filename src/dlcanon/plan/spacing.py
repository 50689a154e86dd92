"""Target spacing, axis order and resampled shapes: nnU-Net v2's rules (Isensee et al. 2021, arXiv:1809.10486).

- Target spacing: the per-axis median of the cases' spacings. When one axis is strongly anisotropic — its median
  spacing > 3× the largest other one AND its median edge × 3 < the smallest other edge — that axis takes the 10th
  percentile of its spacings instead (never below the largest other spacing: then that + 1e-5).
- Transpose: the coarsest axis goes first, the others keep their order (2-D configurations plan the last two).
- Resampled shape of a case: round(old spacing / new spacing × old edge) per axis (round half to even).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

ANISOTROPY = 3.0  # nnU-Net's ANISO_THRESHOLD


def target_spacing(spacings: Sequence[Sequence[float]], shapes: Sequence[Sequence[int]]) -> np.ndarray:
    """The full-resolution target spacing (median, with the anisotropy rule of the module docstring)."""
    all_spacings = np.asarray(spacings, dtype=np.float64)  # (cases, axes)
    target = np.percentile(all_spacings, 50, axis=0)
    median_edge = np.percentile(np.asarray(shapes, dtype=np.float64), 50, axis=0)
    coarse = int(np.argmax(target))
    others = [a for a in range(len(target)) if a != coarse]
    if not others:
        return target
    largest_other = max(target[a] for a in others)
    anisotropic_spacing = target[coarse] > ANISOTROPY * largest_other
    few_voxels = median_edge[coarse] * ANISOTROPY < min(median_edge[a] for a in others)
    if anisotropic_spacing and few_voxels:
        tenth = np.percentile(all_spacings[:, coarse], 10)
        if tenth < largest_other:
            tenth = max(largest_other, tenth) + 1e-5
        target[coarse] = tenth
    return target


def singleton_axis(shapes: Sequence[Sequence[int]]) -> int | None:
    """The axis along which every case has one voxel (2-D images stored as 3-D volumes), if any."""
    flat = [a for a in range(len(shapes[0])) if all(int(s[a]) == 1 for s in shapes)]
    return flat[0] if flat else None


def transpose(spacing: Sequence[float], *, first: int | None = None) -> tuple[list[int], list[int]]:
    """(forward, backward): the axis `first` (default: the coarsest spacing) moves to the front."""
    lead = int(np.argmax(spacing)) if first is None else first
    forward = [lead] + [a for a in range(len(spacing)) if a != lead]
    backward = [forward.index(a) for a in range(len(spacing))]
    return forward, backward


def resampled_shape(shape: Sequence[int], spacing: Sequence[float], *, new_spacing: Sequence[float]) -> list[int]:
    """round(spacing / new_spacing × edge) on every axis."""
    return [round(float(s / t * n)) for n, s, t in zip(shape, spacing, new_spacing, strict=True)]
