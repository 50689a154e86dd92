"""Step time on one thread, on every thread and on the trainer's automatic choice, side by side."""

from __future__ import annotations

from typing import Any

import torch

from dlcanon.bench.synthetic import random_images
from dlcanon.bench.timing import interleaved, median
from dlcanon.data import DataBundle, load_data
from dlcanon.runs import build_objective, default_config
from dlcanon.train import Trainer

# (label, model or preset, data): a tiny MLP (RealNVP on 2-D points), LeNet-5, a CIFAR ResNet
MODELS = (
    ("tiny MLP (RealNVP, 2-D points)", "realnvp", None),
    ("LeNet-5 (mnist5k)", "lenet5", None),
    ("ResNet-20 (CIFAR-shaped 3×32×32)", "resnet20", (3, 32, 32)),
)


def step_seconds(name: str, data: DataBundle, *, threads: int, steps: int) -> tuple[float, int]:
    """Seconds per training step of `name`'s recipe (fp32) on `threads` (0: auto), and the threads used."""
    cfg = default_config(name, steps=steps, eval_every=0, tensorboard=False, device="cpu", precision="fp32",
                         threads=threads, log_every=10**9)  # fmt: skip
    torch.manual_seed(0)
    trainer = Trainer(build_objective(cfg, data), data, cfg, progress=False)
    trainer.fit()
    return trainer.seconds / steps, trainer.threads


def thread_table(*, steps: int, repeats: int) -> list[dict[str, Any]]:
    """For each model: median seconds per step on 1 thread, on all of the process's threads, and on auto."""
    every = torch.get_num_threads()
    rows = []
    for label, name, shape in MODELS:
        data = random_images(shape) if shape else load_data(default_config(name).data)
        chosen: list[int] = []

        def run(threads: int, data: DataBundle = data, name: str = name, chosen: list[int] = chosen) -> float:
            seconds, used = step_seconds(name, data, threads=threads, steps=steps)
            if threads == 0:
                chosen.append(used)
            return seconds

        times = interleaved({"1": lambda: run(1), "all": lambda: run(every), "auto": lambda: run(0)}, repeats)
        one, all_, auto = (median(times[k]) for k in ("1", "all", "auto"))
        rows.append({"model": label, "name": name, "steps": steps, "threads_all": every, "auto_threads": chosen[0],
                     "seconds_1": one, "seconds_all": all_, "seconds_auto": auto,
                     "best": "1" if one <= all_ else str(every)})  # fmt: skip
    return rows
