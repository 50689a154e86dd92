"""`mnist5k_rot`: mnist5k with every digit rotated by a uniformly random angle (F7; cf. MNIST-rot of
Larochelle et al., 2007, used by Harmonic Networks). Same 4,000/1,000 split; angles fixed by `seed`."""

from __future__ import annotations

import torch

from dlcanon.data.base import DataBundle, Split
from dlcanon.data.warp import affine_matrix, warp_affine
from dlcanon.registry import DATASETS

CURRICULUM = ("F7",)


def rotate_images(x: torch.Tensor, degrees: torch.Tensor) -> torch.Tensor:
    """Rotate each image (N, C, H, W) about its centre by `degrees` (N,), bilinear, zero outside."""
    return warp_affine(x, affine_matrix(len(x), angle=degrees))


def _rotated(split: Split, generator: torch.Generator, degrees: float) -> tuple[Split, torch.Tensor]:
    angles = (torch.rand(len(split), generator=generator) * 2 - 1) * degrees  # U(−degrees, degrees)
    return Split(rotate_images(split.x, angles).clamp(0, 1), split.y), angles


@DATASETS.register("mnist5k_rot", tags=("F7",), kind="image", description="mnist5k, each digit rotated U(−180°, 180°)")
def mnist5k_rot(*, seed: int = 0, degrees: float = 180.0) -> DataBundle:
    """mnist5k's fixed 4,000/1,000 split with every image rotated by an angle ~ U(−degrees, degrees) (seeded)."""
    from dlcanon.data.sources import mnist5k

    base = mnist5k()
    g = torch.Generator().manual_seed(seed)
    train, _ = _rotated(base.train, g, degrees)
    test, _ = _rotated(base.test, g, degrees)
    return DataBundle("mnist5k_rot", train, test, 10, "image")
