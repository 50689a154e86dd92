"""Experiments: each claim of the notes measured. Importing this package registers them all."""

from dlcanon.experiments import conv_arithmetic, universal_approximation  # noqa: F401  (registrations)
from dlcanon.experiments.base import Result, Table, experiment

__all__ = ["Result", "Table", "experiment"]
