import json

import pytest
import torch
from torch import nn

from dlcanon.config import TrainConfig
from dlcanon.data import load_data
from dlcanon.data.base import DataBundle, Split
from dlcanon.errors import UserError
from dlcanon.experiments.base import Result, Table, experiment, run_experiment
from dlcanon.experiments.context import Context
from dlcanon.objectives.regressor import Regressor
from dlcanon.plots import figure
from dlcanon.registry import EXPERIMENTS
from dlcanon.reproduce import run_experiments


@pytest.fixture
def toy_experiments():
    @experiment("toy_ok", tags=("F5",), claim="Two plus two is four.")
    def toy_ok(ctx: Context) -> Result:
        fig, (ax,) = figure()
        ax.plot([0, 1], [0, 1])
        return Result(
            "Measured 2 + 2 = 4.",
            True,
            tables=[Table("sum", ["a", "b", "a+b"], [[2, 2, 4]])],
            figures={"line": fig},
        )

    @experiment("toy_fail", tags=("F1",), claim="This one breaks.")
    def toy_fail(ctx: Context) -> Result:
        raise RuntimeError("boom")

    yield
    for name in ("toy_ok", "toy_fail"):
        EXPERIMENTS._entries.pop(name)


def test_runner_writes_json_and_png_and_isolates_failures(tmp_path, toy_experiments):
    report = run_experiments(["toy_fail", "toy_ok"], quick=True, out=tmp_path)
    assert report["total"] == 2 and report["passed"] == 1
    ok = json.loads((tmp_path / "toy_ok" / "result.json").read_text())
    assert ok["status"] == "ok" and ok["holds"] and ok["tables"][0]["rows"] == [[2, 2, 4]]
    assert ok["command"] == "dlcanon reproduce toy_ok --quick"
    png = tmp_path / ok["figures"]["line"]["path"]
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    bad = json.loads((tmp_path / "toy_fail" / "result.json").read_text())
    assert bad["status"] == "error" and "boom" in bad["error"]
    assert json.loads((tmp_path / "results.json").read_text())["passed"] == 1


def test_unknown_experiment_is_a_user_error(tmp_path):
    with pytest.raises(UserError, match="unknown experiment"):
        run_experiments(["nope"], quick=True, out=tmp_path)


def test_conv_output_size_experiment_holds(tmp_path):
    report = run_experiments(["conv_output_size"], quick=True, out=tmp_path)
    record = report["experiments"][0]
    assert record["status"] == "ok" and record["holds"], record
    assert record["numbers"]["configurations"] >= 300


@pytest.mark.slow  # a CLI round trip of ~15-40 s: `make test-slow`
def test_universal_approximation_error_falls_with_width(tmp_path):
    record = run_experiments(["universal_approximation"], quick=True, out=tmp_path)["experiments"][0]
    assert record["status"] == "ok", record.get("traceback")
    for errors in record["numbers"].values():
        assert errors[-1] < 0.2 * errors[0]  # sup error at the largest N is a fifth of that at N = 1
    assert record["holds"]


@pytest.fixture
def seeded_toy():
    """A toy experiment that reports the context it saw, a draw of the global generator and of its own."""

    @experiment("toy_seeded", tags=("F5",), claim="Draws are a function of the seed.")
    def toy_seeded(ctx: Context) -> Result:
        draws = {"global": torch.rand(3).tolist(), "own": torch.rand(3, generator=ctx.generator(1)).tolist()}
        seen = {"quick": ctx.quick, "device": ctx.device, "seed": ctx.seed, "threads": torch.get_num_threads()}
        return Result("Drew six numbers.", True, numbers={**draws, **seen})

    yield
    EXPERIMENTS._entries.pop("toy_seeded")


def test_runner_passes_the_context_and_its_seed_decides_every_draw(tmp_path, seeded_toy):
    def numbers(seed: int) -> dict:
        report = run_experiments(["toy_seeded"], quick=False, out=tmp_path / str(seed), device="cpu", seed=seed)
        return report["experiments"][0]["numbers"]

    zero, again, one = numbers(0), numbers(0), numbers(1)
    assert zero == again and zero["global"] != one["global"] and zero["own"] != one["own"]
    seen = {k: zero[k] for k in ("quick", "device", "seed", "threads")}
    assert seen == {"quick": False, "device": "cpu", "seed": 0, "threads": 1}
    assert zero["global"] == torch.rand(3, generator=torch.Generator().manual_seed(0)).tolist()
    record = json.loads((tmp_path / "1" / "toy_seeded" / "result.json").read_text())
    assert record["seed"] == 1 and record["command"] == "dlcanon reproduce toy_seeded --full --seed 1"


