"""Typed run configuration: one dataclass, `key=value` overrides, saved resolved with every run."""

from __future__ import annotations

import ast
import dataclasses
import json
import subprocess
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dlcanon import __version__
from dlcanon.errors import UserError

PRECISIONS = ("auto", "fp32", "bf16", "fp16")
DEVICES = ("auto", "cpu", "cuda", "mps")
SCHEDULES = ("constant", "cosine", "onecycle", "step")
OPTIMIZERS = ("sgd", "adam", "adamw", "rmsprop", "adadelta")


@dataclass
class TrainConfig:
    """Everything a run depends on. `model_args`, `objective_args` and `data_args` go to the builders."""

    model: str = "lenet5"
    data: str = "mnist5k"
    objective: str = ""  # empty: the model's registered default objective
    epochs: int = 10
    batch_size: int = 128
    lr: float = 1e-3
    optimizer: str = "adamw"
    weight_decay: float = 0.0
    momentum: float = 0.9  # SGD and RMSprop
    schedule: str = "constant"
    warmup: float = 0.0  # fraction of steps with a linear warm-up (cosine, constant)
    step_size: int = 0  # step schedule: steps between decays (0: one epoch)
    gamma: float = 0.1  # step schedule: decay factor
    grad_clip: float = 0.0  # max global gradient norm; 0 disables
    ema: float = 0.0  # EMA decay of the weights; 0 disables
    augment: str = ""  # comma list of dlcanon.data.augment names
    device: str = "auto"
    precision: str = "auto"  # auto: bf16 autocast for conv nets where the hardware has bf16, else fp32
    compile: bool = False
    channels_last: bool = True
    seed: int = 0
    deterministic: bool = False
    eval_batch_size: int = 1000
    eval_every: int = 1  # epochs; 0 evaluates only at the end
    log_every: int = 50  # steps
    checkpoint_every: int = 0  # steps; 0 writes a checkpoint at the end (and on Ctrl-C) only
    tensorboard: bool = True
    model_args: dict[str, Any] = field(default_factory=dict)
    objective_args: dict[str, Any] = field(default_factory=dict)
    data_args: dict[str, Any] = field(default_factory=dict)

    def validate(self) -> TrainConfig:
        for name, allowed in (
            ("precision", PRECISIONS),
            ("device", DEVICES),
            ("schedule", SCHEDULES),
            ("optimizer", OPTIMIZERS),
        ):
            if getattr(self, name) not in allowed:
                raise UserError(f"{name} must be one of {', '.join(allowed)}; got {getattr(self, name)!r}")
        for name in ("epochs", "batch_size", "eval_batch_size", "log_every"):
            if getattr(self, name) < 1:
                raise UserError(f"{name} must be a positive integer; got {getattr(self, name)}")
        if self.lr <= 0:
            raise UserError(f"lr must be positive; got {self.lr}")
        if not 0 <= self.ema < 1:
            raise UserError(f"ema must be a decay in [0, 1); got {self.ema}")
        return self

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> TrainConfig:
        names = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in values.items() if k in names})


def parse_value(text: str) -> Any:
    """A literal if the text is one (`3`, `0.1`, `True`, `[1, 2]`, `'a'`), else the text itself."""
    lowered = text.strip().lower()
    if lowered in ("true", "false"):
        return lowered == "true"
    if lowered in ("none", "null"):
        return None
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError):
        return text


def _coerce(name: str, hint: Any, value: Any) -> Any:
    origin = typing.get_origin(hint)
    if hint is bool:
        if not isinstance(value, bool):
            raise UserError(f"{name} expects true or false; got {value!r}")
        return value
    if hint is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise UserError(f"{name} expects an integer; got {value!r}")
        return value
    if hint is float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise UserError(f"{name} expects a number; got {value!r}")
        return float(value)
    if hint is str:
        return str(value)
    if origin in (types.UnionType, typing.Union):
        return value
    return value


def apply_overrides(cfg: TrainConfig, assignments: list[str]) -> TrainConfig:
    """Apply `key=value` strings: `lr=0.01`, `model_args.width=64`, `objective_args.label_smoothing=0.1`."""
    hints = typing.get_type_hints(TrainConfig)
    for assignment in assignments:
        key, sep, raw = assignment.partition("=")
        key = key.strip()
        if not sep or not key:
            raise UserError(f"--set expects key=value; got {assignment!r}")
        value = parse_value(raw)
        head, _, sub = key.partition(".")
        if head not in hints:
            import difflib

            close = difflib.get_close_matches(head, hints, n=3)
            hint = f"; did you mean {', '.join(close)}?" if close else ""
            raise UserError(f"unknown config field {head!r}{hint}")
        if sub:
            if not head.endswith("_args"):
                raise UserError(f"{head} has no sub-fields; got {key!r}")
            getattr(cfg, head)[sub] = value
        elif head.endswith("_args"):
            if not isinstance(value, dict):
                raise UserError(f"{head} expects a dict literal; got {raw!r}")
            setattr(cfg, head, value)
        else:
            setattr(cfg, head, _coerce(head, hints[head], value))
    return cfg


def git_hash() -> str | None:
    """The commit of the source tree dlcanon runs from, when it runs from a git checkout."""
    try:
        out = subprocess.run(
            ["git", "rev-parse", "HEAD"],
            cwd=Path(__file__).resolve().parent,
            capture_output=True,
            text=True,
            timeout=5,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    return out.stdout.strip() or None


def resolved(cfg: TrainConfig, **extra: Any) -> dict[str, Any]:
    """The config as saved in `config.json`: every field, the package version and the git commit."""
    return {**cfg.to_dict(), "version": __version__, "git": git_hash(), **extra}


def write_json(path: Path, obj: Any) -> None:
    """Write JSON atomically (temp file, then rename)."""
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(json.dumps(obj, indent=2, sort_keys=False) + "\n")
    tmp.replace(path)
