"""Batches from a split that already lives on its device: no workers, no per-sample Python, stateless."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Protocol

import torch

from dlcanon.data.base import Split

_MASK = (1 << 64) - 1
_ORDER, _AUGMENT = 0, 1  # stream tags: the permutation and the augmentation draw from unrelated seeds
_CHANNELS_LAST = {4: torch.channels_last, 5: torch.channels_last_3d}  # by the input's rank


class PairTransform(Protocol):
    """What the loader calls to augment a batch: x and its target y in, both transformed out (`Augment`)."""

    def __call__(
        self, x: torch.Tensor, y: torch.Tensor | None, *, generator: torch.Generator
    ) -> tuple[torch.Tensor, torch.Tensor | None]: ...


def mix_seed(*values: int) -> int:
    """A 63-bit seed that is a pure function of the integers: chained SplitMix64, h ← mix(h ⊕ v)."""
    h = 0x9E3779B97F4A7C15
    for v in values:
        z = ((h ^ (v & _MASK)) + 0x9E3779B97F4A7C15) & _MASK
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & _MASK
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & _MASK
        h = z ^ (z >> 31)
    return h >> 1


class DeviceLoader:
    """Global batches of `batch_size` from an on-device split; rank r of w takes rows r, r + w, ... of each.

    Epoch e's order is randperm(n) under seed mix(seed, e), so any epoch (and any batch in it) can be
    replayed without state: a resumed run sees the same batches. `augment(x, y, generator=g)` runs on the
    whole global batch, with a generator seeded by mix(seed, e, b), before rank slicing, so results do not
    depend on world_size. channels_last: images (N, C, H, W) in channels_last, volumes (N, C, D, H, W) in
    channels_last_3d. Unshuffled batches are views of the split: do not modify them in place.
    """

    def __init__(
        self,
        split: Split,
        batch_size: int,
        *,
        shuffle: bool = True,
        drop_last: bool = True,
        seed: int = 0,
        augment: PairTransform | None = None,
        rank: int = 0,
        world_size: int = 1,
        channels_last: bool = False,
    ) -> None:
        if batch_size < 1:
            raise ValueError(f"batch_size must be ≥ 1; got {batch_size}")
        if world_size < 1 or not 0 <= rank < world_size:
            raise ValueError(f"need 0 ≤ rank < world_size; got rank {rank}, world_size {world_size}")
        if batch_size % world_size:
            raise ValueError(f"global batch_size {batch_size} is not divisible by world_size {world_size}")
        self.split, self.batch_size = split, batch_size
        self.shuffle, self.drop_last, self.seed = shuffle, drop_last, seed
        self.augment, self.rank, self.world_size = augment, rank, world_size
        self.channels_last = channels_last

    def __len__(self) -> int:
        """Global batches per epoch: ⌊n/B⌋ with drop_last, else ⌈n/B⌉."""
        n, b = len(self.split), self.batch_size
        return n // b if self.drop_last else -(-n // b)

    def order(self, epoch: int) -> torch.Tensor:
        """The sample order of `epoch` on the split's device: randperm on the CPU (portable), or 0..n−1."""
        n, device = len(self.split), self.split.x.device
        if not self.shuffle:
            return torch.arange(n, device=device)
        g = torch.Generator().manual_seed(mix_seed(self.seed, epoch, _ORDER))
        return torch.randperm(n, generator=g).to(device)

    def epoch(self, epoch: int, start: int = 0) -> Iterator[tuple[torch.Tensor, torch.Tensor | None]]:
        """This rank's (x, y) for global batches start, start + 1, ..., len − 1 of `epoch`."""
        if not 0 <= start <= len(self):
            raise ValueError(f"start must be in [0, {len(self)}]; got {start}")
        return self._batches(epoch, start)

    def _batches(self, epoch: int, start: int) -> Iterator[tuple[torch.Tensor, torch.Tensor | None]]:
        x_all, y_all = self.split.x, self.split.y
        order = self.order(epoch) if self.shuffle else None
        n, b = len(self.split), self.batch_size
        for i in range(start, len(self)):
            lo, hi = i * b, min((i + 1) * b, n)
            if order is None:
                x, y = x_all[lo:hi], None if y_all is None else y_all[lo:hi]
            else:
                idx = order[lo:hi]
                x, y = x_all.index_select(0, idx), None if y_all is None else y_all.index_select(0, idx)
            if self.augment is not None:
                g = torch.Generator(device=x.device).manual_seed(mix_seed(self.seed, epoch, i, _AUGMENT))
                x, y = self.augment(x, y, generator=g)
            if self.world_size > 1:
                x, y = x[self.rank :: self.world_size], None if y is None else y[self.rank :: self.world_size]
            if self.channels_last and x.dim() in _CHANNELS_LAST:
                x = x.contiguous(memory_format=_CHANNELS_LAST[x.dim()])
            yield x, y
