"""Learning-rate schedules as pure functions of the step: factor(t) multiplies the base learning rate.

Each is registered in `SCHEDULES` (`dlcanon list schedules`) as `f(t, T, **settings) -> float`; `schedule`
binds the run's settings that a schedule declares (`warmup`, `step_size`, `gamma`) once.
"""

from __future__ import annotations

import inspect
import math
from collections.abc import Callable
from functools import partial
from typing import Any

from dlcanon.registry import SCHEDULES


@SCHEDULES.register("cosine")
def cosine(t: int, total: int, *, warmup: float = 0.0) -> float:
    """Linear warm-up over the first ⌈warmup·T⌉ steps, then ½(1 + cos(π·(t − w)/(T − w))) (Loshchilov & Hutter)."""
    w = math.ceil(warmup * total)
    if t < w:
        return (t + 1) / w
    progress = min(1.0, (t - w) / max(1, total - w))
    return 0.5 * (1.0 + math.cos(math.pi * progress))


@SCHEDULES.register("onecycle")
def one_cycle(
    t: int, total: int, *, pct_start: float = 0.3, div_factor: float = 25.0, final_div_factor: float = 1e4
) -> float:
    """One-cycle (Smith & Topin, 2019) with PyTorch's OneCycleLR defaults and cosine annealing.

    Rises from 1/div_factor to 1 over the first pct_start·T steps, then falls to 1/(div_factor·final_div_factor).
    """
    start, end = 1.0 / div_factor, 1.0 / (div_factor * final_div_factor)
    peak = max(1.0, pct_start * total - 1)

    def anneal(a: float, b: float, frac: float) -> float:  # cosine from a to b
        return b + (a - b) * 0.5 * (1.0 + math.cos(math.pi * min(1.0, frac)))

    if t <= peak:
        return anneal(start, 1.0, t / peak)
    return anneal(1.0, end, (t - peak) / max(1.0, total - 1 - peak))


@SCHEDULES.register("step")
def step_decay(t: int, total: int, *, step_size: int, gamma: float = 0.1) -> float:
    """γ^⌊t / step_size⌋ (PyTorch's StepLR)."""
    return gamma ** (t // max(1, step_size))


@SCHEDULES.register("constant")
def constant(t: int, total: int, *, warmup: float = 0.0) -> float:
    """1, after an optional linear warm-up over ⌈warmup·T⌉ steps."""
    w = math.ceil(warmup * total)
    return (t + 1) / w if t < w else 1.0


def schedule(name: str, total: int, **settings: Any) -> Callable[[int], float]:
    """The named schedule as t ↦ factor(t) for a T-step run, given the settings it declares (others ignored)."""
    fn = SCHEDULES.entry(name).builder
    accepted = inspect.signature(fn).parameters
    return partial(fn, total=total, **{k: v for k, v in settings.items() if k in accepted})


def lr_factor(name: str, t: int, total: int, **settings: Any) -> float:
    """The factor of the named schedule at step t of T."""
    return schedule(name, total, **settings)(t)
