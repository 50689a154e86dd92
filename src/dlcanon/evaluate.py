"""Evaluation of a finished run directory, and saving the views an objective declares (`dlcanon sample`)."""

from __future__ import annotations

import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from dlcanon.data import DeviceLoader
from dlcanon.objectives.views import Grid, Points, View, points_figure
from dlcanon.runs import load_run
from dlcanon.runtime import autocast, resolve_precision, select_device


def evaluate_run(
    run_dir: Path, *, data: str | None = None, device: str = "auto", features: Path | None = None
) -> dict[str, Any]:
    """Recompute the test metrics of a run from its checkpoint (the EMA weights if it kept them).

    `features`: a torch.export feature extractor (.pt2) (e.g. Inception) for a GAN's Fréchet distance and
    precision/recall instead of the shipped metric classifier."""
    dev = select_device(device)
    cfg, bundle, objective = load_run(run_dir, data=data, device=str(dev))
    if features is not None:
        from dlcanon.metrics.feature_net import ExternalFeatures

        objective.use_features(ExternalFeatures(features))
    test = bundle.test.to(dev)
    start = time.perf_counter()
    batches = DeviceLoader(test, cfg.eval_batch_size, shuffle=False, drop_last=False).epoch(0)
    precision = resolve_precision(cfg.precision, dev, conv=objective.has_conv)  # as the run trained
    with torch.no_grad(), autocast(precision, dev):
        metrics = objective.evaluate(batches)
    return {
        "model": cfg.model,
        "data": data or cfg.data,
        "objective": cfg.objective,
        "params": sum(p.numel() for p in objective.parameters()),
        "seconds": round(time.perf_counter() - start, 3),
        "metrics": {f"test_{k}": v for k, v in metrics.items()},
        "run_dir": str(run_dir),
    }


def view_paths(names: Iterable[str], path: Path) -> dict[str, Path]:
    """Where each view goes: "samples" to `path`, any other name beside it as `<stem>-<name>.png`."""
    return {name: path if name == "samples" else path.with_name(f"{path.stem}-{name}.png") for name in names}


def save_views(views: dict[str, View], path: Path, *, real: Tensor | None = None) -> dict[str, str]:
    """Save every view an objective declared (`Objective.views`): grids and figures as PNGs, points as a scatter
    over the `real` data (2-D points) on equal axes."""
    from dlcanon.plots import save_figure, save_image_grid

    saved = {}
    for name, target in view_paths(views, Path(path)).items():
        view = views[name]
        if isinstance(view, Grid):
            saved[name] = save_image_grid(view.images, target, nrow=view.nrow)
        elif isinstance(view, Points):
            saved[name] = save_figure(points_figure(view.xy, real), target)
        else:
            saved[name] = save_figure(view.figure, target)
    return {name: str(p) for name, p in saved.items()}
