"""The CLI contract: --json prints one object on stdout; mistakes exit 2 with one line; runs are complete."""

import json

import pytest

from helpers import dlcanon


def one_json(stdout: str):
    lines = [line for line in stdout.splitlines() if line.strip()]
    assert len(lines) == 1, stdout
    return json.loads(lines[0])


def test_help_lists_commands():
    out = dlcanon("--help")
    assert out.returncode == 0
    for command in ("list", "info", "train", "eval", "sample", "convsize", "reproduce", "bench"):
        assert command in out.stdout


@pytest.mark.parametrize(
    "command", ["list", "info", "train", "eval", "sample", "convsize", "reproduce", "bench"]
)
def test_every_command_has_help_and_json(command):
    out = dlcanon(command, "--help")
    assert out.returncode == 0 and "--json" in out.stdout


@pytest.mark.slow  # a CLI round trip of ~15-40 s: `make test-slow`
def test_list_models_with_parameter_counts():
    rows = one_json(dlcanon("list", "models", "--json").stdout)
    lenet = next(r for r in rows if r["name"] == "lenet5")
    assert lenet["params"] == 61706 and lenet["data"] == "mnist5k" and "C1" in lenet["tags"]


def test_info_json_has_layers_and_flops():
    info = one_json(dlcanon("info", "lenet5", "--json").stdout)
    assert info["params"] == 61706
    assert info["flops"] == 833_040 and len(info["layers"]) >= 8


def test_convsize():
    out = one_json(
        dlcanon(
            "convsize", "--size", "32", "--kernel", "5", "--padding", "2", "--stride", "2", "--json"
        ).stdout
    )
    assert out["output_size"] == 16
    bad = dlcanon("convsize", "--size", "3", "--kernel", "5")
    assert bad.returncode == 2 and bad.stderr.count("\n") == 1 and "error:" in bad.stderr


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["train", "lenet6"], "unknown model 'lenet6'; did you mean lenet5"),
        (["train", "lenet5", "--data", "mnist6k"], "unknown dataset 'mnist6k'"),
        (["train", "lenet5", "--precision", "fp8"], "precision must be one of"),
        (["train", "lenet5", "--set", "epochz=3"], "unknown config field 'epochz'"),
        (["train", "lenet5", "--data", "mnist:/nonexistent/folder"], "/nonexistent/folder"),
        (["eval", "/nonexistent/run"], "config.json"),
        (["list", "spaceships"], "list expects one of"),
        (["train"], "Missing argument 'model'"),
        (["train", "lenet5", "--epochs", "abc"], "Invalid value for '--epochs'"),
        (["fly"], "No such command 'fly'"),
        (["train", "resnet50"], "pass --data folder:PATH"),
        (["train", "lenet5", "--set", "objective_args.label_smoothing=1.5"], "objective classifier: label_smoothing"),
        (["train", "resnet20", "--set", "model_args.stem=x"], "model resnet20 on mnist5k: unknown value 'x'"),
        (["train", "lenet5", "--set", "model_args.activation=3"], "model lenet5: activation expects str; got 3"),
        (["train", "dcgan", "--data", "mnist1d"], "model dcgan on mnist1d:"),
        (["train", "lenet5", "--optimizer", "lion"], "optimizer must be one of adadelta, adam, adamax"),
        (["train", "gan", "--set", "players.critic.lr=1e-3"], "players are discriminator, generator; got critic"),
        (["train", "lenet5", "--set", "players.model.lrr=1"], "players.model.lrr is not an optimiser setting"),
        (["info", "resnet20", "--set", "model_args.block=x"], "model resnet20 on mnist5k:"),
        (["sample", "/nonexistent/run", "--n", "0"], "--n takes 1 to 4096 samples; got 0"),
        (["sample", "/nonexistent/run", "--out", "/nonexistent/dir/x.png"], "the folder /nonexistent/dir does not"),
        (["check", "equivariance", "lenet5", "--n", "0"], "--n takes at least 1 test image; got 0"),
        (["train", "lenet5", "--data", "ring8"], "LeNet-5 takes images (C, H, W); got inputs shaped (2,)"),
    ],
)
def test_user_mistakes_exit_2_with_one_line(args, needle):
    out = dlcanon(*args)
    assert out.returncode == 2, out.stderr
    assert needle in out.stderr and out.stderr.strip().count("\n") == 0 and "Traceback" not in out.stderr


