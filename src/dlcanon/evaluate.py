"""Evaluation of a finished run directory, and sample grids for generative objectives."""

from __future__ import annotations

import inspect
import time
from pathlib import Path
from typing import Any

import torch

from dlcanon.data import DeviceLoader
from dlcanon.errors import UserError
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
        if not hasattr(objective, "external_features") or not objective.network.image:
            raise UserError(f"--features applies to GANs of images; {cfg.model} is scored without image features")
        from dlcanon.metrics.feature_net import ExternalFeatures

        objective.external_features = ExternalFeatures(features)
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


def save_samples(objective: Any, n: int, path: Path, **options: Any) -> Path:
    """Draw `n` samples with `objective.sample(n, **options)`; save images as a grid, 2-D points as a scatter."""
    from dlcanon.plots import figure, save_figure, save_image_grid

    accepted = inspect.signature(objective.sample).parameters
    for option in options:
        if option not in accepted:
            raise UserError(
                f"--{option} is not an option of {type(objective).__name__}.sample; it takes: "
                f"{', '.join(p for p in accepted if p != 'n') or 'nothing'}"
            )
    with torch.no_grad():
        samples = objective.sample(n, **options)
    if samples.dim() == 2 and samples.shape[1] == 2:
        fig, (ax,) = figure()
        ax.scatter(*samples.float().cpu().T, s=2)
        return save_figure(fig, Path(path))
    return save_image_grid(samples, Path(path))
