"""Calibration of a classifier's confidence (Guo et al., 2017, arXiv:1706.04599).

Expected calibration error: split the confidences p̂_n = max_c softmax(f(x_n))_c into M equal-width bins
B_m = ((m−1)/M, m/M]; ECE = Σ_m |B_m|/N · |acc(B_m) − conf(B_m)|, the gap between accuracy and mean confidence
weighted by each bin's share of the samples (M = 15, as Guo et al.).
"""

from __future__ import annotations

import torch
from torch import Tensor


def expected_calibration_error(probs: Tensor, labels: Tensor, *, bins: int = 15) -> float:
    """ECE of class probabilities (N, C) against labels (N,) with `bins` equal-width confidence bins."""
    confidence, predicted = probs.double().max(1)
    correct = (predicted == labels).double()
    # bin m holds confidences in ((m−1)/M, m/M]; a confidence of exactly 0 cannot occur for C ≥ 1 classes
    index = (confidence * bins).ceil().long().clamp(1, bins) - 1
    gap = torch.zeros(bins, dtype=torch.float64)  # Σ_{n ∈ B_m} (1[correct] − p̂_n) = |B_m|·(acc − conf)
    gap.index_add_(0, index.cpu(), (correct - confidence).cpu())
    return float(gap.abs().sum() / max(1, len(labels)))
