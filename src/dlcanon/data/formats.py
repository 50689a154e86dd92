"""On-disk data given as `FORMAT:PATH`: MNIST-style IDX, CIFAR binary, image folders, .npz archives (`npz.py`).

Headers and sizes are checked before any large allocation; a missing, truncated or corrupt file is a
`UserError` that names the file and says what was expected and what was found. Nothing is unpickled.
"""

from __future__ import annotations

import gzip
import math
import struct
import zlib
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import torch

from dlcanon.data.base import DataBundle, Split
from dlcanon.data.imagefile import open_checked
from dlcanon.data.npz import load_npz
from dlcanon.data.pairfolder import load_ab, load_pairs
from dlcanon.data.segfolder import load_segfolder
from dlcanon.data.sources import stratified_split, to_chw
from dlcanon.errors import UserError

# ---------------------------------------------------------------- IDX (MNIST, Fashion-MNIST)

IDX_IMAGES = 0x00000803  # 0x08: unsigned byte, 0x03: three dimensions (N, rows, cols)
IDX_LABELS = 0x00000801  # unsigned byte, one dimension (N,)
_CHUNK = 1 << 20


def _find(folder: Path, names: Sequence[str]) -> Path:
    """The first of `names` (each also tried with .gz) present in `folder`."""
    for name in names:
        for candidate in (folder / name, folder / f"{name}.gz"):
            if candidate.is_file():
                return candidate
    raise UserError(f"{folder / names[0]}: missing file (expected {names[0]} or {names[0]}.gz in {folder})")


def _read_exactly(f, n: int, path: Path) -> bytes:
    """Exactly n bytes from a stream, read in chunks (n is never one allocation); else UserError."""
    buf = bytearray()
    try:
        while len(buf) <= n:
            chunk = f.read(min(_CHUNK, n + 1 - len(buf)))
            if not chunk:
                break
            buf += chunk
    except (OSError, EOFError, zlib.error) as e:
        raise UserError(f"{path}: corrupt or truncated compressed data ({e})") from e
    if len(buf) != n:
        got = f"{len(buf)}" if len(buf) <= n else f"more than {n}"
        raise UserError(f"{path}: header implies {n} data bytes; file holds {got} (truncated or corrupt)")
    return bytes(buf)


def _idx_header(path: Path, magic: int, ndim: int) -> tuple[tuple[int, ...], int]:
    """(dims, header bytes) after checking the magic number and that the file size matches the header:
    size = 4 + 4·ndim + ∏ dims (for .gz, checked against the gzip trailer, size mod 2³²)."""
    header = 4 + 4 * ndim
    try:
        with gzip.open(path, "rb") if path.suffix == ".gz" else open(path, "rb") as f:
            head = f.read(header)
    except (OSError, EOFError, zlib.error) as e:
        raise UserError(f"{path}: cannot read ({e})") from e
    if len(head) < 4:
        raise UserError(f"{path}: {len(head)} bytes, too short for an IDX header (expected ≥ {header})")
    got = int.from_bytes(head[:4], "big")
    if got != magic:
        raise UserError(f"{path}: wrong IDX magic number 0x{got:08x}; expected 0x{magic:08x}")
    if len(head) < header:
        raise UserError(f"{path}: truncated IDX header: {len(head)} bytes, expected {header}")
    dims = struct.unpack(f">{ndim}I", head[4:])
    total = header + math.prod(dims)
    if path.suffix == ".gz":
        with open(path, "rb") as f:
            f.seek(0, 2)
            if f.tell() < 18:
                raise UserError(f"{path}: truncated gzip file ({f.tell()} bytes)")
            f.seek(-4, 2)
            isize = int.from_bytes(f.read(4), "little")  # uncompressed size mod 2³²
        if isize != total % 2**32:
            raise UserError(f"{path}: header {dims} implies {total} bytes uncompressed; gzip holds {isize}")
    else:
        size = path.stat().st_size
        if size != total:
            raise UserError(f"{path}: header {dims} implies {total} bytes; file has {size} (truncated or corrupt)")
    return dims, header


def _idx_data(path: Path, dims: tuple[int, ...], header: int) -> np.ndarray:
    n = math.prod(dims)
    with gzip.open(path, "rb") if path.suffix == ".gz" else open(path, "rb") as f:
        f.read(header)
        data = _read_exactly(f, n, path)
    return np.frombuffer(data, np.uint8).reshape(dims)


