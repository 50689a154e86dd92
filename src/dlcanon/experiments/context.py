"""What an experiment runs under, and the one way it trains in-process.

An experiment is `fn(ctx: Context) -> Result`. The context says quick or full, the device to train on, the
seed every random draw derives from, the intra-op threads, and any settings a caller overrides (a test
shrinks an experiment with `Context(settings={"epochs": 1})` instead of patching its module):

    s = ctx.pick(QUICK, FULL)                              # the mode's settings, the overrides on top
    ctx.manual_seed(0)                                     # torch.manual_seed(ctx.seed + 0)
    summary = ctx.train(Classifier(net), data, epochs=s["epochs"], lr=1e-3)
    cfg, vae = ctx.build("vae", data, epochs=8)            # a registered model with its recipe
    summary = ctx.train(vae, data, cfg)

`ctx.train` owns the in-process `TrainConfig`: the context's device and seed, no TensorBoard, no logs and one
evaluation at the end unless the fields ask for more. It trains on `ctx.device` and hands the objective back
on the CPU, so what an experiment computes after training reads CPU tensors whatever the device was.
"""

from __future__ import annotations

import contextlib
import copy
import dataclasses
import json
import tempfile
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from dlcanon.config import TrainConfig
from dlcanon.data.base import DataBundle
from dlcanon.objectives.base import Objective
from dlcanon.runs import build_objective, default_config
from dlcanon.runtime import assume_bf16
from dlcanon.train import fit

# `Context.precision` -> what `auto` assumes of the hardware's bf16 (`runtime.assume_bf16`)
ASSUMED = {"auto": None, "fp32": False, "bf16": True}

# in-process runs write nothing, log nothing and evaluate once, at the end, unless a field says otherwise
IN_PROCESS: dict[str, Any] = {"tensorboard": False, "eval_every": 0, "log_every": 10**9}


@contextlib.contextmanager
def threads(n: int) -> Iterator[None]:
    """Run the block on `n` intra-op threads. Tiny networks are faster on one thread: with a few thousand
    multiply-adds per op, waking a second thread costs more than it saves, and far more on a busy machine."""
    previous = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(previous)


@dataclass(frozen=True)
class Context:
    """`quick` or full mode; `device` to train on ("cpu", "cuda", ...); `seed`, the base of every seed;
    `threads`, intra-op threads (1: tiny networks are faster on one thread, as a second thread costs more
    than it saves at a few thousand multiply-adds per op); `settings`, overrides of the mode's settings;
    `precision`, what a run's `auto` precision resolves to for conv nets ("auto": bf16 where the hardware has it
    natively; "fp32" or "bf16" whatever the hardware: the claims check runs both)."""

    quick: bool = True
    device: str = "cpu"
    seed: int = 0
    threads: int = 1
    settings: Mapping[str, Any] = field(default_factory=dict)
    precision: str = "auto"  # what `auto` becomes for conv nets: auto (the hardware decides), fp32 or bf16

    def pick(self, quick: Mapping[str, Any], full: Mapping[str, Any]) -> dict[str, Any]:
        """The settings of this mode (`quick` or `full`) with the context's `settings` on top; a setting the
        experiment does not have is an error, so a misspelt override cannot pass silently."""
        chosen = dict(quick if self.quick else full)
        unknown = sorted(set(self.settings) - set(chosen))
        if unknown:
            raise KeyError(f"unknown experiment settings {unknown}; expected some of {sorted(chosen)}")
        return {**chosen, **self.settings}

    def manual_seed(self, offset: int = 0) -> None:
        """Seed the global generator with `seed + offset` (offset: the experiment's own seed 0, 1, ...)."""
        torch.manual_seed(self.seed + offset)

    def generator(self, offset: int = 0) -> torch.Generator:
        """A CPU generator seeded with `seed + offset`."""
        return torch.Generator().manual_seed(self.seed + offset)

    @contextlib.contextmanager
    def applied(self) -> Iterator[Context]:
        """Run the block on the context's threads, `auto` precision resolved as `precision` says, the global
        generator seeded with `seed`."""
        with threads(self.threads), assume_bf16(ASSUMED[self.precision]):
            self.manual_seed()
            yield self

    def config(self, base: TrainConfig | None = None, /, **fields: Any) -> TrainConfig:
        """`base` (default: TrainConfig's defaults) run in-process on this context's device with its seed,
        then `fields` (any TrainConfig field; an unknown one is an error)."""
        cfg = copy.deepcopy(base) if base is not None else TrainConfig(model="experiment", data="experiment")
        return dataclasses.replace(cfg, **{"device": self.device, "seed": self.seed, **IN_PROCESS, **fields})

    def build(
        self,
        model: str,
        data: DataBundle,
        *,
        model_args: Mapping[str, Any] | None = None,
        objective_args: Mapping[str, Any] | None = None,
        **fields: Any,
    ) -> tuple[TrainConfig, Objective]:
        """Registered `model` for `data` in its registered objective, configured by its recipe
        (`runs.default_config`) with `model_args`/`objective_args` merged into the recipe's and `fields` on
        top, initialised from the global generator seeded with the configuration's seed."""
        cfg = self.config(default_config(model, data=data.name), **fields)
        cfg.model_args = {**cfg.model_args, **(model_args or {})}
        cfg.objective_args = {**cfg.objective_args, **(objective_args or {})}
        torch.manual_seed(cfg.seed)
        return cfg, build_objective(cfg, data)

    def train(
        self,
        objective: Objective,
        data: DataBundle,
        base: TrainConfig | None = None,
        /,
        *,
        curve: bool = False,
        snapshot: Callable[[int, Objective], None] | None = None,
        snapshot_steps: Iterable[int] = (),
        **fields: Any,
    ) -> dict[str, Any]:
        """Train `objective` on `data` and return the trainer's summary; the objective comes back on the CPU.
        The configuration is `base` (one made by `config` or `build`, kept as it is: its seed, logging and
        evaluation stand) with `fields` on top, or `self.config(**fields)` without a base. `curve=True` adds
        `losses`, the training loss averaged over each `log_every` steps, and `curve_steps`. `snapshot(step,
        objective)` runs at `snapshot_steps`."""
        cfg = self.config(**fields) if base is None else dataclasses.replace(copy.deepcopy(base), **fields)
        with contextlib.ExitStack() as stack:
            out = Path(stack.enter_context(tempfile.TemporaryDirectory())) if curve else None
            summary = fit(objective, data, cfg, out_dir=out, snapshot=snapshot, snapshot_steps=snapshot_steps)
            if out is not None:
                logged = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
                logged = [r for r in logged if "train_loss" in r]
                summary["curve_steps"] = [r["step"] for r in logged]
                summary["losses"] = [r["train_loss"] for r in logged]
        objective.to("cpu")
        return summary


def final_metrics(summary: dict[str, Any]) -> dict[str, float]:
    """A trainer summary's test metrics without their `test_` prefix."""
    return {k.removeprefix("test_"): v for k, v in summary["metrics"].items() if k.startswith("test_")}
