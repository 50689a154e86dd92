"""Model facts for `list` and `info`: parameters on default data, per-layer table with FLOPs.

A model whose objective trains several players (a GAN's generator and discriminator, pix2pix, SRGAN) is shown
network by network: each network the players' parameters live in, fed as the objective feeds it in one step
of its last player (the generator: G from z, then the critic on G's sample), and the total.

A model registered with `input_shape` and `num_classes` metadata (the ImageNet configurations: (3, 224, 224),
1,000 classes) is sized from them without loading any data, built on the meta device (no memory, no
initialisation) and summarised there; other models are sized from their default dataset.
"""

from __future__ import annotations

from functools import cache
from types import SimpleNamespace

import torch

from dlcanon.config import TrainConfig, apply_overrides
from dlcanon.data import DataBundle, load_data
from dlcanon.errors import UserError
from dlcanon.models import build_model
from dlcanon.nn.summary import Networks, Summary, count_parameters, summarize, summarize_meta, summarize_networks
from dlcanon.objectives.base import Update
from dlcanon.registry import MODELS


@cache
def _bundle(name: str) -> DataBundle:
    """The dataset, loaded once per process on the CPU whatever default device the caller set (a bundle cached
    from inside `torch.device("meta")` would hold tensors without data)."""
    with torch.device("cpu"):
        return load_data(name)


def data_shape(name: str) -> tuple[tuple[int, ...], int | None]:
    """(input_shape, num_classes) of a dataset, loaded once per process."""
    bundle = _bundle(name)
    return bundle.input_shape, bundle.num_classes


def registered_shape(model: str) -> tuple[tuple[int, ...], int | None] | None:
    """(input_shape, num_classes) from the model's registry metadata, or None if it has none."""
    meta = MODELS.entry(model).meta
    if "input_shape" not in meta:
        return None
    return tuple(meta["input_shape"]), meta.get("num_classes")


def default_params(model: str) -> dict:
    """The model's default dataset and its parameter count there (on its registered shape, if it has one),
    counted on the meta device (no memory, no initialisation); a builder that computes with tensors while it
    builds is counted on the CPU."""
    data = MODELS.entry(model).meta.get("data", "mnist5k")
    shape, classes = registered_shape(model) or data_shape(data)
    try:
        with torch.device("meta"):
            return {"data": data, "params": count_parameters(build_model(model, shape, classes))}
    except (RuntimeError, NotImplementedError):  # a value read from a meta tensor (.item(), a data-dependent size)
        return {"data": data, "params": count_parameters(build_model(model, shape, classes))}


def model_summary(
    model: str, *, data: str | None = None, overrides: list[str] | None = None
) -> Summary | Networks:
    """Per-layer summary of `model` (or a preset's model) sized for `data` (default: the model's own dataset);
    one per network when its objective trains several players.

    A builder's refusal of a `--set model_args...` value is a one-line UserError."""
    from dlcanon.runs import REFUSALS, build_objective, default_config, refused

    cfg = apply_overrides(default_config(model, data=data), overrides or [])
    model = cfg.model
    registered = registered_shape(model) if data is None else None
    shape, classes = registered or data_shape(cfg.data)
    try:
        if registered is not None:
            split = meta_networks(cfg, shape, classes)
            return split or summarize_meta(lambda: build_model(model, shape, classes, **cfg.model_args), shape)
    except REFUSALS as exc:
        raise refused(f"model {model} on {cfg.data}", exc) from None
    torch.manual_seed(0)
    objective = build_objective(cfg, _bundle(cfg.data))  # the model's refusal of a value is one line
    players = objective.updates()
    networks = player_networks(objective.network, players)
    if len(networks) < 2:
        try:
            return summarize(objective.network, shape)
        except TypeError:  # a network of more than an input (DDPM's ε(x, t)): run as its objective runs it
            networks = {"network": objective.network}
    test = _bundle(cfg.data).test
    batch = (test.x[:1], None if test.y is None else test.y[:1])
    last = players[-1].name  # the generator's step runs every network once: G(z), then D(G(z))
    try:
        return summarize_networks(objective.network, networks, lambda: objective(batch, last), name=model)
    except RuntimeError as exc:  # an objective that differentiates inside its loss (FFJORD's trace) under no_grad
        raise UserError(f"info cannot trace {model}: its objective's step needs autograd ({exc})") from None


def meta_networks(cfg: TrainConfig, shape: tuple[int, ...], classes: int | None) -> Networks | None:
    """Each network of a multi-network image-to-image model at its registered (paper) size, on the meta device:
    the generator's step runs on an empty input and, as target, the shape of the model's own prediction
    (`Objective.predict`). None for one network, or an objective that predicts nothing (then one table)."""
    from dlcanon.runs import build_objective

    stand_in = SimpleNamespace(name=cfg.data, input_shape=shape, num_classes=classes)  # what build_objective reads
    with torch.device("meta"):
        objective = build_objective(cfg, stand_in)  # type: ignore[arg-type]
    players = objective.updates()
    networks = player_networks(objective.network, players)
    if len(networks) < 2:
        return None
    x = torch.empty(1, *shape, device="meta")
    try:
        y = objective.predict(x)
    except UserError:
        return None
    last = players[-1].name  # the generator's step runs every network once
    return summarize_networks(objective.network, networks, lambda: objective((x, y), last), name=cfg.model)


def player_networks(network: torch.nn.Module, players: list[Update]) -> dict[str, torch.nn.Module]:
    """The network's direct submodules whose parameters all belong to one player, by attribute name: a GAN's
    `generator` and `discriminator` (each trained by its own player), in the players' order."""
    found: dict[str, torch.nn.Module] = {}
    owners: set[str] = set()
    for player in players:
        owned = {id(p) for p in player.parameters}
        for name, child in network.named_children():
            params = {id(p) for p in child.parameters()}
            if params and params <= owned and name not in found:
                found[name] = child
                owners.add(player.name)
    return found if len(owners) > 1 else {}  # one player (a classifier's): one network


def recipe(name: str, *, data: str | None = None) -> dict:
    """How `dlcanon train NAME` trains by default: the preset's budget, optimiser and objective arguments."""
    from dlcanon.runs import default_config

    cfg = default_config(name, data=data)
    budget = {"steps": cfg.steps} if cfg.steps else {"epochs": cfg.epochs}
    fields = ("objective", "data", "batch_size", "optimizer", "lr", "betas", "weight_decay", "schedule")
    return {"preset": cfg.preset or None, **budget, **{k: getattr(cfg, k) for k in fields},
            "objective_args": cfg.objective_args, "players": cfg.players}  # fmt: skip


def recipe_line(r: dict) -> str:
    """One line for `info`: which preset, the budget and the optimiser."""
    budget = f"{r['steps']:,} steps" if "steps" in r else f"{r['epochs']} epochs"
    source = f"preset {r['preset']}" if r["preset"] else "no preset: TrainConfig's defaults"
    args = "".join(f", {k} = {v}" for k, v in r["objective_args"].items())
    return (
        f"default recipe ({source}): {r['objective']} on {r['data']}, {budget} of batch {r['batch_size']}, "
        f"{r['optimizer']} lr {r['lr']:g} β = {tuple(r['betas'])}, {r['schedule']} schedule{args}"
    )
