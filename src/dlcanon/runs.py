"""From names to a runnable objective, and from a run directory back to one."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import torch

from dlcanon import checkpoint
from dlcanon.config import TrainConfig, apply_overrides
from dlcanon.data import DataBundle, load_data
from dlcanon.errors import UserError
from dlcanon.models import build_model
from dlcanon.objectives.base import Objective
from dlcanon.registry import MODELS, OBJECTIVES


def default_config(model: str, **fields: Any) -> TrainConfig:
    """TrainConfig for `model`: dataclass defaults, then the model's registered recipe, then `fields`."""
    entry = MODELS.entry(model)
    cfg = TrainConfig(model=model, data=entry.meta.get("data", "mnist5k"))
    for key, value in entry.meta.get("recipe", {}).items():
        setattr(cfg, key, copy.deepcopy(value))  # --set must never edit the registered recipe
    for key, value in fields.items():
        if value is not None:
            setattr(cfg, key, value)
    if not cfg.objective:
        cfg.objective = entry.meta.get("objective", "classifier")
    return cfg


def configure(model: str, overrides: list[str] | None = None, **fields: Any) -> TrainConfig:
    cfg = apply_overrides(default_config(model, **fields), overrides or []).validate()
    meta = MODELS.entry(model).meta
    if "input_shape" in meta and cfg.data == meta.get("data"):  # an ImageNet configuration: nothing is bundled
        shape = "×".join(map(str, meta["input_shape"]))
        raise UserError(
            f"{model} is the paper's configuration for {shape} inputs and {meta['num_classes']} classes, and no "
            f"such data is bundled: pass --data folder:PATH, or train its small-input variant on bundled data"
        )
    return cfg


def build_objective(cfg: TrainConfig, data: DataBundle) -> Objective:
    """The network for `data`'s shape and classes, wrapped in the configured objective."""
    try:
        network = build_model(cfg.model, data.input_shape, data.num_classes, **cfg.model_args)
    except TypeError as exc:  # an unknown or ill-typed model argument
        raise UserError(f"model {cfg.model}: {exc}") from None
    try:
        return OBJECTIVES.build(cfg.objective, network, **cfg.objective_args)
    except TypeError as exc:
        raise UserError(f"objective {cfg.objective}: {exc}") from None


def load_config(run_dir: Path) -> TrainConfig:
    path = Path(run_dir) / "config.json"
    if not path.is_file():
        raise UserError(f"expected a run directory with config.json; {run_dir} has none")
    return TrainConfig.from_dict(json.loads(path.read_text()))


def load_run(
    run_dir: Path, *, data: str | None = None, device: str = "cpu"
) -> tuple[TrainConfig, DataBundle, Objective]:
    """Rebuild a run's objective with its final weights (the EMA weights when the run kept an EMA)."""
    cfg = load_config(run_dir)
    bundle = load_data(data or cfg.data, **cfg.data_args)
    objective = build_objective(cfg, bundle)
    state = checkpoint.load(Path(run_dir) / "checkpoint.pt")
    if "ema" in state:  # AveragedModel's state: "module.<name>" plus "n_averaged"
        weights = {k.removeprefix("module."): v for k, v in state["ema"].items() if k.startswith("module.")}
    else:
        weights = state["objective"]
    objective.load_state_dict(weights)
    return cfg, bundle, objective.to(torch.device(device)).eval()
