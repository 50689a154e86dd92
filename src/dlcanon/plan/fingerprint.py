"""A dataset fingerprint in the manner of nnU-Net v2's `DatasetFingerprintExtractor`, for a dlcanon DataBundle.

Per training case: the spacing, the shape after cropping to the bounding box of nonzero voxels (over all
channels), the cropped/original voxel ratio; per channel the foreground intensity statistics (voxels whose label
is > 0). 2-D images (C, H, W) are stored as one-slice volumes (1, H, W) with spacing (999, 1, 1), nnU-Net's
convention for natural images.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

from dlcanon.data.base import DataBundle
from dlcanon.plan.planner import DatasetInfo, Fingerprint

FLAT_SPACING = 999.0


def _nonzero_box(x: torch.Tensor) -> tuple[int, ...]:
    """Shape of the bounding box of nonzero voxels of x (C, *spatial); the whole image when all are zero."""
    nonzero = (x != 0).any(0)
    if not nonzero.any():
        return tuple(x.shape[1:])
    out = []
    for axis in range(nonzero.dim()):
        others = tuple(a for a in range(nonzero.dim()) if a != axis)
        hit = nonzero.any(dim=others) if others else nonzero
        idx = torch.nonzero(hit).flatten()
        out.append(int(idx[-1] - idx[0] + 1))
    return tuple(out)


def _intensities(values: np.ndarray) -> dict[str, float]:
    if values.size == 0:
        values = np.zeros(1)
    p = np.percentile(values, [50, 0.5, 99.5])
    return {"max": float(values.max()), "mean": float(values.mean()), "median": float(p[0]),
            "min": float(values.min()), "percentile_00_5": float(p[1]), "percentile_99_5": float(p[2]),
            "std": float(values.std())}  # fmt: skip


def fingerprint_bundle(
    bundle: DataBundle, *, spacing: Sequence[float] | None = None, channel_name: str = "image"
) -> tuple[Fingerprint, DatasetInfo]:
    """(fingerprint, dataset.json fields) of a segmentation bundle's training split.

    spacing: per spatial axis (D, H, W) for volumes, default 1; images always get (999, 1, 1).
    """
    if bundle.target.kind != "mask" or bundle.kind not in ("image", "volume"):
        raise ValueError(f"planning needs images or volumes with label maps; {bundle.name} holds "
                         f"{bundle.kind}s with {bundle.target.kind} targets")  # fmt: skip
    x, y = bundle.train.x, bundle.train.y
    flat = bundle.kind == "image"
    if flat:
        case_spacing = (FLAT_SPACING, 1.0, 1.0)
    else:
        case_spacing = tuple(float(s) for s in (spacing or (1.0, 1.0, 1.0)))
        if len(case_spacing) != 3 or not all(s > 0 for s in case_spacing):
            raise ValueError(f"a volume needs 3 positive spacings (D, H, W); got {list(case_spacing)}")
    shapes, relative = [], []
    for case in x:
        box = _nonzero_box(case)
        relative.append(float(np.prod(box)) / float(np.prod(case.shape[1:])))
        shapes.append((1, *box) if flat else box)
    foreground = y > 0  # (N, *spatial)
    channels = x.shape[1]
    props = {str(c): _intensities(x[:, c][foreground].double().numpy()) for c in range(channels)}
    fingerprint = Fingerprint(tuple([case_spacing] * len(x)), tuple(shapes), float(np.median(relative)), props)
    labels = {"background": 0, **{f"class_{k}": k for k in range(1, int(bundle.num_classes or 2))}}
    names = {str(c): channel_name for c in range(channels)}
    return fingerprint, DatasetInfo(bundle.name, names, labels, len(x), ".png" if flat else ".nii.gz")
