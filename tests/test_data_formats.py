"""On-disk formats: small valid files round-trip exactly; broken ones are a UserError naming the file."""

from __future__ import annotations

import gzip
import os
import pickle
import re
import struct
from pathlib import Path

import numpy as np
import pytest
import torch

from dlcanon.data import load_data
from dlcanon.errors import UserError

RNG = np.random.default_rng(0)


# ---------------------------------------------------------------- IDX


def idx_bytes(a: np.ndarray, magic: int | None = None) -> bytes:
    magic = (0x0800 | a.ndim) if magic is None else magic
    return struct.pack(f">I{a.ndim}I", magic, *a.shape) + a.astype(np.uint8).tobytes()


def write_mnist(folder: Path, n_train: int = 6, n_test: int = 3, *, gz: bool = False) -> dict[str, np.ndarray]:
    folder.mkdir(parents=True, exist_ok=True)
    arrays = {
        "train-images-idx3-ubyte": RNG.integers(0, 256, (n_train, 5, 4)),
        "train-labels-idx1-ubyte": RNG.integers(0, 10, n_train),
        "t10k-images-idx3-ubyte": RNG.integers(0, 256, (n_test, 5, 4)),
        "t10k-labels-idx1-ubyte": RNG.integers(0, 10, n_test),
    }
    for name, a in arrays.items():
        data = idx_bytes(a)
        if gz:
            with gzip.open(folder / f"{name}.gz", "wb") as f:
                f.write(data)
        else:
            (folder / name).write_bytes(data)
    return arrays


def test_mnist_round_trip(tmp_path):
    a = write_mnist(tmp_path)
    b = load_data(f"mnist:{tmp_path}")
    assert (b.kind, b.num_classes, b.input_shape, len(b.train), len(b.test)) == ("image", 10, (1, 5, 4), 6, 3)
    assert b.train.x.dtype == torch.float32 and b.train.y.dtype == torch.int64
    expected = torch.tensor(a["train-images-idx3-ubyte"], dtype=torch.float32)[:, None] / 255
    assert torch.equal(b.train.x, expected)
    assert b.test.y.tolist() == a["t10k-labels-idx1-ubyte"].tolist()
    assert torch.equal(b.test.x[:, 0] * 255, torch.tensor(a["t10k-images-idx3-ubyte"], dtype=torch.float32))


def test_fashion_mnist_gz_and_torchvision_layout(tmp_path):
    a = write_mnist(tmp_path / "FashionMNIST" / "raw", gz=True)
    b = load_data(f"fashion-mnist:{tmp_path / 'FashionMNIST'}")
    assert b.train.y.tolist() == a["train-labels-idx1-ubyte"].tolist()
    assert torch.equal(b.train.x[:, 0] * 255, torch.tensor(a["train-images-idx3-ubyte"], dtype=torch.float32))


def test_idx_truncated_raw(tmp_path):
    write_mnist(tmp_path)
    f = tmp_path / "train-images-idx3-ubyte"
    f.write_bytes(f.read_bytes()[:-7])
    with pytest.raises(UserError, match=r"train-images-idx3-ubyte: header \(6, 5, 4\) implies 136 bytes; file has 129"):
        load_data(f"mnist:{tmp_path}")


def test_idx_truncated_gz(tmp_path):
    write_mnist(tmp_path, gz=True)
    f = tmp_path / "t10k-images-idx3-ubyte.gz"
    f.write_bytes(f.read_bytes()[:-9])
    with pytest.raises(UserError, match=re.escape("t10k-images-idx3-ubyte.gz")):
        load_data(f"mnist:{tmp_path}")


def test_idx_gz_with_lying_header(tmp_path):
    """A header promising more images than the stream holds: caught by the gzip size, not by allocating."""
    a = write_mnist(tmp_path, gz=True)
    data = struct.pack(">IIII", 0x803, 10**9, 5, 4) + a["train-images-idx3-ubyte"].astype(np.uint8).tobytes()
    with gzip.open(tmp_path / "train-images-idx3-ubyte.gz", "wb") as f:
        f.write(data)
    with pytest.raises(UserError, match=r"train-images-idx3-ubyte.gz: header .* implies 20000000016 bytes"):
        load_data(f"mnist:{tmp_path}")


