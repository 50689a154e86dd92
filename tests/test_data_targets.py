"""Targets beyond class labels: the bundle declares its target, and augmentation moves a dense target with its
input (same parameters; nearest for label maps, the input's interpolation for paired images), in 2-D and 3-D."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from dlcanon.data import Augment, DataBundle, Split, Target, load_data
from dlcanon.data import warp as W
from dlcanon.data.geometric import GEOMETRIC
from dlcanon.errors import UserError

# strong settings, so that a target left in place (or moved differently) is far from its input
STRONG: dict[str, dict[str, object]] = {
    "flip": {"p": 0.5},
    "crop": {"pad": 3},
    "scale": {"scale": (1.3, 1.5)},
    "rotate": {"degrees": (40, 60)},
    "affine": {"degrees": (20, 40), "scale": (1.2, 1.3), "shear": (5, 10), "shift": (0.05, 0.1)},
    "translate": {"shift": (0.08, 0.15)},
    "perspective": {"distortion": 0.3},
    "deform": {"size": 0.8, "smoothness": 4.0},
}
EXACT = ("flip", "crop")  # whole-pixel moves: no interpolation, so the pair stays exactly aligned


def gen(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def blobs(n: int, shape: tuple[int, ...], seed: int = 0) -> torch.Tensor:
    """(N, 1, *shape) in [0, 1]: three Gaussian blobs (σ = 3 px) per sample, centred in the middle 40%."""
    g = gen(seed)
    axes = torch.meshgrid(*[torch.arange(d, dtype=torch.float32) for d in shape], indexing="ij")
    out = torch.zeros(n, 1, *shape)
    for _ in range(3):
        centre = [d * (0.3 + 0.4 * torch.rand(n, generator=g)) for d in shape]
        r2 = sum((a[None] - c.view(-1, *[1] * len(shape))) ** 2 for a, c in zip(axes, centre, strict=True))
        out[:, 0] += torch.exp(-r2 / (2 * 3.0**2))
    return out.clamp(0, 1)


def near_boundary(labels: torch.Tensor, radius: int) -> tuple[torch.Tensor, int]:
    """Pixels within `radius` pixels (Chebyshev) of a boundary pixel (one with a differently-labelled
    neighbour), and the number of boundary pixels. labels (N, *spatial) in {0, 1}."""
    m = labels.float()[:, None]
    pool = F.max_pool2d if m.dim() == 4 else F.max_pool3d
    edge = pool(m, 3, 1, 1) != -pool(-m, 3, 1, 1)
    return (pool(edge.float(), 2 * radius + 1, 1, radius) > 0)[:, 0], int(edge.sum())


def misaligned(x: torch.Tensor, y: torch.Tensor, radius: int = 1) -> tuple[int, int, int]:
    """(mismatches of y against the thresholded x, those not near a boundary, boundary pixels of x > ½)."""
    thresholded = (x[:, 0] > 0.5).long()
    band, boundary = near_boundary(thresholded, radius)
    wrong = thresholded != y
    return int(wrong.sum()), int((wrong & ~band).sum()), boundary


@pytest.mark.parametrize("shape", [(32, 32), (16, 16, 16)], ids=["2d", "3d"])
@pytest.mark.parametrize("name", list(GEOMETRIC))
def test_label_map_stays_the_thresholded_image_after_every_geometric_transform(name, shape):
    x = blobs(8, shape)
    y = (x[:, 0] > 0.5).long()  # (N, *spatial) label map = the thresholded image
    xo, yo = Augment([name], **STRONG[name])(x, y, generator=gen(1))
    assert xo.shape == x.shape and yo.shape == y.shape and yo.dtype == torch.int64
    # a magnifying warp spreads one input pixel over up to 1.5 output pixels: the band is 2 pixels wide there
    radius = 2 if name in ("scale", "affine") else 1
    wrong, far, boundary = misaligned(xo, yo, radius)
    if name in EXACT:
        assert wrong == 0
        assert not torch.equal(yo, y)
        return
    # Interpolating warps: the image is resampled bilinearly (trilinearly), the labels by nearest neighbour.
    # Where the level set ½ passes between the sample point and its nearest pixel the two must disagree, so a
    # few mismatches are unavoidable, and only there: next to the boundary, and a small share of it.
    assert far == 0
    assert wrong <= 0.15 * boundary
    # the check can fail: the label map left where it was breaks it
    unmoved, unmoved_far, _ = misaligned(xo, y, radius)
    assert unmoved > 0.15 * boundary or unmoved_far > 0


@pytest.mark.parametrize("shape", [(12, 10), (6, 8, 10)], ids=["2d", "3d"])
def test_paired_images_move_exactly_with_the_input_and_skip_photometry(shape):
    x = blobs(4, shape)
    geometry = list(GEOMETRIC)
    xo, yo = Augment(geometry)(x, x.clone(), generator=gen(2))
    assert torch.equal(xo, yo)  # same warps, same interpolation
    xp, yp = Augment([*geometry, "intensity", "noise"])(x, x.clone(), generator=gen(2))
    assert torch.equal(yp, yo)  # photometric transforms draw after the geometry and leave the target alone
    assert not torch.allclose(xp, yo, atol=1e-3)
    two = torch.cat([x, 1 - x], 1)  # a two-channel regression map moves channel by channel
    assert torch.equal(Augment(geometry)(x, two, generator=gen(2))[1][:, :1], xo)


def test_other_targets_pass_through_and_unaligned_dense_targets_are_refused():
    x = blobs(4, (8, 8))
    labels, values = torch.arange(4), torch.rand(4, 3)
    aug = Augment(["rotate", "flip", "noise"])
    assert aug(x, labels, generator=gen())[1] is labels
    assert aug(x, values, generator=gen())[1] is values
    assert aug(x, None, generator=gen())[1] is None
    with pytest.raises(UserError, match=r"dense targets .* got y \(4, 1, 16, 16\)"):
        aug(x, torch.rand(4, 1, 16, 16), generator=gen())


def test_label_maps_keep_their_classes_under_fused_warps():
    y = torch.randint(0, 5, (6, 9, 11), generator=gen(3))
    x = y[:, None].float() / 4
    _, yo = Augment(["scale", "rotate", "translate"], degrees=30)(x, y, generator=gen(4))
    assert yo.dtype == torch.int64 and set(yo.unique().tolist()) <= set(range(5))


def test_volume_transforms_match_their_slice_wise_closed_forms():
    x = torch.rand(2, 2, 6, 8, 8, generator=gen(5))  # (N, C, D, H, W)
    quarter = torch.tensor([[90.0, 0.0, 0.0], [0.0, 0.0, 0.0]])
    out = W.warp_affine(x, W.affine_matrix_3d(2, angle=quarter))
    torch.testing.assert_close(out[0], torch.rot90(x[0], 1, (-2, -1)), atol=1e-5, rtol=0)  # as in 2-D, per slice
    torch.testing.assert_close(out[1], x[1], atol=1e-5, rtol=0)
    cube = torch.rand(1, 1, 6, 6, 6, generator=gen(6))
    for k, dims in ((1, (-3, -1)), (2, (-3, -2))):  # the (x, z) and (y, z) planes, like (x, y) with y → z
        angle = torch.zeros(1, 3)
        angle[0, k] = 90.0
        turned = W.warp_affine(cube, W.affine_matrix_3d(1, angle=angle))
        torch.testing.assert_close(turned, torch.rot90(cube, 1, dims), atol=1e-5, rtol=0)
    shift = torch.tensor([[1, -2, 1], [0, 0, -1]])  # (dx, dy, dz)
    exact = W.shift_pixels(x, shift)
    warped = W.warp_affine(x, W.affine_matrix_3d(2, shift=shift.float()))
    torch.testing.assert_close(warped, exact, atol=1e-5, rtol=0)
    assert torch.equal(exact[0, :, 1:, :6, 1:], x[0, :, :-1, 2:, :-1])
    corners = torch.tensor(W.CORNERS).expand(2, 4, 2) * 0.5
    planes = W.warp_perspective(x.flatten(1, 2), corners).view_as(x)
    assert torch.equal(W.warp_perspective(x, corners), planes)  # one homography for every (H, W) plane


# ---------------------------------------------------------------- the bundle's target


def test_bundle_infers_and_checks_its_target():
    img = torch.rand(4, 1, 6, 6)
    assert DataBundle("c", Split(img, torch.arange(4)), Split(img, torch.arange(4)), 4, "image").target == Target(
        "class"
    )
    mask = DataBundle("m", Split(img, (img[:, 0] > 0.5).long()), Split(img, (img[:, 0] > 0.5).long()), 2, "image")
    assert mask.target == Target("mask", (6, 6)) and mask.describe()["target"] == {"kind": "mask", "shape": [6, 6]}
    assert DataBundle("p", Split(img, img), Split(img, img), None, "image").target == Target("image", (1, 6, 6))
    assert DataBundle("r", Split(torch.rand(4, 2), torch.rand(4)), Split(torch.rand(3, 2), torch.rand(3)), None,
                      "points").target == Target("regression")
    vol = torch.rand(2, 1, 3, 4, 5)
    v = DataBundle("v", Split(vol, (vol[:, 0] > 0.5).long()), Split(vol, (vol[:, 0] > 0.5).long()), 2, "volume")
    assert (v.target, v.in_channels) == (Target("mask", (3, 4, 5)), 1)
    assert DataBundle("n", Split(img), Split(img), None, "image").target == Target("none")
    declared = DataBundle("d", Split(img, img), Split(img, img), None, "image", Target("regression", (1, 6, 6)))
    assert declared.target.kind == "regression"
    with pytest.raises(ValueError, match="needs integer y"):
        DataBundle("bad", Split(img, img), Split(img, img), None, "image", Target("mask", (1, 6, 6)))
    with pytest.raises(ValueError, match="test: target 'class' but the split holds no y"):
        DataBundle("bad", Split(img, torch.arange(4)), Split(img), 4, "image")
    with pytest.raises(ValueError, match="not aligned"):
        DataBundle("bad", Split(img, torch.zeros(4, 5, 5).long()), Split(img), 2, "image", Target("mask", (5, 5)))
    with pytest.raises(ValueError, match="target kind must be one of"):
        Target("segmentation")
    with pytest.raises(ValueError, match="data kind must be one of"):
        DataBundle("bad", Split(img), Split(img), None, "picture")


def test_npz_volumes_with_masks_and_paired_images(tmp_path):
    rng = np.random.default_rng(0)
    x = rng.integers(0, 256, (10, 1, 4, 5, 6)).astype(np.uint8)  # (N, C, D, H, W)
    path = tmp_path / "vol.npz"
    np.savez(path, x=x, y=(x[:, 0] > 128).astype(np.int64) * 2)
    b = load_data(f"npz:{path}")
    assert (b.kind, b.input_shape, b.target, b.num_classes) == ("volume", (1, 4, 5, 6), Target("mask", (4, 5, 6)), 3)
    assert torch.equal((b.train.x[:, 0] * 255 > 128).long() * 2, b.train.y)  # labels travel with their samples
    np.savez(path, x_train=x, y_train=255 - x, x_test=x[:2], y_test=255 - x[:2])
    p = load_data(f"npz:{path}")
    assert p.target == Target("image", (1, 4, 5, 6)) and torch.allclose(p.train.y, 1 - p.train.x)
    assert load_data(f"npz:{path}", target="regression").target.kind == "regression"
    np.savez(path, x=x, y=np.zeros((10, 4, 5, 5), np.int64))
    with pytest.raises(UserError, match=r"vol\.npz: .*not aligned"):
        load_data(f"npz:{path}", target="mask")
    with pytest.raises(UserError, match="npz: target must be one of"):
        load_data(f"npz:{path}", target="segmentation")
