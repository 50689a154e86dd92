"""Metrics: likelihood bounds of latent-variable models (ELBO, importance-weighted NLL, bits per dimension)."""

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

__all__ = [
    "bits_per_dim",
    "dequantize",
    "grid_levels",
    "iwae_bound",
    "iwae_log_likelihood",
    "kl_monte_carlo",
    "log_bernoulli",
    "log_normal",
    "log_standard_normal",
]
