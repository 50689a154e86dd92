"""Objectives: each owns its loss, its updates and its evaluation; importing registers them."""

from dlcanon.objectives import (  # noqa: F401  (registrations)
    auxiliary,
    classifier,
    gan,
    gan_variants,
    gmm,
    nvae,
    ppca,
    regressor,
    segmenter,
    siamese,
    vae,
)
from dlcanon.objectives.base import Batch, Objective, Update

__all__ = ["Batch", "Objective", "Update"]
