"""Cache of experiment results, kept in the output directory itself.

An experiment's `OUT/NAME/result.json` records the key it was computed under:

    key = sha256(name, mode, code),   code = package version + torch version
                                             + sha256 over (path, sha256 of contents) of the experiment's sources.

An experiment's sources are the package files it can run (`report.sources`): its module, what it imports,
and the models, data, objectives and presets it names. Editing one model thus reruns only the experiments
that use it, where hashing the whole package would rerun the whole report.

A rerun reuses a result and its PNG figures when the key matches, the run succeeded and every figure is
still on disk; otherwise the experiment runs again. Failed runs are never reused. Experiments registered
from outside the package (plugins, tests) are keyed on every source file of the package.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import dlcanon
from dlcanon.report.sources import (  # noqa: F401  (package_root, source_path, source_root: for the pages)
    digest,
    experiment_sources,
    package_files,
    package_root,
    source_path,
    source_root,
)


def source_hash() -> str:
    """sha256 over every .py file of the package."""
    return digest(package_files())


def code_version() -> str:
    """The package version, the hash of its sources and the torch version, e.g. '0.1.0+src.1a2b3c4d5e6f'."""
    import torch

    return f"{dlcanon.__version__}+src.{source_hash()[:12]}+torch.{torch.__version__}"


def experiment_code(name: str) -> str:
    """sha256 of experiment `name`'s sources; of every file of the package for one registered outside it."""
    sources = experiment_sources(name)
    return source_hash() if sources is None else digest(sources)


def cache_key(name: str, mode: str) -> str:
    """The key a result of registered experiment `name` in `mode` (e.g. 'quick seed=0 device=cpu') is stored
    and found under."""
    import torch

    code = f"{dlcanon.__version__}+src.{experiment_code(name)}+torch.{torch.__version__}"
    payload = json.dumps({"experiment": name, "mode": mode, "code": code}, sort_keys=True)
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
