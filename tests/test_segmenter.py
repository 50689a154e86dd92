"""The segmenter: its soft Dice and deep-supervision weights by hand, a valid-convolution net's target
cropping, evaluation metrics, overlays, and a tiny U-Net that overfits a few digitseg canvases through fit."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from dlcanon.config import TrainConfig
from dlcanon.data import DataBundle
from dlcanon.data.segmentation import digitseg
from dlcanon.models import build_model
from dlcanon.objectives.segmenter import Segmenter, supervision_weights
from dlcanon.objectives.views import Grid
from dlcanon.train import fit


class Fixed(nn.Module):
    """A 'network' answering with given scores (a tuple for deep supervision)."""

    def __init__(self, out):
        super().__init__()
        self.out = out
        self.w = nn.Parameter(torch.zeros(()))

    def forward(self, x):
        return self.out


def test_supervision_weights_halve_and_are_safe_with_two_stages():
    assert supervision_weights(1) == [1.0]
    assert supervision_weights(2) == pytest.approx([2 / 3, 1 / 3])  # nnU-Net#2670: two stages gave 0/0 there
    assert supervision_weights(4) == pytest.approx([8 / 15, 4 / 15, 2 / 15, 1 / 15])
    assert supervision_weights(4, "mean") == [0.25] * 4


def test_soft_dice_by_hand_background_excluded_and_smoothing():
    y = torch.tensor([[[1, 0]]])  # (N=1, 1, 2)
    z = torch.log(torch.tensor([[[[0.2, 0.6]], [[0.8, 0.4]]]]))  # p_1 = (0.8, 0.4) after softmax over 2 classes
    seg = Segmenter(Fixed(z), smooth=1e-5)
    # class 1: I = 0.8, Σp = 1.2, Σg = 1 → (1.6 + ε)/(2.2 + ε)
    assert float(seg.soft_dice(z, y)) == pytest.approx((1.6 + 1e-5) / (2.2 + 1e-5))
    both = Segmenter(Fixed(z), background=True)
    # class 0: I = 0.6, Σp = 0.8, Σg = 1 → 1.2/1.8; mean with class 1
    assert float(both.soft_dice(z, y)) == pytest.approx(((1.2 + 1e-5) / (1.8 + 1e-5) + (1.6 + 1e-5) / (2.2 + 1e-5)) / 2)
    smooth1 = Segmenter(Fixed(z), smooth=1.0)
    assert float(smooth1.soft_dice(z, y)) == pytest.approx(2.6 / 3.2)


def test_batch_dice_pools_the_batch_and_per_image_averages():
    y = torch.tensor([[[1, 1]], [[0, 0]]])
    p1 = torch.tensor([[[0.5, 0.5]], [[0.5, 0.5]]])
    z = torch.log(torch.stack([1 - p1, p1], 1))
    per_image = Segmenter(Fixed(z), smooth=0.0).soft_dice(z, y)
    batch = Segmenter(Fixed(z), smooth=0.0, batch_dice=True).soft_dice(z, y)
    assert float(per_image) == pytest.approx((2 * 1.0 / 3.0 + 0.0) / 2)  # image 2: 0/1
    assert float(batch) == pytest.approx(2 * 1.0 / (2.0 + 2.0))


def test_deep_supervision_loss_is_the_weighted_sum_and_coarse_targets_are_resampled():
    g = torch.Generator().manual_seed(0)
    y = torch.randint(0, 3, (2, 8, 8), generator=g)
    z0, z1 = torch.randn(2, 3, 8, 8, generator=g), torch.randn(2, 3, 4, 4, generator=g)
    seg = Segmenter(Fixed((z0, z1)))
    loss, _ = seg((torch.zeros(2, 1, 8, 8), y))
    coarse = F.interpolate(y[:, None].float(), size=(4, 4), mode="nearest")[:, 0].long()
    assert float(loss) == pytest.approx(2 / 3 * float(seg.loss(z0, y)) + 1 / 3 * float(seg.loss(z1, coarse)))
    assert math.isfinite(float(Segmenter(Fixed((z0, z0.clone())))((None, y))[0]))


def test_valid_convolutions_crop_the_target_to_the_output():
    net = build_model("unet", (1, 92, 92), 3, levels=((4, 4), (8, 8)))  # 92 → 88 → 44 → 40 → 80 → 76
    seg = Segmenter(net)
    x, y = torch.rand(2, 1, 92, 92), torch.randint(0, 3, (2, 92, 92))
    loss, _ = seg((x, y))
    assert math.isfinite(float(loss.detach()))
    metrics = seg.eval().evaluate([(x, y)])
    assert {"loss", "dice", "iou", "pixel_accuracy"} <= set(metrics)
    view = seg.views(__import__("dlcanon.data", fromlist=["Split"]).Split(x, y), 2)["samples"]
    assert isinstance(view, Grid) and view.images.shape == (6, 3, 76, 76) and view.nrow == 3


def test_evaluate_reports_dice_iou_and_pixel_accuracy_from_the_counts():
    y = torch.tensor([[[0, 0, 1, 1], [0, 1, 1, 1], [0, 0, 0, 0]]])
    pred = torch.tensor([[[0, 1, 1, 1], [0, 0, 1, 1], [2, 0, 0, 0]]])
    z = F.one_hot(pred, 4).movedim(-1, 1).float() * 10
    m = Segmenter(Fixed(z)).evaluate([(None, y)])
    # class 1: Dice 0.8, IoU 4/6; class 2: GT empty, predicted once → 0; class 3: 0/0 → left out
    assert m["dice_1"] == pytest.approx(0.8) and m["dice_2"] == 0.0 and "dice_3" not in m
    assert m["dice"] == pytest.approx(0.4) and m["iou"] == pytest.approx((4 / 6 + 0) / 2)
    assert m["pixel_accuracy"] == pytest.approx(9 / 12)


def test_binary_network_with_one_map():
    y = torch.tensor([[[1, 0]]])
    z = torch.tensor([[[[2.0, -1.0]]]])
    seg = Segmenter(Fixed(z))
    expected = F.binary_cross_entropy_with_logits(z[:, 0], y.float()) + 1 - seg.soft_dice(z, y)
    assert float(seg.loss(z, y)) == pytest.approx(float(expected))
    assert seg.evaluate([(None, y)])["dice"] == 1.0


def test_a_tiny_unet_overfits_a_few_digitseg_canvases():
    torch.manual_seed(0)
    data = digitseg(n_train=4, n_test=1, size=28, max_digits=1, seed=3)
    data = DataBundle("digitseg4", data.train, data.train, 11, "image")  # score the canvases it trained on
    net = build_model("unet_small", (1, 28, 28), 11, levels=((8, 8), (16, 16), (32, 32)))
    objective = Segmenter(net)
    before = objective.evaluate([(data.train.x, data.train.y)])
    cfg = TrainConfig(model="unet_small", data="digitseg", objective="segmenter", device="cpu", tensorboard=False,
                      epochs=120, batch_size=4, lr=1e-2, optimizer="adam", eval_every=0, precision="fp32")  # fmt: skip
    after = fit(objective, data, cfg)["metrics"]
    assert after["test_loss"] < 0.5 * before["loss"]
    assert after["test_dice"] > 0.9 > 0.1 > before["dice"]
