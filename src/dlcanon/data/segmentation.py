"""Segmentation tasks with exact labels, built offline from bundled data (S1–S3): `digitseg`, `phantom`,
`phantom3d`. Labels are exact by construction: the image is drawn from the label map, never the reverse.
"""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F

from dlcanon.data.base import DataBundle, Split
from dlcanon.data.geometric import draw_affine, draw_deform
from dlcanon.data.sources import _mnist5k_arrays, stratified_split
from dlcanon.errors import UserError
from dlcanon.registry import DATASETS

CURRICULUM = ("S1", "S2", "S3")

# ---------------------------------------------------------------- digitseg


def _ink_box(digit: np.ndarray) -> tuple[slice, slice]:
    rows, cols = np.flatnonzero(digit.any(1)), np.flatnonzero(digit.any(0))
    return slice(rows[0], rows[-1] + 1), slice(cols[0], cols[-1] + 1)


def compose_digits(
    images: np.ndarray, labels: np.ndarray, pool: np.ndarray, n: int, *, size: int, max_digits: int,
    rng: np.random.Generator,
) -> tuple[np.ndarray, np.ndarray, list[list[int]]]:  # fmt: skip
    """n canvases (n, 1, size, size), label maps (n, size, size) and, per canvas, the indices of the digits used.

    Each canvas takes k ~ U{1..max_digits} digits drawn from `pool` without replacement; a digit's ink box (its
    pixels > 0) goes to a uniform position where it overlaps no box already placed (100 tries, else the canvas
    keeps fewer digits). Label = digit class + 1 where the digit's pixel > 0.5, else 0.
    """
    x = np.zeros((n, 1, size, size), np.float32)
    y = np.zeros((n, size, size), np.int64)
    sources: list[list[int]] = []
    for i in range(n):
        taken = np.zeros((size, size), bool)
        used = []
        for index in rng.choice(pool, size=int(rng.integers(1, max_digits + 1)), replace=False):
            rs, cs = _ink_box(images[index])
            patch = images[index][rs, cs]
            h, w = patch.shape
            for _ in range(100):
                r, c = int(rng.integers(0, size - h + 1)), int(rng.integers(0, size - w + 1))
                if not taken[r : r + h, c : c + w].any():
                    taken[r : r + h, c : c + w] = True
                    x[i, 0, r : r + h, c : c + w] = patch
                    y[i, r : r + h, c : c + w] = np.where(patch > 0.5, labels[index] + 1, 0)
                    used.append(int(index))
                    break
        sources.append(used)
    return x, y, sources


def digitseg_splits(
    *, n_train: int, n_test: int, size: int, max_digits: int, seed: int
) -> tuple[DataBundle, list[list[int]], list[list[int]]]:
    """The bundle and the mnist5k indices behind every canvas (train canvases from mnist5k's 4,000 training
    digits only, test canvases from its 1,000 test digits only: the split of `mnist5k`)."""
    if n_train < 1 or n_test < 1 or not 1 <= max_digits <= 3 or size < 28:
        raise UserError(f"digitseg needs n_train, n_test ≥ 1, max_digits in 1..3 and size ≥ 28; got "
                        f"{n_train}, {n_test}, {max_digits}, {size}")  # fmt: skip
    images, labels = _mnist5k_arrays()
    images = images[:, 0]
    train_pool, test_pool = stratified_split(labels, 1000, seed=0)
    parts = []
    for split, (n, pool) in enumerate(((n_train, train_pool), (n_test, test_pool))):
        rng = np.random.default_rng([seed, split])
        parts.append(compose_digits(images, labels, np.sort(pool), n, size=size, max_digits=max_digits, rng=rng))
    (xa, ya, sa), (xb, yb, sb) = parts
    train, test = Split(torch.from_numpy(xa), torch.from_numpy(ya)), Split(torch.from_numpy(xb), torch.from_numpy(yb))
    return DataBundle("digitseg", train, test, 11, "image"), sa, sb


@DATASETS.register("digitseg", kind="image", tags=("S1",),
                   description="64×64 canvases of 1–3 mnist5k digits; labels: digit class + 1, 0 background")
def digitseg(
    *, n_train: int = 2000, n_test: int = 500, size: int = 64, max_digits: int = 3, seed: int = 0
) -> DataBundle:
    """Canvases (1, size, size) of 1–max_digits non-overlapping mnist5k digits; y (size, size) = class + 1 where
    the digit's pixel > 0.5, else 0 (11 classes). Train canvases use training digits only, test canvases test
    digits only. Deterministic in the arguments."""
    return digitseg_splits(n_train=n_train, n_test=n_test, size=size, max_digits=max_digits, seed=seed)[0]


# ---------------------------------------------------------------- phantom (2-D)


