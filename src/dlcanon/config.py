"""Typed run configuration: one dataclass, `key=value` overrides, saved resolved with every run."""

from __future__ import annotations

import ast
import dataclasses
import difflib
import json
import subprocess
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dlcanon import __version__, optim, schedules  # noqa: F401  (registrations)
from dlcanon.errors import UserError
from dlcanon.optim import PLAYER_KEYS
from dlcanon.registry import OPTIMIZERS, SCHEDULES

PRECISIONS = ("auto", "fp32", "bf16", "fp16")
DEVICES = ("auto", "cpu", "cuda", "mps")


@dataclass
class TrainConfig:
    """Everything a run depends on. `model_args`, `objective_args` and `data_args` go to the builders."""

    model: str = "lenet5"
    data: str = "mnist5k"
    objective: str = ""  # empty: the model's registered default objective
    preset: str = ""  # the preset this configuration started from (see dlcanon.presets), if any
    epochs: int = 10
    steps: int = 0  # optimiser steps of the run; 0: `epochs` decide
    batch_size: int = 128  # per optimiser step with accumulate = 1; per micro-batch otherwise
    accumulate: int = 1  # micro-batches whose gradients add up to one optimiser step (loss divided by it)
    lr: float = 1e-3
    optimizer: str = "adamw"  # a name in dlcanon.registry.OPTIMIZERS (`dlcanon list optimizers`)
    betas: tuple[float, float] = (0.9, 0.999)  # Adam, AdamW, Adamax
    weight_decay: float = 0.0
    momentum: float = 0.9  # SGD and RMSprop
    players: dict[str, dict[str, Any]] = field(default_factory=dict)  # per-player overrides of the five above
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
    threads: int = 0  # intra-op CPU threads; 0 (auto): chosen from the model's FLOPs per batch
    eval_batch_size: int = 1000
    eval_every: int = 1  # epochs; 0 evaluates only at the end
    log_every: int = 50  # steps
    # checkpoints: every `checkpoint_every` steps (0: at the end of each epoch) or once `checkpoint_minutes` of
    # wall time have passed since the last one (0: no timer), whichever comes first; also at the end and on
    # Ctrl-C. Each replaces the last atomically; the clock changes when they are written, never the weights.
    checkpoint_every: int = 0  # steps; 0: each epoch
    checkpoint_minutes: float = 5.0  # minutes of wall time; 0: off
    tensorboard: bool = True
    model_args: dict[str, Any] = field(default_factory=dict)
    objective_args: dict[str, Any] = field(default_factory=dict)
    data_args: dict[str, Any] = field(default_factory=dict)

    def validate(self) -> TrainConfig:
        for name, allowed in (
            ("precision", PRECISIONS),
            ("device", DEVICES),
            ("schedule", tuple(SCHEDULES.names())),
            ("optimizer", tuple(OPTIMIZERS.names())),
        ):
            if getattr(self, name) not in allowed:
                raise UserError(f"{name} must be one of {', '.join(allowed)}; got {getattr(self, name)!r}")
        for name in ("epochs", "batch_size", "accumulate", "eval_batch_size", "log_every"):
            if getattr(self, name) < 1:
                raise UserError(f"{name} must be a positive integer; got {getattr(self, name)}")
        for name in ("steps", "eval_every", "checkpoint_every", "step_size", "threads"):
            if getattr(self, name) < 0:
                value = getattr(self, name)
                raise UserError(f"{name} must be 0 (off, or the default) or a positive integer; got {value}")
        if not 0 <= self.warmup <= 1:
            raise UserError(f"warmup is a fraction of the run's steps in [0, 1]; got {self.warmup}")
        if not 0 < self.gamma <= 1:
            raise UserError(f"gamma, the step schedule's decay factor, must lie in (0, 1]; got {self.gamma}")
        if not 0 <= self.checkpoint_minutes < float("inf"):
            raise UserError(f"checkpoint_minutes must be 0 (off) or a positive number; got {self.checkpoint_minutes}")
        if self.grad_clip < 0:
            raise UserError(f"grad_clip must be 0 (off) or a positive gradient norm; got {self.grad_clip}")
        if not 0 <= self.ema < 1:
            raise UserError(f"ema must be a decay in [0, 1); got {self.ema}")
        check_optimizer("", {k: getattr(self, k) for k in PLAYER_KEYS})
        if not isinstance(self.players, dict):
            raise UserError(f"players expects a dict {{player: {{setting: value}}}}; got {self.players!r}")
        for player, settings in self.players.items():
            self.players[player] = check_optimizer(f"players.{player}.", settings)
        return self

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> TrainConfig:
        """From a saved config.json (JSON lists become tuples again; keys it does not know are ignored)."""
        names = {f.name for f in dataclasses.fields(cls)}
        known = {k: v for k, v in values.items() if k in names}
        if "betas" in known:
            known["betas"] = tuple(known["betas"])
        known["players"] = {p: {k: tuple(v) if k == "betas" else v for k, v in s.items()}
                            for p, s in known.get("players", {}).items()}  # fmt: skip
        return cls(**known)


