"""Paired image-to-image tasks for pix2pix, built offline (S5): `edges2digits`, `labels2phantom`, `gray2color`.

Each split holds x = the input picture A and y = the target picture B, aligned pixel for pixel (a dense
`Target("image")`), so `data.augment` moves both with the same geometric transform.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from dlcanon.data.base import DataBundle, Split
from dlcanon.data.segmentation import phantom
from dlcanon.data.sources import _mnist5k_arrays, stratified_split
from dlcanon.data.super_resolution import TEST_SIDE, centre_crop, pictures, random_crops, tiles
from dlcanon.errors import UserError
from dlcanon.registry import DATASETS

SOBEL = torch.tensor([[-1.0, 0.0, 1.0], [-2.0, 0.0, 2.0], [-1.0, 0.0, 1.0]])
COLOUR_TRAIN = ("china", "flower", "motorcycle", "immunohistochemistry", "retina")
COLOUR_TEST = ("astronaut", "coffee", "chelsea", "rocket")


def sobel_edges(x: torch.Tensor, *, threshold: float = 0.25) -> torch.Tensor:
    """Binary edges (N, 1, H, W) of grey images: the Sobel gradient magnitude √(g_x² + g_y²) (zero padding),
    divided by each image's maximum, above `threshold`."""
    k = torch.stack([SOBEL, SOBEL.T])[:, None].to(x)  # (2, 1, 3, 3)
    g = F.conv2d(x, k, padding=1)
    magnitude = g.pow(2).sum(1, keepdim=True).sqrt()
    peak = magnitude.flatten(1).amax(1).clamp_min(1e-12).view(-1, 1, 1, 1)
    return (magnitude / peak > threshold).to(x.dtype)


@DATASETS.register(
    "edges2digits",
    kind="image",
    tags=("S5",),
    description="Sobel edges of an mnist5k digit → the digit (1×28×28), 4,000/1,000",
)
def edges2digits(*, threshold: float = 0.25) -> DataBundle:
    """A = binary Sobel edges of the digit (magnitude / its maximum > `threshold`), B = the digit; mnist5k's
    stratified 4,000/1,000 split."""
    if not isinstance(threshold, int | float) or not 0 < threshold < 1:
        raise UserError(f"edges2digits: threshold must be in (0, 1); got {threshold!r}")
    images, labels = _mnist5k_arrays()
    train, test = stratified_split(labels, 1000, seed=0)
    b = torch.from_numpy(images).float()
    a = sobel_edges(b, threshold=float(threshold))
    index = [torch.from_numpy(np.sort(i)) for i in (train, test)]
    return DataBundle("edges2digits", Split(a[index[0]], b[index[0]]), Split(a[index[1]], b[index[1]]), None, "image")


@DATASETS.register(
    "labels2phantom",
    kind="image",
    tags=("S5",),
    description="Shepp–Logan label map → the textured phantom image (phantom's data, 64×64)",
)
def labels2phantom(*, n_train: int = 512, n_test: int = 128, size: int = 64, seed: int = 0) -> DataBundle:
    """A = the `phantom` dataset's label map as one channel, label/5 ∈ {0, 0.2, …, 1}; B = its image (contrast,
    blur and noise drawn per sample: the mapping is one to many, as pix2pix's tasks are)."""
    source = phantom(n_train=n_train, n_test=n_test, size=size, seed=seed)

    def swap(split: Split) -> Split:
        return Split((split.y.float() / 5)[:, None], split.x)

    return DataBundle("labels2phantom", swap(source.train), swap(source.test), None, "image")


def luma(x: np.ndarray) -> np.ndarray:
    """(N, 3, H, W) RGB → (N, 1, H, W) BT.601 luma 0.299 R + 0.587 G + 0.114 B, in [0, 1]."""
    return (0.299 * x[:, :1] + 0.587 * x[:, 1:2] + 0.114 * x[:, 2:3]).astype(np.float32)


@DATASETS.register(
    "gray2color",
    kind="image",
    tags=("S5",),
    description="grey → colour crops of bundled photographs; 4 held-out images",
)
def gray2color(*, n_train: int = 1024, crop: int = 64, seed: int = 0) -> DataBundle:
    """B = `crop`² colour crops, A = their BT.601 luma. Train: random crops of china, flower, stereo_motorcycle
    (left), immunohistochemistry and retina; test: the central 256×256 of astronaut, coffee, chelsea and rocket
    in `crop`² tiles (never trained on)."""
    if not isinstance(n_train, int) or n_train < 1 or crop not in (32, 64, 128, 256):
        raise UserError(f"gray2color needs n_train ≥ 1 and crop in 32, 64, 128, 256; got {n_train!r}, {crop!r}")
    b_train = random_crops(COLOUR_TRAIN, n_train, crop, np.random.default_rng(seed))
    b_test = np.stack([t for name in COLOUR_TEST for t in tiles(centre_crop(pictures()[name], TEST_SIDE), crop)])
    train = Split(torch.from_numpy(luma(b_train)), torch.from_numpy(b_train))
    test = Split(torch.from_numpy(luma(b_test)), torch.from_numpy(b_test))
    return DataBundle("gray2color", train, test, None, "image")
