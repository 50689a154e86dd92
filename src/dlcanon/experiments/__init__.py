"""Experiments: each claim of the notes measured, `fn(ctx: Context) -> Result`. Importing this package registers
them all; `dlcanon.reproduce` runs them."""

from dlcanon.experiments import (  # noqa: F401  (registrations)
    activations,
    antialiasing,
    architecture_table,
    augmentation,
    batchnorm,
    conv_arithmetic,
    curse_of_dimensionality,
    cvae_samples,
    deformation,
    depth_vs_width,
    ensembles,
    gan_images,
    gan_scales,
    gan_toys,
    gmm_clustering,
    locality,
    losses_robust,
    nvae_vs_vae,
    ppca_pca,
    residual_learning,
    rotation,
    shift_equivariance,
    siren_fit,
    uat_dimension,
    universal_approximation,
    vae_beta,
    vae_kl,
    vae_mnist,
)
from dlcanon.experiments.base import Result, Table, experiment, run_experiment
from dlcanon.experiments.context import Context

__all__ = ["Context", "Result", "Table", "experiment", "run_experiment"]
