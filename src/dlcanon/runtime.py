"""Where and how numbers are computed: device, precision, autocast and seeding.

One module for the trainer, evaluation, benchmarks and experiments, so the mapping from a precision name to an
autocast context exists once.
"""

from __future__ import annotations

import contextlib

import torch

from dlcanon.errors import UserError


def select_device(name: str) -> torch.device:
    """`auto` picks cuda, then mps, then cpu; asking for an absent accelerator is a user error."""
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise UserError("device cuda was asked for, but no CUDA device is available (use --device cpu)")
    if name == "mps" and not torch.backends.mps.is_available():
        raise UserError("device mps was asked for, but MPS is not available (use --device cpu)")
    return torch.device(name)


def resolve_precision(precision: str, device: torch.device, *, conv: bool) -> str:
    """`auto` means bf16 autocast for convolutional networks on hardware with native bf16 (CUDA with bf16,
    CPUs with AVX-512 BF16 or AMX through oneDNN), else fp32. Small MLPs stay fp32: casts cost more there."""
    if precision != "auto":
        return precision
    if not conv:
        return "fp32"
    if device.type == "cuda":
        return "bf16" if torch.cuda.is_bf16_supported() else "fp32"
    if device.type == "cpu":
        return "bf16" if torch.ops.mkldnn._is_mkldnn_bf16_supported() else "fp32"
    return "fp32"


def autocast(precision: str, device: torch.device) -> contextlib.AbstractContextManager:
    """The autocast context of a resolved precision (fp32: none)."""
    dtype = {"bf16": torch.bfloat16, "fp16": torch.float16}.get(precision)
    return contextlib.nullcontext() if dtype is None else torch.autocast(device.type, dtype=dtype)


def seed_everything(seed: int, *, deterministic: bool) -> None:
    torch.manual_seed(seed)
    if deterministic:
        torch.use_deterministic_algorithms(True)
        torch.backends.cudnn.benchmark = False
