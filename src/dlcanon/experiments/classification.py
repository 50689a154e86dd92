"""What the classification experiments (C2–C9, F9) share: stratified subsets, one recipe, precise BN.

Every network is trained by `Context.train` (the one trainer, in-process) under the `Classifier` objective, or
the model's registered objective (GoogLeNet's auxiliary heads, `objective_for`), with the project's precision
"auto" (bf16 autocast where the device has native bf16, which halves these runs' time on such a CPU, else
fp32).
"""

from __future__ import annotations

import contextlib
from functools import cache
from typing import Any

import torch
from torch import nn

from dlcanon.data import load_data
from dlcanon.data.base import DataBundle, Split
from dlcanon.data.sources import stratified_split
from dlcanon.objectives.base import Objective
from dlcanon.objectives.classifier import Classifier
from dlcanon.registry import MODELS, OBJECTIVES
from dlcanon.runtime import autocast as runtime_autocast
from dlcanon.runtime import resolve_precision

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


def recipe(**fields: Any) -> dict[str, Any]:
    """The experiments' recipe as `Context.train` fields: AdamW, lr 2e-3, batch 64, one-cycle schedule;
    `fields` override it."""
    defaults: dict[str, Any] = dict(
        epochs=3,
        batch_size=64,
        lr=2e-3,
        optimizer="adamw",
        weight_decay=5e-4,
        schedule="onecycle",
        channels_last=False,
    )
    return {**defaults, **fields}


def objective_for(name: str, network: nn.Module) -> Objective:
    """Registered model `name`'s network in its registered objective (GoogLeNet's auxiliary heads), else the
    Classifier."""
    objective = MODELS.entry(name).meta.get("objective", "classifier")
    return Classifier(network) if objective == "classifier" else OBJECTIVES.build(objective, network)


def autocast(precision: str, network: nn.Module) -> contextlib.AbstractContextManager:
    """The autocast the trainer uses for `precision` on the network's device (bf16/fp16, or none)."""
    device = next(network.parameters()).device
    conv = any(isinstance(m, nn.Conv2d) for m in network.modules())
    return runtime_autocast(resolve_precision(precision, device, conv=conv), device)


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


def steps_to(losses: list[float], steps: list[int], target: float) -> int | None:
    """The first logged step whose averaged training loss is at most `target` (None if never)."""
    return next((s for s, loss in zip(steps, losses, strict=True) if loss <= target), None)
