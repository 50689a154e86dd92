"""`dlcanon predict RUN FILES... --out DIR`: run a trained model on a user's own files.

What is written follows what the objective's `predict` returns (`Objective.predict`):
- a class label (classifiers): one per file, in DIR/predictions.json;
- a label map (segmenters): DIR/STEM.png, 8-bit, grey level = class index;
- an image (super-resolution, pix2pix): DIR/STEM.png, the super-resolved image or pix2pix's B for an A.
DIR/predictions.json lists every file with what was written for it. Inputs are image files PIL reads (PNG, JPEG,
TIFF, ...) or .npy arrays, read by the rules of `npz:` inputs (`data.npz.image_from_array`); each must have the
channels the model was trained on, and a classifier's inputs also its height and width.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch

from dlcanon.config import write_json
from dlcanon.data.npyfile import load_npy
from dlcanon.data.npz import image_from_array
from dlcanon.data.pairfolder import read_image
from dlcanon.errors import UserError
from dlcanon.runs import load_run
from dlcanon.runtime import select_device


def read_input(path: Path) -> torch.Tensor:
    """(C, H, W) float32 in [0, 1] from an image file or a .npy array; one UserError line otherwise."""
    if not path.is_file():
        raise UserError(f"{path}: no such file")
    if path.suffix.lower() == ".npy":
        return image_from_array(load_npy(path), path)
    return torch.from_numpy(read_image(path))


def check_input(x: torch.Tensor, shape: tuple[int, ...], kind: str, path: Path) -> None:
    """The model's channels; a classifier's whole shape (dense models take any size their strides allow)."""
    if x.shape[0] != shape[0]:
        raise UserError(f"{path}: {x.shape[0]} channel(s), but the model was trained on {shape[0]}")
    if kind == "class" and tuple(x.shape) != tuple(shape):
        raise UserError(f"{path}: shape {tuple(x.shape)}, but the classifier takes {tuple(shape)}")


def save_png(array: np.ndarray, path: Path) -> None:
    from PIL import Image

    Image.fromarray(array).save(path)


def to_png_array(t: torch.Tensor) -> np.ndarray:
    """(C, H, W) in [0, 1] → uint8 (H, W) or (H, W, 3)."""
    a = (t.clamp(0, 1) * 255).round().byte().cpu().numpy()
    return a[0] if a.shape[0] == 1 else a.transpose(1, 2, 0)


def predict_files(run_dir: Path, files: list[Path], out: Path, *, device: str = "auto") -> dict[str, Any]:
    """Run the run's model on each file; write the outputs into `out` (created) and return the listing."""
    if not files:
        raise UserError("predict needs at least one input file")
    if not out.parent.is_dir():
        raise UserError(f"--out {out}: its parent directory does not exist")
    dev = select_device(device)
    cfg, bundle, objective = load_run(run_dir, device=str(dev))
    kind = bundle.target.kind
    inputs = [(path, read_input(path)) for path in files]  # every file is checked before anything is written
    for path, x in inputs:
        check_input(x, bundle.input_shape, kind, path)
    stems = [path.stem for path, _ in inputs]
    if len(set(stems)) != len(stems):
        raise UserError("predict: two input files share a name; their outputs would overwrite each other")
    out.mkdir(exist_ok=True)
    objective.eval()
    rows = []
    with torch.no_grad():
        for path, x in inputs:
            y = objective.predict(x[None].to(dev))[0].cpu()
            row: dict[str, Any] = {"input": str(path)}
            if y.dim() == 0:  # a class label
                row["label"] = int(y)
            else:  # a label map (H, W) of class indices, or an image (C, H, W) in [0, 1]
                target = out / f"{path.stem}.png"
                save_png(y.byte().numpy() if not y.is_floating_point() else to_png_array(y), target)
                row["output"] = str(target)
            rows.append(row)
    listing = {"run_dir": str(run_dir), "model": cfg.model, "target": kind, "predictions": rows}
    write_json(out / "predictions.json", listing)
    return listing
