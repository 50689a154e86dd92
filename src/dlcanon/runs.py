"""From names to a runnable objective, and from a run directory back to one.

The composition root: a builder's ValueError, KeyError, TypeError or RuntimeError (torch refusing a size) for a
value the user gave becomes a one-line UserError here (exit 2), saying which model or objective refused what.
"""

from __future__ import annotations

import collections.abc
import functools
import inspect
import json
import re
import types
import typing
from pathlib import Path
from typing import Any

import torch

from dlcanon import checkpoint, presets
from dlcanon.config import TrainConfig, apply_overrides, check_fields
from dlcanon.data import DataBundle, load_data
from dlcanon.errors import UserError
from dlcanon.models import build_model
from dlcanon.objectives.base import Objective
from dlcanon.registry import MODELS, OBJECTIVES, PRESETS


def default_config(name: str, **fields: Any) -> TrainConfig:
    """TrainConfig for a preset or a model: dataclass defaults, the model's registered data and objective, the
    preset's fields (a model's default preset is the one of its name, if any), then `fields` (None: unset)."""
    model = presets.get(name).model if name in PRESETS else name
    meta = MODELS.entry(model).meta  # an unknown name is a UserError with close matches
    data = meta.get("data", "mnist5k")
    cfg = presets.get(name).config(data=data) if name in PRESETS else TrainConfig(model=model, data=data)
    for key, value in check_fields({k: v for k, v in fields.items() if v is not None}, what=name).items():
        setattr(cfg, key, value)
    if not cfg.objective:
        cfg.objective = meta.get("objective", "classifier")
    return cfg


def configure(name: str, overrides: list[str] | None = None, **fields: Any) -> TrainConfig:
    """`default_config` with `--set` overrides, validated; refuses an ImageNet configuration on bundled data."""
    cfg = apply_overrides(default_config(name, **fields), overrides or []).validate()
    model, meta = cfg.model, MODELS.entry(cfg.model).meta
    if "input_shape" in meta and cfg.data == meta.get("data"):  # an ImageNet configuration: nothing is bundled
        shape = "×".join(map(str, meta["input_shape"]))
        raise UserError(
            f"{model} is the paper's configuration for {shape} inputs and {meta['num_classes']} classes, and no "
            f"such data is bundled: pass --data folder:PATH, or train its small-input variant on bundled data"
        )
    return cfg


def declared(builder: Any) -> dict[str, Any]:
    """The type hints of the keyword arguments a builder takes: its own, and, when it passes **kwargs on, those
    of the class it returns (its return annotation). Hints that cannot be resolved are left out."""
    fn = builder.func if isinstance(builder, functools.partial) else builder  # variants are partials
    if isinstance(fn, type):  # a class registered as its own builder: its constructor's arguments
        fn = fn.__init__
    try:
        hints = typing.get_type_hints(fn)
    except (NameError, TypeError):
        return {}
    params = inspect.signature(fn).parameters
    own = {n: hints[n] for n, p in params.items() if n in hints and p.kind is not p.VAR_KEYWORD}
    target = hints.get("return")
    if any(p.kind is p.VAR_KEYWORD for p in params.values()) and isinstance(target, type):
        try:
            forwarded = typing.get_type_hints(target.__init__)
        except (NameError, TypeError):
            forwarded = {}
        own = {k: v for k, v in forwarded.items() if k != "return"} | own
    return own


def matches(value: Any, hint: Any) -> bool:
    """Whether `value` is of the simple type `hint` (int, float, bool, str, X | None, sequences of them); a type
    this does not know is taken on trust."""
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if hint is Any:
        return True
    if hint is type(None):
        return value is None
    if origin in (types.UnionType, typing.Union):
        return any(matches(value, a) for a in args)
    if hint is bool:
        return isinstance(value, bool)
    if hint is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if hint is float:
        return isinstance(value, int | float) and not isinstance(value, bool)
    if hint is str:
        return isinstance(value, str)
    if origin in (list, tuple, collections.abc.Sequence):
        items = [a for a in args if a is not Ellipsis]
        return isinstance(value, list | tuple) and all(matches(v, items[0]) for v in value if items)
    return True


def accepted(builder: Any, *, follow: bool = True) -> set[str] | None:
    """The keyword arguments a builder takes, or None when it passes **kwargs on. With `follow`, those of the
    class its return annotation names are counted too: the likely keys, good for suggestions, not for refusals
    (a builder may pass **kwargs to another builder rather than to that class, as `cgan` does)."""
    fn = builder.func if isinstance(builder, functools.partial) else builder
    fn = fn.__init__ if isinstance(fn, type) else fn
    params = inspect.signature(fn).parameters
    names = {n for n, p in params.items() if p.kind in (p.KEYWORD_ONLY, p.POSITIONAL_OR_KEYWORD)}
    if any(p.kind is p.VAR_KEYWORD for p in params.values()):
        if not follow:
            return None
        target = declared_return(fn)
        if target is None or any(p.kind is p.VAR_KEYWORD for p in inspect.signature(target).parameters.values()):
            return None
        names |= set(inspect.signature(target).parameters)
    positional = list(params)[:2] if not isinstance(builder, type) else []  # (input_shape, num_classes), (network)
    return names - {"self", *positional}


