"""The trainer against a bare loop over the same model, batches, precision, threads and optimiser."""

from __future__ import annotations

import time
from typing import Any

import torch

from dlcanon.bench.timing import interleaved, median
from dlcanon.data import DataBundle
from dlcanon.optim import make_optimizer, run_settings
from dlcanon.runs import build_objective, default_config
from dlcanon.runtime import autocast
from dlcanon.train import Trainer


def bare_loop(trainer: Trainer, steps: int) -> float:
    """Seconds for `steps` plain steps (forward, backward, optimiser step) on the trainer's objective,
    batches, precision, threads and optimiser settings, with nothing else: no schedule, logging or checks."""
    objective, cfg = trainer.objective, trainer.cfg
    opt = make_optimizer(list(objective.parameters()), run_settings(cfg))
    stream = trainer.batches(0)
    available = torch.get_num_threads()
    torch.set_num_threads(trainer.threads)
    try:
        start = time.perf_counter()
        for _ in range(steps):
            with autocast(trainer.precision, trainer.device):
                loss, _ = objective(next(stream))
            loss.backward()
            opt.step()
            opt.zero_grad(set_to_none=True)
        return time.perf_counter() - start
    finally:
        torch.set_num_threads(available)


def trainer_overhead(data: DataBundle, *, model: str = "lenet5", epochs: int, repeats: int) -> dict[str, Any]:
    """Trainer seconds / bare-loop seconds − 1: pairs of runs interleaved (bare first in every other pair),
    each side the median of `repeats`; the overhead is the median of the pairs' ratios, so a change in the
    machine's load during the measurement moves both sides of a pair together."""
    cfg = default_config(model, epochs=epochs, eval_every=0, tensorboard=False, device="cpu", schedule="constant")

    def fresh() -> Trainer:
        torch.manual_seed(0)
        return Trainer(build_objective(cfg, data), data, cfg, progress=False)

    def bare() -> float:
        trainer = fresh()
        return bare_loop(trainer, trainer.total_steps)

    def trained() -> float:
        trainer = fresh()
        trainer.fit()
        return trainer.seconds

    times = interleaved({"bare": bare, "trainer": trained}, repeats)
    ratios = [t / b for t, b in zip(times["trainer"], times["bare"], strict=True)]
    return {
        "model": model,
        "steps": fresh().total_steps,
        "repeats": repeats,
        "bare_seconds": median(times["bare"]),
        "trainer_seconds": median(times["trainer"]),
        "overhead": median(ratios) - 1,
        # the noise floor: how much the bare loop's repetitions of identical work varied (slowest / fastest − 1),
        # and the range of the pairs' ratios; an overhead inside this range is not resolved by the measurement
        "noise": max(times["bare"]) / min(times["bare"]) - 1,
        "ratio_range": [min(ratios) - 1, max(ratios) - 1],
        "times": times,
    }
