"""Checkpoints: corrupt or foreign files are one line wherever a run is read (`eval`, `sample`, `--resume`);
saving is atomic and keeps the last good checkpoint; by default a run checkpoints every epoch and every few
minutes, and a run killed after a checkpoint resumes to the same final weights as an uninterrupted one."""

from __future__ import annotations

import io
import json
import os
import pickle
import signal
import struct
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import numpy as np
import pytest
import torch

from dlcanon import checkpoint, cli
from dlcanon.config import TrainConfig
from dlcanon.errors import UserError
from dlcanon.models.mlp import MLP
from dlcanon.objectives.classifier import Classifier
from dlcanon.train import Trainer
from helpers import PYTHON, cli_env

SEED = 18
TINY = ["--data", "digits", "--steps", "3", "--batch-size", "64", "--device", "cpu"]
TINY += ["--set", "model_args.hidden=[8]", "--set", "tensorboard=false"]


def run_cli(monkeypatch, capsys, *args: str) -> tuple[int, str]:
    """`dlcanon ARGS` in-process through the entry point: (exit status, stderr)."""
    monkeypatch.setattr(sys, "argv", ["dlcanon", *args])
    code = 0
    try:
        cli.main()
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else 1
    return code, capsys.readouterr().err


@pytest.fixture(scope="module")
def good_run(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("run") / "R"
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(sys, "argv", ["dlcanon", "train", "mlp", *TINY, "--out", str(out)])
        cli.main()
    return out


@pytest.fixture
def run_dir(good_run, tmp_path) -> Path:
    """A copy of a trained run, free to break."""
    copy = tmp_path / "R"
    copy.mkdir()
    for f in good_run.iterdir():
        (copy / f.name).write_bytes(f.read_bytes())
    return copy


def torch_bytes(obj) -> bytes:
    buf = io.BytesIO()
    torch.save(obj, buf)
    return buf.getvalue()


class Boom:
    """Unpickling this creates a folder: the witness that nothing was unpickled."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (os.mkdir, (str(self.marker),))


def forged_size(good: bytes) -> bytes:
    """The checkpoint with its central directory declaring 2³¹ − 1 bytes for the first tensor record."""
    b = bytearray(good)
    at = b.find(b"PK\x01\x02")
    while b"/data/" not in b[at + 46 : at + 46 + struct.unpack("<H", b[at + 28 : at + 30])[0]]:
        at = b.find(b"PK\x01\x02", at + 4)
    b[at + 24 : at + 28] = struct.pack("<I", 2**31 - 1)  # its uncompressed size
    return bytes(b)


def foreign_files(tmp_path: Path, good: bytes) -> dict[str, bytes]:
    zipped = io.BytesIO()
    with zipfile.ZipFile(zipped, "w") as z:
        z.writestr("notes.txt", "hello")
    state = torch.load(io.BytesIO(good), weights_only=True)
    return {
        "empty": b"",
        "truncated to half": good[: len(good) // 2],
        "truncated by one byte": good[:-1],
        "a tensor": torch_bytes(torch.zeros(3)),
        "a list": torch_bytes([1, 2, 3]),
        "a dict of another program": torch_bytes({"model": {"w": torch.zeros(2)}, "epoch": 3}),
        "another network's weights": torch_bytes({"step": 1, "objective": {"w": torch.zeros(2)}}),
        "objective as a list": torch_bytes({**state, "objective": [1, 2]}),
        "a plain pickle": pickle.dumps({"step": 1, "objective": {}}),
        "a malicious pickle": pickle.dumps({"step": 1, "objective": Boom(tmp_path / "unpickled")}),
        "a torch file with code": torch_bytes({"step": 1, "objective": Boom(tmp_path / "unpickled")}),
        "a zip of text": zipped.getvalue(),
        "a JSON file": b'{"step": 1}',
        "forged record size": forged_size(good),
    }


def misfit_states(good: bytes) -> dict[str, bytes]:
    """Readable checkpoints that `eval` may use but that no run can resume from."""
    state = torch.load(io.BytesIO(good), weights_only=True)
    return {
        "step beyond the run": torch_bytes({**state, "step": 10**9}),
        "step negative": torch_bytes({**state, "step": -5}),
        "step a string": torch_bytes({**state, "step": "3"}),
        "history a tensor": torch_bytes({**state, "history": torch.zeros(2)}),
        "optimizers missing": torch_bytes({k: v for k, v in state.items() if k != "optimizers"}),
    }


def one_line(message: str) -> bool:
    return bool(message) and "\n" not in message.strip() and "Traceback" not in message


# ---------------------------------------------------------------- corrupt and foreign checkpoints


def test_checkpoint_fuzz_loads_or_is_one_line(run_dir):
    """Hundreds of truncated, bit-flipped and spliced checkpoints: each loads, or checkpoint.load and the
    trainer's --resume refuse it with one UserError line; none raises anything else."""
    rng = np.random.default_rng(SEED)
    path = run_dir / "checkpoint.pt"
    good = path.read_bytes()
    cfg = TrainConfig.from_dict(json.loads((run_dir / "config.json").read_text()))
    from dlcanon.data import load_data
    from dlcanon.runs import build_objective

    bundle = load_data(cfg.data)
    seen = {"loaded": 0, "refused": 0, "resumed": 0}
    for i in range(300):
        b = bytearray(good)
        kind = i % 4
        if kind == 0:
            b = b[: int(rng.integers(0, len(b)))]
        elif kind == 1:
            for _ in range(int(rng.integers(1, 9))):
                b[int(rng.integers(0, len(b)))] ^= 1 << int(rng.integers(0, 8))
        elif kind == 2:  # flips within data.pkl, the pickle at the front: structure, not weights
            for _ in range(int(rng.integers(1, 4))):
                b[int(rng.integers(0, 600))] ^= 1 << int(rng.integers(0, 8))
        else:
            j, k = sorted(int(v) for v in rng.integers(0, len(b), 2))
            b = b[:j] + b[k:] + b[j:k]
        path.write_bytes(bytes(b))
        try:
            checkpoint.load(path)
        except UserError as e:
            assert one_line(str(e)), str(e)
            seen["refused"] += 1
            continue
        seen["loaded"] += 1
        if seen["loaded"] % 5 == 1:  # the trainer's --resume of a checkpoint that loads but may not fit
            try:
                Trainer(build_objective(cfg, bundle), bundle, cfg, out_dir=run_dir, resume=True).try_resume()
                seen["resumed"] += 1
            except UserError as e:
                assert one_line(str(e)), str(e)
    assert seen["refused"] > 100 and seen["loaded"] > 0, seen


def test_foreign_checkpoints_are_one_line_and_run_no_code(run_dir, tmp_path):
    path = run_dir / "checkpoint.pt"
    good = path.read_bytes()
    for name, data in foreign_files(tmp_path, good).items():
        path.write_bytes(data)
        with pytest.raises(UserError) as info:
            from dlcanon.runs import load_run

            checkpoint.load(path)
            load_run(run_dir)
        assert one_line(str(info.value)), (name, str(info.value))
    assert not (tmp_path / "unpickled").exists()
    path.write_bytes(forged_size(good))
    with pytest.raises(UserError, match="declares 2147483647 bytes"):
        checkpoint.load(path)


def test_a_resumed_run_refuses_a_bad_checkpoint_before_writing_anything(run_dir, tmp_path):
    """Through the trainer: the foreign file is read (and refused) when the Trainer is built, before the CLI
    writes config.json or truncates metrics.jsonl; checkpoint.pt stays as it was."""
    from dlcanon.data import load_data
    from dlcanon.runs import build_objective

    cfg = TrainConfig.from_dict(json.loads((run_dir / "config.json").read_text()))
    bundle = load_data(cfg.data)
    path = run_dir / "checkpoint.pt"
    good = path.read_bytes()
    for name, data in (foreign_files(tmp_path, good) | misfit_states(good)).items():
        path.write_bytes(data)
        before = {p.name: p.read_bytes() for p in run_dir.iterdir()}
        with pytest.raises(UserError) as info:
            Trainer(build_objective(cfg, bundle), bundle, cfg, out_dir=run_dir, resume=True).fit()
        assert one_line(str(info.value)), (name, str(info.value))
        assert {p.name: p.read_bytes() for p in run_dir.iterdir()} == before, name


@pytest.mark.parametrize("command", ["eval", "sample", "resume"])
@pytest.mark.parametrize("damage", ["truncated", "a tensor", "a malicious pickle", "config.json"])
def test_cli_reports_a_broken_run_in_one_line_with_status_2(run_dir, tmp_path, monkeypatch, capsys, command, damage):
    path = run_dir / "checkpoint.pt"
    good = path.read_bytes()
    if damage == "config.json":
        (run_dir / "config.json").write_text('{"model": "mlp", "data": "dig')  # cut mid-write
    else:
        path.write_bytes(foreign_files(tmp_path, good)["truncated to half" if damage == "truncated" else damage])
    broken = path.read_bytes()
    args = {
        "eval": ["eval", str(run_dir), "--device", "cpu"],
        "sample": ["sample", str(run_dir), "--out", str(tmp_path / "s.png")],
        "resume": ["train", "mlp", *TINY, "--out", str(run_dir), "--resume"],
    }[command]
    code, err = run_cli(monkeypatch, capsys, *args)
    assert code == 2 and one_line(err) and err.startswith("error: "), err
    assert ("config.json" if damage == "config.json" else "checkpoint") in err, err  # refused for the damage
    assert path.read_bytes() == broken  # nothing was written over it
    assert not (tmp_path / "unpickled").exists()


def test_a_torn_metrics_line_does_not_stop_a_resume(tiny_images, tmp_path):
    """A kill while appending to metrics.jsonl leaves a half line; --resume drops it and goes on."""
    cfg = TrainConfig(model="mlp", data="tiny", epochs=2, batch_size=10, log_every=1, device="cpu", tensorboard=False)
    Trainer(Classifier(MLP(64, 4, hidden=(8,))), tiny_images, cfg, out_dir=tmp_path, progress=False).fit()
    metrics = tmp_path / "metrics.jsonl"
    lines = metrics.read_text().splitlines()
    metrics.write_text("\n".join(lines) + '\n{"step": 9, "train_lo')
    trainer = Trainer(Classifier(MLP(64, 4, hidden=(8,))), tiny_images, cfg, out_dir=tmp_path, resume=True)
    trainer.fit()
    assert metrics.read_text().splitlines() == lines


# ---------------------------------------------------------------- atomic saves


def test_a_save_that_dies_half_way_keeps_the_last_good_checkpoint(tmp_path, monkeypatch):
    path = tmp_path / "checkpoint.pt"
    checkpoint.save_atomic({"step": 1, "objective": {"w": torch.ones(3)}}, path)
    good = path.read_bytes()

    def dies(obj, f):
        f.write(b"PK\x03\x04 half a checkpoint")
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(torch, "save", dies)
    with pytest.raises(OSError):
        checkpoint.save_atomic({"step": 2, "objective": {"w": torch.zeros(3)}}, path)
    assert path.read_bytes() == good and sorted(p.name for p in tmp_path.iterdir()) == ["checkpoint.pt"]
    monkeypatch.undo()
    (tmp_path / ".checkpoint.pt.99999.tmp").write_bytes(b"left by a process killed while it saved")
    checkpoint.save_atomic({"step": 3, "objective": {"w": torch.zeros(3)}}, path)
    assert checkpoint.load(path)["step"] == 3 and sorted(p.name for p in tmp_path.iterdir()) == ["checkpoint.pt"]


def test_a_killed_save_leaves_the_previous_checkpoint(tmp_path):
    """SIGKILL in the middle of torch.save (in a forked child): checkpoint.pt is the previous one, whole."""
    path = tmp_path / "checkpoint.pt"
    checkpoint.save_atomic({"step": 1, "objective": {"w": torch.ones(3)}}, path)
    pid = os.fork()
    if pid == 0:  # the child: its torch.save dies after the first bytes, as under a SIGKILL mid-write
        try:

            def save(obj, f):
                f.write(b"PK\x03\x04 the first bytes")
                f.flush()
                os.kill(os.getpid(), signal.SIGKILL)

            torch.save = save
            checkpoint.save_atomic({"step": 2, "objective": {}}, path)
        finally:
            os._exit(1)  # never reached under SIGKILL; never return into pytest
    _, status = os.waitpid(pid, 0)
    assert os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGKILL
    assert checkpoint.load(path)["step"] == 1
    assert any(p.name.endswith(".tmp") for p in tmp_path.iterdir())  # the torn write is beside it, not in it


# ---------------------------------------------------------------- checkpoints by default


def out(path: Path) -> Path:
    path.mkdir(parents=True, exist_ok=True)  # the CLI makes the run directory; the Trainer writes into it
    return path


def tiny_cfg(**fields) -> TrainConfig:
    base = dict(model="mlp", data="tiny", epochs=3, batch_size=10, log_every=3, device="cpu", tensorboard=False,
                deterministic=True, augment="translate", seed=SEED)  # fmt: skip
    return TrainConfig(**(base | fields))


def model() -> Classifier:
    torch.manual_seed(SEED)
    return Classifier(MLP(64, 4, hidden=(8,), dropout=0.2))


def saves(monkeypatch) -> list[int]:
    steps: list[int] = []
    real = Trainer.save

    def save(self):
        steps.append(self.step)
        real(self)

    monkeypatch.setattr(Trainer, "save", save)
    return steps


def test_default_checkpoints_every_epoch_and_the_clock_changes_no_weight(tiny_images, tmp_path, monkeypatch):
    steps = saves(monkeypatch)
    assert TrainConfig().checkpoint_every == 0 and TrainConfig().checkpoint_minutes > 0  # the defaults
    Trainer(model(), tiny_images, tiny_cfg(), out_dir=out(tmp_path / "epochs"), progress=False).fit()
    assert steps == [4, 8, 12]  # 40 samples, batch 10: one checkpoint per epoch of 4 steps
    steps.clear()
    Trainer(model(), tiny_images, tiny_cfg(checkpoint_every=5), out_dir=out(tmp_path / "five"), progress=False).fit()
    assert steps == [5, 10, 12]
    steps.clear()
    eager = tiny_cfg(checkpoint_minutes=1e-9)  # the clock is always due: a checkpoint after every step
    Trainer(model(), tiny_images, eager, out_dir=out(tmp_path / "clock"), progress=False).fit()
    assert steps == list(range(1, 13))
    a, b = checkpoint.load(tmp_path / "epochs" / "checkpoint.pt"), checkpoint.load(tmp_path / "clock" / "checkpoint.pt")
    assert all(torch.equal(a["objective"][k], b["objective"][k]) for k in a["objective"])
    assert records(tmp_path / "epochs") == records(tmp_path / "clock")  # no record depends on when it saved


def records(run: Path) -> list[dict]:
    """metrics.jsonl without the wall-clock field."""
    lines = (run / "metrics.jsonl").read_text().splitlines()
    return [{k: v for k, v in json.loads(ln).items() if k != "seconds"} for ln in lines]


class Killed(BaseException):
    """Stands for SIGKILL: raised right after a checkpoint, caught by nothing in the trainer."""


@pytest.mark.parametrize("kill_after", [1, 2], ids=["first-checkpoint", "second-checkpoint"])
def test_a_run_killed_after_a_default_checkpoint_resumes_to_the_same_weights(
    tiny_images, tmp_path, monkeypatch, kill_after
):
    """In-process: the run dies right after its k-th default checkpoint (no clean-up runs); --resume ends
    with bitwise the weights, EMA and log records of the run that was never stopped."""
    cfg = tiny_cfg(ema=0.9, schedule="onecycle", eval_every=2)  # epoch 1's checkpoint falls between two records
    Trainer(model(), tiny_images, cfg, out_dir=out(tmp_path / "full"), progress=False).fit()
    real, count = checkpoint.save_atomic, [0]

    def save_then_die(obj, path):
        real(obj, path)
        count[0] += 1
        if count[0] == kill_after:
            raise Killed

    monkeypatch.setattr(checkpoint, "save_atomic", save_then_die)
    with pytest.raises(Killed):
        Trainer(model(), tiny_images, cfg, out_dir=out(tmp_path / "cut"), progress=False).fit()
    monkeypatch.undo()
    assert checkpoint.load(tmp_path / "cut" / "checkpoint.pt")["step"] == 4 * kill_after
    torch.manual_seed(12345)  # a different global RNG: the checkpoint's must win
    Trainer(model(), tiny_images, cfg, out_dir=out(tmp_path / "cut"), progress=False, resume=True).fit()
    full, cut = (checkpoint.load(tmp_path / r / "checkpoint.pt") for r in ("full", "cut"))
    for part in ("objective", "ema"):
        assert full[part].keys() == cut[part].keys()
        assert all(torch.equal(full[part][k], cut[part][k]) for k in full[part]), part
    assert records(tmp_path / "full") == records(tmp_path / "cut")


# the checkpoint settings are left at their defaults
DEFAULT_RUN = ["train", "mlp", "--data", "digits", "--epochs", "4", "--batch-size", "64", "--lr", "0.01",
               "--set", "model_args.dropout=0.2", "--set", "augment=translate", "--set", "deterministic=true",
               "--set", "tensorboard=false", "--device", "cpu"]  # fmt: skip


@pytest.mark.slow
def test_sigkill_after_the_first_default_checkpoint_resumes_to_the_same_weights(tmp_path):
    """A real SIGKILL of `dlcanon train` with the default checkpoint settings, then `--resume`."""

    def train(out: Path, *extra: str) -> subprocess.CompletedProcess:
        return subprocess.run([PYTHON, "-m", "dlcanon", *DEFAULT_RUN, "--out", str(out), *extra], env=cli_env(),
                              capture_output=True, text=True, timeout=600)  # fmt: skip

    full = train(tmp_path / "full")
    assert full.returncode == 0, full.stderr
    cut = tmp_path / "cut"
    proc = subprocess.Popen([PYTHON, "-m", "dlcanon", *DEFAULT_RUN, "--out", str(cut)], env=cli_env(),
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)  # fmt: skip
    hang_guard = time.time() + 600  # not a speed check: only a run that never checkpoints reaches it
    while not (cut / "checkpoint.pt").exists():
        assert proc.poll() is None, proc.communicate()
        if time.time() > hang_guard:
            proc.kill()
            pytest.fail("the run wrote no checkpoint: it hung")
        time.sleep(0.002)
    proc.send_signal(signal.SIGKILL)
    proc.communicate(timeout=120)
    assert proc.returncode == -signal.SIGKILL
    stopped_at, total = (checkpoint.load(r / "checkpoint.pt")["step"] for r in (cut, tmp_path / "full"))
    assert 0 < stopped_at < total, "the run finished before it could be killed; the test proves nothing"
    resumed = train(cut, "--resume")
    assert resumed.returncode == 0, resumed.stderr
    a, b = (checkpoint.load(r / "checkpoint.pt")["objective"] for r in (tmp_path / "full", cut))
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    assert records(tmp_path / "full") == records(cut)
