"""Reading nnU-Net v2's dataset_fingerprint.json and dataset.json: every mistake is one line (a UserError)."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from dlcanon.errors import UserError
from dlcanon.plan.planner import DatasetInfo, Fingerprint


def _load(path: Path, what: str) -> dict[str, Any]:
    try:
        obj = json.loads(Path(path).read_text())
    except FileNotFoundError:
        raise UserError(f"{what} {path}: no such file") from None
    except IsADirectoryError:
        raise UserError(f"{what} {path} is a directory; pass the JSON file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise UserError(f"{what} {path}: cannot read it ({exc.__class__.__name__})") from None
    except json.JSONDecodeError as exc:
        raise UserError(f"{what} {path} is not valid JSON (line {exc.lineno}, column {exc.colno})") from None
    if not isinstance(obj, dict):
        raise UserError(f"{what} {path} must hold a JSON object; got {type(obj).__name__}")
    return obj


def _cases(obj: dict[str, Any], key: str, path: Path, *, positive: type) -> tuple[tuple[Any, ...], ...]:
    rows = obj.get(key)
    if not isinstance(rows, list) or not rows:
        raise UserError(f"fingerprint {path}: {key!r} must be a non-empty list of 3-axis lists")
    out = []
    for i, row in enumerate(rows):
        ok = (
            isinstance(row, list)
            and len(row) == 3
            and all(isinstance(v, (int, float)) and not isinstance(v, bool) and v > 0 for v in row)
        )
        if not ok or (positive is int and any(float(v) != int(v) for v in row)):
            kind = "integers" if positive is int else "numbers"
            raise UserError(f"fingerprint {path}: {key}[{i}] must be 3 positive {kind}; got {json.dumps(row)}")
        out.append(tuple(positive(v) for v in row))
    return tuple(out)


def read_fingerprint(path: Path) -> Fingerprint:
    """A dataset_fingerprint.json: spacings, shapes_after_crop (one per case), median_relative_size_after_cropping."""
    obj = _load(path, "fingerprint")
    spacings = _cases(obj, "spacings", path, positive=float)
    shapes = _cases(obj, "shapes_after_crop", path, positive=int)
    if len(spacings) != len(shapes):
        raise UserError(f"fingerprint {path}: {len(spacings)} spacings but {len(shapes)} shapes_after_crop")
    relative = obj.get("median_relative_size_after_cropping")
    if not isinstance(relative, (int, float)) or isinstance(relative, bool) or not 0 < relative <= 1:
        raise UserError(f"fingerprint {path}: median_relative_size_after_cropping must be in (0, 1]; got {relative!r}")
    intensities = obj.get("foreground_intensity_properties_per_channel", {})
    if not isinstance(intensities, dict):
        raise UserError(f"fingerprint {path}: foreground_intensity_properties_per_channel must be an object")
    return Fingerprint(spacings, shapes, float(relative), intensities)


def _dataset_name(path: Path, obj: dict[str, Any]) -> str:
    folder = Path(path).resolve().parent.name
    if re.fullmatch(r"Dataset\d{3}_.+", folder):
        return folder
    return str(obj.get("name", folder))


def read_dataset(path: Path) -> DatasetInfo:
    """A dataset.json: channel_names (or the old "modality"), labels, numTraining, file_ending."""
    obj = _load(path, "dataset.json")
    channels = obj.get("channel_names", obj.get("modality"))
    if not isinstance(channels, dict) or not channels or not all(isinstance(v, str) for v in channels.values()):
        example = '{"0": "CT"}'
        raise UserError(f"dataset.json {path}: 'channel_names' must map channel indices to names, e.g. {example}")
    labels = obj.get("labels")
    if not isinstance(labels, dict) or len(labels) < 2:
        raise UserError(f"dataset.json {path}: 'labels' must name the background and at least one class")
    n = obj.get("numTraining")
    if not isinstance(n, int) or isinstance(n, bool) or n < 1:
        raise UserError(f"dataset.json {path}: 'numTraining' must be a positive integer; got {n!r}")
    ending = obj.get("file_ending", ".nii.gz")
    if not isinstance(ending, str):
        raise UserError(f"dataset.json {path}: 'file_ending' must be a string such as \".nii.gz\"; got {ending!r}")
    reader = obj.get("overwrite_image_reader_writer")
    return DatasetInfo(
        _dataset_name(path, obj),
        {str(k): v for k, v in channels.items()},
        labels,
        n,
        ending,
        reader if isinstance(reader, str) else None,
    )
