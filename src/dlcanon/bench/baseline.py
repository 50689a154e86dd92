"""The classic PyTorch MNIST example recipe, re-implemented from its published description.

Two 3×3 convolutions (32, 64), max-pool, dropout 0.25 and 0.5, FC 128, Adadelta(lr=1.0), StepLR(γ=0.7) per
epoch, batch 64, a DataLoader over per-sample tensors normalised one by one, fp32, 14 epochs.
"""

from __future__ import annotations

import time
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from dlcanon.data import DataBundle
from dlcanon.progress import progress_bar


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


def run_baseline(data: DataBundle, *, epochs: int, seed: int = 1, progress: bool = False) -> dict[str, Any]:
    """The example's recipe on the process's default threads, as its user runs it; returns per-epoch test
    accuracy with cumulative training seconds (evaluation excluded, as for the trainer).

    Denormals are flushed here too (the trainer flushes them on the CPU), so the comparison is not won by
    that one setting: the example itself leaves them on, which makes it slower still."""
    torch.set_flush_denormal(True)
    torch.manual_seed(seed)
    model = ExampleNet()
    opt = torch.optim.Adadelta(model.parameters(), lr=1.0)
    sched = torch.optim.lr_scheduler.StepLR(opt, step_size=1, gamma=0.7)
    loader = torch.utils.data.DataLoader(PerSampleDataset(data.train.x, data.train.y), batch_size=64, shuffle=True)
    test_x = (data.test.x - 0.1307) / 0.3081
    history, seconds = [], 0.0
    with progress_bar(epochs, f"baseline seed {seed}", enabled=progress) as bar:
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
