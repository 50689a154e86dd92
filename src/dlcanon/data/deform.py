"""Smooth random deformations D_τ x(u) = x(u − τ(u)) of controlled size ‖∇τ‖ (F8; Mallat, 2012; Bruna &
Mallat, 2013: a deformation-stable f has ‖f(x) − f(D_τ x)‖ ≲ C‖x‖·‖∇τ‖_∞ for small τ).

τ is white noise blurred by a Gaussian of width `smoothness` pixels, then scaled so that
‖∇τ‖_∞ = max_u ‖J_τ(u)‖_F (Jacobian by central differences, in pixels per pixel) equals `size` exactly:
the Jacobian is linear in τ, so scaling τ by c scales ‖∇τ‖ by c.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

CURRICULUM = ("F8",)


def gradient_norm(tau: torch.Tensor) -> torch.Tensor:
    """‖∇τ‖_∞ per field: max over pixels of the Jacobian's Frobenius norm; tau (N, 2, H, W) -> (N,)."""
    dy = (tau[:, :, 2:, 1:-1] - tau[:, :, :-2, 1:-1]) / 2  # (N, 2, H−2, W−2)
    dx = (tau[:, :, 1:-1, 2:] - tau[:, :, 1:-1, :-2]) / 2
    return torch.sqrt((dx**2 + dy**2).sum(1)).flatten(1).max(1).values


def random_displacement(
    n: int, height: int, width: int, *, size: float, smoothness: float = 3.0, generator: torch.Generator | None = None
) -> torch.Tensor:
    """Smooth random displacement fields τ (N, 2, H, W) in pixels (τ_x, τ_y) with ‖∇τ‖_∞ = size."""
    radius = int(3 * smoothness)
    t = torch.arange(-radius, radius + 1, dtype=torch.float32)
    g = torch.exp(-(t**2) / (2 * smoothness**2))
    g = g / g.sum()
    noise = torch.randn(n * 2, 1, height + 2 * radius, width + 2 * radius, generator=generator)
    tau = F.conv2d(F.conv2d(noise, g.view(1, 1, -1, 1)), g.view(1, 1, 1, -1)).view(n, 2, height, width)
    return tau * (size / gradient_norm(tau).clamp_min(1e-12)).view(n, 1, 1, 1)


def deform(x: torch.Tensor, tau: torch.Tensor) -> torch.Tensor:
    """D_τ x(u) = x(u − τ(u)) by bilinear sampling, zero outside; x (N, C, H, W), tau (N, 2, H, W) pixels."""
    h, w = x.shape[-2:]
    ys, xs = torch.meshgrid(torch.arange(h, dtype=x.dtype), torch.arange(w, dtype=x.dtype), indexing="ij")
    px, py = xs - tau[:, 0], ys - tau[:, 1]  # (N, H, W) source positions in pixels
    grid = torch.stack([(2 * px + 1) / w - 1, (2 * py + 1) / h - 1], -1)  # align_corners=False normalisation
    return F.grid_sample(x, grid, mode="bilinear", padding_mode="zeros", align_corners=False)