def test_idx_wrong_magic(tmp_path):
    a = write_mnist(tmp_path)
    (tmp_path / "train-labels-idx1-ubyte").write_bytes(idx_bytes(a["train-labels-idx1-ubyte"], magic=0x803))
    with pytest.raises(
        UserError, match=r"train-labels-idx1-ubyte: wrong IDX magic number 0x00000803; expected 0x00000801"
    ):
        load_data(f"mnist:{tmp_path}")
    (tmp_path / "train-labels-idx1-ubyte").write_bytes(b"\x89PNG\r\n")
    with pytest.raises(UserError, match="train-labels-idx1-ubyte: wrong IDX magic"):
        load_data(f"mnist:{tmp_path}")


def test_idx_label_count_mismatch(tmp_path):
    write_mnist(tmp_path)
    (tmp_path / "t10k-labels-idx1-ubyte").write_bytes(idx_bytes(np.arange(4)))
    with pytest.raises(UserError, match=r"t10k-labels-idx1-ubyte: 4 labels, but .*t10k-images-idx3-ubyte holds 3"):
        load_data(f"mnist:{tmp_path}")


def test_idx_label_out_of_range(tmp_path):
    write_mnist(tmp_path)
    (tmp_path / "train-labels-idx1-ubyte").write_bytes(idx_bytes(np.array([1, 2, 3, 12, 0, 0])))
    with pytest.raises(UserError, match=r"train-labels-idx1-ubyte: labels must be in 0..9; found 12 at record 3"):
        load_data(f"mnist:{tmp_path}")


def test_idx_missing_file_and_folder(tmp_path):
    write_mnist(tmp_path)
    (tmp_path / "t10k-images-idx3-ubyte").unlink()
    with pytest.raises(UserError, match="t10k-images-idx3-ubyte: missing file"):
        load_data(f"mnist:{tmp_path}")
    with pytest.raises(UserError, match="nowhere: no such folder"):
        load_data(f"mnist:{tmp_path / 'nowhere'}")
    with pytest.raises(UserError, match="takes none"):
        load_data(f"mnist:{tmp_path}", seed=3)


# ---------------------------------------------------------------- CIFAR


def cifar_records(n: int, labels: list[np.ndarray]) -> tuple[bytes, np.ndarray]:
    pixels = RNG.integers(0, 256, (n, 3072)).astype(np.uint8)
    raw = np.concatenate([*(lab.astype(np.uint8)[:, None] for lab in labels), pixels], 1)
    return raw.tobytes(), pixels


def test_cifar10_round_trip_in_subfolder(tmp_path):
    folder = tmp_path / "cifar-10-batches-bin"
    folder.mkdir()
    pixels, labels = [], []
    for name in [f"data_batch_{i}.bin" for i in range(1, 6)] + ["test_batch.bin"]:
        y = RNG.integers(0, 10, 3)
        data, p = cifar_records(3, [y])
        (folder / name).write_bytes(data)
        pixels.append(p)
        labels.append(y)
    b = load_data(f"cifar10:{tmp_path}")
    assert (b.num_classes, b.input_shape, len(b.train), len(b.test)) == (10, (3, 32, 32), 15, 3)
    assert b.train.y.tolist() == np.concatenate(labels[:5]).tolist()
    # record layout: 1024 red, 1024 green, 1024 blue bytes, each plane row-major
    n, c, i, j = 4, 1, 7, 30
    assert b.train.x[n, c, i, j] * 255 == pytest.approx(pixels[1][1, 1024 * c + 32 * i + j])
    assert torch.equal(b.test.x.reshape(3, -1) * 255, torch.tensor(pixels[5], dtype=torch.float32))


def write_cifar10(folder: Path) -> None:
    for name in [f"data_batch_{i}.bin" for i in range(1, 6)] + ["test_batch.bin"]:
        (folder / name).write_bytes(cifar_records(2, [np.array([3, 9])])[0])


def test_cifar10_truncated(tmp_path):
    write_cifar10(tmp_path)
    f = tmp_path / "data_batch_3.bin"
    f.write_bytes(f.read_bytes()[:-100])
    with pytest.raises(UserError, match=r"data_batch_3.bin: 6046 bytes is not a whole number of 3073-byte"):
        load_data(f"cifar10:{tmp_path}")


def test_cifar10_label_out_of_range_and_missing(tmp_path):
    write_cifar10(tmp_path)
    (tmp_path / "test_batch.bin").write_bytes(cifar_records(2, [np.array([3, 10])])[0])
    with pytest.raises(UserError, match=r"test_batch.bin: labels must be in 0..9; found 10 at record 1"):
        load_data(f"cifar10:{tmp_path}")
    (tmp_path / "data_batch_5.bin").unlink()
    with pytest.raises(UserError, match=re.escape("data_batch_5.bin: missing file")):
        load_data(f"cifar10:{tmp_path}")