def _gaussian_blur(x: torch.Tensor, sigma: torch.Tensor) -> torch.Tensor:
    """Per-sample separable Gaussian blur of (N, 1, H, W), σ (N,) in pixels, kernel radius ⌈3·max σ⌉, reflect."""
    radius = max(1, math.ceil(3 * float(sigma.max())))
    t = torch.arange(-radius, radius + 1, dtype=x.dtype)
    k = torch.exp(-(t[None] ** 2) / (2 * sigma[:, None] ** 2))
    k = (k / k.sum(1, keepdim=True))[:, None, None]  # (N, 1, 1, K)
    n = x.shape[0]
    z = F.pad(x.transpose(0, 1), (radius, radius, radius, radius), mode="reflect")  # (1, N, H + 2r, W + 2r)
    z = F.conv2d(z, k, groups=n)
    z = F.conv2d(z, k.transpose(2, 3), groups=n)
    return z.transpose(0, 1)


def phantom_levels() -> tuple[np.ndarray, np.ndarray]:
    """(label map (400, 400) int64, the intensity of each class): the Shepp–Logan phantom of scikit-image has six
    intensity levels, 0, 0.098, 0.2, 0.298, 0.4 and 1; class c is level c."""
    import skimage.data

    p = skimage.data.shepp_logan_phantom()
    levels = np.unique(p)
    return np.searchsorted(levels, p).astype(np.int64), levels.astype(np.float32)


def _phantom_split(n: int, size: int, rng: torch.Generator, base: torch.Tensor, levels: torch.Tensor) -> Split:
    labels = base.expand(n, 1, size, size).clone()
    labels = draw_affine(labels, rng, degrees=15.0, scale=0.15, shear=5.0, shift=0.05)(labels, mode="nearest")
    labels = draw_deform(labels, rng, size=0.15, smoothness=4.0)(labels, mode="nearest")
    y = labels[:, 0].round().long()
    x = levels[y][:, None]  # the clean image: each class at its level
    u = torch.rand(n, 5, generator=rng)
    gamma, gain, offset = 0.6 + 0.8 * u[:, 0], 0.7 + 0.3 * u[:, 1], 0.1 * u[:, 2]  # contrast change
    x = offset.view(-1, 1, 1, 1) + gain.view(-1, 1, 1, 1) * x.pow(gamma.view(-1, 1, 1, 1))
    x = _gaussian_blur(x, 0.3 + 0.9 * u[:, 3])
    x = x + (0.01 + 0.04 * u[:, 4]).view(-1, 1, 1, 1) * torch.randn(x.shape, generator=rng)
    return Split(x.clamp(0.0, 1.0).contiguous(), y)


@DATASETS.register("phantom", kind="image", tags=("S1",),
                   description="Shepp–Logan phantom, random affine + elastic warps, contrast, blur, noise; 6 classes")
def phantom(*, n_train: int = 512, n_test: int = 128, size: int = 64, seed: int = 0) -> DataBundle:
    """scikit-image's Shepp–Logan phantom at size × size (nearest), its six intensity levels the classes, under a
    random affine map (±15°, scale ±15 %, shear ±5°, shift ±5 %) and an elastic deformation (‖∇τ‖∞ = 0.15),
    both applied to the label map (nearest) before the image is drawn from it; then a contrast change
    (x ↦ b + a·x^γ, γ ∈ [0.6, 1.4]), a Gaussian blur (σ ∈ [0.3, 1.2] px) and noise (σ ∈ [0.01, 0.05])."""
    if n_train < 1 or n_test < 1 or size < 16:
        raise UserError(f"phantom needs n_train, n_test ≥ 1 and size ≥ 16; got {n_train}, {n_test}, {size}")
    full, levels = phantom_levels()
    index = ((np.arange(size) + 0.5) * full.shape[0] / size).astype(int)
    base = torch.from_numpy(full[np.ix_(index, index)]).float()[None, None]
    splits = []
    for split, n in enumerate((n_train, n_test)):
        rng = torch.Generator().manual_seed(int(np.random.SeedSequence([seed, split]).generate_state(1)[0]))
        splits.append(_phantom_split(n, size, rng, base, torch.from_numpy(levels)))
    return DataBundle("phantom", splits[0], splits[1], len(levels), "image")


# ---------------------------------------------------------------- phantom3d

# Kak & Slaney, Principles of Computerized Tomographic Imaging (1988), p. 102: the 3-D Shepp–Logan head.
# Half-axes (a, b, c), centre (x0, y0, z0), rotation φ (degrees) about the z-axis, density.
KAK_SLANEY = (
    (0.6900, 0.920, 0.900, 0.00, 0.000, 0.000, 0, 2.00),
    (0.6624, 0.874, 0.880, 0.00, 0.000, 0.000, 0, -0.98),
    (0.4100, 0.160, 0.210, -0.22, 0.000, -0.250, 108, -0.02),
    (0.3100, 0.110, 0.220, 0.22, 0.000, -0.250, 72, -0.02),
    (0.2100, 0.250, 0.500, 0.00, 0.350, -0.250, 0, 0.02),
    (0.0460, 0.046, 0.046, 0.00, 0.100, -0.250, 0, 0.02),
    (0.0460, 0.023, 0.020, -0.08, -0.650, -0.250, 0, 0.01),
    (0.0460, 0.023, 0.020, 0.06, -0.650, -0.250, 90, 0.01),
    (0.0560, 0.040, 0.100, 0.06, -0.105, 0.625, 90, 0.02),
    (0.0560, 0.056, 0.100, 0.00, 0.100, 0.625, 0, -0.02),
)
# The same geometry with the contrast raised for visibility (Yu, Ye & Wang, 2004): the default here.
YU_YE_WANG = (1.0, -0.8, -0.2, -0.2, 0.2, 0.2, 0.1, 0.1, 0.2, -0.2)


