"""The data contract: a dataset is two splits of tensors plus what a model needs to know about them."""

from __future__ import annotations

from dataclasses import dataclass

import torch


@dataclass
class Split:
    """One split, whole, as tensors.

    x: images (N, C, H, W) float32 in [0, 1]; signals (N, L) or (N, C, L); points (N, D).
    y: (N,) int64 class labels, or None for unlabelled data.
    """

    x: torch.Tensor
    y: torch.Tensor | None = None

    def __len__(self) -> int:
        return self.x.shape[0]

    def to(self, device: torch.device | str) -> Split:
        return Split(self.x.to(device), None if self.y is None else self.y.to(device))

    def subset(self, index: torch.Tensor | slice) -> Split:
        return Split(self.x[index], None if self.y is None else self.y[index])


@dataclass
class DataBundle:
    """A named dataset: train and test splits, per-sample shape, class count and kind."""

    name: str
    train: Split
    test: Split
    num_classes: int | None
    kind: str  # "image" | "signal" | "points"

    @property
    def input_shape(self) -> tuple[int, ...]:
        return tuple(self.train.x.shape[1:])

    @property
    def in_channels(self) -> int:
        return self.input_shape[0] if self.kind in ("image", "signal") and len(self.input_shape) > 1 else 1

    def describe(self) -> dict:
        return {
            "name": self.name,
            "kind": self.kind,
            "input_shape": list(self.input_shape),
            "num_classes": self.num_classes,
            "train_size": len(self.train),
            "test_size": len(self.test),
        }
