"""Every registered model that is not a plain classifier takes one real step through its own objective and the
Trainer on a few samples of its default data (models with no updates are fitted in closed form instead)."""

import pytest
import torch

from dlcanon.data import DataBundle, load_data
from dlcanon.registry import MODELS
from dlcanon.runs import build_objective, default_config
from dlcanon.train import Trainer

# ImageNet configurations (with an `input_shape` meta) are stepped on the meta device in test_models.py
NON_CLASSIFIERS = [
    e.name for e in MODELS if e.meta.get("objective", "classifier") != "classifier" and "input_shape" not in e.meta
]


def small(bundle: DataBundle, n_train: int, n_test: int) -> DataBundle:
    return DataBundle(
        bundle.name,
        bundle.train.subset(slice(0, n_train)),
        bundle.test.subset(slice(0, n_test)),
        bundle.num_classes,
        bundle.kind,
    )


@pytest.mark.parametrize("name", NON_CLASSIFIERS)
def test_model_steps_through_its_objective(name):
    torch.manual_seed(0)
    cfg = default_config(name, device="cpu", tensorboard=False, epochs=1, batch_size=8, eval_every=0)
    data = load_data(cfg.data, **cfg.data_args)
    objective = build_objective(cfg, small(data, 96, 16))
    trainer = Trainer(objective, small(data, 96, 16), cfg, progress=False)
    if not trainer.updates:  # fitted in closed form
        summary = trainer.fit()
        assert summary["steps"] == 0 and summary["metrics"], summary
        return
    before = {k: v.detach().clone() for k, v in objective.state_dict().items()}
    losses = torch.zeros((), dtype=torch.float64)
    logs = trainer.train_step(trainer.batches(0), losses)
    assert bool(losses.isfinite()) and logs and all(torch.isfinite(v).all() for v in logs.values()), logs
    after = objective.state_dict()
    assert any(not torch.equal(before[k], after[k]) for k in before), "no parameter moved"


