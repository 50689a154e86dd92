"""Every on-disk reader, fed hundreds of corrupted files, either loads or raises a one-line UserError.

For each format a small valid file set is written, then mutated one file at a time: truncated, bit-flipped,
wrong magic, huge declared sizes, wrong dtypes, mismatched counts, out-of-range labels and masks, unmatched
names. Each variant must load (a flipped pixel is still an image) or end in `UserError` with one line; no
other exception, no hang (an alarm), and no allocation beyond what the file justifies (tracemalloc's peak,
which sees every numpy buffer, and no MemoryError behind the message). Seeded: the same variants every run.
"""

from __future__ import annotations

import gzip
import io
import pickle
import signal
import struct
import tracemalloc
import zipfile
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pytest
import skimage.io  # noqa: F401  (imported here: the decoders' import is not the readers' allocation)
from PIL import Image

from dlcanon.data.formats import load_format
from dlcanon.errors import UserError

SEED = 18
RANDOM_VARIANTS = 40  # random byte-level mutations per format, on top of the structured cases
MiB = 1 << 20


class Hang(Exception):
    pass


@contextmanager
def alarm(seconds: int) -> Iterator[None]:
    """Fail instead of hanging: SIGALRM after `seconds` raises Hang inside the reader."""

    def ring(signum, frame):
        raise Hang(f"no answer after {seconds} s")

    previous = signal.signal(signal.SIGALRM, ring)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


def outcome(fmt: str, root: Path, **kwargs) -> str:
    """'loaded' or 'refused'; any other exception, a multi-line message or an outsized allocation fails."""
    size = sum(p.stat().st_size for p in root.rglob("*") if p.is_file()) if root.is_dir() else root.stat().st_size
    tracemalloc.start()
    try:
        with alarm(20):
            load_format(fmt, root, **kwargs)
        result = "loaded"
    except UserError as e:
        message = str(e)
        assert message and "\n" not in message, f"{fmt}: not one line: {message!r}"
        chain, cause = [], e.__cause__ or e.__context__
        while cause is not None:
            chain.append(cause)
            cause = cause.__cause__ or cause.__context__
        assert not any(isinstance(c, MemoryError) for c in chain), f"{fmt}: tried a huge allocation: {message}"
        result = "refused"
    finally:
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    # float32 of uint8 pixels is 4× the bytes, compressed formats decode to more; nothing declared counts
    assert peak <= 64 * size + 8 * MiB, f"{fmt}: {peak} bytes allocated for {size} bytes on disk"
    return result


# ---------------------------------------------------------------- byte-level mutations


def truncate(b: bytes, rng: np.random.Generator) -> bytes:
    return b[: int(rng.integers(0, max(1, len(b))))]


def flip(b: bytes, rng: np.random.Generator) -> bytes:
    a = bytearray(b)
    for _ in range(int(rng.integers(1, 5))):
        if a:
            i = int(rng.integers(0, len(a)))
            a[i] ^= 1 << int(rng.integers(0, 8))
    return bytes(a)


def flip_head(b: bytes, rng: np.random.Generator) -> bytes:
    """A flip within the first 64 bytes: headers, magic numbers, declared sizes."""
    head = flip(b[:64], rng)
    return head + b[64:]


def garbage(b: bytes, rng: np.random.Generator) -> bytes:
    return rng.integers(0, 256, int(rng.integers(0, 2 * len(b) + 2)), dtype=np.uint8).tobytes()


def append(b: bytes, rng: np.random.Generator) -> bytes:
    return b + rng.integers(0, 256, int(rng.integers(1, 64)), dtype=np.uint8).tobytes()


def splice(b: bytes, rng: np.random.Generator) -> bytes:
    i, j = sorted(int(v) for v in rng.integers(0, len(b) + 1, 2))
    return b[:i] + b[j:] + b[i:j]


MUTATIONS = (truncate, flip, flip_head, garbage, append, splice, lambda b, rng: b"")


