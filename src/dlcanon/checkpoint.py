"""Checkpoints written atomically (temp file, fsync, rename) and read back with `weights_only=True`."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import torch

from dlcanon.errors import UserError


def save_atomic(obj: Any, path: Path) -> None:
    """Write `obj` so that `path` always holds either the old or the new checkpoint, never a torn one."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with open(tmp, "wb") as f:
        torch.save(obj, f)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def load(path: Path, map_location: str | torch.device = "cpu") -> dict[str, Any]:
    """Load a checkpoint with `weights_only=True` (tensors and plain containers only: no code runs)."""
    path = Path(path)
    if not path.is_file():
        raise UserError(f"expected a checkpoint at {path}; no such file")
    try:
        return torch.load(path, map_location=map_location, weights_only=True)
    except Exception as exc:  # torch raises several types for corrupt or foreign files
        raise UserError(f"checkpoint {path} cannot be read: {str(exc).splitlines()[0]}") from None
