"""Resampling primitives for images (N, C, H, W) and volumes (N, C, D, H, W), batched with per-sample parameters.

Coordinates: pixel-centred p = (j + ½ − W/2, i + ½ − H/2[, k + ½ − D/2]) for row i, column j, slice k
(x right, y down, z deeper). A geometric transform is the forward map p_out = M p_in (M (s+1)×(s+1), s the
number of spatial axes); the output samples the input at M⁻¹ p_out with grid_sample (zero outside).
`mode` is grid_sample's: "bilinear" (trilinear on volumes) for values, "nearest" for label maps.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from dlcanon.errors import UserError


def spatial_dims(x: torch.Tensor) -> int:
    """2 for images (N, C, H, W), 3 for volumes (N, C, D, H, W); else a UserError."""
    if x.dim() not in (4, 5):
        raise UserError(
            f"augmentation works on images (N, C, H, W) or volumes (N, C, D, H, W); got shape {tuple(x.shape)}"
        )
    return x.dim() - 2


def sizes(x: torch.Tensor) -> torch.Tensor:
    """(W, H[, D]) as float32 on x's device: the extent of each axis in (x, y, z) order."""
    return torch.tensor(x.shape[2:][::-1], device=x.device, dtype=torch.float32)


def _rotation(a: torch.Tensor, i: int, j: int, dim: int, device: torch.device | str | None) -> torch.Tensor:
    """Rotations (N, dim+1, dim+1) in the (axis i, axis j) plane: [[cos, sin], [−sin, cos]] on those axes."""
    r = torch.eye(dim + 1, device=device).repeat(len(a), 1, 1)
    r[:, i, i], r[:, i, j], r[:, j, i], r[:, j, j] = a.cos(), a.sin(), -a.sin(), a.cos()
    return r


def affine_matrix(
    n: int,
    *,
    angle: torch.Tensor | None = None,
    scale: torch.Tensor | None = None,
    shear: torch.Tensor | None = None,
    shift: torch.Tensor | None = None,
    device: torch.device | str | None = None,
) -> torch.Tensor:
    """Forward maps (N, 3, 3) in pixel-centred coordinates: M = T(shift) · R(angle) · Sh(shear) · S(scale).

    angle, shear: (N,) degrees; R = [[cos, sin], [−sin, cos]] (counter-clockwise on screen, y down);
    Sh = [[1, tan shear], [0, 1]]; S = scale·I (scale (N,)); T translates by shift (N, 2) pixels (dx, dy).
    """
    m = torch.eye(3, device=device).repeat(n, 1, 1)
    if scale is not None:
        m[:, :2, :2] *= scale.view(n, 1, 1).to(m)
    if shear is not None:
        s = torch.eye(3, device=device).repeat(n, 1, 1)
        s[:, 0, 1] = torch.tan(torch.deg2rad(shear.to(m)))
        m = s @ m
    if angle is not None:
        m = _rotation(torch.deg2rad(angle.to(m)), 0, 1, 2, device) @ m
    if shift is not None:
        m = m.clone()
        m[:, :2, 2] += shift.to(m)
    return m


def affine_matrix_3d(
    n: int,
    *,
    angle: torch.Tensor | None = None,
    scale: torch.Tensor | None = None,
    shear: torch.Tensor | None = None,
    shift: torch.Tensor | None = None,
    device: torch.device | str | None = None,
) -> torch.Tensor:
    """Forward maps (N, 4, 4) on (x, y, z): M = T(shift) · R_yz(a₂) R_xz(a₁) R_xy(a₀) · Sh(shear) · S(scale).

    angle (N, 3) degrees: a₀ turns the (x, y) plane as in 2-D (about the depth axis), a₁ the (x, z) plane,
    a₂ the (y, z) plane; shear (N, 3) degrees fills Sh's upper triangle (x by y, x by z, y by z) with tan;
    scale (N,) isotropic; shift (N, 3) pixels (dx, dy, dz).
    """
    m = torch.eye(4, device=device).repeat(n, 1, 1)
    if scale is not None:
        m[:, :3, :3] *= scale.view(n, 1, 1).to(m)
    if shear is not None:
        s = torch.eye(4, device=device).repeat(n, 1, 1)
        t = torch.tan(torch.deg2rad(shear.to(m)))
        s[:, 0, 1], s[:, 0, 2], s[:, 1, 2] = t[:, 0], t[:, 1], t[:, 2]
        m = s @ m
    if angle is not None:
        a = torch.deg2rad(angle.to(m))
        for k, (i, j) in enumerate(((0, 1), (0, 2), (1, 2))):
            m = _rotation(a[:, k], i, j, 3, device) @ m
    if shift is not None:
        m = m.clone()
        m[:, :3, 3] += shift.to(m)
    return m


