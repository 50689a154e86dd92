"""G16: the likelihood metrics against closed forms and PyTorch's distributions."""

import math

import pytest
import torch

from dlcanon.losses import kl_normal
from dlcanon.metrics.likelihood import (
    bits_per_dim,
    dequantize,
    grid_levels,
    iwae_bound,
    iwae_log_likelihood,
    kl_monte_carlo,
    log_bernoulli,
    log_normal,
    log_standard_normal,
)


def test_log_densities_match_torch_distributions():
    g = torch.Generator().manual_seed(0)
    x, mu, logvar = (torch.randn(5, 7, generator=g, dtype=torch.float64) for _ in range(3))
    ref = torch.distributions.Normal(mu, (0.5 * logvar).exp()).log_prob(x).sum(-1)
    assert torch.allclose(log_normal(x, mu, logvar), ref)
    assert torch.allclose(log_standard_normal(x), torch.distributions.Normal(0.0, 1.0).log_prob(x).sum(-1))
    logits, target = torch.randn(5, 7, generator=g, dtype=torch.float64), torch.rand(5, 7, generator=g).round()
    p = torch.sigmoid(logits).double()
    hand = (target * p.log() + (1 - target) * (1 - p).log()).sum(-1)  # Σ x log p + (1 − x) log(1 − p)
    assert torch.allclose(log_bernoulli(target, logits), hand)
    # extreme logits stay exact where BCE on probabilities would clamp log 0 at −100
    assert log_bernoulli(torch.zeros(1, 1), torch.full((1, 1), 200.0)).item() == pytest.approx(-200.0)


def test_analytic_kl_equals_monte_carlo_within_its_standard_error():
    g = torch.Generator().manual_seed(1)
    mu, logvar = torch.randn(1, 4, generator=g, dtype=torch.float64), torch.randn(1, 4, generator=g).double()
    n = 200_000
    z = mu + (0.5 * logvar).exp() * torch.randn(n, 4, generator=g, dtype=torch.float64)
    samples = kl_monte_carlo(z, mu.expand(n, 4), logvar.expand(n, 4))
    se = samples.std() / math.sqrt(n)
    exact = kl_normal(mu, logvar)[0]
    assert abs(samples.mean() - exact) < 4 * se
    assert se < 0.01  # the test could tell a constant of 0.5·d or a sign apart
    # and against torch's closed form
    q = torch.distributions.Normal(mu, (0.5 * logvar).exp())
    assert torch.allclose(exact, torch.distributions.kl_divergence(q, torch.distributions.Normal(0.0, 1.0)).sum())


def test_iwae_bound_is_log_mean_exp_and_streams_in_chunks():
    g = torch.Generator().manual_seed(2)
    log_w = torch.randn(37, 6, generator=g, dtype=torch.float64) * 3 - 1000  # e^(−1000): exp underflows
    direct = torch.log(torch.exp(log_w + 1000).mean(0)) - 1000
    assert torch.allclose(iwae_bound(log_w), direct)
    assert torch.allclose(iwae_bound(log_w[:1]), log_w[0])  # k = 1: the single-sample ELBO
    drawn = iter(log_w.split([5, 5, 5, 5, 5, 5, 5, 2]))
    assert torch.allclose(iwae_log_likelihood(lambda c: next(drawn)[:c], 37, chunk=5), direct)


def test_bits_per_dim_conventions():
    # a uniform density on [0, 1)^D has NLL 0 nats on dequantised data: 8 bits per dimension for 256 levels
    assert bits_per_dim(0.0, 784, levels=256) == pytest.approx(8.0)
    # binary data, a discrete model: NLL/(D ln 2); a fair coin per pixel costs 1 bit
    assert bits_per_dim(784 * math.log(2), 784) == pytest.approx(1.0)


def test_dequantize_keeps_each_value_in_its_bin_and_levels_are_detected():
    k = torch.arange(17.0).repeat(50)
    y = dequantize(k / 16, 17, generator=torch.Generator().manual_seed(0))
    assert torch.equal(torch.floor(y * 17), k) and y.min() >= 0 and y.max() < 1
    assert grid_levels(k / 16) == 17
    assert grid_levels(torch.arange(256.0) / 255) == 256
    assert grid_levels(torch.tensor([0.0, 1.0, 1.0])) == 2
    assert grid_levels(torch.rand(1000)) == 0 and grid_levels(torch.randn(10)) == 0
