"""Smooth random deformations D_τ x(u) = x(u − τ(u)) of controlled size ‖∇τ‖ (F8; Mallat, 2012; Bruna &
Mallat, 2013: a deformation-stable f has ‖f(x) − f(D_τ x)‖ ≲ C‖x‖·‖∇τ‖_∞ for small τ), for images and volumes.

τ is white noise blurred by a Gaussian of width `smoothness` pixels, then scaled so that
‖∇τ‖_∞ = max_u ‖J_τ(u)‖_F (Jacobian by central differences, in pixels per pixel) equals `size` exactly:
the Jacobian is linear in τ, so scaling τ by c scales ‖∇τ‖ by c.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

CURRICULUM = ("F8",)


def gradient_norm(tau: torch.Tensor) -> torch.Tensor:
    """‖∇τ‖_∞ per field: max over interior pixels of the Jacobian's Frobenius norm; tau (N, s, *spatial) -> (N,)
    with s = 2 (τ_x, τ_y over (H, W)) or 3 (τ_x, τ_y, τ_z over (D, H, W))."""
    s = tau.dim() - 2
    interior = [slice(None), slice(None)] + [slice(1, -1)] * s
    squares = []
    for axis in range(s):  # x (the last dim) first, then y, then z
        dim = tau.dim() - 1 - axis
        hi, lo = list(interior), list(interior)
        hi[dim], lo[dim] = slice(2, None), slice(None, -2)
        squares.append(((tau[tuple(hi)] - tau[tuple(lo)]) / 2) ** 2)
    return torch.sqrt(sum(squares).sum(1)).flatten(1).max(1).values


def random_displacement(
    n: int,
    *shape: int,
    size: float,
    smoothness: float = 3.0,
    generator: torch.Generator | None = None,
    device: torch.device | str | None = None,
) -> torch.Tensor:
    """Smooth random displacement fields in pixels with ‖∇τ‖_∞ = size: shape (H, W) gives τ (N, 2, H, W) as
    (τ_x, τ_y); shape (D, H, W) gives τ (N, 3, D, H, W) as (τ_x, τ_y, τ_z). Drawn on `device`."""
    s = len(shape)
    if s not in (2, 3):
        raise ValueError(f"random_displacement takes (H, W) or (D, H, W); got {shape}")
    radius = int(3 * smoothness)
    t = torch.arange(-radius, radius + 1, dtype=torch.float32, device=device)
    g = torch.exp(-(t**2) / (2 * smoothness**2))
    g = g / g.sum()
    padded = [d + 2 * radius for d in shape]
    tau = torch.randn(n * s, 1, *padded, generator=generator, device=device)
    conv = F.conv2d if s == 2 else F.conv3d
    for axis in range(s):  # separable blur along D (volumes), H, W in turn
        view = [1, 1] + [1] * s
        view[2 + axis] = -1
        tau = conv(tau, g.view(view))
    tau = tau.view(n, s, *shape)
    return tau * (size / gradient_norm(tau).clamp_min(1e-12)).view(n, *[1] * (s + 1))


def deform(x: torch.Tensor, tau: torch.Tensor, *, mode: str = "bilinear") -> torch.Tensor:
    """D_τ x(u) = x(u − τ(u)) by grid sampling (`mode`), zero outside; x (N, C, *spatial), tau (N, s, *spatial)
    in pixels, s = 2 for images (N, C, H, W), 3 for volumes (N, C, D, H, W)."""
    spatial = x.shape[2:]
    axes = torch.meshgrid(*[torch.arange(d, dtype=x.dtype, device=x.device) for d in spatial], indexing="ij")
    # source positions in pixels, in grid_sample's (x, y[, z]) order, normalised with align_corners=False
    coords = [(2 * (axes[-1 - k] - tau[:, k]) + 1) / spatial[-1 - k] - 1 for k in range(len(spatial))]
    return F.grid_sample(x, torch.stack(coords, -1), mode=mode, padding_mode="zeros", align_corners=False)
