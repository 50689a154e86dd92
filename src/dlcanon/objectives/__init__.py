"""Objectives: each owns its loss, its updates and its evaluation; importing registers them."""

from dlcanon.objectives import classifier, regressor, vae  # noqa: F401  (registrations)
from dlcanon.objectives.base import Batch, Objective, Update

__all__ = ["Batch", "Objective", "Update"]
