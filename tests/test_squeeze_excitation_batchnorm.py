"""Squeeze-and-Excitation (C7) against a hand computation; BatchNorm's formula (C8) against nn.BatchNorm2d."""

from __future__ import annotations

import torch
from torch import nn

from dlcanon.models.resnet import ResidualBlock
from dlcanon.nn.squeeze_excitation import SqueezeExcitation


def test_se_block_is_x_times_sigmoid_of_the_descriptor_mlp():
    torch.manual_seed(0)
    se = SqueezeExcitation(32, reduction=16).double()
    x = torch.randn(3, 32, 5, 7, dtype=torch.float64)
    w1, b1, w2, b2 = se.fc1.weight, se.fc1.bias, se.fc2.weight, se.fc2.bias
    assert w1.shape == (2, 32) and w2.shape == (32, 2)  # C/r = 2 hidden units
    y = torch.empty_like(x)
    for n in range(3):
        z = torch.tensor([x[n, c].sum() / (5 * 7) for c in range(32)], dtype=torch.float64)  # squeeze: GAP
        h = torch.clamp(w1 @ z + b1, min=0)  # δ = ReLU
        s = 1 / (1 + torch.exp(-(w2 @ h + b2)))  # σ
        for c in range(32):
            y[n, c] = s[c] * x[n, c]  # excite: scale channel c
    assert torch.allclose(se(x), y, atol=1e-12)
    assert sum(p.numel() for p in se.parameters()) == 2 * 32 * 32 // 16 + 32 // 16 + 32


def test_se_block_ends_the_residual_branch_before_the_addition():
    block = ResidualBlock(64, 16, 1, block="bottleneck", shortcut="B", residual=True, se_reduction=16)
    assert isinstance(block.branch[-1], SqueezeExcitation) and block.branch[-1].fc1.out_features == 4


def batch_norm_reference(x, gamma, beta, eps, running_mean, running_var, momentum, training):
    """The notes' BatchNorm, corrected: per channel c over the batch and both spatial axes,
    μ_B = (1/m) Σ x, σ²_B = (1/m) Σ (x − μ_B)², x̂ = (x − μ_B) / √(σ²_B + ε), y = γ x̂ + β.
    (The OCR'd notes put ε inside σ²_B and divide by "2π"; the paper divides by √(σ²_B + ε).)
    Training also updates the running statistics with the *unbiased* variance m/(m−1)·σ²_B (PyTorch's
    convention); evaluation normalises with those running statistics instead of the batch's."""
    dims = (0, 2, 3)
    if training:
        m = x.numel() // x.shape[1]
        mean, var = x.mean(dims), x.var(dims, unbiased=False)
        running_mean.mul_(1 - momentum).add_(momentum * mean)
        running_var.mul_(1 - momentum).add_(momentum * var * m / (m - 1))
    else:
        mean, var = running_mean, running_var
    x_hat = (x - mean[None, :, None, None]) / torch.sqrt(var[None, :, None, None] + eps)
    return gamma[None, :, None, None] * x_hat + beta[None, :, None, None]


def test_batchnorm_formula_matches_pytorch_in_train_and_eval_mode():
    torch.manual_seed(0)
    bn = nn.BatchNorm2d(4, eps=1e-3, momentum=0.2).double()
    with torch.no_grad():
        bn.weight.uniform_(0.5, 2.0)
        bn.bias.uniform_(-1.0, 1.0)
    mean, var = torch.zeros(4, dtype=torch.float64), torch.ones(4, dtype=torch.float64)
    for _ in range(3):  # training: batch statistics, running statistics updated
        x = 3 * torch.randn(5, 4, 6, 6, dtype=torch.float64) + 2
        want = batch_norm_reference(x, bn.weight, bn.bias, 1e-3, mean, var, 0.2, training=True)
        assert torch.allclose(bn.train()(x), want, atol=1e-10)
        assert torch.allclose(bn.running_mean, mean) and torch.allclose(bn.running_var, var)
        y = want.detach()
        assert torch.allclose(
            ((y - bn.bias[None, :, None, None]) / bn.weight[None, :, None, None]).mean((0, 2, 3)),
            torch.zeros(4, dtype=torch.float64),
            atol=1e-10,
        )  # x̂ has mean 0
    x = torch.randn(2, 4, 3, 3, dtype=torch.float64)
    want = batch_norm_reference(x, bn.weight, bn.bias, 1e-3, mean, var, 0.2, training=False)
    assert torch.allclose(bn.eval()(x), want, atol=1e-10)
