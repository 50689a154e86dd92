"""Timing that survives a busy machine: variants run interleaved, in a rotating order, and the median decides."""

from __future__ import annotations

import math
import statistics
from collections.abc import Callable, Sequence
from typing import Any


def median(values: Sequence[float | None]) -> float | None:
    """The median, a missing value (None: never reached) counting as +∞; None when that is the median."""
    if not values:
        return None
    m = statistics.median(math.inf if v is None else v for v in values)
    return None if math.isinf(m) else m


def ratio(numerator: float | None, denominator: float | None) -> float | None:
    """numerator / denominator, None when either is missing."""
    return None if numerator is None or not denominator else numerator / denominator


def rotations(names: Sequence[str], repeats: int) -> list[list[str]]:
    """The order of each repetition: the names rotated by one each time (A B C, B C A, C A B, A B C, ...), so
    no variant always runs first, right after a warm-up or a slow neighbour."""
    n = len(names)
    return [[names[(r + i) % n] for i in range(n)] for r in range(repeats)]


def interleaved(variants: dict[str, Callable[[], float]], repeats: int) -> dict[str, list[float]]:
    """Each variant's seconds over `repeats` interleaved repetitions, in `rotations` order."""
    times: dict[str, list[float]] = {name: [] for name in variants}
    for order in rotations(list(variants), repeats):
        for name in order:
            times[name].append(variants[name]())
    return times


def time_to_reach(history: list[dict[str, Any]], accuracy: float) -> float | None:
    """Training seconds at the first evaluation whose test accuracy is ≥ `accuracy`."""
    return next((h["seconds"] for h in history if h["test_accuracy"] >= accuracy), None)