def fuzz_files(fmt: str, root: Path, rng: np.random.Generator, n: int, **kwargs) -> dict[str, int]:
    """n random mutations, each of one file of the set, restored afterwards; counts of each outcome."""
    files = sorted(p for p in root.rglob("*") if p.is_file())
    counts = {"loaded": 0, "refused": 0}
    for _ in range(n):
        target = files[int(rng.integers(0, len(files)))]
        original = target.read_bytes()
        target.write_bytes(MUTATIONS[int(rng.integers(0, len(MUTATIONS)))](original, rng))
        try:
            counts[outcome(fmt, root, **kwargs)] += 1
        finally:
            target.write_bytes(original)
    return counts


@contextmanager
def replaced(path: Path, data: bytes | None) -> Iterator[None]:
    """`path` holds `data` (None: removed) inside the block; the original afterwards."""
    original = path.read_bytes() if path.exists() else None
    if data is None:
        path.unlink()
    else:
        path.write_bytes(data)
    try:
        yield
    finally:
        if original is None:
            path.unlink(missing_ok=True)
        else:
            path.write_bytes(original)


def refused(fmt: str, root: Path, path: Path, data: bytes | None, **kwargs) -> None:
    with replaced(path, data):
        assert outcome(fmt, root, **kwargs) == "refused", f"{path.name}: accepted a broken file"


# ---------------------------------------------------------------- IDX (raw and .gz)


def idx(magic: int, dims: tuple[int, ...], data: bytes) -> bytes:
    return struct.pack(f">I{len(dims)}I", magic, *dims) + data


def write_mnist(root: Path, rng: np.random.Generator, compress: bool) -> None:
    root.mkdir()
    for stem, n in (("train", 6), ("t10k", 4)):
        images = idx(0x803, (n, 5, 4), rng.integers(0, 256, n * 20, dtype=np.uint8).tobytes())
        labels = idx(0x801, (n,), rng.integers(0, 10, n, dtype=np.uint8).tobytes())
        for name, b in ((f"{stem}-images-idx3-ubyte", images), (f"{stem}-labels-idx1-ubyte", labels)):
            if compress:
                (root / f"{name}.gz").write_bytes(gzip.compress(b, mtime=0))
            else:
                (root / name).write_bytes(b)


@pytest.mark.parametrize("compress", [False, True], ids=["raw", "gz"])
def test_idx_reader_refuses_corrupt_files_in_one_line(tmp_path, compress):
    rng = np.random.default_rng(SEED)
    root = tmp_path / "mnist"
    write_mnist(root, rng, compress)
    assert outcome("mnist", root) == "loaded"
    suffix = ".gz" if compress else ""
    images, labels = root / f"train-images-idx3-ubyte{suffix}", root / f"train-labels-idx1-ubyte{suffix}"
    pack = (lambda b: gzip.compress(b, mtime=0)) if compress else (lambda b: b)
    pixels = bytes(6 * 20)
    cases = {
        "wrong magic": (images, pack(idx(0x801, (6, 5, 4), pixels))),
        "foreign magic": (images, pack(b"\x89PNG" + bytes(8) + pixels)),
        "huge count (2^31 images)": (images, pack(idx(0x803, (2**31, 5, 4), pixels))),
        "huge image (2^16 × 2^16)": (images, pack(idx(0x803, (1, 2**16, 2**16), b""))),
        "all dims maximal": (images, pack(idx(0x803, (2**32 - 1,) * 3, pixels))),
        "header only": (images, pack(idx(0x803, (6, 5, 4), b""))),
        "zero-size images": (images, pack(idx(0x803, (6, 0, 0), b""))),
        "no images": (images, pack(idx(0x803, (0, 5, 4), b""))),
        "fewer labels": (labels, pack(idx(0x801, (5,), bytes(5)))),
        "label 10": (labels, pack(idx(0x801, (6,), bytes([0, 1, 2, 10, 3, 4])))),
        "label 255": (labels, pack(idx(0x801, (6,), bytes([255] * 6)))),
        "huge label count": (labels, pack(idx(0x801, (2**31,), bytes(6)))),
        "wrong dtype (int32 labels)": (labels, pack(struct.pack(">II", 0x00000C01, 6) + bytes(24))),
        "labels given as images": (labels, pack(idx(0x803, (6, 5, 4), pixels))),
        "empty file": (images, b""),
        "missing file": (labels, None),
    }
    if compress:
        good = images.read_bytes()
        cases["gzip trailer cut"] = (images, good[:-4])
        cases["gzip size forged"] = (images, good[:-4] + struct.pack("<I", 16 + 6 * 20 + 1))
        cases["gzip crc broken"] = (images, good[:-8] + bytes(4) + good[-4:])
        cases["not gzip"] = (images, idx(0x803, (6, 5, 4), pixels))
        cases["gzip of 2^32 + 16 bytes declared, 16 held"] = (images, pack(idx(0x803, (1, 2**16, 2**16), b"")))
    for name, (path, data) in cases.items():
        with replaced(path, data):
            assert outcome("mnist", root) == "refused", name
    counts = fuzz_files("mnist", root, rng, RANDOM_VARIANTS * 2)
    assert counts["refused"] > 0


