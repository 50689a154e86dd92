"""DeviceLoader: every sample once per epoch, order a pure function of (seed, epoch), rank slices compose."""

from __future__ import annotations

import pytest
import torch

from dlcanon.data import Augment, DeviceLoader, Split


def numbered(n: int, *, image: bool = False) -> Split:
    """Sample i carries the value i, so a batch says which samples it holds."""
    x = torch.arange(n, dtype=torch.float32)
    x = x.view(n, 1, 1, 1).expand(n, 2, 3, 3).contiguous() if image else x[:, None]
    return Split(x, torch.arange(n))


def ids(batches) -> list[list[int]]:
    return [y.tolist() for _, y in batches]


def test_every_sample_once_per_epoch():
    loader = DeviceLoader(numbered(103), 10, drop_last=False)
    assert len(loader) == 11
    seen = ids(loader.epoch(0))
    assert [len(b) for b in seen] == [10] * 10 + [3]
    assert sorted([i for b in seen for i in b]) == list(range(103))
    dropped = DeviceLoader(numbered(103), 10, seed=5)
    assert len(dropped) == 10
    kept = [i for b in ids(dropped.epoch(2)) for i in b]
    assert len(kept) == len(set(kept)) == 100
    for x, y in dropped.epoch(2):
        assert torch.equal(x[:, 0].long(), y)  # x and y stay paired


def test_order_is_a_pure_function_of_seed_and_epoch():
    a = DeviceLoader(numbered(64), 8, seed=1)
    b = DeviceLoader(numbered(64), 8, seed=1)
    torch.manual_seed(0)
    first = ids(a.epoch(3))
    ids(a.epoch(4))
    torch.manual_seed(99)  # the global RNG plays no part
    assert ids(b.epoch(3)) == first == ids(a.epoch(3))
    assert ids(a.epoch(4)) != first
    assert ids(DeviceLoader(numbered(64), 8, seed=2).epoch(3)) != first
    assert [i for b in first for i in b] != list(range(64))


def test_start_resumes_the_same_sequence():
    loader = DeviceLoader(numbered(50), 7, seed=3, drop_last=False)
    full = ids(loader.epoch(5))
    for start in (0, 1, 4, len(loader)):
        assert ids(loader.epoch(5, start)) == full[start:]
    with pytest.raises(ValueError, match="start"):
        loader.epoch(5, len(loader) + 1)


def test_unshuffled_order_and_partial_last_batch():
    loader = DeviceLoader(numbered(10), 4, shuffle=False, drop_last=False)
    assert ids(loader.epoch(7)) == [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9]]
    assert ids(DeviceLoader(numbered(10), 4, shuffle=False).epoch(0)) == [[0, 1, 2, 3], [4, 5, 6, 7]]


def test_rank_slices_compose_to_the_global_batch():
    def noisy(x, y, *, generator):
        return x + torch.rand(x.shape, generator=generator, device=x.device), y

    kw = {"seed": 11, "augment": noisy}
    whole = list(DeviceLoader(numbered(40, image=True), 8, **kw).epoch(2))
    parts = [list(DeviceLoader(numbered(40, image=True), 8, rank=r, world_size=2, **kw).epoch(2)) for r in (0, 1)]
    for (x, y), (x0, y0), (x1, y1) in zip(whole, *parts, strict=True):
        assert x0.shape[0] == x1.shape[0] == 4
        assert torch.equal(torch.stack([y0, y1], 1).flatten(), y)  # rank r holds rows r, r + 2, ...
        assert torch.equal(torch.stack([x0, x1], 1).flatten(0, 1), x)  # augmented identically for any world size
    with pytest.raises(ValueError, match="divisible"):
        DeviceLoader(numbered(40), 10, world_size=4)
    with pytest.raises(ValueError, match="rank"):
        DeviceLoader(numbered(40), 8, rank=2, world_size=2)


def test_augmentation_is_seeded_by_seed_epoch_and_batch():
    calls = []

    def noisy(x, y, *, generator):
        calls.append(generator.device)
        return x + torch.rand(x.shape, generator=generator), y

    loader = DeviceLoader(numbered(32), 8, seed=4, augment=noisy)
    a = list(loader.epoch(1))
    b = list(loader.epoch(1))
    assert all(torch.equal(p[0], q[0]) for p, q in zip(a, b, strict=True))
    noise = [x - y[:, None].float() for x, y in a]
    assert all(((n >= 0) & (n < 1)).all() for n in noise)
    assert not torch.allclose(noise[0], noise[1], atol=1e-3)  # each batch its own draw
    assert torch.equal(next(loader.epoch(1, 2))[0], a[2][0])  # resuming mid-epoch replays the draw
    other_epoch = list(loader.epoch(2))
    assert not torch.allclose(other_epoch[0][0] - other_epoch[0][1][:, None].float(), noise[0], atol=1e-3)
    assert calls[0] == torch.device("cpu")


def test_with_real_augment_and_channels_last():
    split = Split(torch.rand(12, 3, 8, 8), None)
    loader = DeviceLoader(split, 4, seed=0, augment=Augment.parse("digits"), channels_last=True)
    batches = list(loader.epoch(0))
    assert len(batches) == 3 and all(y is None for _, y in batches)
    x = batches[0][0]
    assert x.is_contiguous(memory_format=torch.channels_last) and x.shape == (4, 3, 8, 8)
    again = next(DeviceLoader(split, 4, seed=0, augment=Augment.parse("digits")).epoch(0))[0]
    assert torch.equal(x, again)
    plain = next(DeviceLoader(split, 4, seed=0).epoch(0))[0]
    assert not torch.equal(x, plain)
    flat = next(DeviceLoader(Split(torch.rand(5, 3)), 5, channels_last=True).epoch(0))[0]
    assert flat.shape == (5, 3)


def test_empty_epoch_when_batch_exceeds_split():
    loader = DeviceLoader(numbered(5), 8)
    assert len(loader) == 0 and list(loader.epoch(0)) == []
    assert len(DeviceLoader(numbered(5), 8, drop_last=False)) == 1


def test_augmentation_moves_dense_targets_with_their_inputs():
    """Rank slices of an augmented label map still match their own inputs: the pair is transformed together."""
    x = torch.rand(16, 1, 8, 8, generator=torch.Generator().manual_seed(0))
    split = Split(x, (x[:, 0] > 0.5).long())  # (N, H, W) label map = the thresholded image
    aug = Augment.parse("flip,crop,p=0.5,pad=2")  # exact transforms: the pair stays exactly aligned
    for rank in (0, 1):
        for xb, yb in DeviceLoader(split, 8, seed=3, augment=aug, rank=rank, world_size=2).epoch(1):
            assert yb.shape == (4, 8, 8) and yb.dtype == torch.int64
            assert torch.equal((xb[:, 0] > 0.5).long(), yb)
            assert not torch.equal(yb, split.y[: len(yb)])


def test_volumes_batch_augment_and_go_channels_last_3d():
    x = torch.rand(6, 2, 4, 5, 6, generator=torch.Generator().manual_seed(1))  # (N, C, D, H, W)
    split = Split(x, (x[:, 0] > 0.5).long())
    loader = DeviceLoader(split, 3, seed=0, augment=Augment.parse("crop,flip,pad=1"), channels_last=True)
    (xb, yb), _ = list(loader.epoch(0))
    assert xb.shape == (3, 2, 4, 5, 6) and yb.shape == (3, 4, 5, 6)
    assert xb.is_contiguous(memory_format=torch.channels_last_3d)
    assert torch.equal((xb[:, 0] > 0.5).long(), yb)
