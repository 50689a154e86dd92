"""Coordinate networks (A3): SIREN (Sitzmann, Martel, Bergman, Lindell & Wetzstein, NeurIPS 2020) and a ReLU MLP
on Fourier positional encodings (Mildenhall et al., 2020; Tancik et al., 2020)."""

from __future__ import annotations

import itertools
import math

import torch
from torch import Tensor, nn

from dlcanon.registry import MODELS


class SineLayer(nn.Module):
    """x ↦ sin(ω₀(Wx + b)). SIREN's initialisation keeps pre-activations ~ arcsine-distributed at every depth:
    first layer W ~ U(−1/n, 1/n), later layers W ~ U(−√(6/n)/ω₀, √(6/n)/ω₀), n = fan-in."""

    def __init__(self, in_features: int, out_features: int, *, w0: float = 30.0, first: bool = False) -> None:
        super().__init__()
        self.w0 = w0
        self.linear = nn.Linear(in_features, out_features)
        bound = 1 / in_features if first else math.sqrt(6 / in_features) / w0
        with torch.no_grad():
            self.linear.weight.uniform_(-bound, bound)

    def forward(self, x: Tensor) -> Tensor:  # (N, in) -> (N, out)
        return torch.sin(self.w0 * self.linear(x))


class Siren(nn.Module):
    """`layers` sine layers of width `hidden`, then a Linear output (initialised like a hidden sine layer)."""

    def __init__(self, in_features: int, out_features: int, *, hidden: int = 256, layers: int = 3, w0: float = 30.0):
        super().__init__()
        sizes = [in_features] + [hidden] * layers
        self.body = nn.Sequential(
            nn.Flatten(), *(SineLayer(a, b, w0=w0, first=i == 0) for i, (a, b) in enumerate(itertools.pairwise(sizes)))
        )
        self.out = nn.Linear(hidden, out_features)
        bound = math.sqrt(6 / hidden) / w0
        with torch.no_grad():
            self.out.weight.uniform_(-bound, bound)

    def forward(self, x: Tensor) -> Tensor:  # (N, in) -> (N, out)
        return self.out(self.body(x))


class PositionalEncoding(nn.Module):
    """γ(p) = [p, sin(2^k π p), cos(2^k π p)]_{k=0..L−1}, per coordinate: (N, d) -> (N, d(2L + 1))."""

    def __init__(self, frequencies: int = 8) -> None:
        super().__init__()
        self.register_buffer("scales", (2.0 ** torch.arange(frequencies)) * math.pi)

    def forward(self, p: Tensor) -> Tensor:
        angles = (p[..., None] * self.scales).flatten(-2)  # (N, d·L)
        return torch.cat([p, torch.sin(angles), torch.cos(angles)], -1)


class CoordinateMLP(nn.Module):
    """ReLU MLP on raw coordinates (frequencies=0) or on their positional encoding γ(p)."""

    def __init__(
        self, in_features: int, out_features: int, *, hidden: int = 256, layers: int = 3, frequencies: int = 0
    ):
        super().__init__()
        encode: list[nn.Module] = [nn.Flatten()]
        width = in_features
        if frequencies > 0:
            encode.append(PositionalEncoding(frequencies))
            width = in_features * (2 * frequencies + 1)
        body: list[nn.Module] = []
        for _ in range(layers):
            body += [nn.Linear(width, hidden), nn.ReLU()]
            width = hidden
        self.net = nn.Sequential(*encode, *body, nn.Linear(width, out_features))

    def forward(self, x: Tensor) -> Tensor:  # (N, in) -> (N, out)
        return self.net(x)


@MODELS.register("siren", tags=("A3",), objective="classifier", data="moons")
def build_siren(input_shape: tuple[int, ...], num_classes: int | None, **kwargs) -> Siren:
    """SIREN coordinate network: sine layers with ω₀ = 30 and the paper's uniform initialisation."""
    return Siren(math.prod(input_shape), num_classes or 1, **kwargs)


@MODELS.register("pe_mlp", tags=("A3",), objective="classifier", data="moons")
def build_pe_mlp(input_shape: tuple[int, ...], num_classes: int | None, **kwargs) -> CoordinateMLP:
    """ReLU MLP on Fourier positional encodings γ(p) of the coordinates (frequencies=8 by default)."""
    kwargs.setdefault("frequencies", 8)
    return CoordinateMLP(math.prod(input_shape), num_classes or 1, **kwargs)
