"""A killed run resumes to the same final weights as an uninterrupted one; Ctrl-C saves and exits cleanly."""

import signal
import subprocess
import time

import pytest
import torch

from dlcanon import checkpoint
from helpers import PYTHON, cli_env

ARGS = [
    "train", "mlp", "--data", "digits", "--epochs", "6", "--batch-size", "32", "--lr", "0.01",
    "--set", "model_args.dropout=0.2", "--set", "augment=translate", "--set", "ema=0.9",
    "--set", "schedule=onecycle", "--set", "deterministic=true", "--set", "checkpoint_every=3",
    "--set", "tensorboard=false", "--device", "cpu",
]  # fmt: skip


def train(out, *extra):
    return subprocess.run(
        [PYTHON, "-m", "dlcanon", *ARGS, "--out", str(out), *extra],
        env=cli_env(),
        capture_output=True,
        text=True,
        timeout=300,
    )


def start_and_stop_early(out, how: signal.Signals) -> tuple[int, str]:
    """Start a run and send `how` as soon as its first checkpoint is on disk."""
    proc = subprocess.Popen(
        [PYTHON, "-m", "dlcanon", *ARGS, "--out", str(out)],
        env=cli_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.time() + 120
    while not (out / "checkpoint.pt").exists():
        assert proc.poll() is None, proc.communicate()
        assert time.time() < deadline
        time.sleep(0.002)
    proc.send_signal(how)
    _, stderr = proc.communicate(timeout=120)
    return proc.returncode, stderr


def final_state(out):
    state = checkpoint.load(out / "checkpoint.pt")
    return state["objective"], state["ema"]


def assert_same_weights(a, b):
    for (wa, ea), (wb, eb) in [(a, b)]:
        assert wa.keys() == wb.keys()
        for k in wa:
            assert torch.equal(wa[k], wb[k]), k
        for k in ea:
            assert torch.equal(ea[k], eb[k]), k


@pytest.mark.parametrize("how", [signal.SIGKILL, signal.SIGINT], ids=["killed", "ctrl-c"])
def test_stopped_run_resumes_to_identical_weights(tmp_path, how):
    full = train(tmp_path / "full")
    assert full.returncode == 0, full.stderr
    returncode, stderr = start_and_stop_early(tmp_path / "cut", how)
    if how == signal.SIGINT:
        assert returncode == 130 and "checkpoint saved" in stderr and "Traceback" not in stderr
    else:
        assert returncode == -signal.SIGKILL
    stopped_at = checkpoint.load(tmp_path / "cut" / "checkpoint.pt")["step"]
    total = checkpoint.load(tmp_path / "full" / "checkpoint.pt")["step"]
    assert 0 < stopped_at < total, "the run finished before it could be stopped; the test proves nothing"
    resumed = train(tmp_path / "cut", "--resume")
    assert resumed.returncode == 0, resumed.stderr
    assert_same_weights(final_state(tmp_path / "full"), final_state(tmp_path / "cut"))
    steps = [line for line in (tmp_path / "cut" / "metrics.jsonl").read_text().splitlines()]
    assert len(steps) == len((tmp_path / "full" / "metrics.jsonl").read_text().splitlines())
