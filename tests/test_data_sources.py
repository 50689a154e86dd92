"""Embedded datasets: splits are stratified, disjoint and fixed; values lie where the contract says."""

from __future__ import annotations

import math
import random
import socket

import numpy as np
import pytest
import torch

from dlcanon.data import load_data, mixture_modes, sources
from dlcanon.errors import UserError
from dlcanon.registry import DATASETS


@pytest.fixture
def offline(monkeypatch):
    """Any attempt to open a network connection fails the test."""

    def refuse(*args, **kwargs):
        raise AssertionError("network access attempted")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)


def rows(x: torch.Tensor) -> np.ndarray:
    """Rows of the flattened samples in lexicographic order (a multiset fingerprint)."""
    a = x.reshape(len(x), -1).numpy()
    return a[np.lexsort(a.T[::-1])]


def assert_stratified(y_train: torch.Tensor, y_test: torch.Tensor) -> None:
    """Per class c: |test_c − n_c·n_test/N| < 1, i.e. proportions equal within one sample per class."""
    total = torch.bincount(torch.cat([y_train, y_test]))
    test = torch.bincount(y_test, minlength=len(total))
    expected = total.double() * len(y_test) / (len(y_train) + len(y_test))
    assert ((test.double() - expected).abs() < 1).all(), (test, expected)


# ---------------------------------------------------------------- the split helper


def test_stratified_split_is_exact_disjoint_and_seeded():
    y = np.repeat(np.arange(5), [3, 50, 7, 101, 19])
    train, test = sources.stratified_split(y, 36, seed=1)
    assert len(test) == 36 and len(train) == len(y) - 36
    assert sorted(np.concatenate([train, test])) == list(range(len(y)))
    assert_stratified(torch.tensor(y[train]), torch.tensor(y[test]))
    again = sources.stratified_split(y, 36, seed=1)
    assert (again[1] == test).all() and (again[0] == train).all()
    assert not (sources.stratified_split(y, 36, seed=2)[1] == test).all()


# ---------------------------------------------------------------- image sets


def test_digits_split_is_stratified_fixed_and_complete(offline):
    from sklearn.datasets import load_digits

    b = load_data("digits")
    assert (b.kind, b.num_classes, b.input_shape) == ("image", 10, (1, 8, 8))
    assert (len(b.train), len(b.test)) == (1437, 360)
    assert b.train.x.dtype == torch.float32 and b.train.y.dtype == torch.int64
    x = torch.cat([b.train.x, b.test.x])
    assert x.min() == 0 and x.max() == 1
    assert torch.equal(x * 16, (x * 16).round())  # values are k/16
    assert_stratified(b.train.y, b.test.y)
    d = load_digits()
    original = torch.tensor(d.data / 16.0, dtype=torch.float32)
    labelled = torch.cat([original, torch.tensor(d.target)[:, None].float()], 1)
    ours = torch.cat([x.flatten(1), torch.cat([b.train.y, b.test.y])[:, None].float()], 1)
    assert (rows(ours) == rows(labelled)).all()  # a partition of the original samples, labels kept
    again = load_data("digits")
    assert torch.equal(again.test.x, b.test.x) and torch.equal(again.train.y, b.train.y)


def test_mnist5k_split(offline):
    b = load_data("mnist5k")
    assert (b.kind, b.num_classes, b.input_shape) == ("image", 10, (1, 28, 28))
    assert (len(b.train), len(b.test)) == (4000, 1000)
    assert torch.bincount(b.test.y).tolist() == [100] * 10  # 500 per class in the source
    x = torch.cat([b.train.x, b.test.x])
    assert x.min() == 0 and x.max() == 1
    assert torch.allclose(x * 255, (x * 255).round(), atol=1e-4)
    assert len(np.unique(rows(x), axis=0)) > 4990  # train and test are different images
    b.train.x.zero_()  # the caller owns its tensors: the in-memory cache is untouched
    assert load_data("mnist5k").train.x.max() == 1


def test_mnist1d_defaults(offline):
    b = load_data("mnist1d")
    assert (b.kind, b.num_classes, b.input_shape) == ("signal", 10, (1, 40))
    assert (len(b.train), len(b.test)) == (4000, 1000)
    assert b.train.x.dtype == torch.float32 and b.in_channels == 1
    x = torch.cat([b.train.x, b.test.x])
    assert abs(x.mean()) < 1e-3 and abs(x.std() - 1) < 1e-3  # the package standardises the whole set
    assert set(b.train.y.tolist()) == set(range(10))