def check_optimizer(prefix: str, settings: Any) -> dict[str, Any]:
    """Optimiser settings (a subset of PLAYER_KEYS), coerced to their fields' types; a bad one is a UserError."""
    if not isinstance(settings, dict):
        raise UserError(f"{prefix.rstrip('.')} expects a dict of {', '.join(PLAYER_KEYS)}; got {settings!r}")
    hints = typing.get_type_hints(TrainConfig)
    out = {}
    for key, value in settings.items():
        if key not in PLAYER_KEYS:
            raise UserError(f"{prefix}{key} is not an optimiser setting; expected one of {', '.join(PLAYER_KEYS)}")
        out[key] = _coerce(prefix + key, hints[key], value)
    if "optimizer" in out and out["optimizer"] not in OPTIMIZERS:
        raise UserError(f"{prefix}optimizer must be one of {', '.join(OPTIMIZERS.names())}; got {out['optimizer']!r}")
    if "lr" in out and out["lr"] <= 0:
        raise UserError(f"{prefix}lr must be positive; got {out['lr']}")
    if "betas" in out and not all(0 <= b < 1 for b in out["betas"]):
        raise UserError(f"{prefix}betas must lie in [0, 1); got {out['betas']}")
    for key in ("weight_decay", "momentum"):
        if key in out and out[key] < 0:
            raise UserError(f"{prefix}{key} must be ≥ 0; got {out[key]}")
    return out


def check_fields(values: dict[str, Any], *, what: str) -> dict[str, Any]:
    """`values` as TrainConfig fields, each coerced to its type: a misspelt or ill-typed key is a UserError."""
    hints = typing.get_type_hints(TrainConfig)
    out = {}
    for key, value in values.items():
        if key not in hints:
            close = difflib.get_close_matches(key, hints, n=3)
            hint = f"; did you mean {', '.join(close)}?" if close else ""
            raise UserError(f"{what}: unknown config field {key!r}{hint}")
        out[key] = _coerce(key, hints[key], value)
    return out


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
    if origin is tuple:  # a fixed-length tuple of numbers, e.g. betas
        items = typing.get_args(hint)
        if not isinstance(value, list | tuple) or len(value) != len(items):
            raise UserError(f"{name} expects {len(items)} values, e.g. {tuple(range(len(items)))}; got {value!r}")
        return tuple(_coerce(name, h, v) for h, v in zip(items, value, strict=True))
    if origin is dict and not isinstance(value, dict):
        raise UserError(f"{name} expects a dict literal; got {value!r}")
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
            close = difflib.get_close_matches(head, hints, n=3)
            hint = f"; did you mean {', '.join(close)}?" if close else ""
            raise UserError(f"unknown config field {head!r}{hint}")
        if head == "players" and sub:  # players.NAME.KEY=VALUE or players.NAME={...}
            player, _, setting = sub.partition(".")
            settings = {setting: value} if setting else value
            merged = cfg.players.get(player, {}) | check_optimizer(f"players.{player}.", settings)
            cfg.players = {**cfg.players, player: merged}
        elif sub:
            if not head.endswith("_args"):
                raise UserError(f"{head} has no sub-fields; got {key!r}")
            getattr(cfg, head)[sub] = value
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
