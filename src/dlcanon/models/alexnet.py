"""AlexNet (Krizhevsky, Sutskever & Hinton, NeurIPS 2012) and an ensemble of any classifiers (C2).

What the notes credit to AlexNet: ReLU instead of saturating units, dropout in the first two fully connected
layers, overlapping max-pooling (3×3 windows, stride 2), large first kernels (11×11, stride 4), two streams
(one per GPU, for lack of memory) and averaging the predictions of several networks.

Parameter counts of the ImageNet configurations (224×224, 1,000 classes):
- `alexnet`: torchvision's single-stream variant, widths 64-192-384-256-256 (from Krizhevsky's 2014 "One weird
  trick" paper), no LRN: 61,100,840.
- `alexnet_2stream`: the 2012 paper's layout, widths 96-256-384-384-256, conv2, conv4 and conv5 grouped in two
  (each half sees only the maps of its own GPU: 48 → 128, 192 → 192, 192 → 128), LRN after conv1 and conv2:
  60,965,224 (the paper's "60 million"; the same widths without groups give 62,378,344). Grouping a conv
  in two halves its weights: conv2 has 5·5·48·256 instead of 5·5·96·256.
Both pad conv1 by 2 so that a 224×224 input gives the paper's 55×55 maps (the paper's 224 only works as 227
without padding).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from dlcanon.models.common import IMAGENET, SMALL, kaiming_init, mlp_head, variant
from dlcanon.nn.blurpool import antialias as make_antialiased
from dlcanon.registry import MODELS

# (out channels, kernel, stride, padding, grouped in the two-stream layout) for conv1..conv5
Layer = tuple[int, int, int, int, bool]
TORCHVISION: tuple[Layer, ...] = (
    (64, 11, 4, 2, False),
    (192, 5, 1, 2, True),
    (384, 3, 1, 1, False),
    (256, 3, 1, 1, True),
    (256, 3, 1, 1, True),
)
ORIGINAL: tuple[Layer, ...] = (
    (96, 11, 4, 2, False),
    (256, 5, 1, 2, True),
    (384, 3, 1, 1, False),
    (384, 3, 1, 1, True),
    (256, 3, 1, 1, True),
)
# small inputs: 5×5 first kernel at stride 1, narrower, pools padded so that 8×8 → 4 → 2 → 1
SMALL_LAYERS: tuple[Layer, ...] = (
    (32, 5, 1, 2, False),
    (64, 3, 1, 1, True),
    (96, 3, 1, 1, False),
    (96, 3, 1, 1, True),
    (64, 3, 1, 1, True),
)
POOL_AFTER = (0, 1, 4)  # max-pool after conv1, conv2, conv5


class AlexNet(nn.Module):
    """conv1 → pool → conv2 → pool → conv3 → conv4 → conv5 → pool → [dropout → FC → ReLU] × 2 → FC.

    ReLU after every conv; max-pools 3×3 stride 2 (overlapping); an adaptive average pool to
    `pool_size`² before the head (6×6 at 224×224, as torchvision). `groups` splits the grouped convs
    (`groups=2`: the two-stream layout); `lrn` adds the paper's local response normalisation
    b = a / (k + α Σ a²)^β (k = 2, n = 5, α = 1e-4, β = 0.75) after conv1 and conv2 (PyTorch's layer divides
    α by n, so it gets n·α). `antialias` (filter size) makes every max-pool a MaxBlurPool2d.
    """

    def __init__(
        self,
        in_channels: int = 3,
        num_classes: int = 1000,
        *,
        layers: Sequence[Layer] = TORCHVISION,
        groups: int = 1,
        lrn: bool = False,
        pool_padding: int = 0,
        pool_size: int = 6,
        hidden: int = 4096,
        dropout: float = 0.5,
        antialias: int = 0,
    ) -> None:
        super().__init__()
        features: list[nn.Module] = []
        c = in_channels
        for i, (out, k, s, p, grouped) in enumerate(layers):
            features += [nn.Conv2d(c, out, k, stride=s, padding=p, groups=groups if grouped else 1), nn.ReLU()]
            if lrn and i < 2:
                features.append(nn.LocalResponseNorm(5, alpha=5 * 1e-4, beta=0.75, k=2.0))
            if i in POOL_AFTER:
                features.append(nn.MaxPool2d(3, stride=2, padding=pool_padding))
            c = out
        self.features = nn.Sequential(*features)
        self.pool = nn.AdaptiveAvgPool2d(pool_size)
        self.classifier = mlp_head(c * pool_size**2, num_classes, (hidden, hidden), dropout=dropout)
        kaiming_init(self)  # He et al. (2015) init for the ReLU convs (the paper's N(0, 0.01²) stalls without BN)
        make_antialiased(self, antialias)

    def forward(self, x: Tensor) -> Tensor:  # (N, C, H, W) -> (N, num_classes)
        return self.classifier(self.pool(self.features(x)))


def build_alexnet(input_shape: tuple[int, ...], num_classes: int, **kwargs) -> AlexNet:
    """AlexNet for `input_shape` (C, H, W); keyword arguments as `AlexNet`."""
    return AlexNet(input_shape[0], num_classes, **kwargs)


C2 = ("C2",)
variant(
    "alexnet",
    build_alexnet,
    "AlexNet, torchvision's single-stream ImageNet configuration (61.1 M).",
    tags=C2,
    meta=IMAGENET,
)
variant(
    "alexnet_2stream",
    build_alexnet,
    "AlexNet as in the 2012 paper: two streams (groups=2), LRN (61.0 M).",
    tags=C2,
    meta=IMAGENET,
    layers=ORIGINAL,
    groups=2,
    lrn=True,
)
variant(
    "alexnet_small",
    build_alexnet,
    "Small-input AlexNet: 5×5 stride-1 conv1, widths 32-64-96-96-64, FC 256.",
    tags=C2,
    meta=SMALL,
    layers=SMALL_LAYERS,
    pool_padding=1,
    pool_size=2,
    hidden=256,
)


class Ensemble(nn.Module):
    """log p̄(y | x) with p̄ = (1/K) Σ_k softmax(f_k(x)): the members' class probabilities averaged.

    Krizhevsky et al. averaged the predictions of five (and seven) CNNs for their best ILSVRC-2012 result.
    The output is log-probabilities, not logits, computed stably as logsumexp_k log_softmax(f_k(x)) − log K.
    Because p̄ sums to one, log_softmax(log p̄) = log p̄: the Classifier objective's cross-entropy on this
    output is exactly −log p̄_y and its argmax is the ensemble's prediction. Members may be any classifiers
    (trained apart and wrapped afterwards, as in the paper, or trained jointly through this module).
    """

    def __init__(self, members: Sequence[nn.Module]) -> None:
        super().__init__()
        if not members:
            raise ValueError("an ensemble needs at least one member")
        self.members = nn.ModuleList(members)

    def forward(self, x: Tensor) -> Tensor:  # (N, ...) -> (N, classes) log-probabilities
        log_probs = torch.stack([F.log_softmax(m(x).float(), dim=1) for m in self.members])  # (K, N, C)
        return torch.logsumexp(log_probs, dim=0) - math.log(len(self.members))


@MODELS.register("ensemble", tags=C2, **SMALL)
def build_ensemble(
    input_shape: tuple[int, ...], num_classes: int, *, member: str = "alexnet_small", k: int = 3, **kwargs
) -> Ensemble:
    """Ensemble of k registered classifiers (default 3 alexnet_small) averaging their softmaxes.

    Trained as one model, the members learn jointly from the loss of the averaged prediction; the paper's
    ensemble averages independently trained networks (`Ensemble([net_1, ..., net_k])`).
    """
    if k < 1:
        raise ValueError(f"an ensemble needs k >= 1 members, got {k}")
    return Ensemble([MODELS.build(member, input_shape, num_classes, **kwargs) for _ in range(k)])