def declared_return(fn: Any) -> Any:
    try:
        target = typing.get_type_hints(fn).get("return")
    except (NameError, TypeError):
        return None
    return target.__init__ if isinstance(target, type) else None


def unknown_argument(what: str, builder: Any, key: str) -> UserError:
    from dlcanon.registry import suggest

    known = accepted(builder)
    return UserError(f"{what} takes no argument {key!r}" + (suggest(key, sorted(known), few=100) if known else ""))


def check_arguments(what: str, builder: Any, args: dict[str, Any]) -> None:
    """A UserError for an argument the builder does not take (naming those it likely does) or whose value is not
    of its declared type (before the builder runs). A builder that passes **kwargs on is left to refuse an
    unknown key itself (`refusal`)."""
    known = accepted(builder, follow=False)
    for key in args:
        if known is not None and key not in known:
            raise unknown_argument(what, builder, key)
    hints = declared(builder)
    for key, value in args.items():
        if key in hints and not matches(value, hints[key]):
            expected = getattr(hints[key], "__name__", None) or str(hints[key]).replace("typing.", "")
            raise UserError(f"{what}: {key} expects {expected}; got {value!r}")


# what a builder raises for a configuration it cannot build: construction computes nothing else that could fail
REFUSALS = (TypeError, ValueError, KeyError, RuntimeError)


def refusal(what: str, builder: Any, exc: Exception, *, where: str = "") -> UserError:
    """A builder's refusal as one line; an unexpected keyword argument names the keys the builder likely takes."""
    found = re.search(r"unexpected keyword argument '(\w+)'", str(exc)) if isinstance(exc, TypeError) else None
    return unknown_argument(what, builder, found.group(1)) if found else refused(what + where, exc)


def refused(what: str, exc: Exception) -> UserError:
    """A builder's refusal (one of REFUSALS) as the user's one-line mistake."""
    message = exc.args[0] if isinstance(exc, KeyError) and exc.args else exc  # KeyError's str() is a repr
    text = " ".join(str(message).split())
    if isinstance(exc, KeyError):
        text = f"unknown value {text!r}"
    return UserError(f"{what}: {text}")


def build_objective(cfg: TrainConfig, data: DataBundle) -> Objective:
    """The network for `data`'s shape and classes, wrapped in the configured objective.

    A builder's refusal (an unknown, ill-typed or out-of-range argument, or data the model cannot take) is the
    user's mistake: a UserError naming the model or objective."""
    check_arguments(f"model {cfg.model}", MODELS.entry(cfg.model).builder, cfg.model_args)
    try:
        network = build_model(cfg.model, data.input_shape, data.num_classes, **cfg.model_args)
    except REFUSALS as exc:
        raise refusal(f"model {cfg.model}", MODELS.entry(cfg.model).builder, exc, where=f" on {data.name}") from None
    builder = OBJECTIVES.entry(cfg.objective).builder
    check_arguments(f"objective {cfg.objective}", builder, cfg.objective_args)
    try:
        return OBJECTIVES.build(cfg.objective, network, **cfg.objective_args)
    except REFUSALS as exc:
        raise refusal(f"objective {cfg.objective}", builder, exc) from None


def saved_config(run_dir: Path) -> dict[str, Any]:
    """A run's config.json as saved: every field, plus what the run recorded (`data_info`, `optimizers`, ...)."""
    path = Path(run_dir) / "config.json"
    if not path.is_file():
        raise UserError(f"expected a run directory with config.json; {run_dir} has none")
    try:
        saved = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise UserError(f"{path} cannot be read as JSON ({' '.join(str(exc).split())})") from None
    if not isinstance(saved, dict):
        raise UserError(f"{path} holds a JSON {type(saved).__name__}; expected a run's configuration (an object)")
    return saved


def load_config(run_dir: Path, saved: dict[str, Any] | None = None) -> TrainConfig:
    """The run's TrainConfig (from `saved`, its config.json, when given); a malformed one is a UserError."""
    try:
        return TrainConfig.from_dict(saved_config(run_dir) if saved is None else saved)
    except (TypeError, ValueError, AttributeError) as exc:
        raise UserError(f"{Path(run_dir) / 'config.json'} is not a run's configuration ({exc})") from None


# settings a resumed run may change: where and how fast it runs, what it logs; nothing it computes
RESUMABLE_CHANGES = frozenset(
    {"device", "compile", "precision", "deterministic", "tensorboard", "log_every", "eval_every", "eval_batch_size",
     "checkpoint_every", "checkpoint_minutes", "threads"}
)  # fmt: skip