# The error contract for values: for every registered builder (by its function), a wrong-typed and an out-of-range
# argument. A new builder fails `test_every_builder_has_probes` until it is given its two probes here.
MODEL_PROBES = {
    "build_alexnet": ({"groups": "x"}, {"groups": 0}),
    "build_ensemble": ({"k": "x"}, {"k": 0}),
    "build_densenet": ({"growth": "x"}, {"growth": -1}),
    "build_densenet_bc": ({"depth": "x"}, {"depth": 41}),
    "build_dcgan": ({"width": "x"}, {"width": -1}),
    "build_cgan": ({"width": "x"}, {"width": -1}),
    "build_mlp_gan": ({"latent_dim": "x"}, {"condition": "sideways"}),
    "build_gmm": ({"components": "x"}, {"covariance": "round"}),
    "build_googlenet": ({"scale": "x"}, {"stem": "x"}),
    "build_hnet": ({"channels": "x"}, {"kernel_size": -1}),
    "build_small_cnn": ({"channels": "x"}, {"channels": -1}),
    "build_lapgan": ({"width": "x"}, {"width": -1}),
    "build_progan": ({"width": "x"}, {"width": -1}),
    "build_stylegan": ({"width": "x"}, {"width": -1}),
    "build_lenet5": ({"activation": 3}, {"activation": "x"}),
    "build_fastcnn": ({"width": "x"}, {"width": -1}),
    "build_mlp": ({"hidden": "x"}, {"activation": "x"}),
    "build_shallow": ({"units": "x"}, {"units": -1}),
    "build_nvae": ({"groups": "x"}, {"latent_channels": -1}),
    "build_ppca": ({"latent_dim": "x"}, {"latent_dim": 0}),
    "build_resnet": ({"block": 3}, {"stem": "x"}),
    "build_siren": ({"hidden": "x"}, {"hidden": -1}),
    "build_pe_mlp": ({"frequencies": "x"}, {"hidden": -1}),
    "build_mlp_vae": ({"hidden": "x"}, {"latent_dim": -1}),
    "build_conv_vae": ({"channels": "x"}, {"latent_dim": -1}),
    "build_cvae": ({"hidden": "x"}, {"latent_dim": -1}),
    "build_vgg": ({"depth": "x"}, {"depth": 12}),
    "build_unet": ({"padding": 3}, {"padding": "x"}),
    "build_unetpp": ({"filters": "x"}, {"dropout": 2.0}),
    "build_hdenseunet": ({"growth2d": "x"}, {"growth2d": -1}),
    "build_energy_mlp": ({"hidden": "x"}, {"hidden": [0]}),
    "build_energy_cnn": ({"channels": "x"}, {"channels": [-1]}),
    "build_jem_cnn": ({"spectral_norm": "x"}, {"channels": []}),
    "build_realnvp": ({"couplings": "x"}, {"width": -1}),
    "build_glow": ({"steps": "x"}, {"levels": 0}),
    "build_maf": ({"hidden": "x"}, {"layers": 0}),
    "build_srresnet": ({"width": "x"}, {"width": -1}),
    "build_srgan": ({"d_width": "x"}, {"scale": 3}),
    "build_srresnet_small": ({"blocks": "x"}, {"blocks": -1}),
    "build_srgan_small": ({"d_dense": "x"}, {"d_pool": 0}),
    "build_pix2pix": ({"ngf": "x"}, {"discriminator": "x"}),
    "build_pix2pix_small": ({"patch_layers": "x"}, {"patch_layers": 9}),
    "build_ddpm": ({"channels": "x"}, {"time_dim": 3}),
    "build_ffjord": ({"hidden": "x"}, {"hidden": -1}),
}
OBJECTIVE_PROBES = {  # objective: (a model it trains, wrong-typed, out-of-range)
    "classifier": ("mlp", {"label_smoothing": "x"}, {"label_smoothing": 1.5}),
    "classifier_aux": ("googlenet_small", {"aux_weight": "x"}, {"aux_weight": -1.0}),
    "regressor": ("siren", {"loss": 3}, {"loss": "x"}),
    "siamese": ("mlp", {"margin": "x"}, {"loss": "x"}),
    "vae": ("vae", {"beta": "x"}, {"beta": -1.0}),
    "cvae": ("cvae", {"beta": "x"}, {"beta": -1.0}),
    "nvae": ("nvae", {"kl_warmup": "x"}, {"kl_warmup": 2.0}),
    "ppca": ("ppca", {"method": 3}, {"method": "x"}),
    "gmm": ("gmm", {"max_iter": "x"}, {"max_iter": 0}),
    "gan": ("mlp_gan", {"n_critic": "x"}, {"gp_weight": -1.0}),
    "wgan": ("mlp_gan", {"n_critic": "x"}, {"clip": -1.0}),
    "wgan-gp": ("mlp_gan", {"n_critic": "x"}, {"gp_weight": -1.0}),
    "segmenter": ("unet_small", {"ce_weight": "x"}, {"deep_supervision": "x"}),
    "ebm": ("energy_mlp", {"step_size": "x"}, {"reinit": 1.5}),
    "jem": ("jem_cnn", {"generative": "x"}, {"generative": -1.0}),
    "flow": ("realnvp", {"logit_alpha": "x"}, {"logit_alpha": 0.5}),
    "sr": ("srresnet_small", {"pixel_weight": "x"}, {"patch": 30}),
    "pix2pix": ("pix2pix_small", {"l1_weight": "x"}, {"gan_weight": -1.0}),
    "ddpm": ("ddpm", {"timesteps": "x"}, {"schedule": "quadratic"}),
    "ffjord": ("ffjord", {"eval_points": "x"}, {"rtol": 2.0}),
}


def function_of(entry) -> str:
    return getattr(entry.builder, "func", entry.builder).__name__  # variants are partials of one builder


def sized(model: str):
    """What `build_objective` reads of a bundle, for the model's registered or default data (no data in memory)."""
    from types import SimpleNamespace

    from dlcanon.modelinfo import data_shape, registered_shape

    shape, classes = registered_shape(model) or data_shape(MODELS.entry(model).meta.get("data", "mnist5k"))
    return SimpleNamespace(name="its data", input_shape=shape, num_classes=classes)


def assert_refused(cfg, model: str) -> None:
    from dlcanon.errors import UserError

    bundle = sized(model)
    with pytest.raises(UserError) as info, torch.device("meta"):  # the meta device: shapes, no memory
        build_objective(cfg, bundle)
    assert info.value.exit_code == 2 and "\n" not in str(info.value), str(info.value)


def test_every_builder_has_probes():
    from dlcanon.registry import OBJECTIVES

    assert {function_of(e) for e in MODELS} <= set(MODEL_PROBES)
    assert set(OBJECTIVES.names()) <= set(OBJECTIVE_PROBES)


@pytest.mark.parametrize("name", MODELS.names())
def test_a_bad_model_argument_is_one_user_error_line(name):
    for args in MODEL_PROBES[function_of(MODELS.entry(name))]:
        assert_refused(default_config(name, model_args=args), name)


@pytest.mark.parametrize("objective", sorted(OBJECTIVE_PROBES))
def test_a_bad_objective_argument_is_one_user_error_line(objective):
    model, *probes = OBJECTIVE_PROBES[objective]
    for args in probes:
        assert_refused(default_config(model, objective=objective, objective_args=args), model)
