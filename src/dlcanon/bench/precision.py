"""bf16 autocast + channels_last against fp32 on a network where convolutions dominate (a CIFAR ResNet)."""

from __future__ import annotations

from typing import Any

import torch

from dlcanon.bench.synthetic import random_images
from dlcanon.bench.timing import interleaved, median
from dlcanon.runs import build_objective, default_config
from dlcanon.train import Trainer

VARIANTS = {"fp32": {"precision": "fp32", "channels_last": False},
            "bf16_channels_last": {"precision": "bf16", "channels_last": True}}  # fmt: skip


def native_bf16() -> bool:
    """Whether oneDNN runs bf16 natively here (AVX-512 BF16 or AMX); elsewhere bf16 is a slow emulation."""
    return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())


def precision_speedup(*, model: str = "resnet20", steps: int, repeats: int) -> dict[str, Any]:
    """Median seconds per step of each variant, interleaved; timed only where the CPU has native bf16."""
    out: dict[str, Any] = {"model": model, "native_bf16": native_bf16(),
                           "cpu_capability": torch.backends.cpu.get_cpu_capability()}  # fmt: skip
    if not out["native_bf16"]:
        return out  # `precision auto` keeps fp32 on this CPU; emulated bf16 would only measure the emulation
    data = random_images((3, 32, 32))

    def run(fields: dict[str, Any]) -> float:
        cfg = default_config(model, steps=steps, eval_every=0, tensorboard=False, device="cpu", **fields)
        torch.manual_seed(0)
        trainer = Trainer(build_objective(cfg, data), data, cfg, progress=False)
        trainer.fit()
        return trainer.seconds / steps

    times = interleaved({name: (lambda f=f: run(f)) for name, f in VARIANTS.items()}, repeats)
    out |= {f"{name}_seconds": median(t) for name, t in times.items()}
    out["speedup"] = out["fp32_seconds"] / out["bf16_channels_last_seconds"]
    return out
