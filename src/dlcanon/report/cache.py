"""Cache of experiment results, kept in the output directory itself.

An experiment's `OUT/NAME/result.json` records the key it was computed under:

    key = sha256(name, mode, code version),   code version = package version + sha256 of every .py file
                                              of the dlcanon package + the torch version.

A rerun reuses that result and its PNG figures when the key matches, the run succeeded and every figure is
still on disk; otherwise the experiment runs again. Any change to any source file of the package changes the
code version and so invalidates every entry: coarse (editing one experiment reruns all of them) but safe, as
no dependency between files has to be tracked. Failed runs are never reused. Experiments registered from
outside the package (plugins, tests) are keyed on the package's code only.
"""

from __future__ import annotations

import hashlib
import json
from functools import cache
from pathlib import Path
from typing import Any

import dlcanon


@cache
def source_hash() -> str:
    """sha256 over the relative paths and contents of the package's .py files, in sorted order."""
    root = Path(dlcanon.__file__).resolve().parent
    digest = hashlib.sha256()
    for path in sorted(root.rglob("*.py")):
        if "__pycache__" in path.parts:
            continue
        digest.update(path.relative_to(root).as_posix().encode() + b"\0")
        digest.update(path.read_bytes() + b"\0")
    return digest.hexdigest()


def code_version() -> str:
    """The package version, the hash of its sources and the torch version, e.g. '0.1.0+src.1a2b3c4d5e6f'."""
    import torch

    return f"{dlcanon.__version__}+src.{source_hash()[:12]}+torch.{torch.__version__}"


def cache_key(name: str, mode: str) -> str:
    """The key a result of experiment `name` in `mode` ('quick' or 'full') is stored and found under."""
    payload = json.dumps({"experiment": name, "mode": mode, "code": code_version()}, sort_keys=True)
    return hashlib.sha256(payload.encode()).hexdigest()


def cached_record(directory: Path, key: str) -> dict[str, Any] | None:
    """The successful record in `directory/result.json` computed under `key`, with its figures on disk."""
    path = directory / "result.json"
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(record, dict) or record.get("cache_key") != key or record.get("status") != "ok":
        return None
    try:
        present = all((directory.parent / f["path"]).is_file() for f in record.get("figures", {}).values())
    except (AttributeError, KeyError, TypeError):  # a hand-edited or foreign file: recompute
        return None
    return record if present else None
