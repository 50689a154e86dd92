"""Model facts for `list` and `info`: parameters on default data, per-layer table with FLOPs.

A model registered with `input_shape` and `num_classes` metadata (the ImageNet configurations: (3, 224, 224),
1,000 classes) is sized from them without loading any data, built on the meta device (no memory, no
initialisation) and summarised there; other models are sized from their default dataset.
"""

from __future__ import annotations

from functools import cache

import torch

from dlcanon.config import apply_overrides
from dlcanon.data import load_data
from dlcanon.models import build_model
from dlcanon.nn.summary import Summary, count_parameters, summarize, summarize_meta
from dlcanon.registry import MODELS


@cache
def data_shape(name: str) -> tuple[tuple[int, ...], int | None]:
    """(input_shape, num_classes) of a dataset, loaded once per process."""
    bundle = load_data(name)
    return bundle.input_shape, bundle.num_classes


def registered_shape(model: str) -> tuple[tuple[int, ...], int | None] | None:
    """(input_shape, num_classes) from the model's registry metadata, or None if it has none."""
    meta = MODELS.entry(model).meta
    if "input_shape" not in meta:
        return None
    return tuple(meta["input_shape"]), meta.get("num_classes")


def default_params(model: str) -> dict:
    """The model's default dataset and its parameter count there (on its registered shape, if it has one)."""
    data = MODELS.entry(model).meta.get("data", "mnist5k")
    registered = registered_shape(model)
    if registered is not None:
        with torch.device("meta"):
            return {"data": data, "params": count_parameters(build_model(model, *registered))}
    shape, classes = data_shape(data)
    return {"data": data, "params": count_parameters(build_model(model, shape, classes))}


def model_summary(model: str, *, data: str | None = None, overrides: list[str] | None = None) -> Summary:
    """Per-layer summary of `model` (or a preset's model) sized for `data` (default: the model's own dataset).

    A builder's refusal of a `--set model_args...` value is a one-line UserError."""
    from dlcanon.runs import REFUSALS, default_config, refused

    cfg = apply_overrides(default_config(model, data=data), overrides or [])
    model = cfg.model
    registered = registered_shape(model) if data is None else None
    shape, classes = registered or data_shape(cfg.data)
    try:
        if registered is not None:
            return summarize_meta(lambda: build_model(model, shape, classes, **cfg.model_args), shape)
        network = build_model(model, shape, classes, **cfg.model_args)
    except REFUSALS as exc:
        raise refused(f"model {model} on {cfg.data}", exc) from None
    return summarize(network, shape)