def test_train_then_eval_round_trip(tmp_path):
    run = tmp_path / "run"
    out = dlcanon("train", "lenet5", "--data", "digits", "--epochs", "3", "--out", str(run), "--json")
    assert out.returncode == 0, out.stderr
    summary = one_json(out.stdout)
    assert summary["model"] == "lenet5" and summary["objective"] == "classifier"
    assert 0.5 < summary["metrics"]["test_accuracy"] <= 1.0
    for name in ("config.json", "metrics.jsonl", "checkpoint.pt", "summary.json"):
        assert (run / name).is_file(), name
    config = json.loads((run / "config.json").read_text())
    assert config["epochs"] == 3 and config["data"] == "digits" and config["version"]
    assert config["device"] == "cpu" and config["precision"] in ("fp32", "bf16")  # what ran, never "auto"
    ev = one_json(dlcanon("eval", str(run), "--json").stdout)
    assert ev["metrics"]["test_accuracy"] == pytest.approx(summary["metrics"]["test_accuracy"])
    other = dlcanon("eval", str(run), "--data", "mnist5k")  # 28×28 images for a network trained on 8×8
    assert other.returncode == 2 and other.stderr.count("\n") == 1 and "(1, 8, 8)" in other.stderr, other.stderr
    again = dlcanon("train", "lenet5", "--data", "digits", "--out", str(run))
    assert again.returncode == 2 and "--resume" in again.stderr
    no_sample = dlcanon("sample", str(run))
    assert no_sample.returncode == 2 and "generative objectives do" in no_sample.stderr


def test_out_naming_a_file_is_a_user_error(tmp_path):
    path = tmp_path / "notes.txt"
    path.write_text("mine\n")
    out = dlcanon("train", "lenet5", "--data", "digits", "--out", str(path))
    assert out.returncode == 2 and "is a file" in out.stderr and out.stderr.strip().count("\n") == 0
    assert path.read_text() == "mine\n"


@pytest.mark.parametrize(("kind", "names"), [("optimizers", {"adamax", "rmsprop"}), ("schedules", {"onecycle"}),
                                             ("presets", {"gan", "nsgan", "wgan", "wgan-gp", "lenet5"})])  # fmt: skip
def test_list_optimizers_schedules_and_presets(kind, names):
    rows = one_json(dlcanon("list", kind, "--json").stdout)
    assert names <= {r["name"] for r in rows} and all(r["description"] for r in rows)
    if kind == "presets":
        assert {r["model"] for r in rows if r["name"] in ("gan", "wgan")} == {"mlp_gan"}


def test_lr_and_optimizer_reach_every_player_of_a_gan_preset(tmp_path):
    """`--lr` and `--optimizer` build both GAN players' optimisers, and config.json records them as built."""
    run = tmp_path / "run"
    out = dlcanon(
        "train", "wgan", "--steps", "2", "--batch-size", "32", "--lr", "3e-4", "--optimizer", "adamax",
        "--set", "schedule=constant", "--set", "data_args.n_train=600", "--set", "data_args.n_test=500",
        "--device", "cpu", "--out", str(run), "--json",
    )  # fmt: skip
    assert out.returncode == 0, out.stderr
    assert one_json(out.stdout)["steps"] == 2
    from dlcanon import checkpoint

    groups = [o["param_groups"][0] for o in checkpoint.load(run / "checkpoint.pt")["optimizers"]]
    assert [g["lr"] for g in groups] == [3e-4, 3e-4] and all("betas" in g for g in groups)  # Adamax's
    config = json.loads((run / "config.json").read_text())
    assert config["lr"] == 3e-4 and config["optimizer"] == "adamax" and config["preset"] == "wgan"
    for player in ("discriminator", "generator"):
        assert config["optimizers"][player] == {"optimizer": "adamax", "lr": 3e-4, "betas": [0.9, 0.999],
                                                "weight_decay": 0.0}  # fmt: skip


def test_short_help_and_version():
    assert "COMMAND [ARGS]" in dlcanon("-h").stdout
    from dlcanon import __version__

    assert dlcanon("--version").stdout.strip() == f"dlcanon {__version__}"
