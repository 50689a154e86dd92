"""Segmentation data: digitseg keeps train and test digits apart and its labels exact; the phantoms' labels are
exact; segfolder refuses a bad folder with one line before anything trains."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from dlcanon.data import load_data
from dlcanon.data.segmentation import KAK_SLANEY, digitseg_splits, ellipsoid_labels, phantom_levels
from dlcanon.data.sources import _mnist5k_arrays, stratified_split
from dlcanon.errors import UserError


def test_digitseg_train_and_test_digits_are_disjoint_and_labels_exact():
    bundle, train_sources, test_sources = digitseg_splits(n_train=40, n_test=20, size=64, max_digits=3, seed=0)
    images, labels = _mnist5k_arrays()
    train_pool, test_pool = stratified_split(labels, 1000, seed=0)
    used_train = {i for s in train_sources for i in s}
    used_test = {i for s in test_sources for i in s}
    assert used_train <= set(train_pool.tolist()) and used_test <= set(test_pool.tolist())
    assert not used_train & used_test
    assert all(1 <= len(s) <= 3 for s in train_sources + test_sources)
    assert bundle.num_classes == 11 and bundle.target.kind == "mask"
    for split, sources in ((bundle.train, train_sources), (bundle.test, test_sources)):
        for x, y, used in zip(split.x, split.y, sources, strict=True):
            # exact: label c + 1 exactly where a pixel > 0.5 and no two digits share a pixel
            assert torch.equal(y > 0, x[0] > 0.5)
            present = sorted(set(y.unique().tolist()) - {0})
            assert present == sorted({int(labels[i]) + 1 for i in used if (images[i] > 0.5).any()})
            ink = sum(int((images[i] > 0).sum()) for i in used)
            assert int((x > 0).sum()) == ink  # no overlap: every digit's ink survives whole


def test_digitseg_is_deterministic_and_counts_come_from_data_args():
    a = load_data("digitseg", n_train=6, n_test=3, seed=1)
    b = load_data("digitseg", n_train=6, n_test=3, seed=1)
    assert len(a.train) == 6 and len(a.test) == 3 and a.input_shape == (1, 64, 64)
    assert torch.equal(a.train.x, b.train.x) and torch.equal(a.test.y, b.test.y)
    with pytest.raises(UserError):
        load_data("digitseg", max_digits=4)


def test_phantom_labels_are_the_phantoms_intensity_levels():
    full, levels = phantom_levels()
    assert len(levels) == 6 and levels[0] == 0 and levels[-1] == 1
    assert np.array_equal(levels[full], __import__("skimage.data").data.shepp_logan_phantom().astype(np.float32))
    b = load_data("phantom", n_train=4, n_test=2, size=32)
    assert b.num_classes == 6 and b.train.x.shape == (4, 1, 32, 32) and b.train.y.shape == (4, 32, 32)
    assert b.train.x.min() >= 0 and b.train.x.max() <= 1
    assert set(b.train.y.unique().tolist()) <= set(range(6)) and (b.train.y == 5).any()
    # the image is drawn from the labels: the mean intensity rises with the class's level
    means = [float(b.train.x[:, 0][b.train.y == c].mean()) for c in (0, 2, 5)]
    assert means[0] < means[1] < means[2]


def test_phantom3d_labels_follow_the_ellipsoid_equations():
    # the centre of each ellipsoid lies in it; a point just outside the skull is background
    centres = np.array([[x0, y0, z0] for _, _, _, x0, y0, z0, _, _ in KAK_SLANEY])
    label, member = ellipsoid_labels(centres)
    assert all(member[k, k] for k in range(len(KAK_SLANEY)))
    assert label[0] == 2  # the skull's centre is inside the brain, the later ellipsoid: label 1 + 1
    assert ellipsoid_labels(np.array([[0.0, 0.95, 0.0]]))[0][0] == 0
    assert ellipsoid_labels(np.array([[0.0, 0.9, 0.0]]))[0][0] == 1  # skull shell only: 0.874 < 0.9 ≤ 0.92
    b = load_data("phantom3d", n_train=2, n_test=1, size=16, anisotropy=2, noise=0.0)
    assert b.kind == "volume" and b.input_shape == (1, 8, 16, 16) and b.train.y.shape == (2, 8, 16, 16)
    assert b.num_classes == 11 and {0, 1, 2} <= set(b.train.y.unique().tolist())
    # without noise the intensity is a function of the membership: equal labels inside the brain, one value
    brain = b.train.x[:, 0][b.train.y == 2]
    assert torch.allclose(brain, brain[0].expand_as(brain))


# ---------------------------------------------------------------- segfolder


def write(folder, name: str, array: np.ndarray) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    if name.endswith(".npy"):
        np.save(folder / name, array)
    else:
        from skimage.io import imsave

        imsave(folder / name, array, check_contrast=False)


def good_folder(root, n: int = 5):
    rng = np.random.default_rng(0)
    for i in range(n):
        image = rng.integers(0, 256, (12, 10), dtype=np.uint8)
        write(root / "images", f"s{i}.png", image)
        write(root / "masks", f"s{i}.{'png' if i % 2 else 'npy'}", (image > 128).astype(np.uint8) * (1 + i % 2))
    return root


def test_segfolder_reads_pairs_of_png_and_npy(tmp_path):
    b = load_data(f"segfolder:{good_folder(tmp_path)}", test_fraction=0.4)
    assert len(b.train) == 3 and len(b.test) == 2 and b.input_shape == (1, 12, 10)
    assert b.target.kind == "mask" and b.num_classes == 3
    x = torch.cat([b.train.x, b.test.x])
    y = torch.cat([b.train.y, b.test.y])
    assert torch.equal(y > 0, x[:, 0] > 128 / 255)


def test_segfolder_with_train_and_test_folders_and_tiff(tmp_path):
    for split in ("train", "test"):
        write(tmp_path / split / "images", "a.tif", np.full((8, 8), 200, np.uint8))
        write(tmp_path / split / "masks", "a.tif", np.eye(8, dtype=np.uint8))
    b = load_data(f"segfolder:{tmp_path}", num_classes=2)
    assert torch.equal(b.train.y[0], torch.eye(8, dtype=torch.int64))


@pytest.mark.parametrize(
    "breakage, message",
    [
        (lambda r: (r / "masks" / "s0.npy").unlink(), "no mask named s0"),
        (lambda r: write(r / "masks", "s0.npy", np.zeros((11, 10), np.uint8)), "its image is 12×10"),
        (lambda r: write(r / "masks", "s0.npy", np.full((12, 10), 0.5)), "integer labels"),
        (lambda r: write(r / "masks", "s0.npy", -np.ones((12, 10), np.int64)), "≥ 0"),
        (lambda r: write(r / "masks", "s9.npy", np.zeros((12, 10), np.uint8)), "without an image"),
        (lambda r: (r / "images" / "s1.png").write_bytes(b"not a png"), "cannot read"),
        (lambda r: write(r / "masks", "s0.npy", np.zeros((12, 10, 3), np.uint8)), "one label per pixel"),
    ],
)
def test_a_bad_segfolder_is_one_line(tmp_path, breakage, message):
    breakage(good_folder(tmp_path))
    with pytest.raises(UserError, match=message) as info:
        load_data(f"segfolder:{tmp_path}")
    assert "\n" not in str(info.value)


def test_segfolder_labels_out_of_range_and_missing_folders(tmp_path):
    good_folder(tmp_path)
    with pytest.raises(UserError, match=r"s1\.png: mask labels must be in 0\.\.1"):
        load_data(f"segfolder:{tmp_path}", num_classes=2)
    with pytest.raises(UserError, match="no such folder"):
        load_data(f"segfolder:{tmp_path / 'nowhere'}")
    (tmp_path / "other").mkdir()
    with pytest.raises(UserError, match="images/ and masks/"):
        load_data(f"segfolder:{tmp_path / 'other'}")
