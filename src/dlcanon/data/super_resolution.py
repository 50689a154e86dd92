"""`sr`: single-image super-resolution pairs from bundled natural photographs, offline (S4).

Images: scikit-image's and scikit-learn's bundled pictures (grey ones repeated to three channels), split by
image, so no test pixel is ever trained on:

- test (held out, the "Set5" of this curriculum): astronaut, coffee, chelsea, rocket, camera — the central
  256×256 crop of each, cut into (256/`crop`)² tiles of `crop`×`crop` (the data contract holds one sample
  shape for both splits), image by image: with the default crop 128, rows 4i … 4i + 3 are image i's quadrants;
- train: china and flower (scikit-learn), the left view of stereo_motorcycle, immunohistochemistry, retina,
  coins, moon, clock, brick, grass, gravel and text; `n_train` random crops of `crop`×`crop` pixels, an equal
  number from each image at uniform positions (seeded by `seed`).

Low resolution: the high-resolution crop downscaled ×`scale` by antialiased bicubic (Keys' kernel, a = −0.5;
see `data.bicubic`), clamped and rounded to 8 bits, as stored LR images are.

The data contract for a pair of two sizes: x is the LR image (N, 3, h, w) and y the HR image
(N, 3, scale·h, scale·w), declared `Target("regression", (3, scale·h, scale·w))` — not a dense "image"
target, which must be aligned pixel for pixel with x. `data.augment`'s joint transforms therefore never
touch `sr` (presets set no `augment`); the SR objective cuts random aligned sub-patches of the crops and
applies the augmentations that commute exactly with the bicubic downscale (flips and 90° rotations) itself.
"""

from __future__ import annotations

import functools

import numpy as np
import torch

from dlcanon.data.base import DataBundle, Split, Target
from dlcanon.data.bicubic import downscale, quantize
from dlcanon.errors import UserError
from dlcanon.registry import DATASETS

TEST_IMAGES = ("astronaut", "coffee", "chelsea", "rocket", "camera")
TRAIN_IMAGES = ("china", "flower", "motorcycle", "immunohistochemistry", "retina", "coins", "moon", "clock",
                "brick", "grass", "gravel", "text")  # fmt: skip
TEST_SIDE = 256
SCALES = (2, 4)


def _load(name: str) -> np.ndarray:
    """One bundled picture as float32 (3, H, W) in [0, 1]."""
    if name in ("china", "flower"):
        from sklearn.datasets import load_sample_image

        image = load_sample_image(f"{name}.jpg")
    else:
        import skimage.data

        image = skimage.data.stereo_motorcycle()[0] if name == "motorcycle" else getattr(skimage.data, name)()
    image = np.asarray(image)
    if image.ndim == 2:
        image = np.repeat(image[..., None], 3, -1)
    return np.ascontiguousarray(image[..., :3].transpose(2, 0, 1)).astype(np.float32) / 255.0


@functools.lru_cache(maxsize=1)
def pictures() -> dict[str, np.ndarray]:
    """Every picture of the train and test lists, by name."""
    return {name: _load(name) for name in TEST_IMAGES + TRAIN_IMAGES}


def centre_crop(image: np.ndarray, side: int) -> np.ndarray:
    h, w = image.shape[1:]
    top, left = (h - side) // 2, (w - side) // 2
    return image[:, top : top + side, left : left + side]


def random_crops(names: tuple[str, ...], n: int, crop: int, rng: np.random.Generator) -> np.ndarray:
    """(n, 3, crop, crop): ⌈n / len(names)⌉ crops per image at uniform positions, the first n kept."""
    per = -(-n // len(names))
    out = []
    for name in names:
        image = pictures()[name]
        h, w = image.shape[1:]
        for _ in range(per):
            r, c = int(rng.integers(0, h - crop + 1)), int(rng.integers(0, w - crop + 1))
            out.append(image[:, r : r + crop, c : c + crop])
    return np.stack(out[:n])


def tiles(image: np.ndarray, side: int) -> list[np.ndarray]:
    """Non-overlapping side×side tiles of (3, H, W), row by row."""
    h, w = image.shape[1:]
    corners = [(r, c) for r in range(0, h - side + 1, side) for c in range(0, w - side + 1, side)]
    return [image[:, r : r + side, c : c + side] for r, c in corners]


def test_tiles(crop: int) -> np.ndarray:
    """(5·(256/crop)², 3, crop, crop): the held-out images' central 256×256 crops, tiled image by image."""
    return np.stack([t for name in TEST_IMAGES for t in tiles(centre_crop(pictures()[name], TEST_SIDE), crop)])


def pair(hr: torch.Tensor, scale: int) -> Split:
    """Split(x = 8-bit bicubic LR, y = HR) from HR images (N, 3, H, W)."""
    return Split(quantize(downscale(hr.double(), scale)).float(), hr.float())


@DATASETS.register(
    "sr",
    kind="image",
    tags=("S4",),
    description="super-resolution pairs: bicubic LR → HR crops of bundled photographs; 5 held out",
)
def sr(*, scale: int = 4, n_train: int = 384, crop: int = 128, seed: int = 0) -> DataBundle:
    """LR x (3, crop/scale, crop/scale) → HR y (3, crop, crop): n_train random training crops; the test split
    tiles the central 256×256 crops of the five held-out images (20 tiles at crop 128). See the module docstring."""
    if scale not in SCALES:
        raise UserError(f"sr: scale must be 2 or 4; got {scale!r}")
    if not isinstance(n_train, int) or n_train < 1 or crop not in (32, 64, 128, 256):
        raise UserError(f"sr needs n_train ≥ 1 and crop in 32, 64, 128, 256; got {n_train!r}, {crop!r}")
    rng = np.random.default_rng(seed)
    train = pair(torch.from_numpy(random_crops(TRAIN_IMAGES, n_train, crop, rng)), scale)
    test = pair(torch.from_numpy(test_tiles(crop)), scale)
    return DataBundle("sr", train, test, None, "image", Target("regression", (3, crop, crop)))
