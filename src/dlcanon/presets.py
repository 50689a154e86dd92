"""Presets: named, typed training configurations (`dlcanon list presets`, `dlcanon train NAME`).

A preset names the model it trains (and its objective and data, when they differ from the model's registered
defaults) and sets TrainConfig fields, checked against the dataclass when it is registered: a misspelt or
ill-typed key fails at import, not silently. A model's default preset is the preset of the same name; a model
without one trains with TrainConfig's defaults. Models are networks only; the recipes live here.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any

from dlcanon.config import TrainConfig, check_fields
from dlcanon.registry import PRESETS


@dataclass(frozen=True)
class Preset:
    """A registered configuration of `model`: its objective and data ("" for the model's own) and fields."""

    name: str
    model: str
    objective: str = ""  # "" : the model's registered objective
    data: str = ""  # "" : the model's registered data
    fields: dict[str, Any] = field(default_factory=dict)

    def config(self, *, data: str) -> TrainConfig:
        """TrainConfig's defaults, then the preset's; `data` (the model's default) unless the preset names one."""
        fields = copy.deepcopy(self.fields)  # --set must never edit the registered preset
        data = self.data or data
        return TrainConfig(model=self.model, objective=self.objective, data=data, preset=self.name, **fields)


def preset(name: str, *, model: str, doc: str, tags: tuple[str, ...] = (), objective: str = "", data: str = "",
           **fields: Any) -> Preset:  # fmt: skip
    """Register a preset; `fields` are TrainConfig fields, coerced to their types (a bad key is an error)."""
    checked = check_fields(fields, what=f"preset {name}")
    for key in ("model", "objective", "data", "preset"):
        if key in checked:
            raise ValueError(f"preset {name}: give {key} as the preset's own argument, not as a field")
    entry = Preset(name, model, objective, data, checked)
    PRESETS.add(name, entry, tags=tags, doc=doc, model=model)
    return entry


def get(name: str) -> Preset:
    return PRESETS.entry(name).builder


# ---------------------------------------------------------------------------------------------- classifiers
preset("lenet5", model="lenet5", tags=("C1",), doc="LeNet-5 on mnist5k: AdamW 3e-3, one-cycle, 30 epochs, ≥ 98 %",
       epochs=30, batch_size=64, lr=3e-3, optimizer="adamw", weight_decay=5e-4, schedule="onecycle",
       augment="translate,rotate,scale")  # fmt: skip

_ROTATION = dict(epochs=10, batch_size=64, lr=3e-3, optimizer="adamw", precision="fp32")
preset("hnet", model="hnet", tags=("F7",), doc="H-Net on rotated mnist5k: AdamW 3e-3, 10 epochs", **_ROTATION)
preset("small_cnn", model="small_cnn", tags=("F7",), doc="The H-Net's plain CNN twin, same recipe", **_ROTATION)

# ------------------------------------------------------------------------------------ latent-variable models
preset("ppca", model="ppca", tags=("G1",), doc="Probabilistic PCA, fitted in closed form", epochs=1)
preset("gmm", model="gmm", tags=("G2",), doc="Gaussian mixture by EM, fitted in closed form", epochs=1)

# Adam at 10⁻³ (Kingma & Welling used Adagrad; Adam is today's default); 100 epochs of mnist5k (3,100 steps, about
# 40 s on two CPU cores for the MLP, where the test ELBO stops improving), 30 for the conv net.
_VAE = dict(epochs=100, batch_size=128, lr=1e-3, optimizer="adam", eval_every=25)
preset("vae", model="vae", tags=("G3",), doc="MLP VAE on mnist5k: Adam 1e-3, 100 epochs", **_VAE)
preset("vae_conv", model="vae_conv", tags=("G3",), doc="Conv VAE on mnist5k: Adam 1e-3, 30 epochs",
       **_VAE | dict(epochs=30, eval_every=10))  # fmt: skip
preset("cvae", model="cvae", tags=("G4",), doc="Conditional MLP VAE on mnist5k: Adam 1e-3, 100 epochs", **_VAE)

# Adam at 10⁻² with a 10 % linear warm-up and a cosine decay, gradients clipped at norm 100 (the paper: Adamax at
# 10⁻², warm-up, cosine; `--optimizer adamax` trains with it); the objective's KL warm-up is 30 % of the run,
# as the paper's kl_anneal_portion = 0.3.
preset("nvae", model="nvae", tags=("G5",), doc="NVAE on mnist5k: Adam 1e-2, LR warm-up + cosine, 20 epochs",
       epochs=20, batch_size=64, lr=1e-2, optimizer="adam", schedule="cosine", warmup=0.1, grad_clip=100.0,
       eval_every=10)  # fmt: skip

# ------------------------------------------------------------------------------------------ 2-D toy GANs
# One network (`mlp_gan`) on ring8 (10,000 points), ≈ 800 generator steps at batch 128 (one step of a K-critic
# objective takes K + 1 batches): the papers' optimisers with larger steps decayed to 0 by a cosine schedule —
# Adam 1e-3 (β = (0.5, 0.999) for GAN, (0.5, 0.9) for WGAN-GP as in Gulrajani et al.'s toy code) and RMSprop 5e-4
# without momentum for WGAN (10× the paper's 5e-5, at which the critic barely moves in a thousand steps).
# WGAN-GP uses λ = 0.1, the value of the authors' own 2-D experiments ("smaller lambda seems to help for toy
# tasks"); the objectives' own defaults are the papers' (λ = 10).
_TOY = dict(batch_size=128, schedule="cosine", eval_every=0, log_every=100)
_ADAM = dict(optimizer="adam", lr=1e-3, betas=(0.5, 0.999))
preset("gan", model="mlp_gan", objective="gan", tags=("G6",), doc="minimax GAN (Goodfellow et al., 2014) on ring8",
       epochs=21, objective_args={"generator_loss": "minimax"}, **_TOY, **_ADAM)  # fmt: skip
preset("nsgan", model="mlp_gan", objective="gan", tags=("G6",), doc="non-saturating GAN on ring8",
       epochs=21, objective_args={"generator_loss": "nonsaturating"}, **_TOY, **_ADAM)  # fmt: skip
preset("wgan", model="mlp_gan", objective="wgan", tags=("G7",),
       doc="WGAN, weight clipping, RMSprop (Arjovsky et al., 2017) on ring8",
       epochs=62, optimizer="rmsprop", lr=5e-4, momentum=0.0, objective_args={"n_critic": 5}, **_TOY)  # fmt: skip
preset("wgan-gp", model="mlp_gan", objective="wgan-gp", tags=("G7",),
       doc="WGAN-GP, gradient penalty (Gulrajani et al., 2017) on ring8",
       epochs=62, objective_args={"n_critic": 5, "gp_weight": 0.1},
       **_TOY | _ADAM | dict(betas=(0.5, 0.9)))  # fmt: skip

# ------------------------------------------------------------------------------------------- image GANs
# 20 epochs of mnist5k at batch 64: 31 steps an epoch (each a D and a G batch), 620 steps, about 35 s on one CPU
# core. Adam(β = (0.5, 0.999)) as DCGAN (Radford et al., 2016), at larger steps than its 2e-4: over 600 steps on
# mnist5k the conditional DCGAN reached a Fréchet distance of 28 at 1e-3, 59 at 5e-4 and 79 at 2e-4 (930
# steps); LAPGAN and StyleGAN at 5e-4 (2e-4 barely moves in that budget, 1e-3 oscillates).
_IMAGE_GAN = dict(epochs=20, batch_size=64, eval_every=0, log_every=50, optimizer="adam", betas=(0.5, 0.999))
preset("dcgan", model="dcgan", tags=("G9",), doc="DCGAN on mnist5k: Adam 1e-3, β = (0.5, 0.999)",
       **_IMAGE_GAN | dict(lr=1e-3))  # fmt: skip
preset("cgan", model="cgan", tags=("G8",), doc="Conditional DCGAN on mnist5k: Adam 1e-3",
       **_IMAGE_GAN | dict(lr=1e-3, log_every=100))  # fmt: skip
preset("lapgan", model="lapgan", tags=("G10",), doc="LAPGAN on mnist5k: Adam 5e-4", **_IMAGE_GAN | dict(lr=5e-4))
preset("stylegan", model="stylegan", tags=("G12",), doc="StyleGAN on mnist5k: Adam 5e-4",
       **_IMAGE_GAN | dict(lr=5e-4))  # fmt: skip
# ProGAN (Karras et al., 2018): WGAN-GP with one critic step per generator step, Adam(1e-3, β = (0, 0.99)), drift
# ε = 0.001, batch 32.
preset("progan", model="progan", tags=("G11",), doc="ProGAN on mnist5k: WGAN-GP, Adam 1e-3, β = (0, 0.99)",
       **_IMAGE_GAN | dict(batch_size=32, lr=1e-3, betas=(0.0, 0.99)),
       objective_args={"n_critic": 1, "drift": 1e-3})  # fmt: skip
