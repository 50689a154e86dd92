"""Paired images from disk for pix2pix (S5): `pairs:PATH` (folders A/ and B/ with matching names) and `ab:PATH`
(pix2pix's side-by-side format: each file holds A on the left half and B on the right).

Layouts: PATH/train/… and PATH/test/…, or everything under PATH split at random (`test_fraction`, `seed`).
Images (PNG, JPEG, anything PIL reads) become float32 (C, H, W) in [0, 1]; grey stays one channel, RGBA drops
alpha. Every pair must have one size throughout; a missing partner, a size mismatch or an unreadable file is
one UserError line naming the file.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from dlcanon.data.base import DataBundle, Split
from dlcanon.data.imagefile import open_checked
from dlcanon.errors import UserError

SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff"}


def read_image(path: Path) -> np.ndarray:
    """(C, H, W) float32 in [0, 1] from an image file; UserError if PIL cannot read it."""
    from PIL import Image

    stream = open_checked(path)
    try:
        with Image.open(stream) as im:
            im = im.convert("L") if im.mode in ("L", "1", "I;16", "I", "F") else im.convert("RGB")
            a = np.asarray(im, dtype=np.float32) / 255.0
    except Exception as e:  # any decoder failure: OSError, UnidentifiedImageError, SyntaxError, ValueError, ...
        raise UserError(f"{path}: not a readable image ({' '.join(str(e).split())})") from None
    return a[None] if a.ndim == 2 else np.ascontiguousarray(a.transpose(2, 0, 1))


def _images(folder: Path) -> dict[str, Path]:
    if not folder.is_dir():
        raise UserError(f"{folder}: missing folder")
    return {p.stem: p for p in sorted(folder.iterdir()) if p.suffix.lower() in SUFFIXES}


def _stack(arrays: list[np.ndarray], names: list[str], folder: Path) -> torch.Tensor:
    shape = arrays[0].shape
    for a, name in zip(arrays, names, strict=True):
        if a.shape != shape:
            raise UserError(f"{folder / name}: size {a.shape} differs from {names[0]}'s {shape}; pairs need one size")
    return torch.from_numpy(np.stack(arrays))


def folder_pairs(root: Path) -> Split:
    """root/A/* and root/B/* matched by file name (without suffix)."""
    a, b = _images(root / "A"), _images(root / "B")
    if set(a) != set(b):
        name = sorted(set(a) ^ set(b))[0]
        side, other = ("A", "B") if name in a else ("B", "A")
        raise UserError(f"{root / side / name}: no file of that name in {root / other}")
    if not a:
        raise UserError(f"{root}: A/ and B/ hold no images")
    names = sorted(a)
    xa, xb = [read_image(a[n]) for n in names], [read_image(b[n]) for n in names]
    for n, pa, pb in zip(names, xa, xb, strict=True):
        if pa.shape[1:] != pb.shape[1:]:
            raise UserError(f"{b[n]}: {pb.shape[2]}×{pb.shape[1]} but its A image is {pa.shape[2]}×{pa.shape[1]}")
    return Split(_stack(xa, names, root / "A"), _stack(xb, names, root / "B"))


def side_by_side(root: Path, *, direction: str = "AtoB") -> Split:
    """Files whose left half is A and right half is B (B → A when direction is BtoA)."""
    files = _images(root)
    if not files:
        raise UserError(f"{root}: no images")
    halves = []
    for path in files.values():
        image = read_image(path)
        w = image.shape[-1]
        if w % 2:
            raise UserError(f"{path}: width {w} is odd; the AB format puts A and B side by side, equal halves")
        halves.append((image[..., : w // 2], image[..., w // 2 :]))
    names = list(files)
    a, b = _stack([h[0] for h in halves], names, root), _stack([h[1] for h in halves], names, root)
    return Split(a, b) if direction == "AtoB" else Split(b, a)


def _bundle(fmt: str, path: Path, read, test_fraction: float, seed: int) -> DataBundle:
    root = Path(path)
    if not root.is_dir():
        raise UserError(f"{root}: no such folder" if not root.exists() else f"{root}: not a folder")
    if (root / "train").is_dir():
        train, test = read(root / "train"), read(root / "test")
        if train.x.shape[1:] != test.x.shape[1:] or train.y.shape[1:] != test.y.shape[1:]:
            got, want = (
                (tuple(test.x.shape[1:]), tuple(test.y.shape[1:])),
                (tuple(train.x.shape[1:]), tuple(train.y.shape[1:])),
            )
            raise UserError(
                f"{root / 'test'}: pairs {got[0]} → {got[1]}, training pairs {want[0]} → {want[1]}; one size is needed"
            )
    else:
        if not isinstance(test_fraction, int | float) or not 0 <= test_fraction < 1:
            raise UserError(f"{fmt}: test_fraction must be in [0, 1); got {test_fraction!r}")
        every = read(root)
        order = torch.from_numpy(np.random.default_rng(seed).permutation(len(every)))
        k = round(test_fraction * len(every))
        train, test = every.subset(order[k:]), every.subset(order[:k])
    return DataBundle(f"{fmt}:{path}", train, test, None, "image")


def load_pairs(fmt: str, path: Path, *, test_fraction: float = 0.2, seed: int = 0) -> DataBundle:
    """PATH/[train|test/]A/ and B/ with matching names: x = A, y = B."""
    return _bundle(fmt, path, folder_pairs, test_fraction, seed)


def load_ab(fmt: str, path: Path, *, direction: str = "AtoB", test_fraction: float = 0.2, seed: int = 0) -> DataBundle:
    """PATH/[train|test/]*.png|jpg, each A|B side by side (pix2pix's format); `direction` AtoB or BtoA."""
    if direction not in ("AtoB", "BtoA"):
        raise UserError(f"ab: direction must be AtoB or BtoA; got {direction!r}")
    return _bundle(fmt, path, lambda root: side_by_side(root, direction=direction), test_fraction, seed)
