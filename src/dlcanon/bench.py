"""Benchmarks, side by side with a baseline in one run (`dlcanon bench mnist5k`).

The baseline is the classic PyTorch MNIST example recipe, re-implemented from its published description:
two 3×3 convolutions (32, 64), max-pool, dropout 0.25 and 0.5, FC 128, Adadelta(lr=1.0), StepLR(γ=0.7) per
epoch, batch 64, a DataLoader over per-sample tensors normalised one by one, fp32, 14 epochs.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from dlcanon.data import DataBundle, load_data
from dlcanon.errors import UserError
from dlcanon.optim import make_optimizer, run_settings
from dlcanon.progress import progress_bar
from dlcanon.runs import build_objective, default_config
from dlcanon.runtime import autocast
from dlcanon.train import Trainer, fit


class ExampleNet(nn.Module):
    """The PyTorch MNIST example's network (1.2 M parameters)."""

    def __init__(self) -> None:
        super().__init__()
        self.conv1, self.conv2 = nn.Conv2d(1, 32, 3), nn.Conv2d(32, 64, 3)
        self.dropout1, self.dropout2 = nn.Dropout(0.25), nn.Dropout(0.5)
        self.fc1, self.fc2 = nn.Linear(9216, 128), nn.Linear(128, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (N, 1, 28, 28) -> (N, 10) log-probabilities
        x = F.max_pool2d(F.relu(self.conv2(F.relu(self.conv1(x)))), 2)
        x = self.dropout1(x).flatten(1)
        x = self.dropout2(F.relu(self.fc1(x)))
        return F.log_softmax(self.fc2(x), dim=1)


class PerSampleDataset(torch.utils.data.Dataset):
    """Per-sample access with per-sample normalisation, as a torchvision transform pipeline does it."""

    def __init__(self, x: torch.Tensor, y: torch.Tensor) -> None:
        self.x, self.y = (x * 255).round().to(torch.uint8), y

    def __len__(self) -> int:
        return len(self.y)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, torch.Tensor]:
        return (self.x[i].float() / 255 - 0.1307) / 0.3081, self.y[i]


def run_baseline(data: DataBundle, *, epochs: int, progress: bool) -> dict[str, Any]:
    """The example's recipe; returns per-epoch test accuracy with cumulative training seconds.

    Denormals are flushed here too (the trainer flushes them on the CPU), so the comparison is not won by
    that one setting: the example itself leaves them on, which makes it slower still.
    """
    torch.set_flush_denormal(True)
    torch.manual_seed(1)
    model = ExampleNet()
    opt = torch.optim.Adadelta(model.parameters(), lr=1.0)
    sched = torch.optim.lr_scheduler.StepLR(opt, step_size=1, gamma=0.7)
    loader = torch.utils.data.DataLoader(PerSampleDataset(data.train.x, data.train.y), batch_size=64, shuffle=True)
    test_x = (data.test.x - 0.1307) / 0.3081
    history, seconds = [], 0.0
    with progress_bar(epochs, "baseline", enabled=progress) as bar:
        for _ in range(epochs):
            start = time.perf_counter()
            model.train()
            for x, y in loader:
                opt.zero_grad()
                F.nll_loss(model(x), y).backward()
                opt.step()
            sched.step()
            seconds += time.perf_counter() - start
            model.eval()
            with torch.no_grad():
                acc = float((model(test_x).argmax(1) == data.test.y).float().mean())
            history.append({"seconds": seconds, "test_accuracy": acc})
            bar.advance(1, status=f"test_accuracy={acc:.4f}")
    return {
        "history": history,
        "test_accuracy": history[-1]["test_accuracy"],
        "seconds": seconds,
        "params": sum(p.numel() for p in model.parameters()),
    }


def time_to_reach(history: list[dict[str, Any]], accuracy: float) -> float | None:
    """Training seconds at the first evaluation whose test accuracy is ≥ `accuracy`."""
    return next((h["seconds"] for h in history if h["test_accuracy"] >= accuracy), None)


def bare_loop(trainer: Trainer, steps: int) -> float:
    """Seconds for `steps` plain steps on the trainer's model, batches, precision and optimiser settings."""
    objective, cfg = trainer.objective, trainer.cfg
    opt = make_optimizer(list(objective.parameters()), run_settings(cfg))
    stream = trainer.batches(0)
    start = time.perf_counter()
    for _ in range(steps):
        with autocast(trainer.precision, trainer.device):
            loss, _ = objective(next(stream))
        loss.backward()
        opt.step()
        opt.zero_grad(set_to_none=True)
    return time.perf_counter() - start


def trainer_overhead(data: DataBundle, *, epochs: int, repeats: int = 3) -> dict[str, Any]:
    """Trainer seconds vs a bare loop over the same model and batches (best of `repeats`, interleaved)."""
    cfg = default_config("lenet5", epochs=epochs, eval_every=0, tensorboard=False, device="cpu", schedule="constant")
    bare, trained = [], []
    for _ in range(repeats):
        torch.manual_seed(0)
        trainer = Trainer(build_objective(cfg, data), data, cfg, progress=False)
        bare.append(bare_loop(trainer, trainer.total_steps))
        torch.manual_seed(0)
        trainer = Trainer(build_objective(cfg, data), data, cfg, progress=False)
        trainer.fit()
        trained.append(trainer.seconds)
    return {
        "steps": trainer.total_steps,
        "bare_seconds": min(bare),
        "trainer_seconds": min(trained),
        "overhead": min(trained) / min(bare) - 1,
    }


