"""Issue 20, in process: names get close matches, tables keep typed names whole, `--print-config` shows the run
and writes nothing, a short budget is noted, `reproduce` takes curriculum tags, mistakes are one line."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from dlcanon.cli import app, expand_tags
from dlcanon.config import TrainConfig, resolved, write_json
from dlcanon.errors import UserError

runner = CliRunner()


@pytest.fixture(autouse=True)
def _own_cache(tmp_path_factory, monkeypatch):
    """`dlcanon list` caches its rows: in a directory of the test's own, not the user's cache."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path_factory.mktemp("cache")))


def ok(*args: str) -> str:
    result = runner.invoke(app, list(args))
    assert result.exit_code == 0, (result.output, result.exception)
    return result.stdout


def mistake(*args: str) -> str:
    """The one-line UserError a command raises (main() prints it and exits 2)."""
    result = runner.invoke(app, list(args))
    assert isinstance(result.exception, UserError), (result.output, result.exception)
    message = str(result.exception)
    assert "\n" not in message
    return message


def test_list_of_a_singular_kind_suggests_the_plural():
    assert "did you mean models?" in mistake("list", "model")


def test_an_unknown_dataset_names_the_listing_not_every_dataset():
    message = mistake("train", "lenet5", "--data", "xyzzy")
    assert "dlcanon list data" in message and "mnist5k" not in message


def test_a_misspelt_dataset_gets_close_matches():
    assert "did you mean mnist5k" in mistake("train", "lenet5", "--data", "mnist5l")


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["--set", "model_args.activaton=relu"], "lenet5 takes no argument 'activaton'; did you mean activation?"),
        (["--set", "model_args.zzz=1"], "known: activation, antialias"),
        (["--set", "objective_args.smoothing=0.1"], "did you mean label_smoothing?"),
    ],
)
def test_unknown_builder_arguments_name_the_valid_ones(args, needle, tmp_path):
    assert needle in mistake("train", "lenet5", *args, "--out", str(tmp_path / "run"))
    assert not (tmp_path / "run").exists()


def test_lenet5_with_a_gan_objective_is_one_line(tmp_path):
    message = mistake("train", "lenet5", "--objective", "gan", "--out", str(tmp_path / "r"))
    assert "AdversarialNetwork's members" in message
    assert not (tmp_path / "r").exists()


def test_eval_on_data_of_another_shape_is_one_line(tmp_path):
    cfg = TrainConfig(model="lenet5", data="mnist5k", objective="classifier")
    tmp_path.joinpath("run").mkdir()
    write_json(tmp_path / "run" / "config.json", resolved(cfg, data_info={"input_shape": [1, 28, 28]}))
    assert "evaluate it on data of its own shape" in mistake("eval", str(tmp_path / "run"), "--data", "digits")


def test_reproduce_expands_a_curriculum_tag_to_its_experiments():
    import dlcanon.experiments  # noqa: F401
    from dlcanon.registry import EXPERIMENTS

    tagged = [e.name for e in EXPERIMENTS if "F3" in e.tags]
    assert tagged and expand_tags(["F3"]) == tagged
    first = EXPERIMENTS.names()[0]
    assert expand_tags([first, "F3", first]) == [first, *[n for n in tagged if n != first]]
    assert expand_tags(["no_such_experiment"]) == ["no_such_experiment"]  # reproduce refuses it, with matches


def test_tables_keep_names_whole_and_formulas_escaped():
    losses = ok("list", "losses")
    assert "[p·y_n" in losses.replace("\n", "")  # bce_with_logits' formula: rich markup escaped, not dropped
    assert "cvae_conditional_samples" in ok("list", "experiments")


def test_print_config_shows_every_player_and_writes_nothing(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    cfg = json.loads(ok("train", "wgan-gp", "--print-config", "--json", "--out", "R"))
    assert cfg["epochs"] == 62 and cfg["objective_args"]["gp_weight"] == 0.1 and cfg["objective_args"]["n_critic"] == 5
    for player in ("discriminator", "generator"):
        assert cfg["optimizers"][player] == {"optimizer": "adam", "lr": 1e-3, "betas": [0.5, 0.9], "weight_decay": 0.0}
    assert cfg["model_args"]["latent_dim"] == 2
    assert list(tmp_path.iterdir()) == []  # no run directory, no runs/


def test_print_config_reaches_every_player_with_lr():
    cfg = json.loads(ok("train", "gan", "--lr", "3e-4", "--print-config", "--json"))
    assert {p["lr"] for p in cfg["optimizers"].values()} == {3e-4}


def test_a_budget_below_the_presets_is_noted():
    from dlcanon.runs import budget_note, configure

    note = budget_note(configure("lenet5", epochs=2))
    assert note and "2 epochs" in note and "lenet5's 30" in note and "\n" not in note
    assert budget_note(configure("lenet5")) is None
    assert budget_note(configure("lenet5", epochs=40)) is None
    assert "100 steps" in budget_note(configure("unet_small", steps=100))


def test_info_shows_the_default_recipe():
    out = ok("info", "wgan-gp")
    assert "default recipe (preset wgan-gp)" in out and "gp_weight = 0.1" in out and "(0.5, 0.9)" in out


def test_the_wgan_gp_preset_documents_where_it_departs_from_the_paper():
    from dlcanon.registry import OBJECTIVES, PRESETS
    from dlcanon.runs import default_config

    cfg = default_config("wgan-gp")
    doc = PRESETS.entry("wgan-gp").doc
    assert cfg.objective_args["gp_weight"] == 0.1 and "λ = 0.1" in doc and "β = (0.5, 0.9)" in doc
    assert cfg.betas == (0.5, 0.9) and "paper's 10" in doc
    assert "λ = 10 (the paper's" in OBJECTIVES.entry("wgan-gp").doc


def test_a_builder_that_passes_keywords_to_another_builder_takes_that_builders_arguments():
    """cgan forwards **kwargs to dcgan's builder (not to the GANNetwork its annotation names): `condition` is
    accepted, and a misspelt key is still one line naming it."""
    from dlcanon.data import load_data
    from dlcanon.errors import UserError
    from dlcanon.runs import build_objective, default_config

    data = load_data("mnist5k")
    build_objective(default_config("cgan", model_args={"condition": "concat"}), data)
    with pytest.raises(UserError, match="takes no argument 'conditoin'"):
        build_objective(default_config("cgan", model_args={"conditoin": "concat"}), data)
