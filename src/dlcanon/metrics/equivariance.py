"""Shift and rotation equivariance and invariance of any module, measured (F3, F7).

For a group action S on inputs and S' on outputs:
    equivariance error  e_eq  = ‖f(Sx) − S'f(x)‖ / ‖f(x)‖    (0 iff f ∘ S = S' ∘ f on x)
    invariance error    e_inv = ‖f(Sx) − f(x)‖ / ‖f(x)‖      (0 iff f ∘ S = f on x)
    prediction consistency    = fraction of samples with argmax f(Sx) = argmax f(x)
Norms run over the whole batch. Shifts are circular (torch.roll) or zero-filled (content leaves, zeros
enter). When f changes the spatial size by a factor (stride s), S' shifts by the input shift divided by s,
which is only defined when s divides it: a strided network can at best be equivariant to shifts by s.
Rotations: `rot90` is exact on square grids; other angles resample bilinearly, so errors are compared
inside the centred disk the rotation keeps in view (`disk_mask`).
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor

from dlcanon.data.warp import affine_matrix, warp_affine

CURRICULUM = ("F3",)

Fn = Callable[[Tensor], Tensor]


def shift(x: Tensor, dy: int, dx: int, *, mode: str = "circular") -> Tensor:
    """Translate the last two axes of x by (dy, dx) pixels; `circular` wraps, `zero` fills with zeros."""
    if mode == "circular":
        return torch.roll(x, (dy, dx), (-2, -1))
    if mode != "zero":
        raise ValueError(f"shift mode must be circular or zero; got {mode!r}")
    out = torch.zeros_like(x)
    h, w = x.shape[-2:]
    ys, yd = (slice(0, h - dy), slice(dy, h)) if dy >= 0 else (slice(-dy, h), slice(0, h + dy))
    xs, xd = (slice(0, w - dx), slice(dx, w)) if dx >= 0 else (slice(-dx, w), slice(0, w + dx))
    out[..., yd, xd] = x[..., ys, xs]
    return out


def _rel(a: Tensor, b: Tensor, ref: Tensor) -> float:
    return float((a - b).double().norm() / ref.double().norm().clamp_min(1e-30))


@torch.no_grad()
def equivariance_error(f: Fn, x: Tensor, transform: Fn, out_transform: Fn | None = None) -> float:
    """‖f(Sx) − S'f(x)‖/‖f(x)‖ with S = transform and S' = out_transform (default: the same map)."""
    y = f(x)
    return _rel(f(transform(x)), (out_transform or transform)(y), y)


@torch.no_grad()
def invariance_error(f: Fn, x: Tensor, transform: Fn) -> float:
    """‖f(Sx) − f(x)‖/‖f(x)‖."""
    y = f(x)
    return _rel(f(transform(x)), y, y)


@torch.no_grad()
def prediction_consistency(f: Fn, x: Tensor, transform: Fn) -> float:
    """Fraction of samples whose predicted class (argmax over dim 1) is unchanged by the transform."""
    return float((f(transform(x)).argmax(1) == f(x).argmax(1)).float().mean())


@torch.no_grad()
def shift_equivariance_error(f: Fn, x: Tensor, dy: int, dx: int, *, mode: str = "circular") -> float:
    """Equivariance error for a shift by (dy, dx); the output shift is scaled by the output/input size ratio."""
    y = f(x)
    sy, sx = x.shape[-2] / y.shape[-2], x.shape[-1] / y.shape[-1]
    if dy % sy or dx % sx:
        raise ValueError(f"a shift by ({dy}, {dx}) has no counterpart on outputs sub-sampled by ({sy:g}, {sx:g})")
    return _rel(f(shift(x, dy, dx, mode=mode)), shift(y, int(dy // sy), int(dx // sx), mode=mode), y)


def rotate(x: Tensor, degrees: float) -> Tensor:
    """Rotate images (…, H, W) about their centre: exact for multiples of 90° on square images, else bilinear."""
    if degrees % 90 == 0 and x.shape[-1] == x.shape[-2]:
        return torch.rot90(x, int(degrees // 90) % 4, (-2, -1))
    flat = x.reshape(-1, 1, *x.shape[-2:])
    out = warp_affine(flat, affine_matrix(len(flat), angle=torch.full((len(flat),), float(degrees))))
    return out.reshape(x.shape)


def disk_mask(h: int, w: int, *, margin: float = 1.0) -> Tensor:
    """1 inside the centred disk of radius min(H, W)/2 − margin (what any rotation keeps in view), else 0."""
    ys, xs = torch.meshgrid(torch.arange(h) - (h - 1) / 2, torch.arange(w) - (w - 1) / 2, indexing="ij")
    return ((xs**2 + ys**2).sqrt() <= min(h, w) / 2 - margin).float()


@torch.no_grad()
def rotation_equivariance_error(f: Fn, x: Tensor, degrees: float, *, margin: float = 2.0) -> float:
    """‖M·(f(Rx) − R f(x))‖/‖M·f(x)‖ for spatial outputs, M the centre disk (the whole grid for rot90)."""
    x = x * disk_mask(*x.shape[-2:], margin=margin) if degrees % 90 else x  # keep content inside the disk
    y = f(x)
    mask = disk_mask(*y.shape[-2:], margin=margin) if degrees % 90 else torch.ones(y.shape[-2:])
    return _rel(mask * f(rotate(x, degrees)), mask * rotate(y, degrees), mask * y)


GROUPS = ("shift", "rot90", "rotation")


@torch.no_grad()
def check(f: Fn, x: Tensor, group: str = "shift") -> dict[str, float | list]:
    """Every measure for one group on images x (N, C, H, W): per-element errors and their means.

    shift: circular shifts by 1..3 pixels along both axes; rot90: 90°, 180°, 270°; rotation: 15°..345° by 30°.
    Equivariance is measured when f keeps a spatial map (4-D output), invariance and consistency always.
    """
    if group not in GROUPS:
        raise ValueError(f"group must be one of {', '.join(GROUPS)}; got {group!r}")
    if group == "shift":
        elements: list = [(d, d) for d in (1, 2, 3)]
        transforms = [lambda t, d=d: shift(t, d[0], d[1]) for d in elements]
    else:
        elements = [90, 180, 270] if group == "rot90" else list(range(15, 360, 30))
        transforms = [lambda t, a=a: rotate(t, a) for a in elements]
    y = f(x)
    rows = []
    for element, t in zip(elements, transforms, strict=True):
        row: dict = {"element": element, "invariance_error": invariance_error(f, x, t)}
        if y.dim() == 4 and group != "shift":
            row["equivariance_error"] = rotation_equivariance_error(f, x, element)
        elif y.dim() == 4 and not (element[0] * y.shape[-1]) % x.shape[-1]:  # shifts a stride can follow
            row["equivariance_error"] = shift_equivariance_error(f, x, *element)
        if y.dim() == 2 and y.shape[1] > 1:
            row["prediction_consistency"] = prediction_consistency(f, x, t)
        rows.append(row)
    keys = {k for r in rows for k in r if k != "element"}
    means = {k: sum(r[k] for r in rows if k in r) / sum(k in r for r in rows) for k in sorted(keys)}
    return {"group": group, **means, "elements": rows}