def test_cifar100_uses_fine_labels(tmp_path):
    folder = tmp_path / "cifar-100-binary"
    folder.mkdir()
    train, pixels = cifar_records(4, [np.array([0, 19, 5, 7]), np.array([99, 0, 42, 17])])
    (folder / "train.bin").write_bytes(train)
    (folder / "test.bin").write_bytes(cifar_records(1, [np.array([2]), np.array([3])])[0])
    b = load_data(f"cifar100:{folder}")
    assert b.num_classes == 100 and b.train.y.tolist() == [99, 0, 42, 17] and b.test.y.tolist() == [3]
    assert torch.equal(b.train.x.reshape(4, -1) * 255, torch.tensor(pixels, dtype=torch.float32))
    (folder / "test.bin").write_bytes(cifar_records(1, [np.array([20]), np.array([3])])[0])
    with pytest.raises(UserError, match=r"test.bin: coarse labels must be in 0..19; found 20"):
        load_data(f"cifar100:{tmp_path}")


# ---------------------------------------------------------------- image folder


def save_png(path: Path, a: np.ndarray) -> None:
    from skimage.io import imsave

    path.parent.mkdir(parents=True, exist_ok=True)
    imsave(path, a, check_contrast=False)


def test_folder_with_train_and_test(tmp_path):
    images = {}
    for split, cls, k in [("train", "dog", 2), ("train", "cat", 3), ("test", "dog", 1), ("test", "cat", 1)]:
        for i in range(k):
            a = RNG.integers(0, 256, (6, 5, 3)).astype(np.uint8)
            save_png(tmp_path / split / cls / f"{i}.png", a)
            images[split, cls, i] = a
    (tmp_path / "train" / "cat" / "notes.txt").write_text("ignored")
    b = load_data(f"folder:{tmp_path}")
    assert (b.num_classes, b.input_shape, len(b.train), len(b.test)) == (2, (3, 6, 5), 5, 2)
    assert b.train.y.tolist() == [0, 0, 0, 1, 1]  # classes sorted: cat = 0, dog = 1
    expected = torch.tensor(images["train", "dog", 1], dtype=torch.float32).permute(2, 0, 1) / 255
    assert torch.equal(b.train.x[4], expected)


def test_folder_split_is_stratified_and_deterministic(tmp_path):
    for cls, k in [("a", 10), ("b", 5), ("c", 7)]:
        for i in range(k):
            save_png(tmp_path / cls / f"{i:02d}.png", np.full((4, 4), 10 * i + ord(cls), np.uint8))
    b = load_data(f"folder:{tmp_path}")
    assert (len(b.train), len(b.test), b.input_shape, b.num_classes) == (18, 4, (1, 4, 4), 3)
    total = torch.bincount(torch.cat([b.train.y, b.test.y]))
    assert total.tolist() == [10, 5, 7]
    test = torch.bincount(b.test.y, minlength=3).double()
    assert ((test - total.double() * 4 / 22).abs() < 1).all()
    values = sorted((torch.cat([b.train.x, b.test.x])[:, 0, 0, 0] * 255).round().int().tolist())
    assert values == sorted(10 * i + ord(c) for c, k in [("a", 10), ("b", 5), ("c", 7)] for i in range(k))
    again = load_data(f"folder:{tmp_path}")
    assert torch.equal(again.test.x, b.test.x) and torch.equal(again.test.y, b.test.y)
    assert len(load_data(f"folder:{tmp_path}", test_fraction=0.5).test) == 11


def test_folder_rejects_mixed_sizes_and_corrupt_images(tmp_path):
    save_png(tmp_path / "a" / "0.png", np.zeros((4, 4), np.uint8))
    save_png(tmp_path / "a" / "1.png", np.zeros((5, 4), np.uint8))
    with pytest.raises(UserError, match=r"a/1.png: image is \(1, 5, 4\) \(C, H, W\), expected \(1, 4, 4\).*one size"):
        load_data(f"folder:{tmp_path}")
    (tmp_path / "a" / "1.png").write_bytes(b"\x89PNG\r\n\x1a\n garbage")
    with pytest.raises(UserError, match=r"a/1.png: cannot read image"):
        load_data(f"folder:{tmp_path}")
    (tmp_path / "a" / "1.png").unlink()
    (tmp_path / "train").mkdir()
    with pytest.raises(UserError, match="train/ and test/"):
        load_data(f"folder:{tmp_path}")


