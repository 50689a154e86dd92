"""Segmentation data on disk as `segfolder:PATH`: PATH/images/ and PATH/masks/ with matching names (or
PATH/train/{images,masks} and PATH/test/{images,masks}); PNG, TIFF or .npy files.

Every image needs a mask of the same (H, W) holding integer labels in 0..K−1; anything else is a one-line
`UserError` naming the file, raised while loading, before anything trains. .npy files are read by
`npyfile` (no pickles; declared sizes checked against the file).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from dlcanon.data.base import DataBundle, Split
from dlcanon.data.imagefile import open_checked
from dlcanon.data.npyfile import load_npy
from dlcanon.data.sources import to_chw
from dlcanon.errors import UserError

SUFFIXES = (".png", ".tif", ".tiff", ".npy")


def _files(folder: Path) -> dict[str, Path]:
    """{stem: file} for the PNG/TIFF/.npy files of a folder; two files with one stem are an error."""
    if not folder.is_dir():
        raise UserError(f"{folder}: no such folder (segfolder needs images/ and masks/ side by side)")
    out: dict[str, Path] = {}
    for f in sorted(folder.iterdir()):
        if f.is_file() and f.suffix.lower() in SUFFIXES and not f.name.startswith("."):
            if f.stem in out:
                raise UserError(f"{f}: two files named {f.stem!r} in {folder} ({out[f.stem].name} and {f.name})")
            out[f.stem] = f
    return out


def _read(path: Path) -> np.ndarray:
    if path.suffix.lower() == ".npy":
        return load_npy(path)
    stream = open_checked(path)
    try:
        from skimage.io import imread

        return imread(stream)
    except Exception as e:  # any decoder failure: corrupt, unreadable or pickled
        raise UserError(f"{path}: cannot read ({' '.join(str(e).split())})") from e


def _mask(path: Path, shape: tuple[int, ...], num_classes: int) -> np.ndarray:
    """A label map (H, W) int64 the size of its image; integer values in 0..num_classes − 1 (≥ 0 if 0)."""
    m = _read(path)
    if m.ndim == 3 and m.shape[2] == 1:
        m = m[..., 0]
    if m.ndim != 2:
        raise UserError(f"{path}: a mask must be one label per pixel (H, W); got shape {m.shape}")
    if tuple(m.shape) != shape:
        raise UserError(f"{path}: mask is {m.shape[0]}×{m.shape[1]}, its image is {shape[0]}×{shape[1]}")
    if m.dtype == np.bool_:
        m = m.astype(np.int64)
    if np.issubdtype(m.dtype, np.floating):
        if not np.isfinite(m).all() or (m != np.round(m)).any():
            raise UserError(f"{path}: mask values must be integer labels; found non-integer floats")
    elif not np.issubdtype(m.dtype, np.integer):
        raise UserError(f"{path}: mask dtype {m.dtype} is not an integer label type")
    if m.size and m.min() < 0:
        raise UserError(f"{path}: mask labels must be ≥ 0; found {m.min()}")
    if num_classes and m.size and m.max() >= num_classes:
        raise UserError(f"{path}: mask labels must be in 0..{num_classes - 1} (num_classes={num_classes}); "
                        f"found {m.max()}")
    return m.astype(np.int64)


def _pairs(root: Path, num_classes: int) -> Split:
    images, masks = _files(root / "images"), _files(root / "masks")
    if not images:
        raise UserError(f"{root / 'images'}: no .png, .tif or .npy images")
    missing = sorted(set(images) - set(masks))
    if missing:
        raise UserError(f"{images[missing[0]]}: no mask named {missing[0]}.png|.tif|.npy in {root / 'masks'}")
    extra = sorted(set(masks) - set(images))
    if extra:
        raise UserError(f"{masks[extra[0]]}: a mask without an image in {root / 'images'}")
    xs, ys, first = [], [], None
    for stem in sorted(images):
        x = to_chw(_read(images[stem]), name=str(images[stem]))
        if first is not None and x.shape != xs[0].shape:
            raise UserError(f"{images[stem]}: image is {x.shape} (C, H, W), expected {xs[0].shape} like {first}")
        first = first or images[stem]
        xs.append(x)
        ys.append(_mask(masks[stem], x.shape[1:], num_classes))
    return Split(torch.from_numpy(np.stack(xs)), torch.from_numpy(np.stack(ys)))


def load_segfolder(fmt: str, path: Path, *, num_classes: int = 0, test_fraction: float = 0.2,
                   seed: int = 0) -> DataBundle:  # fmt: skip
    """PATH/{train,test}/{images,masks}, or PATH/{images,masks} split at random (test_fraction, seed).

    num_classes: K (labels must lie in 0..K−1); 0 takes K = the largest label + 1 (at least 2)."""
    root = Path(path)
    if num_classes < 0 or num_classes == 1:
        raise UserError(f"segfolder: num_classes must be 0 (from the masks) or ≥ 2; got {num_classes}")
    if not root.is_dir():
        raise UserError(f"{root}: no such folder" if not root.exists() else f"{root}: not a folder")
    if (root / "train").is_dir():
        train, test = _pairs(root / "train", num_classes), _pairs(root / "test", num_classes)
        if train.x.shape[1:] != test.x.shape[1:]:
            raise UserError(f"{root / 'test'}: images are {tuple(test.x.shape[1:])}, training images "
                            f"{tuple(train.x.shape[1:])}; segfolder needs one size")  # fmt: skip
    else:
        if not 0 <= test_fraction < 1:
            raise UserError(f"segfolder: test_fraction must be in [0, 1); got {test_fraction}")
        every = _pairs(root, num_classes)
        order = torch.from_numpy(np.random.default_rng(seed).permutation(len(every)))
        k = round(test_fraction * len(every))
        train, test = every.subset(order[k:]), every.subset(order[:k])
    top = int(max(train.y.max(), test.y.max() if len(test) else 0))
    return DataBundle(f"{fmt}:{path}", train, test, num_classes or max(2, top + 1), "image")
