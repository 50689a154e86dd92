"""Checkpoints written atomically (temp file, fsync, rename, fsync of the folder) and read back with
`weights_only=True`.

At every instant `checkpoint.pt` is the last checkpoint written in full: a run killed while saving (SIGKILL,
an out-of-memory kill, a power loss) leaves the previous one in place, and a temp file that the next save
removes. A truncated, corrupt or foreign file is one `UserError` line when read.
"""

from __future__ import annotations

import contextlib
import os
import zipfile
from pathlib import Path
from typing import Any

import torch

from dlcanon.errors import UserError

REQUIRED = ("step", "objective")  # what every trainer checkpoint holds; the rest is checked by its reader


def _temp_files(path: Path) -> list[Path]:
    return sorted(path.parent.glob(f".{path.name}.*.tmp"))


def save_atomic(obj: Any, path: Path) -> None:
    """Write `obj` so that `path` always holds either the old or the new checkpoint, never a torn one."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with open(tmp, "wb") as f:
            torch.save(obj, f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:  # a failed write (disk full, Ctrl-C twice) leaves the old checkpoint and no temp
        tmp.unlink(missing_ok=True)
        raise
    with contextlib.suppress(OSError):  # the rename itself survives a power loss once the folder is synced
        folder = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(folder)
        finally:
            os.close(folder)
    for stale in _temp_files(path):  # left by a process killed while it saved
        stale.unlink(missing_ok=True)


def check_archive(path: Path) -> None:
    """UserError unless `path` is a zip archive (torch.save's format) whose members declare no more bytes than
    they hold: torch allocates a record's declared size before reading it, so a forged size is refused here.

    torch.save stores its records uncompressed: declared size = stored size ≤ the file's size."""
    size = path.stat().st_size
    try:
        with zipfile.ZipFile(path) as archive:
            members = archive.infolist()
    except Exception as exc:  # not a zip, cut before its directory, an unknown zip version, ...
        raise UserError(f"checkpoint {path} is not a torch checkpoint archive (truncated or foreign: {exc})") from None
    for info in members:
        stored = info.compress_type == zipfile.ZIP_STORED and info.file_size == info.compress_size
        if not stored or info.header_offset + info.compress_size > size:
            raise UserError(
                f"checkpoint {path} is corrupt: record {info.filename} declares {info.file_size} bytes "
                f"({info.compress_size} stored) in a file of {size}"
            )


def load(path: Path, map_location: str | torch.device = "cpu") -> dict[str, Any]:
    """Load a checkpoint with `weights_only=True` (tensors and plain containers only: no code runs).

    Anything but a dict holding `REQUIRED` (a pickle, another program's torch file, a truncated or bit-flipped
    one) is a one-line UserError."""
    path = Path(path)
    if not path.is_file():
        raise UserError(f"expected a checkpoint at {path}; no such file")
    check_archive(path)
    try:
        state = torch.load(path, map_location=map_location, weights_only=True)
    except Exception as exc:  # torch raises several types for corrupt or foreign files
        lines = str(exc).strip().splitlines() or [type(exc).__name__]
        raise UserError(f"checkpoint {path} cannot be read: {lines[0]}") from None
    if not isinstance(state, dict) or not all(isinstance(k, str) for k in state):
        raise UserError(f"checkpoint {path} is not a dlcanon checkpoint: it holds a {type(state).__name__}")
    missing = [key for key in REQUIRED if key not in state]
    if missing:
        raise UserError(f"checkpoint {path} is not a dlcanon checkpoint: no {', '.join(map(repr, missing))}")
    return state
