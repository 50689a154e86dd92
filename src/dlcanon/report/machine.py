"""What machine a run measured on: CPU model, cores, platform, torch version and threads."""

from __future__ import annotations

import os
import platform
import sys
from pathlib import Path
from typing import Any

import torch


def cpu_model(cpuinfo: Path = Path("/proc/cpuinfo")) -> str:
    """The CPU's model name (Linux's /proc/cpuinfo), else what `platform` knows, else "unknown CPU"."""
    try:
        for line in cpuinfo.read_text(encoding="utf-8", errors="replace").splitlines():
            key, _, value = line.partition(":")
            if key.strip() in ("model name", "Hardware", "Processor") and value.strip():
                return value.strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "unknown CPU"


def usable_cores() -> int:
    """The cores this process may run on (its affinity mask where the OS has one)."""
    if sys.platform.startswith("linux"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def describe_machine() -> dict[str, Any]:
    """{"cpu", "cores", "platform", "torch", "threads", "gpu", "native_bf16"}: what `results.json` records of the
    machine; `native_bf16` decides what `auto` precision means on it (`runtime.native_bf16`)."""
    from dlcanon.runtime import native_bf16

    gpu = torch.cuda.get_device_name(0) if torch.cuda.is_available() else None
    return {
        "cpu": cpu_model(),
        "cores": usable_cores(),
        "platform": f"{platform.system()} {platform.machine()}",
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
        "gpu": gpu,
        "native_bf16": native_bf16(torch.device("cuda" if gpu else "cpu")),
    }