def warp_affine(x: torch.Tensor, matrix: torch.Tensor, *, mode: str = "bilinear") -> torch.Tensor:
    """out(p) = x(M⁻¹ p) for forward maps M (N, s+1, s+1) in pixel-centred coordinates; zero outside.

    grid_sample's normalised coordinates are n = D⁻¹ p with D = diag(W/2, H/2[, D/2]) (align_corners=False),
    so θ = D⁻¹ M⁻¹[:s] (D ⊕ 1): one affine_grid + one grid_sample for the whole batch.
    """
    s = spatial_dims(x)
    n = x.shape[0]
    inv = torch.linalg.inv(matrix.to(device=x.device, dtype=torch.float32))
    d = sizes(x) / 2
    theta = torch.empty(n, s, s + 1, device=x.device)
    theta[:, :, :s] = inv[:, :s, :s] * d[None, None, :] / d[None, :, None]
    theta[:, :, s] = inv[:, :s, s] / d[None, :]
    grid = F.affine_grid(theta.to(x.dtype), list(x.shape), align_corners=False)
    return F.grid_sample(x, grid, mode=mode, padding_mode="zeros", align_corners=False)


CORNERS = ((-1.0, -1.0), (1.0, -1.0), (1.0, 1.0), (-1.0, 1.0))  # TL, TR, BR, BL, normalised (x, y)


def homography(src: torch.Tensor, dst: torch.Tensor) -> torch.Tensor:
    """H (N, 3, 3) with H[8] = 1 mapping 4 points src (N, 4, 2) to dst: (u, v) ↦ ((h0u + h1v + h2)/w,
    (h3u + h4v + h5)/w), w = h6u + h7v + 1; the 8×8 linear systems are solved in one batched call."""
    n = src.shape[0]
    u, v = src[..., 0], src[..., 1]
    X, Y = dst[..., 0], dst[..., 1]
    one, zero = torch.ones_like(u), torch.zeros_like(u)
    rows_x = torch.stack([u, v, one, zero, zero, zero, -u * X, -v * X], -1)
    rows_y = torch.stack([zero, zero, zero, u, v, one, -u * Y, -v * Y], -1)
    a = torch.cat([rows_x, rows_y], 1)  # (N, 8, 8)
    b = torch.cat([X, Y], 1)  # (N, 8)
    h = torch.linalg.solve(a, b)
    return torch.cat([h, torch.ones(n, 1, device=h.device, dtype=h.dtype)], 1).view(n, 3, 3)


def warp_perspective(x: torch.Tensor, corners: torch.Tensor, *, mode: str = "bilinear") -> torch.Tensor:
    """Moves the input's corners CORNERS (normalised, ±1 = image edges) to `corners` (N, 4, 2).

    The sampling homography H maps output → input (corners ↦ CORNERS); out(n) = x(H n) for every output
    position n of the normalised grid, zero outside (and where the projective w ≤ 0). A volume has the same
    homography in every (H, W) plane: its depth axis is left as it is.
    """
    if spatial_dims(x) == 3:
        n, c, depth, h, w = x.shape
        return warp_perspective(x.reshape(n, c * depth, h, w), corners, mode=mode).view(n, c, depth, h, w)
    n = x.shape[0]
    canon = torch.tensor(CORNERS, device=x.device).expand(n, 4, 2)
    hom = homography(corners.to(device=x.device, dtype=torch.float32), canon)
    eye = torch.eye(2, 3, device=x.device).expand(n, 2, 3)
    base = F.affine_grid(eye, list(x.shape), align_corners=False)  # (N, H, W, 2) output positions
    q = torch.einsum("nij,nhwj->nhwi", hom[:, :, :2], base) + hom[:, None, None, :, 2]
    w = q[..., 2:]
    grid = torch.where(w > 1e-6, q[..., :2] / w.clamp_min(1e-6), torch.full_like(q[..., :2], 2.0))
    return F.grid_sample(x, grid.to(x.dtype), mode=mode, padding_mode="zeros", align_corners=False)


def shift_pixels(x: torch.Tensor, shift: torch.Tensor) -> torch.Tensor:
    """Exact integer shift by (dx, dy[, dz]) per sample, shift (N, s): out[..., i, j] = x[..., i − dy, j − dx]
    (and k − dz on volumes), zero where that is outside. Any dtype: label maps shift exactly."""
    s = spatial_dims(x)
    out = x
    for axis in range(s):  # axis 0 = x = the last dim, 1 = y, 2 = z
        dim, size = x.dim() - 1 - axis, x.shape[-1 - axis]
        src = torch.arange(size, device=x.device)[None, :] - shift[:, axis].view(-1, 1).to(x.device)  # (N, size)
        view = [len(x)] + [1] * (x.dim() - 1)
        view[dim] = size
        index = src.clamp(0, size - 1).view(view).expand_as(out)
        inside = ((src >= 0) & (src < size)).view(view)
        out = torch.where(inside, out.gather(dim, index), torch.zeros((), dtype=x.dtype, device=x.device))
    return out.contiguous()
