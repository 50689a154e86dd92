"""Random geometric transforms, drawn once and applied alike to an input and its aligned target.

Each `draw_*(x, generator, **strength)` draws every sample's parameters from `generator` (on x's device) and
returns a `Warp`: `warp(t, mode=...)` moves any tensor (N, C, *spatial) whose spatial axes are x's: the
input with "bilinear" (trilinear on volumes), a label map with "nearest". Images (N, C, H, W) and volumes
(N, C, D, H, W) alike (coordinates and conventions: `dlcanon.data.warp`). A range argument is (lo, hi) or a
number v meaning centre ± v (degrees: ±v, scale: 1 ± v, ...).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass

import torch

from dlcanon.data.deform import deform, random_displacement
from dlcanon.data.warp import (
    CORNERS,
    affine_matrix,
    affine_matrix_3d,
    shift_pixels,
    sizes,
    spatial_dims,
    warp_affine,
    warp_perspective,
)
from dlcanon.errors import UserError

Range = float | tuple[float, float]


def value_range(value: Range, centre: float, name: str) -> tuple[float, float]:
    """(lo, hi) from a pair, or from a number v as (centre − v, centre + v)."""
    if isinstance(value, (tuple, list)):
        if len(value) != 2:
            raise UserError(f"augment: {name} must be a number or a (lo, hi) pair; got {value!r}")
        lo, hi = float(value[0]), float(value[1])
    else:
        if float(value) < 0:
            raise UserError(f"augment: {name} must be ≥ 0 (a ± range); got {value}")
        lo, hi = centre - float(value), centre + float(value)
    if not lo <= hi:
        raise UserError(f"augment: {name} range needs lo ≤ hi; got ({lo}, {hi})")
    return lo, hi


def uniform(x: torch.Tensor, g: torch.Generator, lo: float, hi: float, *shape: int) -> torch.Tensor:
    """U[lo, hi] of shape (N, *shape) in float32 on x's device."""
    u = torch.rand(x.shape[0], *shape, generator=g, device=x.device, dtype=torch.float32)
    return lo + (hi - lo) * u


# ---------------------------------------------------------------- warps: drawn parameters, applied to any tensor


class Warp(ABC):
    """A geometric transform with its per-sample parameters fixed."""

    @abstractmethod
    def __call__(self, t: torch.Tensor, *, mode: str) -> torch.Tensor:
        """t (N, C, *spatial) moved; `mode` is grid_sample's interpolation where the warp interpolates."""


@dataclass
class Flip(Warp):
    """x'[..., j] = x[..., W − 1 − j] where hit (N,) is true."""

    hit: torch.Tensor

    def __call__(self, t: torch.Tensor, *, mode: str) -> torch.Tensor:
        return torch.where(self.hit.view(-1, *[1] * (t.dim() - 1)), t.flip(-1), t)


@dataclass
class Shift(Warp):
    """An exact integer shift by (dx, dy[, dz]) per sample, shift (N, s): no interpolation."""

    shift: torch.Tensor

    def __call__(self, t: torch.Tensor, *, mode: str) -> torch.Tensor:
        return shift_pixels(t, self.shift)


@dataclass
class Affine(Warp):
    """p_out = M p_in, M (N, s+1, s+1); consecutive affine warps fuse into one (one interpolation)."""

    matrix: torch.Tensor

    def then(self, later: Affine) -> Affine:
        return Affine(later.matrix @ self.matrix)

    def __call__(self, t: torch.Tensor, *, mode: str) -> torch.Tensor:
        return warp_affine(t, self.matrix, mode=mode)


@dataclass
class Perspective(Warp):
    """The homography moving the corners CORNERS to `corners` (N, 4, 2) (every (H, W) plane of a volume)."""

    corners: torch.Tensor

    def __call__(self, t: torch.Tensor, *, mode: str) -> torch.Tensor:
        return warp_perspective(t, self.corners, mode=mode)


@dataclass
class Deform(Warp):
    """D_τ t(u) = t(u − τ(u)) for displacement fields τ (N, s, *spatial) in pixels."""

    tau: torch.Tensor

    def __call__(self, t: torch.Tensor, *, mode: str) -> torch.Tensor:
        return deform(t, self.tau.to(t.dtype), mode=mode)


# ---------------------------------------------------------------- random transforms


def _affine(x: torch.Tensor, **parts: torch.Tensor | None) -> Affine:
    build = affine_matrix if spatial_dims(x) == 2 else affine_matrix_3d
    return Affine(build(x.shape[0], device=x.device, **parts))


def _angles(x: torch.Tensor, g: torch.Generator, lo: float, hi: float) -> torch.Tensor:
    """One angle (N,) per image; three (N, 3) per volume (the (x, y), (x, z) and (y, z) planes)."""
    return uniform(x, g, lo, hi) if spatial_dims(x) == 2 else uniform(x, g, lo, hi, 3)