def test_folder_without_images(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(UserError, match="no class folders"):
        load_data(f"folder:{tmp_path}")


# ---------------------------------------------------------------- npz


def test_npz_explicit_splits_channels_last(tmp_path):
    x_train = RNG.integers(0, 256, (6, 5, 4, 3)).astype(np.uint8)  # (N, H, W, C)
    x_test = RNG.integers(0, 256, (2, 5, 4, 3)).astype(np.uint8)
    path = tmp_path / "d.npz"
    np.savez(path, x_train=x_train, y_train=np.arange(6) % 4, x_test=x_test, y_test=np.array([3, 1]))
    b = load_data(f"npz:{path}")
    assert (b.kind, b.input_shape, b.num_classes) == ("image", (3, 5, 4), 4)
    assert torch.equal(b.train.x * 255, torch.tensor(x_train, dtype=torch.float32).permute(0, 3, 1, 2))
    assert b.test.y.tolist() == [3, 1] and b.test.y.dtype == torch.int64


def test_npz_single_set_is_split_stratified(tmp_path):
    x = np.arange(50, dtype=np.float32)[:, None].repeat(3, 1)
    y = np.repeat([0, 1], [40, 10])
    path = tmp_path / "p.npz"
    np.savez(path, x=x, y=y)
    b = load_data(f"npz:{path}")
    assert (b.kind, b.input_shape, b.num_classes, len(b.train), len(b.test)) == ("points", (3,), 2, 40, 10)
    assert torch.bincount(b.test.y).tolist() == [8, 2]
    assert sorted(torch.cat([b.train.x, b.test.x])[:, 0].tolist()) == list(range(50))
    assert torch.equal(b.train.x[:, 0].long() >= 40, b.train.y.bool())  # labels travel with their samples
    signal = tmp_path / "s.npz"
    np.savez(signal, x=RNG.standard_normal((10, 2, 7)))
    s = load_data(f"npz:{signal}")
    assert (s.kind, s.input_shape, s.num_classes, s.train.y) == ("signal", (2, 7), None, None)


class Boom:
    """Unpickling this creates a folder: the witness that nothing was unpickled."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (os.mkdir, (str(self.marker),))


def test_npz_with_pickle_is_refused_not_loaded(tmp_path):
    marker = tmp_path / "unpickled"
    path = tmp_path / "evil.npz"
    np.savez(path, x=np.zeros((4, 2)), y=np.array([Boom(marker)] * 4, dtype=object))
    with pytest.raises(UserError, match=r"evil.npz: array 'y' holds Python objects \(pickle\), refused"):
        load_data(f"npz:{path}")
    raw = tmp_path / "evil.pkl"
    raw.write_bytes(pickle.dumps({"x": Boom(marker)}))
    with pytest.raises(UserError, match=r"evil.pkl: not an .npz archive"):
        load_data(f"npz:{raw}")
    assert not marker.exists()


def test_npz_other_errors(tmp_path):
    path = tmp_path / "bad.npz"
    np.savez(path, images=np.zeros((3, 2)))
    with pytest.raises(UserError, match=r"bad.npz: expected arrays x, y .* found \['images'\]"):
        load_data(f"npz:{path}")
    np.savez(path, x=np.zeros((3, 2)), y=np.array([0.5, 1, 2]))
    with pytest.raises(UserError, match=re.escape("bad.npz: 'y' must hold integer class labels")):
        load_data(f"npz:{path}")
    np.savez(path, x=np.full((3, 1, 2, 2), 2.0), y=np.array([0, 1, 2]))
    with pytest.raises(UserError, match=r"bad.npz: 'x' float images must lie in \[0, 1\]"):
        load_data(f"npz:{path}")
    np.savez(path, x=np.zeros((3, 2)), y=np.array([0, 1]))
    with pytest.raises(UserError, match=r"bad.npz: 'y' has shape \(2,\); expected \(3,\)"):
        load_data(f"npz:{path}")
    np.save(tmp_path / "one.npy", np.zeros(3))
    with pytest.raises(UserError, match=re.escape("one.npy: holds a single array")):
        load_data(f"npz:{tmp_path / 'one.npy'}")
    (tmp_path / "cut.npz").write_bytes(path.read_bytes()[:40])
    with pytest.raises(UserError, match=re.escape("cut.npz")):
        load_data(f"npz:{tmp_path / 'cut.npz'}")
    with pytest.raises(UserError, match=re.escape("missing.npz: no such file")):
        load_data(f"npz:{tmp_path / 'missing.npz'}")
