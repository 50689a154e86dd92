"""`dlcanon bench mnist5k`: every figure of the speed targets, measured side by side in one run."""

from __future__ import annotations

import os
import platform
import time
from collections.abc import Callable
from typing import Any

import torch

from dlcanon.bench.cli_latency import cli_latency
from dlcanon.bench.overhead import trainer_overhead
from dlcanon.bench.precision import precision_speedup
from dlcanon.bench.report_time import report_time
from dlcanon.bench.threads import thread_table
from dlcanon.bench.time_to_accuracy import time_to_accuracy
from dlcanon.data import load_data
from dlcanon.errors import UserError


def machine() -> dict[str, Any]:
    """What the numbers were measured on, and how busy it was (the 1-minute load average before the run)."""
    return {
        "platform": f"{platform.system()} {platform.machine()}",
        "cpu_capability": torch.backends.cpu.get_cpu_capability(),
        "cores": os.cpu_count(),
        "threads": torch.get_num_threads(),
        "torch": torch.__version__,
        "load_average": os.getloadavg()[0] if hasattr(os, "getloadavg") else None,
        "cuda": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
    }


def bench_mnist5k(*, quick: bool = False, progress: bool = True) -> dict[str, Any]:
    """The classic recipe vs `dlcanon train fastcnn` (3 seeds), trainer overhead, threads, precision and how
    soon the command line answers."""
    data = load_data("mnist5k")
    repeats = 3 if quick else 11
    return {
        "benchmark": "mnist5k",
        "machine": machine(),
        "time_to_accuracy": time_to_accuracy(data, seeds=1 if quick else 3, quick=quick, progress=progress),
        "trainer_overhead": trainer_overhead(data, epochs=1 if quick else 2, repeats=repeats),
        "threads": thread_table(steps=5 if quick else 20, repeats=1 if quick else 3),
        "precision": precision_speedup(steps=5 if quick else 20, repeats=1 if quick else 3),
        "cli": cli_latency(repeats=1 if quick else 5),
    }


def bench_report(*, quick: bool = False, progress: bool = True) -> dict[str, Any]:
    """Every experiment in quick mode, uncached, with the default workers (`report_time`): minutes."""
    return {"benchmark": "report", "machine": machine(), **report_time(quick=quick, progress=progress)}


BENCHMARKS: dict[str, Callable[..., dict[str, Any]]] = {"mnist5k": bench_mnist5k, "report": bench_report}


def run_benchmarks(names: list[str], *, quick: bool = False, progress: bool = True) -> dict[str, Any]:
    """Each named benchmark's figures, and the command that produced them."""
    for name in names:
        if name not in BENCHMARKS:
            raise UserError(f"unknown benchmark {name!r}; known: {', '.join(BENCHMARKS)}")
    command = " ".join(["dlcanon bench", *names] + (["--quick"] if quick else []))
    return {"command": command} | {name: BENCHMARKS[name](quick=quick, progress=progress) for name in names}
