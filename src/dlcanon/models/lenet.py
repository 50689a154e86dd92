"""LeNet-5 (LeCun, Bottou, Bengio & Haffner, 1998): convolutions, average pooling, fully connected head."""

from __future__ import annotations

from torch import Tensor, nn

from dlcanon.nn.activations import activation as make_activation
from dlcanon.nn.blurpool import antialias as make_antialiased
from dlcanon.nn.conv_arith import conv_output_size
from dlcanon.registry import MODELS


class LeNet5(nn.Module):
    """C1 conv 6@5×5 → S2 avg-pool 2 → C3 conv 16@5×5 → S4 avg-pool 2 → C5 conv 120 → F6 84 → 10.

    The paper's 32×32 input gives C5 a 5×5 window (61,706 parameters with full C3 connections; the paper's
    sparse C3 table gives 60,000). Smaller inputs are padded so each stage stays valid: 28×28 MNIST pads
    C1 by 2 (the usual choice, same maps as 32×32); below 14×14 (8×8 digits) C3 pads by 2 too; C5's kernel
    always covers the whole remaining map, so it acts as the paper's fully connected C5.
    `antialias` (a binomial filter size, 0 = off) blurs before both sub-samplings (Zhang, 2019).
    The paper's scaled tanh and trainable sub-sampling are replaced by `activation` (tanh by default)
    and plain average pooling, as in most modern re-implementations.
    """

    def __init__(
        self,
        in_channels: int = 1,
        num_classes: int = 10,
        *,
        input_size: int = 32,
        activation: str = "tanh",
        antialias: int = 0,
    ) -> None:
        super().__init__()
        pad1 = 0 if input_size >= 32 else 2
        m = conv_output_size(input_size, 5, padding=pad1) // 2  # after C1, S2
        pad3 = 0 if m >= 10 else 2
        m = conv_output_size(m, 5, padding=pad3) // 2  # after C3, S4
        act = activation
        self.features = nn.Sequential(
            nn.Conv2d(in_channels, 6, 5, padding=pad1),  # C1: (N, 6, s, s)
            make_activation(act),
            nn.AvgPool2d(2),  # S2
            nn.Conv2d(6, 16, 5, padding=pad3),  # C3
            make_activation(act),
            nn.AvgPool2d(2),  # S4: (N, 16, m, m)
            nn.Conv2d(16, 120, m),  # C5: (N, 120, 1, 1)
            make_activation(act),
        )
        self.classifier = nn.Sequential(
            nn.Flatten(),
            nn.Linear(120, 84),  # F6
            make_activation(act),
            nn.Linear(84, num_classes),  # output layer (the paper's RBF units replaced by a Linear)
        )
        make_antialiased(self, antialias)  # antialias=k: blur with a binomial k-filter before each sub-sampling

    def forward(self, x: Tensor) -> Tensor:  # (N, C, H, W) -> (N, num_classes)
        return self.classifier(self.features(x))


@MODELS.register(
    "lenet5",
    tags=("C1",),
    objective="classifier",
    data="mnist5k",
)
def build_lenet5(input_shape: tuple[int, ...], num_classes: int, **kwargs) -> LeNet5:
    """LeNet-5: conv 6@5×5, avg-pool, conv 16@5×5, avg-pool, conv 120, FC 84, FC classes."""
    if len(input_shape) != 3:
        raise ValueError(f"LeNet-5 takes images (C, H, W); got inputs shaped {tuple(input_shape)}")
    return LeNet5(input_shape[0], num_classes, input_size=input_shape[-1], **kwargs)
