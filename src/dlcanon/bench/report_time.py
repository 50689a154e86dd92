"""How long the whole quick report takes: `dlcanon reproduce --quick` of every experiment into a fresh
directory (no cache), with the default workers, as a new user runs it; the wall time and each experiment's."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

# `--quick` smoke runs of the benchmark itself time one cheap experiment
SMOKE = ["conv_output_size"]


def report_time(*, quick: bool = False, progress: bool = True) -> dict[str, Any]:
    from dlcanon.reproduce import run_experiments  # the experiments load only for this benchmark

    with tempfile.TemporaryDirectory() as out:
        report = run_experiments(SMOKE if quick else None, quick=True, out=Path(out), progress=progress, force=True,
                                 device="cpu", jobs=0)  # fmt: skip
    return {
        "wall_seconds": report["seconds"],
        "jobs": report["jobs"],
        "experiments": {r["name"]: r["seconds"] for r in report["experiments"]},
        "failed": report["failed"],
    }
