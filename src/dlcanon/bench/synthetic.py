"""Random tensors of a dataset's shape, for measuring step time where no such data is bundled (CIFAR)."""

from __future__ import annotations

import torch

from dlcanon.data import DataBundle, Split


def random_images(shape: tuple[int, ...], *, classes: int = 10, train: int = 1024, test: int = 256) -> DataBundle:
    """Uniform [0, 1) images of `shape` (C, H, W) with uniform labels: speed only, nothing to learn."""
    g = torch.Generator().manual_seed(0)

    def split(n: int) -> Split:
        return Split(torch.rand(n, *shape, generator=g), torch.randint(classes, (n,), generator=g))

    return DataBundle("random" + "x".join(map(str, shape)), split(train), split(test), classes, "image")
