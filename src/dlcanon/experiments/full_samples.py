"""Samples of full-mode runs, shipped with dlcanon so that a quick report can show what the full budget reaches.

A generator that needs thousands of steps to draw clear digits (a Progressive GAN, StyleGAN) cannot show them
after a quick run's minute. Its experiment returns its samples in `Result.samples`; `dlcanon reproduce` writes
each set as `OUT/NAME/<stem>.npz`: the images as uint8 (N, C, H, W) and a JSON record (the command that made
them, mode, seed, generator steps, training seconds, date, torch and code version). A full-mode set copied to
`dlcanon/assets/samples/NAME.STEM.npz`, with its sha256 entered in `SHIPPED`, is read back by the quick run:

    dlcanon reproduce progan_growth --full --out reports/full
    python scripts/ship_samples.py reports/full progan_growth   # copies its sets, prints the lines for SHIPPED

Nothing measured is stored: the quick run scores the shipped images itself each time (Fréchet distance,
precision, recall, recognisability). The sha256 checks the file and, this module being a source of every
experiment that reads one, ties those experiments' cache keys to the shipped images.
"""

from __future__ import annotations

import hashlib
import io
import json
from dataclasses import dataclass
from datetime import datetime, timezone
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor

from dlcanon.errors import UserError

# "experiment.stem" -> sha256 of `assets/samples/<experiment>.<stem>.npz`, a set its full-mode run wrote
SHIPPED: dict[str, str] = {
    "dcgan_digits.samples": "6cb19ccc8d736c3695e5581aac2a23eefdbcfcce7e1416e7d80b88529ad5b425",
    "progan_growth.samples": "752e1aa9b6d0f485743a13f213ee87ca0bdbdcb7592f7f0dbb50a3225477ea4e",
}


@dataclass
class Samples:
    """Images in [0, 1] (N, C, H, W) and how they were made: `steps` generator steps in `seconds` of training;
    `record` is what the file says about its run (empty for a fresh set)."""

    images: Tensor
    steps: int
    seconds: float
    record: dict[str, Any] | None = None


def encode(samples: Samples, header: dict[str, Any]) -> bytes:
    """The .npz bytes of `samples`: uint8 images (x·255 rounded) and `header` with steps, seconds and the date
    as a JSON string (no pickled objects: the file loads with `allow_pickle=False`)."""
    images = samples.images.detach().float().cpu().clamp(0, 1).mul(255).round().to(torch.uint8).numpy()
    date = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    record = {**header, "steps": int(samples.steps), "seconds": round(float(samples.seconds), 1), "date": date,
              "shape": list(images.shape)}  # fmt: skip
    buffer = io.BytesIO()
    np.savez_compressed(buffer, images=images, record=np.array(json.dumps(record, sort_keys=True)))
    return buffer.getvalue()


def save(path: Path, samples: Samples, header: dict[str, Any]) -> Path:
    """Write `samples` to `path` (.npz, atomically: a temporary file, then a rename)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".npz.tmp")
    tmp.write_bytes(encode(samples, header))
    tmp.replace(path)
    return path


def decode(data: bytes) -> Samples:
    """`Samples` from .npz bytes written by `encode`, images back in [0, 1]."""
    with np.load(io.BytesIO(data), allow_pickle=False) as f:
        images, record = f["images"], json.loads(str(f["record"]))
    if images.dtype != np.uint8 or images.ndim != 4:
        raise ValueError(f"expected uint8 images (N, C, H, W); got {images.dtype} {images.shape}")
    return Samples(torch.from_numpy(images).float() / 255, record["steps"], record["seconds"], record)


def asset(key: str):
    """The shipped file of `key` ("experiment.stem")."""
    return resources.files("dlcanon") / "assets" / "samples" / f"{key}.npz"


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def shipped(name: str, stem: str = "samples") -> Samples:
    """The set `stem` of experiment `name`'s full-mode run that dlcanon ships, checked against `SHIPPED`."""
    key = f"{name}.{stem}"
    if key not in SHIPPED:
        raise KeyError(f"dlcanon ships no full-mode samples {key!r}; shipped: {sorted(SHIPPED)}")
    try:
        data = asset(key).read_bytes()
    except OSError:
        raise UserError(f"the shipped samples {key} are missing ({asset(key)}); reinstall dlcanon") from None
    if sha256(data) != SHIPPED[key]:
        raise UserError(f"the shipped samples {key} do not match their sha256 ({asset(key)}); reinstall dlcanon")
    return decode(data)


def made_by(samples: Samples) -> str:
    """'`dlcanon reproduce progan_growth --full`: 2,480 generator steps, 201 s of training (2026-12-01)', or
    'this run: ...' for a set not read from a file."""
    done = f"{samples.steps:,} generator steps, {samples.seconds:.0f} s of training"
    if not samples.record:  # a fresh set, made by the run at hand
        return f"this run: {done}"
    date = str(samples.record.get("date", "")).split(" ")[0]
    return f"`{samples.record.get('command', '?')}`: {done} ({date})"