def _idx_pair(images: Path, labels: Path, num_classes: int) -> Split:
    """One split from IDX images (N, rows, cols) and labels (N,): x/255 as float32 (N, 1, rows, cols)."""
    image_dims, image_head = _idx_header(images, IDX_IMAGES, 3)
    label_dims, label_head = _idx_header(labels, IDX_LABELS, 1)
    if image_dims[0] != label_dims[0]:
        raise UserError(f"{labels}: {label_dims[0]} labels, but {images} holds {image_dims[0]} images")
    if image_dims[0] == 0:
        raise UserError(f"{images}: holds no images")
    if 0 in image_dims[1:]:
        raise UserError(f"{images}: images of {image_dims[1]}×{image_dims[2]} pixels; expected at least 1×1")
    y = _idx_data(labels, label_dims, label_head)
    _check_labels(y, num_classes, labels)
    x = _idx_data(images, image_dims, image_head)
    xt = torch.from_numpy(x.copy()).unsqueeze(1).float().div_(255.0)
    return Split(xt, torch.from_numpy(y.astype(np.int64)))


def _check_labels(y: np.ndarray, num_classes: int, path: Path, what: str = "labels") -> None:
    bad = np.flatnonzero(y >= num_classes)
    if len(bad):
        raise UserError(
            f"{path}: {what} must be in 0..{num_classes - 1}; found {int(y[bad[0]])} at record {int(bad[0])}"
        )


def _idx_folder(fmt: str, path: Path) -> DataBundle:
    """MNIST-style folder: train-/t10k- images-idx3-ubyte and labels-idx1-ubyte, raw or .gz (also in raw/)."""
    folder = _folder(path)
    if not any(folder.glob("train-images*")) and (folder / "raw").is_dir():
        folder = folder / "raw"  # torchvision's layout MNIST/raw/

    def names(stem: str, kind: str) -> tuple[str, ...]:
        return (f"{stem}-{kind}-ubyte", f"{stem}.{kind}-ubyte")  # the second: a common mirror's spelling

    splits = [
        _idx_pair(_find(folder, names(f"{s}-images", "idx3")), _find(folder, names(f"{s}-labels", "idx1")), 10)
        for s in ("train", "t10k")
    ]
    return DataBundle(f"{fmt}:{path}", splits[0], splits[1], 10, "image")


# ---------------------------------------------------------------- CIFAR binary

_PIXELS = 3 * 32 * 32  # one record: label byte(s), then R, G, B planes of 32×32, row-major


def _folder(path: Path) -> Path:
    if not path.is_dir():
        raise UserError(f"{path}: not a folder" if path.exists() else f"{path}: no such folder")
    return path


def _cifar_file(path: Path, classes: Sequence[int]) -> Split:
    """Records of len(classes) label bytes + 3072 pixel bytes; the last label byte is the class."""
    record = len(classes) + _PIXELS
    size = path.stat().st_size
    if size == 0 or size % record:
        raise UserError(
            f"{path}: {size} bytes is not a whole number of {record}-byte CIFAR records (truncated/corrupt)"
        )
    raw = np.fromfile(path, np.uint8).reshape(-1, record)
    for i, (k, what) in enumerate(zip(classes, ("coarse labels", "labels")[-len(classes) :], strict=True)):
        _check_labels(raw[:, i], k, path, what)
    x = torch.from_numpy(raw[:, len(classes) :].copy()).view(-1, 3, 32, 32).float().div_(255.0)
    return Split(x, torch.from_numpy(raw[:, len(classes) - 1].astype(np.int64)))


def _cifar(fmt: str, path: Path) -> DataBundle:
    """CIFAR-10 (data_batch_1..5.bin, test_batch.bin) or CIFAR-100 (train.bin, test.bin, fine labels)."""
    folder = _folder(path)
    if fmt == "cifar10":
        sub, test_names, classes = "cifar-10-batches-bin", ["test_batch.bin"], (10,)
        train_names = [f"data_batch_{i}.bin" for i in range(1, 6)]
    else:
        sub, train_names, test_names, classes = "cifar-100-binary", ["train.bin"], ["test.bin"], (20, 100)
    if not (folder / test_names[0]).exists() and (folder / sub).is_dir():
        folder = folder / sub

    def load(names: list[str]) -> Split:
        parts = []
        for name in names:
            if not (folder / name).is_file():
                raise UserError(f"{folder / name}: missing file (expected {', '.join(names)} in {folder})")
            parts.append(_cifar_file(folder / name, classes))
        return Split(torch.cat([p.x for p in parts]), torch.cat([p.y for p in parts]))

    return DataBundle(f"{fmt}:{path}", load(train_names), load(test_names), classes[-1], "image")


# ---------------------------------------------------------------- image folder

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg")


def _class_files(root: Path) -> dict[str, list[Path]]:
    """{class name: sorted image files} for root/<class>/*.png|jpg|jpeg, hidden folders skipped."""
    classes = {}
    for d in sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")):
        files = sorted(f for f in d.iterdir() if f.is_file() and f.suffix.lower() in IMAGE_SUFFIXES)
        if files:
            classes[d.name] = files
    if not classes:
        raise UserError(f"{root}: no class folders with .png/.jpg images (expected {root}/<class>/*.png)")
    return classes


