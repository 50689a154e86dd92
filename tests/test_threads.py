"""Intra-op threads chosen for the model: the rule, the FLOP count it reads, and the trainer's use of both."""

import json

import pytest
import torch
from torch import nn
from typer.testing import CliRunner

from dlcanon.cli import app
from dlcanon.config import TrainConfig
from dlcanon.data import load_data
from dlcanon.errors import UserError
from dlcanon.runs import build_objective, configure
from dlcanon.runtime import THREAD_WORK, choose_threads, forward_flops
from dlcanon.train import Trainer


@pytest.fixture
def two_threads():
    previous = torch.get_num_threads()
    torch.set_num_threads(2)
    yield
    torch.set_num_threads(previous)


@pytest.mark.parametrize(
    ("flops", "available", "expected"),
    [(0, 2, 1), (THREAD_WORK - 1, 2, 1), (THREAD_WORK, 2, 1), (2 * THREAD_WORK, 2, 2), (1e13, 2, 2),
     (1e13, 1, 1), (3.5 * THREAD_WORK, 8, 3), (1e13, 8, 8)],
)  # fmt: skip
def test_choose_threads_is_one_thread_per_unit_of_work_clamped(flops, available, expected):
    # n = clamp(⌊flops / work⌋, 1, available)
    assert choose_threads(flops, available) == expected


def test_choose_threads_is_monotone_in_the_work():
    counts = [choose_threads(f, 4) for f in torch.logspace(6, 11, 40).tolist()]
    assert counts == sorted(counts) and counts[0] == 1 and counts[-1] == 4


def test_forward_flops_counts_multiply_adds_twice():
    linear, conv = nn.Linear(10, 5), nn.Conv2d(3, 4, 3)
    assert forward_flops(lambda: linear(torch.zeros(7, 10))) == 2 * 7 * 10 * 5
    # a 3×3 conv on 8×8 → 6×6 outputs, 3 → 4 channels, batch 2: 2·N·Cout·Hout·Wout·Cin·k²
    assert forward_flops(lambda: conv(torch.zeros(2, 3, 8, 8))) == 2 * 2 * 4 * 6 * 6 * 3 * 9
    assert forward_flops(lambda: torch.zeros(5).relu()) == 0  # element-wise work counts 0


def test_forward_flops_leaves_the_random_stream_as_it_was():
    torch.manual_seed(3)
    expected = torch.rand(4)
    torch.manual_seed(3)
    forward_flops(lambda: nn.functional.dropout(torch.ones(100), 0.5) @ torch.ones(100))
    assert torch.equal(torch.rand(4), expected)


def trainer(name: str, **fields) -> Trainer:
    cfg = configure(name, device="cpu", tensorboard=False, eval_every=0, **fields)
    data = load_data(cfg.data)
    torch.manual_seed(cfg.seed)
    return Trainer(build_objective(cfg, data), data, cfg, progress=False)


def test_auto_picks_one_thread_for_a_small_network_and_restores_the_process_threads(two_threads):
    t = trainer("lenet5", steps=2)
    assert t.threads == 1  # LeNet-5 at batch 64: ~5·10⁷ forward FLOPs
    seen = []
    t.updates[0].parameters[0].register_hook(lambda g: seen.append(torch.get_num_threads()))
    summary = t.fit()
    assert seen == [1, 1] and summary["threads"] == 1 and torch.get_num_threads() == 2


def test_auto_never_exceeds_the_process_threads():
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        assert trainer("fastcnn", steps=1, batch_size=256, model_args={"width": 32}).threads == 1
    finally:
        torch.set_num_threads(previous)


def test_threads_given_override_the_choice(two_threads):
    assert trainer("lenet5", steps=1, threads=2).threads == 2


def test_the_probe_changes_neither_the_random_stream_nor_the_weights(two_threads):
    # dropout draws from the global generator: a probe that drew too would shift every later mask
    fields = dict(steps=3, model_args={"dropout": 0.5}, data="digits", augment="")
    torch.manual_seed(0)
    auto = trainer("mlp", **fields)
    state = torch.get_rng_state()
    assert auto.threads == 1
    auto.fit()
    torch.set_rng_state(state)
    given = trainer("mlp", threads=1, **fields)
    given.fit()
    for a, b in zip(auto.objective.parameters(), given.objective.parameters(), strict=True):
        assert torch.equal(a, b)


def test_negative_threads_are_a_user_error():
    with pytest.raises(UserError, match="threads"):
        TrainConfig(threads=-1).validate()


def test_cli_threads_reaches_the_config_and_config_json_records_the_choice(tmp_path, two_threads):
    runner = CliRunner()
    shown = runner.invoke(app, ["train", "lenet5", "--threads", "2", "--print-config", "--json"])
    assert shown.exit_code == 0, shown.output
    assert json.loads(shown.output)["threads"] == 2
    out = tmp_path / "run"
    ran = runner.invoke(app, ["train", "lenet5", "--steps", "1", "--device", "cpu", "--set", "tensorboard=false",
                              "--out", str(out), "--json"])  # fmt: skip
    assert ran.exit_code == 0, ran.output
    assert json.loads((out / "config.json").read_text())["threads"] == 1  # auto resolved, not 0


@pytest.mark.slow
def test_the_flop_probe_runs_for_every_preset(two_threads):
    # objectives that call autograd.grad in their loss (gradient penalties, Langevin chains, FFJORD's trace) too
    from dlcanon.registry import PRESETS

    for name in PRESETS.names():
        try:
            cfg = configure(name, device="cpu", tensorboard=False)
        except UserError:  # a paper configuration with no bundled data
            continue
        data = load_data(cfg.data, **cfg.data_args)
        assert Trainer(build_objective(cfg, data), data, cfg, progress=False).threads in (1, 2), name