def check_resume(cfg: TrainConfig, run_dir: Path) -> None:
    """Before anything is built or written: `--resume` needs an existing run, configured as `cfg` is.

    A run continued with another dataset, model, budget or optimiser would crash on its weights or, worse,
    silently become a different run; the saved configuration wins, and a conflict is one line naming it."""
    if not (Path(run_dir) / "config.json").is_file():
        raise UserError(f"--resume continues a run, and {run_dir} holds none (no config.json); drop --resume to start")
    saved = load_config(run_dir).to_dict()
    for key, value in cfg.to_dict().items():
        if key not in RESUMABLE_CHANGES and saved.get(key) != value:
            raise UserError(
                f"--resume would change {key} of the run in {run_dir} from {saved.get(key)!r} to {value!r}; "
                f"resume with the run's own settings, or train into another --out"
            )


def load_run(
    run_dir: Path, *, data: str | None = None, device: str = "cpu"
) -> tuple[TrainConfig, DataBundle, Objective]:
    """Rebuild a run's objective with its final weights (the EMA weights when the run kept an EMA)."""
    saved = saved_config(run_dir)
    cfg = load_config(run_dir, saved)
    bundle = load_data(data or cfg.data, **cfg.data_args)
    trained_on = saved.get("data_info", {}).get("input_shape")
    if trained_on is not None and tuple(trained_on) != bundle.input_shape:
        raise UserError(
            f"{run_dir} was trained on {cfg.data} inputs {tuple(trained_on)}; {bundle.name}'s are "
            f"{bundle.input_shape}: evaluate it on data of its own shape"
        )
    objective = build_objective(cfg, bundle)
    path = Path(run_dir) / "checkpoint.pt"
    if not path.is_file():
        raise UserError(f"{run_dir} holds no checkpoint.pt: the run never saved (train it, or --resume it)")
    state = checkpoint.load(path)
    try:
        if "ema" in state:  # AveragedModel's state: "module.<name>" plus "n_averaged"
            weights = {k.removeprefix("module."): v for k, v in state["ema"].items() if k.startswith("module.")}
        else:
            weights = state["objective"]
        objective.load_state_dict(weights)
    except (KeyError, RuntimeError, ValueError, TypeError, AttributeError) as exc:  # another model's or program's
        detail = f"missing {exc}" if isinstance(exc, KeyError) else " ".join(str(exc).split())[:200]
        raise UserError(f"{path} does not fit {cfg.model} on {bundle.name} ({detail})") from None
    return cfg, bundle, objective.to(torch.device(device)).eval()


def builder_defaults(builder: Any) -> dict[str, Any]:
    """The keyword arguments a builder (or the class it returns, for **kwargs passed on) takes, with their
    defaults: what `--print-config` shows beside the values a preset or `--set` gives."""
    fn = builder.func if isinstance(builder, functools.partial) else builder
    fns = [fn.__init__ if isinstance(fn, type) else fn]
    target = typing.get_type_hints(fns[0]).get("return") if not isinstance(fn, type) else None
    if isinstance(target, type) and any(p.kind is p.VAR_KEYWORD for p in inspect.signature(fns[0]).parameters.values()):
        fns.insert(0, target.__init__)
    defaults: dict[str, Any] = {}
    for f in fns:
        for name, p in inspect.signature(f).parameters.items():
            if p.kind is p.KEYWORD_ONLY and p.default is not p.empty:
                defaults[name] = p.default
    if isinstance(builder, functools.partial):
        defaults |= builder.keywords
    return defaults


def print_config(cfg: TrainConfig, data: DataBundle, objective: Objective) -> dict[str, Any]:
    """The fully resolved configuration a run of `cfg` would start from: every field, every player's optimiser
    as it would be built, and the model's and objective's arguments with their defaults filled in."""
    from dlcanon.config import resolved
    from dlcanon.train import player_settings

    model_args = builder_defaults(MODELS.entry(cfg.model).builder) | cfg.model_args
    # an objective's argument as the built objective keeps it (n_critic = None resolves to the loss's own count),
    # else as given; arguments it neither keeps nor was given (a builder's fixed `loss`) are left out
    kept = vars(objective)
    arguments = builder_defaults(OBJECTIVES.entry(cfg.objective).builder)
    objective_args = {k: kept[k] for k in arguments if k in kept and not isinstance(kept[k], torch.Tensor)}
    objective_args |= cfg.objective_args
    players = player_settings(cfg, objective.updates())
    return resolved(
        cfg, model_args=model_args, objective_args=objective_args, optimizers=players, data_info=data.describe()
    )


def budget_note(cfg: TrainConfig) -> str | None:
    """A one-line note when `cfg` trains for less than its preset does (its results will be the weaker)."""
    if not cfg.preset:
        return None
    recipe = presets.get(cfg.preset).config(data=cfg.data)
    if recipe.steps and cfg.steps and cfg.steps < recipe.steps:
        budget, full = f"{cfg.steps:,} steps", f"{recipe.steps:,}"
    elif not recipe.steps and not cfg.steps and cfg.epochs < recipe.epochs:
        budget, full = f"{cfg.epochs} epochs", f"{recipe.epochs}"
    else:
        return None
    return f"note: {budget}, below preset {cfg.preset}'s {full}: expect weaker results than the preset reaches"