def test_mnist1d_generation_matches_package_and_restores_global_rng(tmp_path, monkeypatch, offline):
    from mnist1d.data import get_dataset_args, make_dataset

    cached = load_data("mnist1d")
    monkeypatch.setenv("DLCANON_CACHE", str(tmp_path))
    sources._mnist1d_arrays.cache_clear()
    np.random.seed(123)
    random.seed(123)
    fresh = load_data("mnist1d")  # generated now, into the empty cache
    assert np.random.rand() == np.random.RandomState(123).rand()  # global numpy RNG left as it was
    assert random.random() == random.Random(123).random()
    assert [p.suffix for p in tmp_path.iterdir()] == [".npz"]
    assert torch.equal(fresh.train.x, cached.train.x) and torch.equal(fresh.test.y, cached.test.y)
    d = make_dataset(get_dataset_args())
    assert torch.equal(fresh.train.x[:, 0], torch.tensor(d["x"], dtype=torch.float32))
    assert torch.equal(fresh.test.y, torch.tensor(d["y_test"]))
    with pytest.raises(UserError, match="num_sample"):
        load_data("mnist1d", num_sample=3)


def test_cache_is_atomic_rebuilt_when_corrupt_and_optional(tmp_path, monkeypatch):
    calls = []

    def make():
        calls.append(1)
        return {"a": np.arange(5), "b": np.ones((2, 2))}

    monkeypatch.setenv("DLCANON_CACHE", str(tmp_path / "c"))
    first = sources.cached_arrays("k", make, keys=("a", "b"))
    again = sources.cached_arrays("k", make, keys=("a", "b"))
    assert len(calls) == 1 and (again["a"] == first["a"]).all()
    assert sorted(p.name for p in (tmp_path / "c").iterdir()) == ["k.npz"]  # no temporary left behind
    (tmp_path / "c" / "k.npz").write_bytes(b"PK\x03\x04 truncated")
    assert (sources.cached_arrays("k", make, keys=("a", "b"))["a"] == np.arange(5)).all()
    assert len(calls) == 2
    (tmp_path / "c" / "k.npz").unlink()  # deleting the cache is always safe
    sources.cached_arrays("k", make, keys=("a", "b"))
    assert len(calls) == 3
    (tmp_path / "file").write_text("not a folder")
    monkeypatch.setenv("DLCANON_CACHE", str(tmp_path / "file"))  # unwritable: still works
    assert (sources.cached_arrays("k", make, keys=("a", "b"))["b"] == 1).all()


# ---------------------------------------------------------------- 2-D toys


@pytest.mark.parametrize("name", ["gaussians8", "ring8", "grid25"])
def test_mixtures_sample_their_modes(name):
    centres, std = mixture_modes(name)
    b = load_data(name, n_train=4000, n_test=500, seed=3)
    assert (b.kind, b.num_classes, b.input_shape) == ("points", len(centres), (2,))
    assert (len(b.train), len(b.test)) == (4000, 500) and b.train.y.dtype == torch.int64
    offset = b.train.x - centres[b.train.y]
    assert offset.mean(0).abs().max() < 4 * std / math.sqrt(4000)
    assert torch.allclose(offset.std(0), torch.full((2,), std), rtol=0.06)
    counts = torch.bincount(b.train.y, minlength=len(centres)).double()
    assert (counts - 4000 / len(centres)).abs().max() < 5 * math.sqrt(4000 / len(centres))  # uniform modes
    same = load_data(name, n_train=10, n_test=500, seed=3)
    assert torch.equal(same.test.x, b.test.x)  # the test set does not depend on n_train
    assert not {tuple(p) for p in b.test.x.tolist()} & {tuple(p) for p in b.train.x.tolist()}  # disjoint
    assert not torch.equal(b.test.y, b.train.y[:500])  # drawn from an independent stream
    assert not torch.equal(load_data(name, n_train=10, n_test=5, seed=4).test.x, same.test.x[:5])
    wide = load_data(name, n_train=2000, n_test=1, std=0.3)
    assert abs((wide.train.x - centres[wide.train.y]).std() - 0.3) < 0.02


def test_mixture_geometry():
    c, std = mixture_modes("gaussians8")
    assert std == 0.02 and torch.allclose(c.norm(dim=1), torch.full((8,), 2.0))
    angles = torch.atan2(c[:, 1], c[:, 0]).remainder(2 * math.pi)
    assert torch.allclose(angles.sort().values, torch.arange(8) * math.pi / 4, atol=1e-6)
    c, std = mixture_modes("ring8")
    assert std == 0.01 and torch.allclose(c.norm(dim=1), torch.ones(8))
    c, std = mixture_modes("grid25")
    grid = {(float(a), float(b)) for a in (-4, -2, 0, 2, 4) for b in (-4, -2, 0, 2, 4)}
    assert std == 0.05 and {tuple(p) for p in c.tolist()} == grid
    with pytest.raises(UserError, match="moons"):
        mixture_modes("moons")


