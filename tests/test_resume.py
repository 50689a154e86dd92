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
    hang_guard = time.time() + 900  # not a speed check: only a run that never writes a checkpoint reaches it
    while not (out / "checkpoint.pt").exists():
        assert proc.poll() is None, proc.communicate()
        if time.time() > hang_guard:
            proc.kill()
            pytest.fail("the run wrote no checkpoint: it hung")
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


@pytest.mark.parametrize(
    "how",
    [signal.SIGKILL, pytest.param(signal.SIGINT, marks=pytest.mark.slow)],  # Ctrl-C: `make test-slow`
    ids=["killed", "ctrl-c"],
)
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


def test_resume_refuses_a_changed_configuration_and_touches_nothing(tmp_path):
    from helpers import dlcanon

    run = tmp_path / "R"
    first = dlcanon("train", "lenet5", "--data", "digits", "--epochs", "1", "--device", "cpu", "--out", str(run))
    assert first.returncode == 0, first.stderr
    before = {p.name: p.read_bytes() for p in run.iterdir() if p.is_file()}
    out = dlcanon("train", "lenet5", "--data", "mnist5k", "--device", "cpu", "--out", str(run), "--resume")
    assert out.returncode == 2 and out.stderr.count("\n") == 1, out.stderr
    assert "would change data of the run" in out.stderr and "'digits' to 'mnist5k'" in out.stderr
    assert {p.name: p.read_bytes() for p in run.iterdir() if p.is_file()} == before  # nothing rewritten
    missing = dlcanon("train", "lenet5", "--out", str(tmp_path / "nowhere"), "--resume")
    assert missing.returncode == 2 and "holds none" in missing.stderr and not (tmp_path / "nowhere").exists()


def test_a_checkpoint_that_does_not_fit_is_one_line(tmp_path, tiny_images):
    from dlcanon.config import TrainConfig
    from dlcanon.errors import UserError
    from dlcanon.models.mlp import MLP
    from dlcanon.objectives.classifier import Classifier
    from dlcanon.train import Trainer

    cfg = TrainConfig(model="mlp", data="tiny", epochs=1, batch_size=10, device="cpu", tensorboard=False)
    Trainer(Classifier(MLP(64, 4, hidden=(8,))), tiny_images, cfg, out_dir=tmp_path, progress=False).fit()
    wider = Trainer(Classifier(MLP(64, 4, hidden=(16,))), tiny_images, cfg, out_dir=tmp_path, resume=True)
    with pytest.raises(UserError, match="does not fit this run"):
        wider.fit()
    state = checkpoint.load(tmp_path / "checkpoint.pt")
    del state["scalers"]  # a checkpoint written before per-player loss scalers
    checkpoint.save_atomic(state, tmp_path / "checkpoint.pt")
    same = Trainer(Classifier(MLP(64, 4, hidden=(8,))), tiny_images, cfg, out_dir=tmp_path, resume=True)
    with pytest.raises(UserError, match="missing 'scalers'"):
        same.fit()
