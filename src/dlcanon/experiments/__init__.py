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
    diffusion,
    ebm_toys,
    ensembles,
    ffjord_toys,
    flow_digits,
    flow_toys,
    gan_images,
    gan_scales,
    gan_toys,
    gmm_clustering,
    jem_digits,
    locality,
    losses_robust,
    nvae_vs_vae,
    pix2pix_ablation,
    planning,
    ppca_pca,
    residual_learning,
    rotation,
    shift_equivariance,
    siren_fit,
    super_resolution,
    uat_dimension,
    unet3d_slices,
    unet_skips,
    unetpp_pruning,
    universal_approximation,
    vae_beta,
    vae_kl,
    vae_mnist,
)
from dlcanon.experiments.base import Result, Table, experiment, run_experiment
from dlcanon.experiments.context import Context

__all__ = ["Context", "Result", "Table", "experiment", "run_experiment"]