def test_an_unknown_device_is_a_user_error(tmp_path):
    with pytest.raises(UserError, match="device must be one of"):
        run_experiments(["conv_output_size"], quick=True, out=tmp_path, device="tpu")


def test_context_settings_override_the_mode_and_a_misspelt_one_is_refused():
    quick, full = {"epochs": 3, "seeds": (0,)}, {"epochs": 30, "seeds": (0, 1, 2)}
    assert Context(quick=True).pick(quick, full) == quick
    assert Context(quick=False, settings={"epochs": 1}).pick(quick, full) == {"epochs": 1, "seeds": (0, 1, 2)}
    with pytest.raises(KeyError, match="epoch"):
        Context(settings={"epoch": 1}).pick(quick, full)


def test_context_config_runs_in_process_on_its_device_and_seed():
    ctx = Context(device="cpu", seed=7)
    cfg = ctx.config(epochs=2, lr=0.1)
    assert (cfg.device, cfg.seed, cfg.tensorboard, cfg.eval_every, cfg.epochs, cfg.lr) == ("cpu", 7, False, 0, 2, 0.1)
    base = TrainConfig(model="lenet5", batch_size=32, eval_every=5)
    kept = ctx.config(base, eval_every=1)
    assert (kept.model, kept.batch_size, kept.eval_every, base.device) == ("lenet5", 32, 1, "auto")  # base untouched
    with pytest.raises(TypeError):
        ctx.config(epoch=2)  # not a TrainConfig field


def test_context_build_merges_arguments_into_the_recipe_and_seeds_the_weights():
    ctx, data = Context(seed=3), load_data("ring8")
    cfg, a = ctx.build("wgan-gp", data, epochs=2, objective_args={"n_critic": 2})
    _, b = ctx.build("wgan-gp", data, epochs=2, objective_args={"n_critic": 2})
    assert cfg.epochs == 2 and cfg.seed == 3 and cfg.objective_args["n_critic"] == 2 and len(cfg.objective_args) > 1
    assert all(torch.equal(p, q) for p, q in zip(a.parameters(), b.parameters(), strict=True))


def test_context_train_keeps_what_build_configured(monkeypatch):
    """A base from `build` keeps its own seed and evaluation settings: `train` adds fields, it resets nothing."""
    import dlcanon.experiments.context as context

    seen = []
    monkeypatch.setattr(context, "fit", lambda objective, data, cfg, **kw: seen.append(cfg) or {"metrics": {}})
    ctx, data = Context(seed=3), load_data("ring8")
    cfg, objective = ctx.build("gan", data, seed=5, eval_every=2, steps=4)
    ctx.train(objective, data, cfg, log_every=1)
    assert (seen[0].seed, seen[0].eval_every, seen[0].steps, seen[0].log_every) == (5, 2, 4, 1)
    ctx.train(objective, data, epochs=1)  # without a base: the context's in-process configuration
    assert (seen[1].seed, seen[1].eval_every, seen[1].tensorboard) == (3, 0, False)


def test_context_train_fits_and_records_the_loss_curve():
    g = torch.Generator().manual_seed(0)
    x = torch.rand(256, 1, generator=g)
    data = DataBundle("line", Split(x, 3 * x[:, 0] - 1), Split(x, 3 * x[:, 0] - 1), None, "points")
    ctx = Context()
    ctx.manual_seed(0)
    line = nn.Linear(1, 1)
    summary = ctx.train(Regressor(line), data, curve=True, epochs=40, batch_size=32, lr=0.05, log_every=40,
                        optimizer="adam")  # fmt: skip
    assert summary["curve_steps"] == [40, 80, 120, 160, 200, 240, 280, 320] and summary["steps"] == 320
    assert summary["losses"][-1] < 0.01 * summary["losses"][0]
    assert abs(line.weight.item() - 3) < 0.05 and abs(line.bias.item() + 1) < 0.05


def test_run_experiment_applies_the_contexts_threads_and_restores_them(seeded_toy):
    before = torch.get_num_threads()
    result = run_experiment("toy_seeded", Context(quick=True, seed=2, threads=1))
    assert result.numbers["threads"] == 1 and result.numbers["seed"] == 2 and torch.get_num_threads() == before


def test_cli_reproduce_takes_a_device_and_refuses_an_unknown_one_in_one_line(tmp_path):
    from helpers import dlcanon

    out = dlcanon("reproduce", "conv_output_size", "--device", "tpu", "--out", str(tmp_path))
    assert out.returncode == 2 and "device must be one of" in out.stderr and len(out.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "results.json").exists()
