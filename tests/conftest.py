"""Shared fixtures: small thread count for stable CPU timings, a tiny classification bundle."""

from __future__ import annotations

import os

import pytest
import torch

from dlcanon.data.base import DataBundle, Split

torch.set_num_threads(min(2, os.cpu_count() or 1))


@pytest.fixture
def tiny_images() -> DataBundle:
    """40 train / 20 test random 1×8×8 images with labels 0..3 (a learnable rule: the brightest quadrant)."""
    g = torch.Generator().manual_seed(0)

    def make(n: int) -> Split:
        x = torch.rand(n, 1, 8, 8, generator=g) * 0.3
        y = torch.randint(0, 4, (n,), generator=g)
        for i, q in enumerate(y.tolist()):
            r, c = divmod(q, 2)
            x[i, 0, r * 4 : r * 4 + 4, c * 4 : c * 4 + 4] += 0.7
        return Split(x, y)

    return DataBundle("tiny", make(40), make(20), 4, "image")
