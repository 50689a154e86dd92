"""How soon the command line answers: commands that need no tensors against `python -c "import torch"`, each a
fresh process, interleaved, median seconds. The torch import is the floor a command would pay without lazy imports."""

from __future__ import annotations

import subprocess
import sys
import time
from typing import Any

from dlcanon.bench.timing import interleaved, median

PYTHON = [sys.executable]
# label -> argv; the first is the reference, the others must answer in under a second on an idle machine
COMMANDS: dict[str, list[str]] = {
    'python -c "import torch"': [*PYTHON, "-c", "import torch"],
    "dlcanon --help": [*PYTHON, "-m", "dlcanon", "--help"],
    "dlcanon convsize --size 28 --kernel 5": [*PYTHON, "-m", "dlcanon", "convsize", "--size", "28", "--kernel", "5"],
    "dlcanon list data": [*PYTHON, "-m", "dlcanon", "list", "data"],
}
REFERENCE = 'python -c "import torch"'


def seconds(argv: list[str]) -> float:
    """Wall seconds of one run of `argv` to its exit (it must succeed)."""
    start = time.perf_counter()
    subprocess.run(argv, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - start


def cli_latency(repeats: int) -> dict[str, Any]:
    """{command: median seconds} over `repeats` interleaved runs, after one untimed run of each (`list` builds
    its cache on the first run after a code change)."""
    for argv in COMMANDS.values():
        seconds(argv)
    times = interleaved({label: (lambda a=argv: seconds(a)) for label, argv in COMMANDS.items()}, repeats)
    return {"reference": REFERENCE, "repeats": repeats, "seconds": {k: median(v) for k, v in times.items()},
            "times": times}  # fmt: skip
