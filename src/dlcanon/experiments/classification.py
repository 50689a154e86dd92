"""What the classification experiments (C2–C9, F9) share: stratified subsets, one recipe, training with curves.

Every network is trained by `dlcanon.train.fit` (the one trainer) under the `Classifier` objective, or the
model's registered objective (GoogLeNet's auxiliary heads), on the CPU by default with the project's
precision "auto" (bf16 autocast where the CPU has native bf16, which halves these runs' time, else fp32);
callers run them on one thread (`experiments.base.threads`): on 2 busy cores a second thread costs more than
it saves for networks this small.
"""

from __future__ import annotations

import contextlib
import json
import tempfile
from functools import cache
from pathlib import Path
from typing import Any

import torch
from torch import nn

from dlcanon.config import TrainConfig
from dlcanon.data import load_data
from dlcanon.data.base import DataBundle, Split
from dlcanon.data.sources import stratified_split
from dlcanon.objectives.classifier import Classifier
from dlcanon.registry import MODELS, OBJECTIVES
from dlcanon.runtime import resolve_precision
from dlcanon.train import fit

CLASSIFIER_TAGS = {"C2", "C3", "C4", "C5", "C6", "C7", "F10"}


def small_classifiers() -> list[str]:
    """Every registered small-input model of the classification families (no ImageNet input_shape)."""
    return [e.name for e in MODELS if CLASSIFIER_TAGS & set(e.tags) and "input_shape" not in e.meta]


@cache
def _load(name: str) -> DataBundle:
    return load_data(name)


def dataset(name: str = "mnist5k", *, n_train: int | None = None, n_test: int | None = None) -> DataBundle:
    """`name` with a stratified, seeded subset of `n_train` training and `n_test` test samples (None: all)."""
    bundle = _load(name)

    def pick(split: Split, n: int | None) -> Split:
        if n is None or n >= len(split):
            return split
        _, chosen = stratified_split(split.y.numpy(), n, seed=0)
        return split.subset(torch.as_tensor(chosen))

    return DataBundle(bundle.name, pick(bundle.train, n_train), pick(bundle.test, n_test), bundle.num_classes, "image")


def recipe(**fields: Any) -> TrainConfig:
    """The experiments' recipe: AdamW, lr 2e-3, batch 64, one-cycle schedule, CPU; `fields` override it."""
    defaults: dict[str, Any] = dict(
        model="experiment",
        epochs=3,
        batch_size=64,
        lr=2e-3,
        optimizer="adamw",
        weight_decay=5e-4,
        schedule="onecycle",
        eval_every=0,
        log_every=10**9,
        device="cpu",
        channels_last=False,
        tensorboard=False,
    )
    return TrainConfig(**{**defaults, **fields})


def train(
    network: nn.Module, data: DataBundle, cfg: TrainConfig, *, objective: str = "classifier", curve: bool = False
) -> dict[str, Any]:
    """Train `network` with `fit` and return its summary; `curve=True` adds `losses`, the training loss
    averaged over each `cfg.log_every` steps (read back from the run's metrics.jsonl), and `curve_steps`."""
    torch.manual_seed(cfg.seed)
    wrapped = Classifier(network) if objective == "classifier" else OBJECTIVES.build(objective, network)
    if not curve:
        return fit(wrapped, data, cfg)
    with tempfile.TemporaryDirectory() as tmp:
        summary = fit(wrapped, data, cfg, out_dir=Path(tmp))
        records = [json.loads(line) for line in (Path(tmp) / "metrics.jsonl").read_text().splitlines()]
    logged = [r for r in records if "train_loss" in r]
    summary["curve_steps"] = [r["step"] for r in logged]
    summary["losses"] = [r["train_loss"] for r in logged]
    return summary


def autocast(precision: str, network: nn.Module) -> contextlib.AbstractContextManager:
    """The autocast the trainer uses for `precision` on the network's device (bf16/fp16, or none)."""
    device = next(network.parameters()).device
    conv = any(isinstance(m, nn.Conv2d) for m in network.modules())
    dtype = {"bf16": torch.bfloat16, "fp16": torch.float16}.get(resolve_precision(precision, device, conv=conv))
    return contextlib.nullcontext() if dtype is None else torch.autocast(device.type, dtype=dtype)


@torch.no_grad()
def precise_bn(network: nn.Module, split: Split, *, batch_size: int = 256, precision: str = "auto") -> None:
    """Re-estimate every BatchNorm's running mean and variance as exact averages over `split` (train mode,
    momentum None), as in "precise BN" (Wu & Johnson, 2021): after a few dozen steps the exponential running
    averages still lag weights that moved fast, and eval-mode accuracy collapses although train-mode is fine."""
    norms = [m for m in network.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    if not norms:
        return
    momenta = [m.momentum for m in norms]
    for m in norms:
        m.reset_running_stats()
        m.momentum = None  # cumulative average over the batches below
    was_training = network.training
    network.train()
    device = next(network.parameters()).device
    with autocast(precision, network):
        for i in range(0, len(split), batch_size):
            network(split.x[i : i + batch_size].to(device))
    network.train(was_training)
    for m, momentum in zip(norms, momenta, strict=True):
        m.momentum = momentum


@torch.no_grad()
def evaluate(network: nn.Module, split: Split, *, batch_size: int = 1000, precision: str = "auto") -> dict[str, float]:
    """Test loss and accuracy of `network` in eval mode (the Classifier objective's metrics)."""
    network.eval()
    device = next(network.parameters()).device
    batches = (
        (split.x[i : i + batch_size].to(device), split.y[i : i + batch_size].to(device))
        for i in range(0, len(split), batch_size)
    )
    with autocast(precision, network):
        return Classifier(network).evaluate(batches)


def build(name: str, data: DataBundle, **kwargs: Any) -> nn.Module:
    """Registered model `name` sized for `data`."""
    return MODELS.build(name, data.input_shape, data.num_classes, **kwargs)


def objective_of(name: str) -> str:
    return MODELS.entry(name).meta.get("objective", "classifier")


def steps_to(losses: list[float], steps: list[int], target: float) -> int | None:
    """The first logged step whose averaged training loss is at most `target` (None if never)."""
    return next((s for s, loss in zip(steps, losses, strict=True) if loss <= target), None)
