"""Dice, IoU and pixel accuracy against hand-computed cases (empty ground truth, empty prediction) and against
scikit-learn's f1_score / jaccard_score, which are the same quantities per class."""

from __future__ import annotations

import math

import pytest
import torch
from sklearn.metrics import f1_score, jaccard_score

from dlcanon.metrics.segmentation import counts, dice, iou, mean_foreground, pixel_accuracy

# 1 image, 3×4 pixels, classes 0..2
TARGET = torch.tensor([[[0, 0, 1, 1], [0, 1, 1, 1], [0, 0, 0, 0]]])
PRED = torch.tensor([[[0, 1, 1, 1], [0, 0, 1, 1], [2, 0, 0, 0]]])


def test_hand_computed_case():
    tp, fp, fn = counts(PRED, TARGET, 3)
    # class 1: G = 5 pixels, P = 5, overlap 4; class 0: G = 7, P = 6, overlap 5; class 2: G = 0, P = 1
    assert tp.tolist() == [5, 4, 0] and fp.tolist() == [1, 1, 1] and fn.tolist() == [2, 1, 0]
    d = dice(PRED, TARGET, 3)
    assert d[0] == pytest.approx(2 * 5 / (6 + 7)) and d[1] == pytest.approx(2 * 4 / (5 + 5))
    assert d[2] == 0.0  # empty ground truth, non-empty prediction: every predicted pixel is wrong
    j = iou(PRED, TARGET, 3)
    assert j[1] == pytest.approx(4 / 6) and j[2] == 0.0
    assert mean_foreground(d) == pytest.approx((0.8 + 0.0) / 2)
    assert pixel_accuracy(PRED, TARGET) == pytest.approx(9 / 12)


def test_empty_ground_truth_and_empty_prediction_policy():
    target = torch.zeros(1, 2, 2, dtype=torch.long)
    pred = torch.zeros(1, 2, 2, dtype=torch.long)
    skipped = dice(pred, target, 3)
    assert skipped[0] == 1.0 and math.isnan(skipped[1]) and math.isnan(skipped[2])
    assert math.isnan(mean_foreground(skipped))  # no foreground class is defined
    assert dice(pred, target, 3, empty="one").tolist() == [1.0, 1.0, 1.0]
    # empty prediction, non-empty ground truth: 0 under every policy
    target[0, 0, 0] = 1
    for empty in ("skip", "one"):
        assert dice(pred, target, 3, empty=empty)[1] == 0.0 and iou(pred, target, 3, empty=empty)[1] == 0.0
    with pytest.raises(ValueError):
        dice(pred, target, 3, empty="zero-ish")


def test_per_image_scores_average_images_where_the_class_is_defined():
    target = torch.tensor([[[1, 1]], [[0, 0]]])
    pred = torch.tensor([[[1, 0]], [[0, 0]]])
    # image 1: class 1 Dice 2·1/(1+2) = 2/3; image 2: class 1 undefined (skipped), so the mean is 2/3
    assert dice(pred, target, 2, per_image=True)[1] == pytest.approx(2 / 3)
    assert dice(pred, target, 2, per_image=True, empty="one")[1] == pytest.approx((2 / 3 + 1) / 2)


def test_against_scikit_learn():
    g = torch.Generator().manual_seed(0)
    target = torch.randint(0, 4, (3, 9, 7), generator=g)
    pred = torch.where(torch.rand(3, 9, 7, generator=g) < 0.6, target, torch.randint(0, 4, (3, 9, 7), generator=g))
    t, p = target.flatten().numpy(), pred.flatten().numpy()
    labels = [0, 1, 2, 3]
    assert dice(pred, target, 4).numpy() == pytest.approx(f1_score(t, p, labels=labels, average=None))
    assert iou(pred, target, 4).numpy() == pytest.approx(jaccard_score(t, p, labels=labels, average=None))
    assert pixel_accuracy(pred, target) == pytest.approx(float((t == p).mean()))