def test_moons_circles_swissroll_follow_their_curves():
    m = load_data("moons", n_train=400, n_test=10, noise=0.0)
    x, y = m.train.x.double(), m.train.y
    upper = x[y == 0]  # (cos t, sin t)
    lower = x[y == 1]  # (1 − cos t, 1/2 − sin t)
    assert torch.allclose(upper.norm(dim=1), torch.ones(len(upper), dtype=torch.double), atol=1e-6)
    assert (upper[:, 1] >= -1e-6).all()
    assert torch.allclose(
        (lower - torch.tensor([1.0, 0.5], dtype=torch.double)).norm(dim=1),
        torch.ones(len(lower), dtype=torch.double),
        atol=1e-6,
    )
    assert m.num_classes == 2 and abs(len(upper) - len(lower)) <= 1
    c = load_data("circles", n_train=400, n_test=10, noise=0.0, factor=0.3)
    r = c.train.x.norm(dim=1)
    assert torch.allclose(r[c.train.y == 0], torch.tensor(1.0), atol=1e-6)
    assert torch.allclose(r[c.train.y == 1], torch.tensor(0.3), atol=1e-6)
    s = load_data("swissroll", n_train=500, n_test=10, noise=0.0)
    assert s.train.y is None and s.num_classes is None and s.kind == "points"
    t = s.train.x.double().norm(dim=1) * 10  # radius = t
    assert (t >= 1.5 * math.pi - 1e-4).all() and (t <= 4.5 * math.pi + 1e-4).all()
    angle = torch.atan2(s.train.x[:, 1].double(), s.train.x[:, 0].double())
    assert torch.allclose(torch.cos(angle - t), torch.ones_like(t), atol=1e-4)  # angle ≡ t (mod 2π)
    assert torch.equal(
        load_data("swissroll", n_train=5, n_test=3, seed=1).train.x,
        load_data("swissroll", n_train=5, n_test=3, seed=1).train.x,
    )


# ---------------------------------------------------------------- scikit-image pictures


def test_every_registered_picture_loads_offline(offline):
    assert {"camera", "astronaut", "coins", "moon", "chelsea", "coffee"} <= set(sources.SKIMAGE_IMAGES)
    for name in sources.SKIMAGE_IMAGES:
        b = load_data(name)
        assert b.kind == "image" and b.num_classes is None and b.train.y is None
        assert b.train.x.shape[0] == 1 and b.train.x.shape[1] in (1, 3) and b.train.x.dtype == torch.float32
        assert b.train.x.min() >= 0 and b.train.x.max() <= 1 and b.train.x.max() > 0
        assert torch.equal(b.train.x, b.test.x)
        assert DATASETS.entry(name).meta["kind"] == "image"


def test_picture_values():
    import skimage.data

    cam = load_data("camera").train.x
    assert cam.shape == (1, 1, 512, 512)
    assert torch.equal(cam[0, 0], torch.tensor(skimage.data.camera(), dtype=torch.float32) / 255)
    astro = load_data("astronaut").train.x
    assert torch.equal(astro[0, 2], torch.tensor(skimage.data.astronaut()[..., 2], dtype=torch.float32) / 255)


# ---------------------------------------------------------------- load_data


def test_registry_metadata():
    for name in (
        "digits",
        "mnist5k",
        "mnist1d",
        "gaussians8",
        "ring8",
        "grid25",
        "moons",
        "circles",
        "swissroll",
    ):
        meta = DATASETS.entry(name).meta
        assert meta["kind"] in ("image", "signal", "points") and meta["description"]


def test_load_data_errors():
    with pytest.raises(UserError, match="did you mean digits"):
        load_data("digts")
    with pytest.raises(UserError, match=r"mnist:PATH"):
        load_data("mnist")
    formats = "ab, cifar10, cifar100, fashion-mnist, folder, mnist, npz, pairs, segfolder"
    with pytest.raises(UserError, match=f"formats: {formats}"):
        load_data("tiff:/data")
    with pytest.raises(UserError, match="n_trian"):
        load_data("moons", n_trian=3)
    with pytest.raises(UserError, match="takes none"):
        load_data("digits", seed=1)
    with pytest.raises(UserError, match="std"):
        load_data("ring8", std=-1.0)