# ---------------------------------------------------------------- CIFAR binary


def write_cifar(root: Path, rng: np.random.Generator, labels: tuple[int, ...]) -> list[Path]:
    root.mkdir()
    names = [f"data_batch_{i}.bin" for i in range(1, 6)] + ["test_batch.bin"] if len(labels) == 1 else [
        "train.bin", "test.bin"]  # fmt: skip
    for name in names:
        records = [
            bytes(int(rng.integers(0, k)) for k in labels) + rng.integers(0, 256, 3072, dtype=np.uint8).tobytes()
            for _ in range(2)
        ]
        (root / name).write_bytes(b"".join(records))
    return [root / n for n in names]


@pytest.mark.parametrize(("fmt", "labels"), [("cifar10", (10,)), ("cifar100", (20, 100))])
def test_cifar_reader_refuses_corrupt_files_in_one_line(tmp_path, fmt, labels):
    rng = np.random.default_rng(SEED)
    root = tmp_path / fmt
    files = write_cifar(root, rng, labels)
    assert outcome(fmt, root) == "loaded"
    record = len(labels) + 3072
    good = files[0].read_bytes()
    cases = {
        "half a record": good[: record // 2],
        "one byte short": good[:-1],
        "one byte over": good + b"\0",
        "empty": b"",
        "label out of range": bytes([200] * len(labels)) + good[len(labels) :],
        "coarse label out of range": bytes([99] + [0] * (len(labels) - 1)) + good[len(labels) :],
    }
    if len(labels) == 1:
        cases.pop("coarse label out of range")
    for name, data in cases.items():
        refused(fmt, root, files[0], data)
        assert name
    refused(fmt, root, files[-1], None)
    counts = fuzz_files(fmt, root, rng, RANDOM_VARIANTS)
    assert counts["refused"] > 0


# ---------------------------------------------------------------- images: PNG bytes, shared by three readers


def png(a: np.ndarray) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(a).save(buf, format="PNG")
    return buf.getvalue()


def png_declaring(width: int, height: int) -> bytes:
    """A PNG whose header (with a valid CRC) declares width × height RGB pixels, with one tiny IDAT chunk."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(bytes(64))) + chunk(b"IEND", b"")


def image_cases(rng: np.random.Generator, shape: tuple[int, ...]) -> dict[str, bytes]:
    """Broken or mismatched images for a reader whose images are `shape` (H, W[, C]) uint8."""
    good = png(rng.integers(0, 256, shape, dtype=np.uint8))
    bigger = png(rng.integers(0, 256, (shape[0] + 2, shape[1] + 2, *shape[2:]), dtype=np.uint8))
    return {
        "truncated PNG": good[: len(good) // 2],
        "PNG header only": good[:33],
        "text named .png": b"not an image\n",
        "empty file": b"",
        "another size": bigger,
        "header declaring 2^31 pixels": png_declaring(2**16, 2**15),
        "header declaring 65535 × 65535": png_declaring(65535, 65535),
        "header declaring 8000 × 8000, below PIL's bomb limit": png_declaring(8000, 8000),
        "header declaring 0 × 0": png_declaring(0, 0),
        "a pickle named .png": pickle.dumps({"x": [1, 2, 3]}),
    }


def write_png(path: Path, rng: np.random.Generator, shape: tuple[int, ...]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(png(rng.integers(0, 256, shape, dtype=np.uint8)))


# ---------------------------------------------------------------- image folders


def test_folder_reader_refuses_corrupt_images_in_one_line(tmp_path):
    rng = np.random.default_rng(SEED)
    root = tmp_path / "folder"
    for c in ("cat", "dog"):
        for i in range(3):
            write_png(root / c / f"{i}.png", rng, (6, 5, 3))
    assert outcome("folder", root, test_fraction=0.34) == "loaded"
    for name, data in image_cases(rng, (6, 5, 3)).items():
        with replaced(root / "dog" / "1.png", data):
            assert outcome("folder", root, test_fraction=0.34) == "refused", name
    with replaced(root / "dog" / "1.png", png(rng.integers(0, 256, (6, 5), dtype=np.uint8))):  # grey among RGB
        assert outcome("folder", root, test_fraction=0.34) == "refused"
    counts = fuzz_files("folder", root, rng, RANDOM_VARIANTS, test_fraction=0.34)
    assert counts["refused"] > 0


# ---------------------------------------------------------------- npz


def npz_bytes(**arrays: np.ndarray) -> bytes:
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    return buf.getvalue()


def npy_header(shape: tuple[int, ...], descr: str = "|u1") -> bytes:
    """A version-1.0 .npy header declaring `shape` of `descr`."""
    text = f"{{'descr': '{descr}', 'fortran_order': False, 'shape': {shape!r}, }}"
    text += " " * (63 - (len(text) + 10) % 64) + "\n"
    return b"\x93NUMPY\x01\x00" + struct.pack("<H", len(text)) + text.encode()


def npz_raw(members: dict[str, bytes], compress: bool = False) -> bytes:
    """A zip of .npy members given as bytes (headers that may lie about their data)."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED if compress else zipfile.ZIP_STORED) as z:
        for name, data in members.items():
            z.writestr(f"{name}.npy", data)
    return buf.getvalue()


def npy(a: np.ndarray) -> bytes:
    buf = io.BytesIO()
    np.save(buf, a)
    return buf.getvalue()


def test_npz_reader_refuses_corrupt_archives_in_one_line(tmp_path):
    rng = np.random.default_rng(SEED)
    path = tmp_path / "data.npz"
    x = rng.integers(0, 256, (10, 6, 6), dtype=np.uint8)
    y = np.arange(10) % 3
    path.write_bytes(npz_bytes(x=x, y=y))
    assert outcome("npz", path) == "loaded"
    huge = npy_header((2**31, 6, 6)) + x.tobytes()
    cases = {
        "huge declared x": npz_raw({"x": huge, "y": npy(y)}),
        "huge declared x, deflated": npz_raw({"x": huge, "y": npy(y)}, compress=True),
        "huge declared y": npz_raw({"x": npy(x), "y": npy_header((2**40,), "<i8")}),
        "declared 2^62 floats": npz_raw({"x": npy_header((2**31, 2**31), "<f8"), "y": npy(y)}),
        "negative shape": npz_raw({"x": npy_header((-1, 6, 6)), "y": npy(y)}),
        "header lies short": npz_raw({"x": npy_header((20, 6, 6)) + x.tobytes(), "y": npy(y)}),
        "bad descr": npz_raw({"x": npy_header((10, 6, 6), "<zz") + x.tobytes(), "y": npy(y)}),
        "object dtype": npz_raw({"x": npy_header((10,), "|O") + bytes(80), "y": npy(y)}),
        "header is not a dict": npz_raw({"x": b"\x93NUMPY\x01\x00\x08\x00[1, 2] \n", "y": npy(y)}),
        "a single .npy": npy(x),
        "a .npy declaring 2^40 bytes": npy_header((2**40,)) + bytes(16),
        "a pickle": pickle.dumps({"x": x, "y": y}),
        "empty": b"",
        "strings": npz_bytes(x=x, y=np.array(["a"] * 10)),
        "complex images": npz_bytes(x=x.astype(np.complex64), y=y),
        "datetimes": npz_bytes(x=x.astype("datetime64[s]"), y=y),
        "structured": npz_bytes(x=np.zeros(10, dtype=[("a", "u1"), ("b", "f4")]), y=y),
        "fewer labels": npz_bytes(x=x, y=y[:7]),
        "float labels": npz_bytes(x=x, y=y + 0.5),
        "nan labels": npz_bytes(x=x, y=np.full(10, np.nan)),
        "inf labels": npz_bytes(x=x, y=np.full(10, np.inf)),
        "negative labels": npz_bytes(x=x, y=-y - 1),
        "complex labels": npz_bytes(x=x, y=y.astype(np.complex64)),
        "images out of [0, 1]": npz_bytes(x=x[:, None].astype(np.float32), y=y),
        "nan images": npz_bytes(x=np.full((10, 6, 6), np.nan, np.float32), y=y),
        "scalar x": npz_bytes(x=np.float32(1), y=y),
        "one-dimensional x": npz_bytes(x=np.arange(10.0), y=y),
        "seven-dimensional x": npz_bytes(x=np.zeros((10, 1, 1, 1, 1, 1, 1), np.float32), y=y),
        "no x": npz_bytes(z=x, y=y),
        "train without test labels": npz_bytes(x_train=x, y_train=y, x_test=x),
        "train and test of two sizes": npz_bytes(x_train=x, y_train=y, x_test=x[:, :5], y_test=y),
        "mask of another size": npz_bytes(x_train=x, y_train=y, x_test=x, y_test=np.zeros((10, 5, 5), np.int64)),
    }
    for name, data in cases.items():
        path.write_bytes(data)
        assert outcome("npz", path) == "refused", name
    good = npz_bytes(x=x, y=y)
    seen = {"loaded": 0, "refused": 0}
    for _ in range(RANDOM_VARIANTS * 2):
        path.write_bytes(MUTATIONS[int(rng.integers(0, len(MUTATIONS)))](good, rng))
        seen[outcome("npz", path)] += 1
    assert seen["refused"] > 0


# ---------------------------------------------------------------- segmentation folders


def write_segfolder(root: Path, rng: np.random.Generator) -> None:
    for i in range(4):
        write_png(root / "images" / f"{i}.png", rng, (6, 5))
        mask = rng.integers(0, 3, (6, 5)).astype(np.uint8)
        if i == 3:  # one TIFF mask, decoded by tifffile
            import tifffile

            tifffile.imwrite(root / "masks" / f"{i}.tif", mask)
        elif i % 2:
            (root / "masks").mkdir(parents=True, exist_ok=True)
            (root / "masks" / f"{i}.npy").write_bytes(npy(mask.astype(np.int64)))
        else:
            (root / "masks" / f"{i}.png").parent.mkdir(parents=True, exist_ok=True)
            (root / "masks" / f"{i}.png").write_bytes(png(mask))


def test_segfolder_reader_refuses_corrupt_masks_in_one_line(tmp_path):
    rng = np.random.default_rng(SEED)
    root = tmp_path / "seg"
    write_segfolder(root, rng)
    kwargs = {"num_classes": 3, "test_fraction": 0.25}
    assert outcome("segfolder", root, **kwargs) == "loaded"
    npy_mask, png_mask = root / "masks" / "1.npy", root / "masks" / "0.png"
    for name, data in image_cases(rng, (6, 5)).items():
        refused("segfolder", root, root / "images" / "2.png", data, **kwargs)
        refused("segfolder", root, png_mask, data, **kwargs)
        assert name
    masks = {
        "label out of range": np.full((6, 5), 3),
        "negative label": np.full((6, 5), -1),
        "another size": np.zeros((5, 6), np.int64),
        "three channels": np.zeros((6, 5, 3), np.int64),
        "a scalar": np.int64(1),
        "fractional floats": np.full((6, 5), 0.5),
        "nan floats": np.full((6, 5), np.nan),
        "complex": np.zeros((6, 5), np.complex64),
        "strings": np.full((6, 5), "a"),
    }
    for name, m in masks.items():
        refused("segfolder", root, npy_mask, npy(m), **kwargs)
        assert name
    for name, data in {
        "pickled object array": pickle.dumps(np.zeros((6, 5))),
        "npy declaring 2^40 labels": npy_header((2**20, 2**20), "<i8") + bytes(240),
        "npy header lies short": npy_header((6, 5), "<i8") + bytes(8),
        "npy with bad descr": npy_header((6, 5), "<q9") + bytes(240),
    }.items():
        refused("segfolder", root, npy_mask, data, **kwargs)
        assert name
    refused("segfolder", root, png_mask, png(np.full((6, 5), 7, np.uint8)), **kwargs)
    tif = root / "masks" / "3.tif"
    good_tif = tif.read_bytes()
    for cut in (8, len(good_tif) // 2, len(good_tif) - 1):
        refused("segfolder", root, tif, good_tif[:cut], **kwargs)
    refused("segfolder", root, root / "masks" / "9.png", png(np.zeros((6, 5), np.uint8)), **kwargs)  # no image
    refused("segfolder", root, png_mask, None, **kwargs)  # an image without its mask
    refused("segfolder", root, root / "masks" / "1.png", png(np.zeros((6, 5), np.uint8)), **kwargs)  # two masks
    counts = fuzz_files("segfolder", root, rng, RANDOM_VARIANTS, **kwargs)
    assert counts["refused"] > 0


# ---------------------------------------------------------------- image pairs: pairs: and ab:


def test_pair_readers_refuse_corrupt_images_in_one_line(tmp_path):
    rng = np.random.default_rng(SEED)
    pairs, ab = tmp_path / "pairs", tmp_path / "ab"
    for i in range(3):
        write_png(pairs / "A" / f"{i}.png", rng, (6, 5, 3))
        write_png(pairs / "B" / f"{i}.png", rng, (6, 5))
        write_png(ab / f"{i}.png", rng, (6, 8, 3))
    assert outcome("pairs", pairs, test_fraction=0.34) == "loaded"
    assert outcome("ab", ab, test_fraction=0.34) == "loaded"
    for name, data in image_cases(rng, (6, 5, 3)).items():
        refused("pairs", pairs, pairs / "B" / "1.png", data, test_fraction=0.34)
        assert name
    for name, data in image_cases(rng, (6, 8, 3)).items():
        refused("ab", ab, ab / "1.png", data, test_fraction=0.34)
        assert name
    refused("pairs", pairs, pairs / "B" / "7.png", png(np.zeros((6, 5), np.uint8)), test_fraction=0.34)
    refused("pairs", pairs, pairs / "A" / "0.png", None, test_fraction=0.34)
    refused("ab", ab, ab / "1.png", png(np.zeros((6, 7, 3), np.uint8)), test_fraction=0.34)  # odd width
    for fmt, root in (("pairs", pairs), ("ab", ab)):
        counts = fuzz_files(fmt, root, rng, RANDOM_VARIANTS, test_fraction=0.34)
        assert counts["refused"] > 0


def test_the_fuzzer_can_fail(tmp_path):
    """The harness itself: a reader that leaks a raw exception or a multi-line message is caught."""
    from dlcanon.data import formats

    def leaky(fmt: str, path: Path) -> None:
        raise ValueError("boom")

    def chatty(fmt: str, path: Path) -> None:
        raise UserError("line one\nline two")

    def greedy(fmt: str, path: Path) -> None:
        np.ones(64 * MiB, np.uint8)
        raise UserError("refused, after a large allocation")

    tmp_path.joinpath("f").write_bytes(b"x")
    for reader, error in ((leaky, ValueError), (chatty, AssertionError), (greedy, AssertionError)):
        formats.FORMATS["fuzz-probe"] = (reader, "")
        try:
            with pytest.raises(error):
                outcome("fuzz-probe", tmp_path / "f")
        finally:
            del formats.FORMATS["fuzz-probe"]


def test_a_large_image_that_compresses_well_still_loads(tmp_path):
    """The size check refuses only what compression cannot explain: 3000 × 3000 black pixels (9 MB) in a PNG
    of a few kilobytes pass it and decode."""
    from dlcanon.data.imagefile import EXPANSION, open_checked

    path = tmp_path / "black.png"
    path.write_bytes(png(np.zeros((3000, 3000), np.uint8)))
    assert 100 * path.stat().st_size < 3000 * 3000  # a ratio no ordinary image has
    with Image.open(open_checked(path)) as im:
        assert im.size == (3000, 3000)
    path.write_bytes(png_declaring(3000, 3000))
    with pytest.raises(UserError, match="more than a file of"):
        open_checked(path)
    assert EXPANSION >= 1032  # deflate's largest ratio
