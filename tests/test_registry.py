import pytest

from dlcanon.errors import UserError
from dlcanon.registry import Registry


def test_register_build_and_names():
    reg = Registry("thing")

    @reg.register("alpha", tags=("F1",), data="digits")
    def alpha(x, *, scale=1):
        """Alpha builder."""
        return x * scale

    reg.add("beta", lambda: "b")
    assert reg.names() == ["alpha", "beta"]
    assert reg.build("alpha", 2, scale=3) == 6
    entry = reg.entry("alpha")
    assert entry.tags == ("F1",) and entry.meta == {"data": "digits"} and entry.doc == "Alpha builder."
    assert "alpha" in reg and "gamma" not in reg and len(reg) == 2


def test_unknown_name_suggests_close_matches():
    reg = Registry("model")
    reg.add("resnet18", object)
    reg.add("resnet34", object)
    with pytest.raises(UserError, match=r"unknown model 'resnet19'; did you mean resnet18"):
        reg.entry("resnet19")
    with pytest.raises(UserError, match="known: resnet18, resnet34"):
        reg.build("zzz")


def test_duplicate_registration_fails():
    reg = Registry("model")
    reg.add("a", object)
    with pytest.raises(ValueError, match="twice"):
        reg.add("a", object)


def test_presets_name_registered_components_and_typed_fields():
    import dlcanon.data
    import dlcanon.models
    import dlcanon.objectives  # noqa: F401
    from dlcanon.config import TrainConfig
    from dlcanon.presets import get
    from dlcanon.registry import DATASETS, MODELS, OBJECTIVES, PRESETS
    from dlcanon.runs import default_config

    for entry in PRESETS:
        cfg = default_config(entry.name)
        assert cfg.model in MODELS and cfg.objective in OBJECTIVES and cfg.data in DATASETS, entry.name
        assert cfg.preset == entry.name and isinstance(cfg.validate(), TrainConfig)
    # a model's default preset is the one of its name; the four toy GANs are one network with four presets
    assert default_config("lenet5").epochs == 30 and default_config("lenet5").preset == "lenet5"
    toys = {name: default_config(name) for name in ("gan", "nsgan", "wgan", "wgan-gp")}
    assert {c.model for c in toys.values()} == {"mlp_gan"} and "gan" not in MODELS
    assert (toys["wgan"].optimizer, toys["wgan"].momentum) == ("rmsprop", 0.0)
    assert toys["wgan-gp"].betas == (0.5, 0.9) and toys["gan"].objective_args == {"generator_loss": "minimax"}
    toys["gan"].objective_args["generator_loss"] = "x"  # a run's config never edits the registered preset
    assert get("gan").fields["objective_args"] == {"generator_loss": "minimax"}


def test_a_misspelt_or_ill_typed_preset_field_fails_at_registration():
    from dlcanon.presets import preset

    with pytest.raises(UserError, match=r"preset bad: unknown config field 'epoch'; did you mean epochs"):
        preset("bad", model="lenet5", doc="", epoch=5)
    with pytest.raises(UserError, match="batch_size expects an integer"):
        preset("bad", model="lenet5", doc="", batch_size=6.4)


def test_optimizers_registry_builds_each_with_the_settings_it_declares():
    import torch

    from dlcanon.optim import make_optimizer, used
    from dlcanon.registry import OPTIMIZERS

    assert set(OPTIMIZERS.names()) == {"sgd", "rmsprop", "adam", "adamw", "adamax", "adadelta"}
    settings = {"lr": 0.01, "betas": (0.8, 0.99), "weight_decay": 0.1, "momentum": 0.5}
    opt = make_optimizer([torch.nn.Parameter(torch.zeros(2))], {"optimizer": "adamax", **settings})
    assert isinstance(opt, torch.optim.Adamax) and opt.defaults["betas"] == (0.8, 0.99)
    sgd = {"optimizer": "sgd", "lr": 0.01, "momentum": 0.5, "weight_decay": 0.1}  # no betas: SGD reads none
    assert used({"optimizer": "sgd", **settings}) == sgd


def test_declared_reads_a_class_builders_constructor():
    """A class registered as its own builder is type-checked by its __init__'s hints, as a function would be."""
    from dlcanon.runs import declared

    class Denoiser:
        def __init__(self, network: object, *, sigma: float = 0.3, steps: int = 1) -> None: ...

    def build(network: object, *, sigma: float = 0.3) -> None: ...

    assert declared(Denoiser) == {"network": object, "sigma": float, "steps": int}
    assert declared(build) == {"network": object, "sigma": float}
