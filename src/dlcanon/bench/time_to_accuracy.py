"""Time to the classic recipe's accuracy: the baseline and a dlcanon preset on the same split, over seeds.

Both sides run once per seed, alternating, so a change in the machine's load hits both. The target is the
baseline's final test accuracy (median over the seeds); each side's time is the median over the seeds of the
training seconds at its first evaluation at or above it (evaluation time excluded on both sides)."""

from __future__ import annotations

from typing import Any

import torch

from dlcanon.bench.baseline import run_baseline
from dlcanon.bench.timing import median, ratio, time_to_reach
from dlcanon.data import DataBundle
from dlcanon.runs import build_objective, configure
from dlcanon.train import Trainer

# what `dlcanon train fastcnn --device cpu` runs: the dlcanon side of the comparison
PRESET = "fastcnn"


def run_preset(data: DataBundle, *, preset: str, seed: int, epochs: int | None, progress: bool) -> dict[str, Any]:
    """`dlcanon train PRESET --device cpu --seed SEED` in-process (no files), evaluated every epoch."""
    cfg = configure(preset, ["eval_every=1"], device="cpu", seed=seed, epochs=epochs, tensorboard=False)
    torch.manual_seed(cfg.seed)  # as `dlcanon train` seeds before it builds
    trainer = Trainer(build_objective(cfg, data), data, cfg, progress=progress)
    summary = trainer.fit()
    history = [{"seconds": h["seconds"], "test_accuracy": h["test_accuracy"]} for h in trainer.history]
    return {"history": history, "test_accuracy": summary["metrics"]["test_accuracy"], "seconds": summary["seconds"],
            "params": summary["params"], "epochs": cfg.epochs, "threads": trainer.threads}  # fmt: skip


def compare(baselines: list[dict[str, Any]], ours: list[dict[str, Any]]) -> dict[str, Any]:
    """The medians and ratios of the comparison, from each side's per-seed runs (a pure function)."""
    target = median([b["test_accuracy"] for b in baselines])
    t_base = [time_to_reach(b["history"], target) for b in baselines]
    t_ours = [time_to_reach(o["history"], target) for o in ours]
    base_total = median([b["seconds"] for b in baselines])
    return {
        "target_accuracy": target,
        "seconds_to_target": {"baseline": median(t_base), "dlcanon": median(t_ours)},
        "per_seed_seconds_to_target": {"baseline": t_base, "dlcanon": t_ours},
        "speedup": ratio(median(t_base), median(t_ours)),
        # the baseline's whole recipe (what its user waits for) against dlcanon reaching the same accuracy
        "speedup_vs_whole_baseline": ratio(base_total, median(t_ours)),
        "baseline_accuracy": target,
        "dlcanon_accuracy": median([o["test_accuracy"] for o in ours]),
        "dlcanon_min_accuracy": min(o["test_accuracy"] for o in ours),
        "baseline_seconds": base_total,
        "dlcanon_seconds": median([o["seconds"] for o in ours]),
    }


def time_to_accuracy(data: DataBundle, *, seeds: int, quick: bool, progress: bool) -> dict[str, Any]:
    baselines, ours = [], []
    for seed in range(seeds):
        baselines.append(run_baseline(data, epochs=2 if quick else 14, seed=seed, progress=progress))
        ours.append(run_preset(data, preset=PRESET, seed=seed, epochs=2 if quick else None, progress=progress))
    return compare(baselines, ours) | {
        "preset": PRESET,
        "command": f"dlcanon train {PRESET} --device cpu --seed SEED",
        "seeds": seeds,
        "baseline_epochs": len(baselines[0]["history"]),
        "dlcanon_epochs": ours[0]["epochs"],
        "baseline_params": baselines[0]["params"],
        "dlcanon_params": ours[0]["params"],
        "dlcanon_threads": ours[0]["threads"],
        "runs": {"baseline": baselines, "dlcanon": ours},
    }
