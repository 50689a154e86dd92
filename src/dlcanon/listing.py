"""What `dlcanon list KIND` shows, computed once per code version and kept in the user's cache.

Listing the models means importing every family and counting every model's parameters on its default data
(about 16 s on two CPU cores); the answer depends on the package's sources alone. The rows of every kind are
therefore written to `$XDG_CACHE_HOME/dlcanon/listing-<key>.json` (default `~/.cache/dlcanon`), where the key
hashes the version and every source file of the package: an edit to any of them computes the rows afresh, and a
cache that cannot be read or written is ignored. Parameters are counted on the meta device: shapes only, no
memory and no initialisation.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

KINDS = ("models", "presets", "data", "objectives", "experiments", "activations", "losses", "optimizers", "schedules")
PACKAGE = Path(__file__).resolve().parent


def cache_dir() -> Path:
    """$XDG_CACHE_HOME/dlcanon, or ~/.cache/dlcanon."""
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "dlcanon"


def code_key() -> str:
    """A hash of the version and of every source file of the package (path and bytes): the code's version."""
    from dlcanon import __version__

    digest = hashlib.sha256(__version__.encode())
    for path in sorted(PACKAGE.rglob("*.py")):
        digest.update(str(path.relative_to(PACKAGE)).encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()[:16]


def registries() -> dict[str, Any]:
    """Every registry, by the name `dlcanon list` gives its kind (importing each family registers it)."""
    import dlcanon.experiments
    import dlcanon.losses
    import dlcanon.models
    import dlcanon.objectives
    import dlcanon.presets  # noqa: F401
    from dlcanon import data  # noqa: F401
    from dlcanon import registry as r

    kinds = (r.MODELS, r.PRESETS, r.DATASETS, r.OBJECTIVES, r.EXPERIMENTS, r.ACTIVATIONS, r.LOSSES, r.OPTIMIZERS)
    return dict(zip(KINDS, (*kinds, r.SCHEDULES), strict=True))


def compute(kind: str) -> list[dict[str, Any]]:
    """The rows of one kind: name, tags, description; a preset's model; a model's default data and parameters."""
    entries = registries()[kind]
    rows = [{"name": e.name, "tags": list(e.tags), "description": e.doc} for e in entries]
    if kind == "presets":
        for row, entry in zip(rows, entries, strict=True):
            row["model"] = entry.meta["model"]
    if kind == "models":
        from dlcanon.modelinfo import default_params

        for row in rows:
            row.update(default_params(row["name"]))
    return rows


def rows(kind: str) -> list[dict[str, Any]]:
    """The rows of `kind`, from the cache when this code version has listed it before."""
    try:
        path = cache_dir() / f"listing-{code_key()}.json"
        cached = json.loads(path.read_text()) if path.is_file() else {}
    except (OSError, ValueError):
        path, cached = None, {}
    if kind in cached:
        return cached[kind]
    cached[kind] = compute(kind)
    if path is not None:
        try:  # written whole, then renamed: a concurrent reader sees the old file or the new one
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_suffix(f".{os.getpid()}.tmp")
            tmp.write_text(json.dumps(cached))
            tmp.replace(path)
            for old in path.parent.glob("listing-*.json"):  # earlier code versions' listings
                if old != path:
                    old.unlink(missing_ok=True)
        except OSError:
            pass
    return cached[kind]