def ellipsoid_labels(points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For points (…, 3) as (x, y, z) in [−1, 1]³: the label (1 + index of the last ellipsoid of the table that
    contains the point, 0 outside every one) and the membership mask (…, 10)."""
    inside = []
    for a, b, c, x0, y0, z0, phi, _ in KAK_SLANEY:
        t = math.radians(phi)
        dx, dy, dz = points[..., 0] - x0, points[..., 1] - y0, points[..., 2] - z0
        u, v = math.cos(t) * dx + math.sin(t) * dy, -math.sin(t) * dx + math.cos(t) * dy
        inside.append((u / a) ** 2 + (v / b) ** 2 + (dz / c) ** 2 <= 1.0)
    member = np.stack(inside, -1)
    last = len(KAK_SLANEY) - np.argmax(member[..., ::-1], -1)  # 1 + index of the last True
    return np.where(member.any(-1), last, 0).astype(np.int64), member


def _phantom3d_split(n: int, size: int, anisotropy: int, densities: np.ndarray, noise: float,
                     rng: np.random.Generator) -> Split:  # fmt: skip
    centres = (np.arange(size) + 0.5) / size * 2 - 1
    z, yy, xx = np.meshgrid(centres[::anisotropy], centres, centres, indexing="ij")  # (D, H, W)
    grid = np.stack([xx, -yy, z], -1)  # y up, as the table draws it
    xs, ys = [], []
    for _ in range(n):
        angle = math.radians(rng.uniform(-10, 10))
        rot = np.array([[math.cos(angle), -math.sin(angle), 0], [math.sin(angle), math.cos(angle), 0], [0, 0, 1]])
        p = grid @ (rot / rng.uniform(0.9, 1.1)).T + rng.uniform(-0.05, 0.05, 3)
        label, member = ellipsoid_labels(p)
        image = (member * densities).sum(-1)
        xs.append(np.clip(image + noise * rng.standard_normal(image.shape), 0, 1)[None])
        ys.append(label)
    return Split(torch.tensor(np.stack(xs), dtype=torch.float32), torch.from_numpy(np.stack(ys)))


@DATASETS.register("phantom3d", kind="volume", tags=("S2",),
                   description="3-D Shepp–Logan (Kak & Slaney) volumes, a class per ellipsoid, noise, anisotropy")
def phantom3d(*, n_train: int = 48, n_test: int = 16, size: int = 32, anisotropy: int = 1, noise: float = 0.05,
              contrast: str = "yu_ye_wang", seed: int = 0) -> DataBundle:  # fmt: skip
    """Volumes (1, size/anisotropy, size, size) of the 3-D Shepp–Logan head under a random rotation about z
    (±10°), scale (±10 %) and shift (±0.05), labels computed from the ellipsoid equations at each voxel centre
    (11 classes: 0 outside, c = 1 + index of the last ellipsoid containing the voxel; the two smallest may
    miss every voxel at small sizes). Intensity = the sum of the densities ("yu_ye_wang" or "kak_slaney"/2),
    plus Gaussian noise, clipped to [0, 1]. `anisotropy` k keeps every k-th slice along D (spacing k : 1 : 1)."""
    if n_train < 1 or n_test < 1 or size < 8 or anisotropy < 1 or size % anisotropy or noise < 0:
        raise UserError(f"phantom3d needs n_train, n_test ≥ 1, size ≥ 8, anisotropy ≥ 1 dividing size and noise ≥ 0; "
                        f"got {n_train}, {n_test}, {size}, {anisotropy}, {noise}")  # fmt: skip
    tables = {"yu_ye_wang": np.array(YU_YE_WANG), "kak_slaney": np.array([e[-1] for e in KAK_SLANEY]) / 2}
    if contrast not in tables:
        raise UserError(f"phantom3d contrast must be one of {', '.join(tables)}; got {contrast!r}")
    splits = [
        _phantom3d_split(n, size, anisotropy, tables[contrast], noise, np.random.default_rng([seed, split]))
        for split, n in enumerate((n_train, n_test))
    ]
    return DataBundle("phantom3d", splits[0], splits[1], len(KAK_SLANEY) + 1, "volume")
