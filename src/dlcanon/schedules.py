"""Learning-rate schedules as pure functions of the step: factor(t) multiplies the base learning rate."""

from __future__ import annotations

import math


def cosine(t: int, total: int, *, warmup: float = 0.0) -> float:
    """Linear warm-up over the first ⌈warmup·T⌉ steps, then ½(1 + cos(π·(t − w)/(T − w))) (Loshchilov & Hutter)."""
    w = math.ceil(warmup * total)
    if t < w:
        return (t + 1) / w
    progress = min(1.0, (t - w) / max(1, total - w))
    return 0.5 * (1.0 + math.cos(math.pi * progress))


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


def step_decay(t: int, total: int, *, step_size: int, gamma: float = 0.1) -> float:
    """γ^⌊t / step_size⌋ (PyTorch's StepLR)."""
    return gamma ** (t // max(1, step_size))


def constant(t: int, total: int, *, warmup: float = 0.0) -> float:
    """1, after an optional linear warm-up over ⌈warmup·T⌉ steps."""
    w = math.ceil(warmup * total)
    return (t + 1) / w if t < w else 1.0


def lr_factor(
    schedule: str, t: int, total: int, *, warmup: float = 0.0, step_size: int = 1, gamma: float = 0.1
) -> float:
    """The factor of the named schedule at step t of T."""
    if schedule == "cosine":
        return cosine(t, total, warmup=warmup)
    if schedule == "onecycle":
        return one_cycle(t, total)
    if schedule == "step":
        return step_decay(t, total, step_size=step_size, gamma=gamma)
    if schedule == "constant":
        return constant(t, total, warmup=warmup)
    raise ValueError(f"unknown schedule {schedule!r}")
