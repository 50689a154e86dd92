"""Where and how numbers are computed: device, precision, autocast, seeding and intra-op threads.

One module for the trainer, evaluation, benchmarks and experiments, so the mapping from a precision name to an
autocast context exists once.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable

import torch
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils.flop_counter import flop_registry

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


# What `auto` assumes of the hardware's bf16 while `assume_bf16` is in force (None: ask the hardware). The claims
# check runs every experiment both ways (`dlcanon reproduce --precision fp32|bf16`): a verdict must not depend on
# which machine, with or without native bf16, it was measured on.
_ASSUMED_BF16: bool | None = None


@contextlib.contextmanager
def assume_bf16(native: bool | None):
    """Within the block `auto` resolves as if the hardware had (True) or lacked (False) native bf16."""
    global _ASSUMED_BF16
    previous, _ASSUMED_BF16 = _ASSUMED_BF16, native
    try:
        yield
    finally:
        _ASSUMED_BF16 = previous


def native_bf16(device: torch.device) -> bool:
    """Whether `device` computes bf16 natively: CUDA with bf16, a CPU with AVX-512 BF16 or AMX (through oneDNN);
    or what `assume_bf16` says."""
    if _ASSUMED_BF16 is not None:
        return _ASSUMED_BF16
    if device.type == "cuda":
        return torch.cuda.is_bf16_supported()
    if device.type == "cpu":
        return torch.ops.mkldnn._is_mkldnn_bf16_supported()
    return False


def resolve_precision(precision: str, device: torch.device, *, conv: bool) -> str:
    """`auto` means bf16 autocast for convolutional networks on hardware with native bf16 (`native_bf16`), else
    fp32. Small MLPs stay fp32: casts cost more there."""
    if precision != "auto":
        return precision
    return "bf16" if conv and native_bf16(device) else "fp32"


def autocast(precision: str, device: torch.device) -> contextlib.AbstractContextManager:
    """The autocast context of a resolved precision (fp32: none)."""
    dtype = {"bf16": torch.bfloat16, "fp16": torch.float16}.get(precision)
    return contextlib.nullcontext() if dtype is None else torch.autocast(device.type, dtype=dtype)


def seed_everything(seed: int, *, deterministic: bool) -> None:
    torch.manual_seed(seed)
    if deterministic:
        torch.use_deterministic_algorithms(True)
        torch.backends.cudnn.benchmark = False


# forward FLOPs of one training batch that keep one more intra-op thread busy enough to pay for waking it
THREAD_WORK = 2e8


def choose_threads(flops_per_step: float, available: int, *, work_per_thread: float = THREAD_WORK) -> int:
    """Intra-op threads for a model whose forward pass over one batch costs `flops_per_step`:
    n = clamp(⌊flops_per_step / work_per_thread⌋, 1, available).

    An op is split between threads, and each thread must be woken and joined: with a few million multiply-adds
    per op (an MLP, LeNet-5 at batch 64) that costs more than the second core saves, many times more on a busy
    machine; a CIFAR ResNet's convolutions (GFLOPs per batch) use every core."""
    return max(1, min(available, int(flops_per_step // work_per_thread)))


def forward_flops(fn: Callable[[], object]) -> int:
    """FLOPs (a multiply-add counts 2) of the matrix products and convolutions `fn()` runs, on a fork of the
    random generators, so the caller's random stream is left as it was. Counted by a dispatch mode reading
    PyTorch's own per-op formulas (FlopCounterMode's module hooks refuse objectives that call autograd.grad)."""
    with torch.random.fork_rng(devices=[]), _FlopCount() as counter:
        fn()
    return counter.total


class _FlopCount(TorchDispatchMode):
    """Adds up `torch.utils.flop_counter.flop_registry`'s count of every op it sees."""

    def __init__(self) -> None:
        super().__init__()
        self.total = 0

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        out = func(*args, **(kwargs or {}))
        count = flop_registry.get(func._overloadpacket)
        if count is not None:
            self.total += int(count(*args, **(kwargs or {}), out_val=out))
        return out