def precision_speedup(data: DataBundle, *, model: str, epochs: int) -> dict[str, Any]:
    """Training seconds in fp32 (contiguous) vs bf16 autocast + channels_last, same recipe otherwise."""
    out: dict[str, Any] = {"model": model, "cpu_bf16": torch.ops.mkldnn._is_mkldnn_bf16_supported()}
    variants = {
        "fp32": {"precision": "fp32", "channels_last": False},
        "bf16_channels_last": {"precision": "bf16", "channels_last": True},
    }
    for name, fields in variants.items():
        cfg = default_config(model, epochs=epochs, eval_every=0, tensorboard=False, device="cpu", **fields)
        torch.manual_seed(0)
        out[f"{name}_seconds"] = fit(build_objective(cfg, data), data, cfg)["seconds"]
    out["speedup"] = out["fp32_seconds"] / out["bf16_channels_last_seconds"]
    return out


def bench_mnist5k(*, quick: bool = False, progress: bool = True) -> dict[str, Any]:
    """Baseline recipe vs dlcanon's default LeNet-5 recipe on the same mnist5k split."""
    data = load_data("mnist5k")
    baseline = run_baseline(data, epochs=2 if quick else 14, progress=progress)
    cfg = default_config("lenet5", device="cpu", tensorboard=False)
    if quick:
        cfg.epochs = 3
    torch.manual_seed(cfg.seed)
    ours = fit(build_objective(cfg, data), data, cfg, progress=progress)
    ours_history = [{"seconds": h["seconds"], "test_accuracy": h["test_accuracy"]} for h in ours["history"]]
    target = baseline["test_accuracy"]
    t_base, t_ours = time_to_reach(baseline["history"], target), time_to_reach(ours_history, target)
    return {
        "benchmark": "mnist5k",
        "torch_threads": torch.get_num_threads(),
        "baseline": {k: v for k, v in baseline.items() if k != "history"} | {"recipe": "pytorch/examples mnist"},
        "dlcanon": {
            "model": "lenet5",
            "test_accuracy": ours["metrics"]["test_accuracy"],
            "seconds": ours["seconds"],
            "params": ours["params"],
            "epochs": cfg.epochs,
        },
        "baseline_history": baseline["history"],
        "dlcanon_history": ours_history,
        # seconds until each first reaches the baseline's final test accuracy
        "seconds_to_baseline_accuracy": {"baseline": t_base, "dlcanon": t_ours},
        "speedup_to_baseline_accuracy": None if t_ours is None else t_base / t_ours,
        # the baseline's whole recipe (what its user waits for) against dlcanon reaching the same accuracy
        "speedup_vs_baseline_recipe": None if t_ours is None else baseline["seconds"] / t_ours,
        "trainer_overhead": trainer_overhead(data, epochs=1 if quick else 3),
        "precision": [precision_speedup(data, model=m, epochs=1) for m in ("lenet5",)],
    }


BENCHMARKS: dict[str, Callable[..., dict[str, Any]]] = {"mnist5k": bench_mnist5k}


def run_benchmarks(names: list[str], *, quick: bool = False) -> dict[str, Any]:
    for name in names:
        if name not in BENCHMARKS:
            raise UserError(f"unknown benchmark {name!r}; known: {', '.join(BENCHMARKS)}")
    return {name: BENCHMARKS[name](quick=quick) for name in names}


def _fmt(x: float | None, spec: str) -> str:
    return "—" if x is None else format(x, spec)


def markdown(results: dict[str, Any]) -> str:
    """The benchmark tables as Markdown, as docs/benchmarks.md shows them."""
    r = results["mnist5k"]
    base, ours, reach = r["baseline"], r["dlcanon"], r["seconds_to_baseline_accuracy"]
    over, lines = r["trainer_overhead"], []
    lines += [
        f"Threads: {r['torch_threads']}. Test split: mnist5k's 1,000 held-out images.",
        "",
        "| recipe | params | epochs | test accuracy | training seconds | seconds to the baseline's accuracy |",
        "|---|---:|---:|---:|---:|---:|",
        f"| PyTorch MNIST example (baseline) | {base['params']:,} | {len(r['baseline_history'])} | "
        f"{base['test_accuracy']:.2%} | {base['seconds']:.1f} | {_fmt(reach['baseline'], '.1f')} |",
        f"| dlcanon `train lenet5` (default recipe) | {ours['params']:,} | {ours['epochs']} | "
        f"{ours['test_accuracy']:.2%} | {ours['seconds']:.1f} | {_fmt(reach['dlcanon'], '.1f')} |",
        "",
        f"- Speed-up to the baseline's final accuracy ({base['test_accuracy']:.2%}), each from its first epoch "
        f"at or above it: **{_fmt(r['speedup_to_baseline_accuracy'], '.2f')}×**.",
        f"- Against the baseline's whole 14-epoch recipe: **{_fmt(r['speedup_vs_baseline_recipe'], '.2f')}×**.",
        f"- Trainer overhead against a bare loop over the same model, batches and optimiser "
        f"({over['steps']} steps): {over['trainer_seconds']:.2f} s vs {over['bare_seconds']:.2f} s, "
        f"**{over['overhead']:+.1%}**.",
    ]
    for p in r["precision"]:
        lines.append(
            f"- {p['model']}, one epoch: fp32 {p['fp32_seconds']:.2f} s, bf16 autocast + channels_last "
            f"{p['bf16_channels_last_seconds']:.2f} s: **{p['speedup']:.2f}×** (CPU bf16 support: {p['cpu_bf16']})."
        )
    return "\n".join(lines) + "\n"
