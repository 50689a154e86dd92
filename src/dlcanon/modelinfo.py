"""Model facts for `list` and `info`: parameters on default data, per-layer table with FLOPs."""

from __future__ import annotations

from functools import cache

from dlcanon.config import apply_overrides
from dlcanon.data import load_data
from dlcanon.errors import UserError
from dlcanon.models import build_model
from dlcanon.nn.summary import Summary, count_parameters, summarize
from dlcanon.registry import MODELS


@cache
def data_shape(name: str) -> tuple[tuple[int, ...], int | None]:
    """(input_shape, num_classes) of a dataset, loaded once per process."""
    bundle = load_data(name)
    return bundle.input_shape, bundle.num_classes


def default_params(model: str) -> dict:
    """The model's default dataset and its parameter count there."""
    data = MODELS.entry(model).meta.get("data", "mnist5k")
    shape, classes = data_shape(data)
    return {"data": data, "params": count_parameters(build_model(model, shape, classes))}


def model_summary(model: str, *, data: str | None = None, overrides: list[str] | None = None) -> Summary:
    """Per-layer summary of `model` sized for `data` (default: the model's own dataset)."""
    from dlcanon.runs import default_config

    cfg = apply_overrides(default_config(model, data=data), overrides or [])
    shape, classes = data_shape(cfg.data)
    try:
        network = build_model(model, shape, classes, **cfg.model_args)
    except TypeError as exc:
        raise UserError(f"model {model}: {exc}") from None
    return summarize(network, shape)
