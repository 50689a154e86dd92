"""Objectives: each owns its loss, its updates and its evaluation; importing registers them."""

from dlcanon.objectives import (  # noqa: F401  (registrations)
    auxiliary,
    classifier,
    ddpm,
    ebm,
    ffjord,
    flow,
    gan,
    gan_variants,
    gmm,
    nvae,
    pix2pix,
    ppca,
    regressor,
    segmenter,
    siamese,
    super_resolution,
    vae,
)
from dlcanon.objectives.base import Batch, Objective, Update

__all__ = ["Batch", "Objective", "Update"]
