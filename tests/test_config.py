import json

import pytest

from dlcanon.config import TrainConfig, apply_overrides, parse_value, resolved, write_json
from dlcanon.errors import UserError


def test_parse_value_literals():
    assert parse_value("3") == 3 and parse_value("0.5") == 0.5 and parse_value("true") is True
    assert parse_value("[1, 2]") == [1, 2] and parse_value("relu") == "relu" and parse_value("None") is None


def test_overrides_coerce_and_nest():
    cfg = apply_overrides(TrainConfig(), ["lr=1", "epochs=3", "compile=true", "model_args.hidden=[8, 8]"])
    assert cfg.lr == 1.0 and isinstance(cfg.lr, float) and cfg.epochs == 3 and cfg.compile is True
    assert cfg.model_args == {"hidden": [8, 8]}


@pytest.mark.parametrize(
    ("assignment", "message"),
    [
        ("lrr=1", "unknown config field 'lrr'; did you mean lr"),
        ("epochs=2.5", "epochs expects an integer; got 2.5"),
        ("lr=fast", "lr expects a number; got 'fast'"),
        ("compile=1", "compile expects true or false"),
        ("novalue", "--set expects key=value"),
        ("lr.x=1", "lr has no sub-fields"),
    ],
)
def test_bad_overrides_are_user_errors(assignment, message):
    with pytest.raises(UserError, match=message):
        apply_overrides(TrainConfig(), [assignment])


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("precision", "fp8"),
        ("device", "tpu"),
        ("epochs", 0),
        ("lr", -1.0),
        ("ema", 1.0),
        ("weight_decay", -1.0),
        ("momentum", -0.5),
        ("warmup", -5.0),
        ("warmup", 1.5),
        ("gamma", -0.1),
        ("grad_clip", -1.0),
        ("eval_every", -1),
        ("checkpoint_every", -2),
        ("step_size", -3),
        ("steps", -1),
    ],
)
def test_validate_rejects_bad_values(field, value):
    cfg = TrainConfig()
    setattr(cfg, field, value)
    with pytest.raises(UserError, match=field):
        cfg.validate()


def test_resolved_round_trip(tmp_path):
    cfg = apply_overrides(TrainConfig(), ["lr=0.1", "objective_args.label_smoothing=0.1"])
    write_json(tmp_path / "config.json", resolved(cfg))
    saved = json.loads((tmp_path / "config.json").read_text())
    assert saved["version"] and "git" in saved
    assert TrainConfig.from_dict(saved) == cfg


def test_betas_and_per_player_settings_are_typed():
    cfg = apply_overrides(
        TrainConfig(), ["betas=(0.5, 0.9)", "players.discriminator.lr=4e-4", "players.generator.optimizer=adamax"]
    ).validate()
    assert cfg.betas == (0.5, 0.9)
    assert cfg.players == {"discriminator": {"lr": 4e-4}, "generator": {"optimizer": "adamax"}}
    saved = json.loads(json.dumps(resolved(cfg)))  # JSON turns tuples into lists; the config turns them back
    assert TrainConfig.from_dict(saved) == cfg


@pytest.mark.parametrize(
    ("assignment", "message"),
    [
        ("betas=0.5", "betas expects 2 values"),
        ("betas=(0.5, 'x')", "betas expects a number"),
        ("players.critic.lrr=1", "players.critic.lrr is not an optimiser setting"),
        ("players.critic.lr=fast", "players.critic.lr expects a number"),
        ("players.critic.optimizer=adamm", "players.critic.optimizer must be one of .*adamax"),
        ("players.critic.lr=-1", "players.critic.lr must be positive"),
        ("players.critic=3", "players.critic expects a dict"),
        ("steps=-1", "steps must be 0"),
        ("accumulate=0", "accumulate must be a positive integer"),
        ("optimizer=lion", "optimizer must be one of adadelta, adam, adamax, adamw, rmsprop, sgd"),
    ],
)
def test_bad_optimiser_settings_are_user_errors(assignment, message):
    with pytest.raises(UserError, match=message):
        apply_overrides(TrainConfig(), [assignment]).validate()


def test_torchs_own_optimiser_checks_are_one_line_errors():
    from torch import nn

    from dlcanon.optim import make_optimizer

    params = list(nn.Linear(2, 1).parameters())
    with pytest.raises(UserError, match="optimizer adam: Invalid learning rate"):
        make_optimizer(params, {"optimizer": "adam", "lr": -1.0, "betas": (0.9, 0.999), "weight_decay": 0.0})
