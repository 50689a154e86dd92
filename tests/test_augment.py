"""Augmentation: each transform checked against a closed-form property, batched with per-sample parameters."""

from __future__ import annotations

import pytest
import torch

from dlcanon.data import Augment
from dlcanon.data import augment as A
from dlcanon.data import photometric as P
from dlcanon.data import warp as W
from dlcanon.errors import UserError


def gen(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def one(name: str, x: torch.Tensor, g: torch.Generator, **strengths: object) -> torch.Tensor:
    """The input after the single transform `name`."""
    return Augment([name], **strengths)(x, None, generator=g)[0]


def images(n: int = 6, c: int = 2, h: int = 8, w: int = 8, seed: int = 0) -> torch.Tensor:
    return torch.rand(n, c, h, w, generator=gen(seed))


def roll_zero(x: torch.Tensor, dy: int, dx: int) -> torch.Tensor:
    """out[i, j] = x[i − dy, j − dx], zero where that falls outside."""
    out = torch.roll(x, (dy, dx), dims=(-2, -1))
    if dy > 0:
        out[..., :dy, :] = 0
    if dy < 0:
        out[..., dy:, :] = 0
    if dx > 0:
        out[..., :, :dx] = 0
    if dx < 0:
        out[..., :, dx:] = 0
    return out


def ramp(n: int, h: int, w: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Images holding a linear function of the pixel-centred position (px, py): bilinear reproduces it."""
    py = torch.arange(h) + 0.5 - h / 2
    px = torch.arange(w) + 0.5 - w / 2
    yy, xx = torch.meshgrid(py, px, indexing="ij")
    x = (0.5 + 0.02 * xx + 0.03 * yy).expand(n, 1, h, w).contiguous()
    return x, xx, yy


# ---------------------------------------------------------------- flip


def test_flip():
    x = images(64)
    assert torch.equal(one("flip", x, gen(), p=1.0), torch.flip(x, dims=(-1,)))
    assert torch.equal(one("flip", one("flip", x, gen(), p=1.0), gen(), p=1.0), x)
    assert torch.equal(one("flip", x, gen(), p=0.0), x)
    out = one("flip", x, gen(3), p=0.5)
    flipped = torch.tensor([torch.equal(o, xi.flip(-1)) for o, xi in zip(out, x, strict=True)])
    kept = torch.tensor([torch.equal(o, xi) for o, xi in zip(out, x, strict=True)])
    assert (flipped ^ kept).all() and 10 < flipped.sum() < 54  # per-sample coin, each sample one or the other
    assert torch.equal(one("flip", x, gen(3), p=0.5), out)


# ---------------------------------------------------------------- rotation, scale, translation, affine


def test_rotation_by_quarter_turns_is_rot90_per_sample():
    x = images(4)
    out = W.warp_affine(x, W.affine_matrix(4, angle=torch.tensor([0.0, 90.0, 180.0, 270.0])))
    for k in range(4):  # positive angles turn counter-clockwise on screen, like rot90 over (H, W)
        torch.testing.assert_close(out[k], torch.rot90(x[k], k, dims=(-2, -1)), atol=1e-5, rtol=0)
    quarter = one("rotate", x, gen(), degrees=(90, 90))
    torch.testing.assert_close(quarter, torch.rot90(x, 1, (-2, -1)), atol=1e-5, rtol=0)


def test_half_turn_of_a_non_square_image_reverses_both_axes():
    x = images(3, h=6, w=10)
    out = one("rotate", x, gen(), degrees=(180, 180))
    torch.testing.assert_close(out, torch.flip(x, dims=(-2, -1)), atol=1e-5, rtol=0)
    quarter = one("rotate", images(1, c=1, h=6, w=10), gen(), degrees=(90, 90))
    ref = torch.rot90(images(1, c=1, h=6, w=10), 1, (-2, -1))  # (10, 6) → its centre 6×6 is our interior
    torch.testing.assert_close(quarter[..., :, 2:8], ref[..., 2:8, :], atol=1e-5, rtol=0)


def test_random_rotation_draws_per_sample_angles():
    x = images(1).expand(16, -1, -1, -1)
    out = one("rotate", x, gen(1), degrees=30)
    assert len({round(float(o.sum()), 4) for o in out}) == 16
    assert torch.equal(out, one("rotate", x, gen(1), degrees=30))
    assert not torch.equal(out, one("rotate", x, gen(2), degrees=30))


def test_integer_translation_is_a_zero_filled_roll():
    x = images(4)
    shifts = torch.tensor([[0, 0], [1, 2], [-3, 1], [2, -2]])  # (dx, dy) per sample
    warped = W.warp_affine(x, W.affine_matrix(4, shift=shifts.float()))
    exact = W.shift_pixels(x, shifts)
    for k, (dx, dy) in enumerate(shifts.tolist()):
        assert torch.equal(exact[k], roll_zero(x[k], dy, dx))
        torch.testing.assert_close(warped[k], roll_zero(x[k], dy, dx), atol=1e-5, rtol=0)
    moved = one("translate", x, gen(), shift=(2 / 8, 2 / 8))  # +2 px on both axes at 8×8
    torch.testing.assert_close(moved, roll_zero(x, 2, 2), atol=1e-5, rtol=0)


def test_crop_is_an_exact_random_shift_within_pad():
    x = images(12)
    out = one("crop", x, gen(5), pad=2)
    found = []
    for o, xi in zip(out, x, strict=True):
        hits = [(dy, dx) for dy in range(-2, 3) for dx in range(-2, 3) if torch.equal(o, roll_zero(xi, dy, dx))]
        assert hits
        found.append(hits[0])
    assert len(set(found)) > 3
    assert torch.equal(one("crop", x, gen(5), pad=0), x)


def test_scale_enlarges_about_the_centre():
    x, xx, yy = ramp(3, 12, 12)
    out = one("scale", x, gen(), scale=(2.0, 2.0))  # out(p) = x(p / 2)
    expected = 0.5 + 0.02 * xx / 2 + 0.03 * yy / 2
    torch.testing.assert_close(out[:, 0, 3:9, 3:9], expected[3:9, 3:9].expand(3, 6, 6), atol=1e-5, rtol=0)
    per_sample = W.warp_affine(x, W.affine_matrix(3, scale=torch.tensor([1.0, 2.0, 4.0])))
    for k, s in enumerate([1.0, 2.0, 4.0]):
        torch.testing.assert_close(per_sample[k, 0, 4:8, 4:8], (0.5 + 0.02 * xx / s + 0.03 * yy / s)[4:8, 4:8])


def test_shear_maps_pixels_in_closed_form():
    x, xx, yy = ramp(2, 10, 10)
    out = W.warp_affine(x, W.affine_matrix(2, shear=torch.tensor([0.0, 45.0])))
    # forward (x, y) ↦ (x + y·tan 45°, y): the output at (px, py) samples the input at (px − py, py)
    expected = 0.5 + 0.02 * (xx - yy) + 0.03 * yy
    torch.testing.assert_close(out[1, 0, 3:7, 3:7], expected[3:7, 3:7], atol=1e-5, rtol=0)
    torch.testing.assert_close(out[0], x[0], atol=1e-6, rtol=0)


def test_zero_strength_is_identity():
    x = images(5)
    for out in (
        one("scale", x, gen(), scale=0),
        one("scale", x, gen(), scale=(1, 1)),
        one("rotate", x, gen(), degrees=0),
        one("translate", x, gen(), shift=0),
        one("affine", x, gen(), degrees=0, scale=0, shear=0, shift=0),
        one("perspective", x, gen(), distortion=0),
        P.intensity(x, gen(), brightness=0, contrast=0),
        P.noise(x, gen(), std=0),
    ):
        torch.testing.assert_close(out, x, atol=1e-5, rtol=0)


def test_geometric_outputs_stay_in_unit_interval():
    x = images(16, h=9, w=7)
    for name in ("scale", "rotate", "translate", "affine", "perspective", "crop", "deform"):
        out = one(name, x, gen(7))
        assert out.shape == x.shape and out.min() >= 0 and out.max() <= 1 + 1e-6, name


# ---------------------------------------------------------------- perspective


def test_homography_maps_the_four_corners():
    src = torch.tensor(W.CORNERS).expand(5, 4, 2)
    dst = src + 0.3 * (torch.rand(5, 4, 2, generator=gen(2)) - 0.5)
    h = W.homography(src, dst)
    p = torch.cat([src, torch.ones(5, 4, 1)], -1) @ h.transpose(1, 2)
    torch.testing.assert_close(p[..., :2] / p[..., 2:], dst, atol=1e-5, rtol=0)


def test_perspective_moves_corners_as_specified():
    x = images(3, h=10, w=10)
    canon = torch.tensor(W.CORNERS)
    torch.testing.assert_close(W.warp_perspective(x, canon.expand(3, 4, 2)), x, atol=1e-5, rtol=0)
    # corners pulled in to ±0.5: the picture shrinks by 2 about the centre, an affine special case
    shrunk = W.warp_perspective(x, 0.5 * canon.expand(3, 4, 2))
    torch.testing.assert_close(
        shrunk, W.warp_affine(x, W.affine_matrix(3, scale=torch.full((3,), 0.5))), atol=1e-5, rtol=0
    )
    # top-right corner moved left by half the width: the output's top-right region is empty
    corners = canon.clone().expand(3, 4, 2).clone()
    corners[:, 1, 0] = 0.0
    moved = W.warp_perspective(x, corners)
    assert moved[:, :, 0, 7:].abs().max() == 0 and moved[:, :, -1].abs().min() > 0


def test_random_perspective_is_per_sample_and_seeded():
    x = images(1).expand(8, -1, -1, -1)
    out = one("perspective", x, gen(4), distortion=0.3)
    assert len({round(float(o.sum()), 4) for o in out}) == 8
    assert torch.equal(out, one("perspective", x, gen(4), distortion=0.3))


# ---------------------------------------------------------------- intensity and noise


def test_intensity_formula_exact_per_sample():
    x = images(4)
    c = torch.tensor([0.5, 1.0, 1.5, 2.0])
    b = torch.tensor([0.1, -0.2, 0.0, 0.3])
    out = P.adjust_intensity(x, c, b)
    for k in range(4):
        mu = x[k].mean()
        assert torch.equal(out[k], (c[k] * (x[k] - mu) + mu + b[k]).clamp(0, 1))
    assert out.min() >= 0 and out.max() <= 1 and (out == 1).any()


def test_random_intensity_draws_within_ranges():
    x = 0.45 + 0.1 * images(32)  # mid-grey: no clamping, so c and b can be read back exactly
    out = P.intensity(x, gen(6), brightness=0.05, contrast=0.2)
    xc = x - x.mean((1, 2, 3), keepdim=True)
    c = (xc * (out - out.mean((1, 2, 3), keepdim=True))).sum((1, 2, 3)) / (xc**2).sum((1, 2, 3))
    b = out.mean((1, 2, 3)) - x.mean((1, 2, 3))
    assert ((c > 0.8 - 1e-4) & (c < 1.2 + 1e-4)).all() and c.std() > 0.05
    assert (b.abs() <= 0.05 + 1e-5).all() and b.std() > 0.01
    expected = c.view(-1, 1, 1, 1) * xc + x.mean((1, 2, 3), keepdim=True) + b.view(-1, 1, 1, 1)
    torch.testing.assert_close(out, expected, atol=1e-5, rtol=0)


def test_noise_has_the_requested_std():
    x = torch.full((64, 1, 32, 32), 0.5)
    out = P.noise(x, gen(8), std=0.1)
    eps = out - x
    assert abs(float(eps.std()) - 0.1) < 0.002 and abs(float(eps.mean())) < 0.002
    clipped = P.noise(images(8), gen(8), std=1.0, clip=True)
    assert clipped.min() == 0 and clipped.max() == 1


# ---------------------------------------------------------------- composition


def test_augment_composes_in_a_fixed_order_with_one_warp():
    x = images(4)
    forward = Augment(["rotate", "scale"], degrees=(90, 90), scale=(0.5, 0.5))
    backward = Augment(["scale", "rotate"], degrees=(90, 90), scale=(0.5, 0.5))
    assert torch.equal(forward(x, None, generator=gen(1))[0], backward(x, None, generator=gen(1))[0])
    fused = W.warp_affine(x, W.affine_matrix(4, angle=torch.full((4,), 90.0), scale=torch.full((4,), 0.5)))
    torch.testing.assert_close(forward(x, None, generator=gen(1))[0], fused, atol=1e-6, rtol=0)
    assert torch.equal(Augment(["rotate"])(x, None, generator=gen(2))[0], one("rotate", x, gen(2)))
    noisy_flip = Augment(["noise", "flip"], std=0.1, p=1.0)(x, None, generator=gen(3))[0]
    assert torch.equal(noisy_flip, P.noise(x.flip(-1), _after_flip(x, 3), std=0.1))


def test_fused_warp_rotates_before_it_translates():
    x = images(3)
    out = Augment(["translate", "rotate"], degrees=(90, 90), shift=(0.25, 0.25))(x, None, generator=gen())[0]
    expected = roll_zero(torch.rot90(x, 1, (-2, -1)), 2, 2)  # rotate, then move 2 px right and down
    torch.testing.assert_close(out, expected, atol=1e-5, rtol=0)


def _after_flip(x: torch.Tensor, seed: int) -> torch.Generator:
    g = gen(seed)
    torch.rand(x.shape[0], generator=g)  # the flip's draw comes first
    return g


def test_parse_presets_and_errors():
    aug = Augment.parse("rotate, translate, degrees=15, shift=0.05:0.1")
    assert aug.steps == [("rotate", {"degrees": 15}), ("translate", {"shift": (0.05, 0.1)})]
    digits = Augment.parse("digits")
    assert [n for n, _ in digits.steps] == ["scale", "rotate", "translate"]  # no flip for digits
    assert dict(digits.steps)["translate"]["shift"] == pytest.approx(2 / 28)
    assert [n for n, _ in Augment.preset("natural").steps] == ["flip", "crop", "intensity"]
    assert Augment.parse("digits,degrees=5").steps[1] == ("rotate", {"degrees": 5})
    assert Augment.parse("").steps == []
    assert {
        "flip",
        "scale",
        "rotate",
        "intensity",
        "crop",
        "translate",
        "noise",
        "affine",
        "perspective",
        "deform",
    } <= set(A.TRANSFORMS)
    with pytest.raises(UserError, match="did you mean rotate"):
        Augment.parse("rotat")
    with pytest.raises(UserError, match="'std' fits none of rotate"):
        Augment(["rotate"], std=0.1)
    with pytest.raises(UserError, match="flip p must be in"):
        Augment(["flip"], p=2)
    with pytest.raises(UserError, match="expected a number"):
        Augment.parse("noise,std=big")
    with pytest.raises(UserError, match=r"images \(N, C, H, W\)"):
        Augment(["flip"])(torch.zeros(4, 2), None, generator=gen())
