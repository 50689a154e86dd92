"""On-disk data given as `FORMAT:PATH`: MNIST-style IDX, CIFAR binary, image folders, .npz archives.

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
from numpy.lib.npyio import NpzFile

from dlcanon.data.base import DataBundle, Split
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
        try:
            a = to_chw(imread(f), name=str(f))
        except UserError:
            raise
        except Exception as e:  # any decoder failure: corrupt or unreadable image
            raise UserError(f"{f}: cannot read image ({e})") from e
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


# ---------------------------------------------------------------- .npz


def _npz_arrays(path: Path) -> dict[str, np.ndarray]:
    """Every array of the archive, read with allow_pickle=False: object arrays are refused, not unpickled."""
    if not path.is_file():
        raise UserError(f"{path}: no such file" if not path.exists() else f"{path}: not a file")
    with open(path, "rb") as fh:  # our handle: closed even when np.load fails half-way
        try:
            archive = np.load(fh, allow_pickle=False)
        except ValueError as e:  # np.load's answer to a pickle file under allow_pickle=False
            raise UserError(f"{path}: not an .npz archive (pickled or unknown data is refused: {e})") from e
        except Exception as e:
            raise UserError(f"{path}: cannot read as .npz ({e})") from e
        if not isinstance(archive, NpzFile):
            raise UserError(f"{path}: holds a single array; expected an .npz archive with x and y")
        with archive:
            return {key: _npz_member(archive, key, path) for key in archive.files}


def _npz_member(archive: NpzFile, key: str, path: Path) -> np.ndarray:
    try:
        a = archive[key]
    except ValueError as e:  # object arrays need pickle: refused
        raise UserError(f"{path}: array {key!r} holds Python objects (pickle), refused: {e}") from e
    except Exception as e:
        raise UserError(f"{path}: array {key!r} is corrupt ({e})") from e
    if not (np.issubdtype(a.dtype, np.number) or a.dtype == np.bool_):
        raise UserError(f"{path}: array {key!r} has dtype {a.dtype}; expected numbers")
    return a


def _npz_x(x: np.ndarray, kind: str, path: Path, key: str) -> torch.Tensor:
    """Images: uint8 → /255; (N, H, W) → (N, 1, H, W); (N, H, W, C) with C ∈ {1, 3} → (N, C, H, W)."""
    if kind == "image":
        if x.ndim == 3:
            x = x[:, None]
        if x.ndim != 4:
            raise UserError(f"{path}: {key!r} has shape {x.shape}; images need (N, C, H, W) or (N, H, W[, C])")
        if x.shape[-1] in (1, 3) and x.shape[1] not in (1, 3):
            x = x.transpose(0, 3, 1, 2)
        if x.dtype == np.uint8:
            return torch.from_numpy(np.ascontiguousarray(x)).float().div_(255.0)
        t = torch.tensor(x, dtype=torch.float32)
        if t.numel() and not (t.min() >= 0 and t.max() <= 1):
            raise UserError(f"{path}: {key!r} float images must lie in [0, 1]; got [{t.min():g}, {t.max():g}]")
        return t
    return torch.tensor(x, dtype=torch.float32)


def _npz_y(y: np.ndarray | None, n: int, path: Path, key: str) -> torch.Tensor | None:
    if y is None:
        return None
    if y.shape != (n,):
        raise UserError(f"{path}: {key!r} has shape {y.shape}; expected ({n},) to match the samples")
    integral = np.issubdtype(y.dtype, np.floating) and bool(np.all(np.mod(y, 1) == 0))
    if not (np.issubdtype(y.dtype, np.integer) or y.dtype == np.bool_ or integral):
        raise UserError(f"{path}: {key!r} must hold integer class labels; got dtype {y.dtype}")
    if n and y.min() < 0:
        raise UserError(f"{path}: {key!r} must hold labels ≥ 0; found {y.min()}")
    return torch.tensor(y.astype(np.int64))


def _npz(fmt: str, path: Path, *, kind: str | None = None, test_fraction: float = 0.2, seed: int = 0) -> DataBundle:
    """x_train, y_train, x_test, y_test; or x[, y] split (stratified when labelled) by test_fraction and seed.

    kind: image (4-D, or 3-D uint8), signal (other 3-D), points (2-D) unless given.
    """
    a = _npz_arrays(path)
    if "x_train" in a and "x_test" in a:
        parts = [(a["x_train"], a.get("y_train"), "x_train", "y_train")]
        parts.append((a["x_test"], a.get("y_test"), "x_test", "y_test"))
    elif "x" in a:
        x, y = a["x"], a.get("y")
        if x.ndim < 2:
            raise UserError(f"{path}: 'x' has shape {x.shape}; expected (N, ...) with features")
        if y is not None and y.shape != x.shape[:1]:
            raise UserError(f"{path}: 'y' has shape {y.shape}; expected ({len(x)},)")
        if not 0 <= test_fraction < 1:
            raise UserError(f"npz: test_fraction must be in [0, 1); got {test_fraction}")
        n_test = round(test_fraction * len(x))
        if y is not None:
            tr, te = stratified_split(y, n_test, seed=seed)
        else:
            perm = np.random.default_rng(seed).permutation(len(x))
            tr, te = perm[n_test:], perm[:n_test]
        parts = [(x[i], None if y is None else y[i], "x", "y") for i in (tr, te)]
    else:
        raise UserError(f"{path}: expected arrays x, y or x_train, y_train, x_test, y_test; found {sorted(a)}")
    x0 = parts[0][0]
    if kind is None:
        image = x0.ndim == 4 or (x0.ndim == 3 and x0.dtype == np.uint8)
        kind = "image" if image else "signal" if x0.ndim == 3 else "points"
    if kind not in ("image", "signal", "points"):
        raise UserError(f"npz: kind must be image, signal or points; got {kind!r}")
    splits = []
    for x, y, kx, ky in parts:
        if x.ndim < 2:
            raise UserError(f"{path}: {kx!r} has shape {x.shape}; expected (N, ...) with features")
        splits.append(Split(_npz_x(x, kind, path, kx), _npz_y(y, len(x), path, ky)))
    if splits[0].x.shape[1:] != splits[1].x.shape[1:]:
        raise UserError(
            f"{path}: train samples are {tuple(splits[0].x.shape[1:])}, test {tuple(splits[1].x.shape[1:])}"
        )
    if (splits[0].y is None) != (splits[1].y is None):
        raise UserError(f"{path}: labels given for one split only")
    ys = [s.y for s in splits if s.y is not None and len(s.y)]
    num_classes = int(max(int(y.max()) for y in ys)) + 1 if ys else None
    return DataBundle(f"{fmt}:{path}", splits[0], splits[1], num_classes, kind)


# ---------------------------------------------------------------- the table

FORMATS: dict[str, tuple[Callable[..., DataBundle], str]] = {
    "mnist": (_idx_folder, "folder of MNIST IDX files (train-images-idx3-ubyte, ..., raw or .gz)"),
    "fashion-mnist": (_idx_folder, "folder of Fashion-MNIST IDX files (same names as MNIST)"),
    "cifar10": (_cifar, "folder of CIFAR-10 binary batches (data_batch_1.bin ... test_batch.bin)"),
    "cifar100": (_cifar, "folder of CIFAR-100 binary files (train.bin, test.bin; fine labels)"),
    "folder": (_folder_images, "image tree PATH/[train|test/]<class>/*.png|jpg, one image size"),
    "npz": (_npz, ".npz file with x, y or x_train, y_train, x_test, y_test (no pickles)"),
}


def load_format(fmt: str, path: str | Path, **kwargs: object) -> DataBundle:
    """A DataBundle from `path` read as `fmt` (one of FORMATS)."""
    if fmt not in FORMATS:
        raise UserError(f"unknown data format {fmt!r}; formats: {', '.join(sorted(FORMATS))} (as FORMAT:PATH)")
    return FORMATS[fmt][0](fmt, Path(path).expanduser(), **kwargs)
