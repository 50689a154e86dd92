""".npy files and .npz archives read without trusting their headers: the declared shape × itemsize must fit in
the bytes the file (or zip member) actually holds before anything is allocated; object arrays (pickles) are
refused. Every failure is a one-line `UserError` naming the file.
"""

from __future__ import annotations

import math
import zipfile
from pathlib import Path
from typing import BinaryIO

import numpy as np
from numpy.lib import format as npy_format

from dlcanon.errors import UserError

NPY_MAGIC = b"\x93NUMPY"
PICKLE_PROTOCOLS = (b"\x80",)  # pickle protocol ≥ 2 starts with PROTO
DEFLATE_RATIO = 1032  # deflate's largest expansion: 258 bytes from one ~2-bit code pair, 1032:1


def _fail(where: str, what: object) -> UserError:
    return UserError(f"{where}: {' '.join(str(what).split())}")


def read_npy(f: BinaryIO, available: int, where: str) -> np.ndarray:
    """The array of one .npy stream holding `available` bytes in all (header included).

    Checked before allocating: version 1.0 or 2.0 header, a non-object dtype of nonzero itemsize, a shape of
    non-negative ints whose ∏ shape · itemsize equals the bytes after the header."""
    try:
        version = npy_format.read_magic(f)
        if version not in ((1, 0), (2, 0)):
            raise ValueError(f"unsupported .npy version {version[0]}.{version[1]}")
        read_header = npy_format.read_array_header_1_0 if version == (1, 0) else npy_format.read_array_header_2_0
        shape, fortran, dtype = read_header(f, max_header_size=10000)
        offset = f.tell()
    except Exception as e:  # bad magic, header not a dict, unknown dtype, truncated header
        raise _fail(where, f"not a valid .npy array ({e})") from None
    if dtype.hasobject:
        raise UserError(f"{where} holds Python objects (pickle), refused; expected numbers")
    if dtype.itemsize == 0 or any(not isinstance(d, int) or d < 0 for d in shape):
        raise UserError(f"{where}: malformed .npy header (shape {shape}, dtype {dtype})")
    nbytes = math.prod(shape) * dtype.itemsize
    if nbytes != available - offset:
        raise UserError(
            f"{where}: header declares {shape} of {dtype} ({nbytes} bytes); the file holds {available - offset} "
            "(truncated or corrupt)"
        )
    buf = bytearray(nbytes)
    try:
        got = f.readinto(buf)
        extra = f.read(1)
    except Exception as e:  # zlib errors, CRC mismatches, I/O errors
        raise _fail(where, f"corrupt data ({e})") from None
    if got != nbytes or extra:
        raise UserError(f"{where}: holds {got} data bytes, the header declares {nbytes} (truncated or corrupt)")
    return np.frombuffer(buf, dtype).reshape(shape, order="F" if fortran else "C")


def load_npy(path: Path) -> np.ndarray:
    """One array from a .npy file."""
    path = Path(path)
    try:
        with open(path, "rb") as f:
            return read_npy(f, path.stat().st_size, str(path))
    except OSError as e:
        raise _fail(str(path), f"cannot read ({e.strerror or e})") from None


def load_npz(path: Path) -> dict[str, np.ndarray]:
    """{name: array} for every member of an .npz archive (a zip of .npy files)."""
    path = Path(path)
    if not path.is_file():
        raise UserError(f"{path}: no such file" if not path.exists() else f"{path}: not a file")
    size = path.stat().st_size
    with open(path, "rb") as f:
        head = f.read(len(NPY_MAGIC))
    if head.startswith(NPY_MAGIC):
        raise UserError(f"{path}: holds a single array (.npy); expected an .npz archive with x and y")
    if head.startswith(PICKLE_PROTOCOLS):
        raise UserError(f"{path}: not an .npz archive (a pickle, refused: nothing is unpickled)")
    try:
        with zipfile.ZipFile(path) as archive:
            return {info.filename.removesuffix(".npy"): _member(archive, info, size, path)
                    for info in archive.infolist()}  # fmt: skip
    except UserError:
        raise
    except Exception as e:  # not a zip, a broken central directory, an encrypted member, ...
        raise _fail(str(path), f"not a readable .npz archive ({e})") from None


def _member(archive: zipfile.ZipFile, info: zipfile.ZipInfo, size: int, path: Path) -> np.ndarray:
    where = f"{path}: array {info.filename.removesuffix('.npy')!r}"
    if not info.filename.endswith(".npy"):
        raise UserError(f"{path}: member {info.filename!r} is not a .npy array")
    ratios = {zipfile.ZIP_STORED: 1, zipfile.ZIP_DEFLATED: DEFLATE_RATIO}  # what numpy's savez writes
    if info.compress_type not in ratios:
        raise UserError(f"{where}: zip compression method {info.compress_type}; expected stored or deflated")
    most = info.compress_size * ratios[info.compress_type]
    if info.compress_size > size or info.file_size > most:
        raise UserError(f"{where}: declares {info.file_size} bytes, more than the archive of {size} bytes can hold")
    with archive.open(info) as f:
        return read_npy(f, info.file_size, where)