def _read_images(files: Sequence[Path]) -> torch.Tensor:
    """(N, C, H, W) float32 in [0, 1]; every image must have the first one's shape."""
    from skimage.io import imread

    out, first = None, None
    for i, f in enumerate(files):
        stream = open_checked(f)
        try:
            a = to_chw(imread(stream), name=str(f))
        except UserError:
            raise
        except Exception as e:  # any decoder failure: corrupt or unreadable image
            raise UserError(f"{f}: cannot read image ({' '.join(str(e).split())})") from e
        if out is None:
            out, first = np.empty((len(files), *a.shape), np.float32), f
        elif a.shape != out.shape[1:]:
            raise UserError(
                f"{f}: image is {tuple(a.shape)} (C, H, W), expected {tuple(out.shape[1:])} like {first}; "
                "folder: needs all images in one size and channel count (resize them first)"
            )
        out[i] = a
    return torch.from_numpy(out)


def _folder_images(fmt: str, path: Path, *, test_fraction: float = 0.2, seed: int = 0) -> DataBundle:
    """PATH/train/<class>/*, PATH/test/<class>/*; or PATH/<class>/* split stratified (test_fraction, seed)."""
    root = _folder(path)
    if (root / "train").is_dir() != (root / "test").is_dir():
        raise UserError(f"{root}: has one of train/ and test/ but not the other (expected both, or neither)")
    if (root / "train").is_dir():
        train, test = _class_files(root / "train"), _class_files(root / "test")
        names = sorted(train)
        extra = sorted(set(test) - set(train))
        if extra:
            raise UserError(f"{root / 'test' / extra[0]}: class {extra[0]!r} has no training images")
    else:
        classes = _class_files(root)
        names = sorted(classes)
        files = [f for c in names for f in classes[c]]
        labels = np.array([i for i, c in enumerate(names) for _ in classes[c]])
        if not 0 <= test_fraction < 1:
            raise UserError(f"folder: test_fraction must be in [0, 1); got {test_fraction}")
        tr, te = stratified_split(labels, round(test_fraction * len(files)), seed=seed)
        train, test = {c: [] for c in names}, {c: [] for c in names}
        for groups, index in ((train, tr), (test, te)):
            for i in sorted(index):
                groups[names[labels[i]]].append(files[i])

    def split(groups: dict[str, list[Path]]) -> Split:
        files = [f for c in names for f in groups.get(c, [])]
        y = torch.tensor([k for k, c in enumerate(names) for _ in groups.get(c, [])], dtype=torch.int64)
        return Split(_read_images(files) if files else torch.zeros(0), y)

    train_split, test_split = split(train), split(test)
    if len(test_split) == 0:
        test_split = Split(torch.zeros(0, *train_split.x.shape[1:]), test_split.y)
    elif test_split.x.shape[1:] != train_split.x.shape[1:]:
        raise UserError(
            f"{root / 'test'}: images are {tuple(test_split.x.shape[1:])}, training images "
            f"{tuple(train_split.x.shape[1:])}; folder needs one size"
        )
    return DataBundle(f"{fmt}:{path}", train_split, test_split, len(names), "image")


# ---------------------------------------------------------------- the table

FORMATS: dict[str, tuple[Callable[..., DataBundle], str]] = {
    "mnist": (_idx_folder, "folder of MNIST IDX files (train-images-idx3-ubyte, ..., raw or .gz)"),
    "fashion-mnist": (_idx_folder, "folder of Fashion-MNIST IDX files (same names as MNIST)"),
    "cifar10": (_cifar, "folder of CIFAR-10 binary batches (data_batch_1.bin ... test_batch.bin)"),
    "cifar100": (_cifar, "folder of CIFAR-100 binary files (train.bin, test.bin; fine labels)"),
    "folder": (_folder_images, "image tree PATH/[train|test/]<class>/*.png|jpg, one image size"),
    "npz": (load_npz, ".npz file with x, y or x_train, y_train, x_test, y_test (no pickles)"),
    "segfolder": (load_segfolder, "PATH/[train|test/]images/ + masks/ with matching names (PNG, TIFF, .npy)"),
    "pairs": (load_pairs, "image pairs PATH/[train|test/]A/ + B/ with matching names (pix2pix)"),
    "ab": (load_ab, "pix2pix's side-by-side pairs PATH/[train|test/]*.png|jpg, A left, B right"),
}


def load_format(fmt: str, path: str | Path, **kwargs: object) -> DataBundle:
    """A DataBundle from `path` read as `fmt` (one of FORMATS)."""
    if fmt not in FORMATS:
        raise UserError(f"unknown data format {fmt!r}; formats: {', '.join(sorted(FORMATS))} (as FORMAT:PATH)")
    return FORMATS[fmt][0](fmt, Path(path).expanduser(), **kwargs)
