"""The small classifiers whose features the Fréchet distance and precision/recall are measured in.

One architecture for 1-channel digits of any size ≥ 8: conv 3×3 (16) → ReLU → max-pool 2 → conv 3×3 (32)
→ ReLU → max-pool 2 → adaptive average pool to 4×4 → linear 512 → 64 → ReLU (the features, (N, 64)) →
linear 64 → 10 (the logits). dlcanon ships its weights for `mnist5k` and `digits` in `dlcanon/assets/`
(`feature_<data>.pt`, a state dict loaded with `weights_only=True`, and `feature_<data>.json` with the
test accuracy they reached), made by `python scripts/train_feature_nets.py` (seeded, CPU, fp32).
"""

from __future__ import annotations

import json
from functools import cache
from importlib import resources
from pathlib import Path

import torch
from torch import Tensor, nn

from dlcanon.errors import UserError

FEATURES = 64
SHIPPED = {(1, 28, 28): "mnist5k", (1, 8, 8): "digits"}


class FeatureNet(nn.Module):
    """`features(x)` (N, 64) and `forward(x)` logits (N, num_classes) of images (N, 1, H, W) in [0, 1]."""

    def __init__(self, num_classes: int = 10) -> None:
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(1, 16, 3, padding=1),
            nn.ReLU(),
            nn.MaxPool2d(2),
            nn.Conv2d(16, 32, 3, padding=1),
            nn.ReLU(),
            nn.MaxPool2d(2),
            nn.AdaptiveAvgPool2d(4),
            nn.Flatten(),
            nn.Linear(32 * 16, FEATURES),
            nn.ReLU(),
        )
        self.head = nn.Linear(FEATURES, num_classes)

    def features(self, x: Tensor) -> Tensor:
        return self.body(x)

    def forward(self, x: Tensor) -> Tensor:
        return self.head(self.body(x))


def asset(name: str):
    return resources.files("dlcanon") / "assets" / name


def recorded(data: str) -> dict:
    """The record written next to the weights: dataset, test accuracy, epochs, seed, command."""
    return json.loads(asset(f"feature_{data}.json").read_text())


@cache
def load_feature_net(data: str) -> FeatureNet:
    """The shipped metric classifier of `data` (mnist5k or digits), in eval mode, on the CPU — whatever default
    device the caller has set (the net is cached: one built under `torch.device("meta")` would poison every later
    use)."""
    with torch.device("cpu"):
        net = FeatureNet()
    with asset(f"feature_{data}.pt").open("rb") as f:
        net.load_state_dict(torch.load(f, map_location="cpu", weights_only=True))
    return net.eval().requires_grad_(False)


class ExternalFeatures:
    """A feature extractor of the user's, e.g. Inception for the usual FID, from a `torch.export` archive.

    The program maps float images in [0, 1] (N, 3, H, W) to features (N, D); gray images are repeated to three
    channels before it sees them. Making one from a network of one's own, with any resizing and normalisation
    it needs inside `forward`, exported at the data's image size (here 28×28) with a dynamic batch dimension:

        program = torch.export.export(net, (torch.rand(8, 3, 28, 28),),
                                      dynamic_shapes={"x": {0: torch.export.Dim("batch")}})
        torch.export.save(program, "features.pt2")

    Nothing is downloaded: the file must be local."""

    def __init__(self, path: Path | str) -> None:
        path = Path(path)
        if path.suffix != ".pt2" or not path.is_file():
            raise UserError(f"--features expects a local torch.export archive (.pt2); got {path}")
        try:
            self.module = torch.export.load(str(path)).module()
        except Exception as exc:  # a corrupt or foreign archive: say so in one line
            raise UserError(
                f"--features: cannot load {path} as a torch.export program ({type(exc).__name__})"
            ) from None
        self.path = path

    @torch.no_grad()
    def features(self, x: Tensor) -> Tensor:  # (N, C, H, W) in [0, 1] -> (N, D)
        return self.maps(x.float().cpu()).float().flatten(1)

    def maps(self, x: Tensor) -> Tensor:  # (N, C, H, W) in [0, 1] -> the program's output, differentiable in x
        """The program's output on x, with gradients (a content loss trains through it); gray images are repeated
        to three channels, the program moved to x's device."""
        if x.shape[1] == 1:
            x = x.expand(-1, 3, -1, -1)
        try:
            return self.module.to(x.device)(x)
        except Exception as exc:  # e.g. exported for another image size: a guard on the input's shape fails
            raise UserError(
                f"--features: {self.path} rejects images of shape {tuple(x.shape)} ({type(exc).__name__}); export "
                "it at the data's image size with a dynamic batch dimension"
            ) from None


def feature_net_for(shape: tuple[int, ...]) -> FeatureNet | None:
    """The shipped classifier for samples of `shape`, or None when dlcanon ships none for it."""
    data = SHIPPED.get(tuple(shape))
    return None if data is None else load_feature_net(data)
