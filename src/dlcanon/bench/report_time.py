"""How long the whole quick report takes: `dlcanon reproduce --quick --force` of every experiment into a fresh
directory, with the default workers, as a new user runs it (a fresh process, as `make demo` starts it); the wall
time and each experiment's, read from the `results.json` the run writes."""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

# `--quick` smoke runs of the benchmark itself time one cheap experiment
SMOKE = ["conv_output_size"]


def report_time(*, quick: bool = False, progress: bool = True) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as out:
        argv = [sys.executable, "-m", "dlcanon", "reproduce", *(SMOKE if quick else []), "--quick", "--force",
                "--device", "cpu", "--out", out]  # fmt: skip
        # its progress goes to the terminal when asked for, else nowhere; a failed experiment is counted, not raised
        quiet = {} if progress else {"stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL}
        subprocess.run(argv, check=False, **quiet)
        results = Path(out) / "results.json"
        if not results.is_file():
            raise RuntimeError(f"{' '.join(argv[2:])} wrote no results.json")
        report = json.loads(results.read_text(encoding="utf-8"))
    return {
        "wall_seconds": report["seconds"],
        "jobs": report["jobs"],
        "experiments": {r["name"]: r["seconds"] for r in report["experiments"]},
        "failed": report["failed"],
    }
