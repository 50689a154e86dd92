"""Energy networks (G15): a scalar E(x) for each input, or C logits f(x) whose energies are E(x, y) = −f(x)[y].

Smooth activations (SiLU/Swish, x·σ(x)) throughout: Langevin sampling follows ∇ₓE, which a ReLU network makes
piecewise constant (the JEM authors' advice, Grathwohl et al., 2020, arXiv:1912.03263, and IGEBM's, Du &
Mordatch, 2019, arXiv:1903.08689). Optional spectral normalisation (Miyato et al., 2018, arXiv:1802.05957)
divides every weight by its largest singular value, bounding the Lipschitz constant of E.

- `EnergyMLP` (2-D data): Linear → SiLU stacks, one output.
- `EnergyCNN` (digits 8×8, mnist5k 28×28): 3×3 convolutions with SiLU, stride-2 halvings, global average pool,
  a linear head of `outputs` units (1: an energy; C: a classifier's logits, for JEM).
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence

from torch import Tensor, nn

from dlcanon.registry import MODELS


def _sn(layer: nn.Module, on: bool) -> nn.Module:
    return nn.utils.parametrizations.spectral_norm(layer) if on else layer


class EnergyNet(nn.Module):
    """Base: `shape` of one sample, `data_classes` of its data (mixture modes, digit classes), `outputs`.

    `forward(x)` gives E(x) (N,) when `outputs` is 1, else the logits f(x) (N, C)."""

    def __init__(self, shape: tuple[int, ...], data_classes: int, outputs: int) -> None:
        super().__init__()
        self.shape, self.data_classes, self.outputs = tuple(shape), int(data_classes), int(outputs)

    @property
    def image(self) -> bool:
        return len(self.shape) == 3


class EnergyMLP(EnergyNet):
    """E(x) = w_Lᵀ SiLU(W_{L−1} … SiLU(W₁x + b₁) …) + b_L on flattened x."""

    def __init__(
        self, shape: tuple[int, ...], data_classes: int, *, hidden: Sequence[int], outputs: int, spectral_norm: bool
    ) -> None:
        super().__init__(shape, data_classes, outputs)
        sizes = [math.prod(shape), *hidden, outputs]
        layers: list[nn.Module] = [nn.Flatten()]
        for i in range(len(sizes) - 1):
            layers.append(_sn(nn.Linear(sizes[i], sizes[i + 1]), spectral_norm))
            if i < len(sizes) - 2:
                layers.append(nn.SiLU())
        self.net = nn.Sequential(*layers)

    def forward(self, x: Tensor) -> Tensor:  # (N, *shape) -> (N,) or (N, C)
        out = self.net(x)
        return out.squeeze(1) if self.outputs == 1 else out


class EnergyCNN(EnergyNet):
    """conv3×3(c₀) SiLU, then per width c_i: conv3×3 stride 2 SiLU, conv3×3 SiLU; global mean; Linear(outputs)."""

    def __init__(
        self, shape: tuple[int, ...], data_classes: int, *, channels: Sequence[int], outputs: int, spectral_norm: bool
    ) -> None:
        super().__init__(shape, data_classes, outputs)
        widths = list(channels)
        layers: list[nn.Module] = [_sn(nn.Conv2d(shape[0], widths[0], 3, padding=1), spectral_norm), nn.SiLU()]
        for a, b in itertools.pairwise(widths):
            layers += [_sn(nn.Conv2d(a, b, 3, stride=2, padding=1), spectral_norm), nn.SiLU()]
            layers += [_sn(nn.Conv2d(b, b, 3, padding=1), spectral_norm), nn.SiLU()]
        self.features = nn.Sequential(*layers)
        self.head = _sn(nn.Linear(widths[-1], outputs), spectral_norm)

    def forward(self, x: Tensor) -> Tensor:  # (N, C, H, W) -> (N,) or (N, classes)
        h = self.features(x).mean((2, 3))  # (N, c_last)
        out = self.head(h)
        return out.squeeze(1) if self.outputs == 1 else out


def _check_widths(name: str, widths: Sequence[int]) -> list[int]:
    widths = list(widths)
    if not widths or any(not isinstance(w, int) or isinstance(w, bool) or w < 1 for w in widths):
        raise ValueError(f"{name} must be a non-empty list of positive integers; got {widths}")
    return widths


@MODELS.register("energy_mlp", tags=("G15",), objective="ebm", data="ring8")
def build_energy_mlp(
    input_shape: tuple[int, ...],
    num_classes: int | None,
    *,
    hidden: Sequence[int] = (128, 128, 128),
    spectral_norm: bool = False,
) -> EnergyMLP:
    """MLP energy E(x) for 2-D (or any flat) data: SiLU hidden layers `hidden`, optional spectral norm."""
    return EnergyMLP(
        tuple(input_shape), num_classes or 0, hidden=_check_widths("hidden", hidden), outputs=1,
        spectral_norm=spectral_norm,
    )  # fmt: skip


def _cnn(input_shape: tuple[int, ...], channels: Sequence[int], outputs: int, spectral_norm: bool) -> EnergyCNN:
    if len(input_shape) != 3:
        raise ValueError(f"a convolutional energy takes images (C, H, W); got samples of shape {tuple(input_shape)}")
    return EnergyCNN(
        tuple(input_shape), 0, channels=_check_widths("channels", channels), outputs=outputs,
        spectral_norm=spectral_norm,
    )  # fmt: skip


@MODELS.register("energy_cnn", tags=("G15",), objective="ebm", data="digits")
def build_energy_cnn(
    input_shape: tuple[int, ...],
    num_classes: int | None,
    *,
    channels: Sequence[int] = (32, 64),
    spectral_norm: bool = False,
) -> EnergyCNN:
    """Small convolutional energy E(x) for digits 8×8 or mnist5k 28×28 (SiLU, stride-2 stages `channels`)."""
    net = _cnn(input_shape, channels, 1, spectral_norm)
    net.data_classes = num_classes or 0
    return net


@MODELS.register("jem_cnn", tags=("G15",), objective="jem", data="digits")
def build_jem_cnn(
    input_shape: tuple[int, ...],
    num_classes: int | None,
    *,
    channels: Sequence[int] = (32, 64),
    spectral_norm: bool = False,
) -> EnergyCNN:
    """The same convolutional network with C logits f(x): a classifier, and JEM's energy E(x) = −logsumexp f(x)."""
    if not num_classes:
        raise ValueError("jem_cnn is a classifier: it needs labelled data with num_classes > 0")
    net = _cnn(input_shape, channels, num_classes, spectral_norm)
    net.data_classes = num_classes
    return net
