"""Helpers for tests that run the CLI in a subprocess."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PYTHON = sys.executable


def cli_env() -> dict[str, str]:
    """Environment for `python -m dlcanon` in a subprocess: this checkout's sources, one thread."""
    return dict(os.environ, PYTHONPATH=str(ROOT / "src"), OMP_NUM_THREADS="1")


def dlcanon(*args: str, timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run(
        [PYTHON, "-m", "dlcanon", *args], env=cli_env(), capture_output=True, text=True, timeout=timeout
    )