def draw_flip(x: torch.Tensor, generator: torch.Generator, *, p: float = 0.5) -> Warp:
    """Horizontal flip (the last axis) with probability p per sample. Wrong for digits."""
    if not 0 <= p <= 1:
        raise UserError(f"augment: flip p must be in [0, 1]; got {p}")
    return Flip(torch.rand(x.shape[0], generator=generator, device=x.device) < p)


def draw_crop(x: torch.Tensor, generator: torch.Generator, *, pad: int = 2) -> Warp:
    """Pad by `pad` zeros and crop back to size at a random offset: an exact shift by d ∈ {−pad..pad} per axis."""
    if int(pad) != pad or pad < 0:
        raise UserError(f"augment: crop pad must be an integer ≥ 0; got {pad}")
    shape = (x.shape[0], spatial_dims(x))
    return Shift(torch.randint(-int(pad), int(pad) + 1, shape, generator=generator, device=x.device))


def draw_scale(x: torch.Tensor, generator: torch.Generator, *, scale: Range = 0.1) -> Warp:
    """Zoom about the centre: p_out = s·p_in, s ~ U(scale) (default 0.9–1.1)."""
    lo, hi = value_range(scale, 1.0, "scale")
    if lo <= 0:
        raise UserError(f"augment: scale factors must be > 0; got range ({lo}, {hi})")
    return _affine(x, scale=uniform(x, generator, lo, hi))


def draw_rotate(x: torch.Tensor, generator: torch.Generator, *, degrees: Range = 10.0) -> Warp:
    """Rotate about the centre: p_out = R(θ)·p_in, θ ~ U(degrees) (default ±10°), counter-clockwise > 0;
    a volume turns by one such angle in each of its three coordinate planes."""
    lo, hi = value_range(degrees, 0.0, "degrees")
    return _affine(x, angle=_angles(x, generator, lo, hi))


def draw_translate(x: torch.Tensor, generator: torch.Generator, *, shift: Range = 2 / 28) -> Warp:
    """Random translation with zero fill: p_out = p_in + t ⊙ (W, H[, D]), t ~ U(shift) per axis.

    The default 2/28 is ±2 px on 28×28 digits; sub-pixel shifts interpolate.
    """
    lo, hi = value_range(shift, 0.0, "shift")
    return _affine(x, shift=uniform(x, generator, lo, hi, spatial_dims(x)) * sizes(x))


def draw_affine(
    x: torch.Tensor,
    generator: torch.Generator,
    *,
    degrees: Range = 10.0,
    scale: Range = 0.1,
    shear: Range = 5.0,
    shift: Range = 2 / 28,
) -> Warp:
    """Random affine map p_out = T(shift·size) R(θ) Sh(φ) S(s) p_in, each parameter uniform per sample."""
    (a0, a1), (s0, s1) = value_range(degrees, 0.0, "degrees"), value_range(scale, 1.0, "scale")
    (h0, h1), (t0, t1) = value_range(shear, 0.0, "shear"), value_range(shift, 0.0, "shift")
    if s0 <= 0 or max(abs(h0), abs(h1)) >= 90:
        raise UserError(f"augment: affine needs scale > 0 and |shear| < 90°; got ({s0}, {s1}), ({h0}, {h1})")
    angle, s = _angles(x, generator, a0, a1), uniform(x, generator, s0, s1)
    shear_angle = _angles(x, generator, h0, h1)
    return _affine(
        x, angle=angle, scale=s, shear=shear_angle, shift=uniform(x, generator, t0, t1, spatial_dims(x)) * sizes(x)
    )


def draw_perspective(x: torch.Tensor, generator: torch.Generator, *, distortion: float = 0.2) -> Warp:
    """Random perspective: each corner c_k (normalised ±1) moves to c_k + δ_k, δ_k ~ U[−d, d]², i.e. by up to
    d·(W/2, H/2) pixels; the output is the homography warp taking the four corners there (zero fill)."""
    if not 0 <= distortion < 1:
        raise UserError(f"augment: perspective distortion must be in [0, 1); got {distortion}")
    delta = uniform(x, generator, -distortion, distortion, 4, 2)
    return Perspective(torch.tensor(CORNERS, device=x.device) + delta)


def draw_deform(x: torch.Tensor, generator: torch.Generator, *, size: float = 0.1, smoothness: float = 3.0) -> Warp:
    """Elastic deformation D_τ x(u) = x(u − τ(u)), τ smooth random with ‖∇τ‖_∞ = size (`dlcanon.data.deform`)."""
    if size < 0 or smoothness <= 0:
        raise UserError(f"augment: deform needs size ≥ 0 and smoothness > 0; got {size}, {smoothness}")
    tau = random_displacement(
        x.shape[0], *x.shape[2:], size=size, smoothness=smoothness, generator=generator, device=x.device
    )
    return Deform(tau)


GEOMETRIC = {
    "flip": draw_flip,
    "crop": draw_crop,
    "scale": draw_scale,
    "rotate": draw_rotate,
    "affine": draw_affine,
    "translate": draw_translate,
    "perspective": draw_perspective,
    "deform": draw_deform,
}
