"""DistributedDataParallel under torchrun (gloo, 2 CPU processes) equals 1 process with the same global batch."""

import json
import shutil
import subprocess
import sys
from pathlib import Path

import torch

from dlcanon import checkpoint
from helpers import PYTHON, cli_env

ARGS = [
    "train", "mlp", "--data", "digits", "--epochs", "2", "--batch-size", "64", "--lr", "0.01",
    "--set", "augment=translate", "--set", "tensorboard=false", "--device", "cpu",
]  # fmt: skip


def test_two_processes_match_one(tmp_path):
    torchrun = shutil.which("torchrun", path=str(Path(sys.executable).parent))
    assert torchrun, "torchrun ships with torch"
    one = subprocess.run(
        [PYTHON, "-m", "dlcanon", *ARGS, "--out", str(tmp_path / "one")],
        env=cli_env(),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert one.returncode == 0, one.stderr
    two = subprocess.run(
        [
            torchrun,
            "--standalone",
            "--nproc-per-node",
            "2",
            "-m",
            "dlcanon",
            *ARGS,
            "--out",
            str(tmp_path / "two"),
        ],
        env=cli_env(),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert two.returncode == 0, two.stderr[-3000:]
    a = checkpoint.load(tmp_path / "one" / "checkpoint.pt")
    b = checkpoint.load(tmp_path / "two" / "checkpoint.pt")
    assert a["step"] == b["step"] > 0
    for key, value in a["objective"].items():
        assert torch.allclose(value, b["objective"][key], atol=1e-5, rtol=1e-4), key
    summary = json.loads((tmp_path / "two" / "summary.json").read_text())
    assert summary["world_size"] == 2 and summary["metrics"]["test_accuracy"] > 0.8  # it did learn
