"""G16: every likelihood model of dlcanon on one test split, in bits per dimension with one convention.

Digits (8×8, 17 grey levels, the 360-image test split) are discrete, so every number is a bound on, or an
estimate of, −log₂ P(x)/D for the discrete images:

- a continuous density p on [0, 1)^D (PPCA, GMM, the Gaussian-decoder VAE and NVAE, the flows, FFJORD) models the
  uniformly dequantised data y = (k + u)/L and scores (−log p(y) + D ln L)/(D ln 2): the density's bits plus
  log₂ L = log₂ 17 = 4.087 (Theis et al., 2016). By Jensen's inequality it bounds the discrete model's bits;
- the VAEs add their own bound: the importance-weighted bound (IWAE) on log p(y) in place of log p(y);
- DDPM's variational bound ends in a discretised Gaussian decoder, a distribution on the 17 levels themselves:
  no offset is added.

The uniform distribution on the 17 levels scores exactly log₂ 17, the line every model must be below.
"""

from __future__ import annotations

import math
import time

from dlcanon.data import load_data
from dlcanon.experiments.base import Result, Table, experiment
from dlcanon.experiments.context import Context
from dlcanon.plots import figure

DEQUANTISED = "density of dequantised y, + log₂ L"
# name shown -> (preset or model, objective_args, what the number is)
MODELS: dict[str, tuple[str, dict, str]] = {
    "PPCA": ("ppca", {}, f"exact {DEQUANTISED}"),
    "GMM": ("gmm", {}, f"exact {DEQUANTISED}"),
    "VAE": ("vae", {"likelihood": "gaussian", "iwae_k": 100}, f"IWAE-100 bound, {DEQUANTISED}"),
    "NVAE": ("nvae", {"likelihood": "gaussian"}, f"IWAE-20 bound, {DEQUANTISED}"),
    "RealNVP": ("realnvp_digits", {}, f"exact {DEQUANTISED}, logit Jacobian counted"),
    "Glow": ("glow_digits", {}, f"exact {DEQUANTISED}, logit Jacobian counted"),
    "MAF": ("maf_digits", {}, f"exact {DEQUANTISED}, logit Jacobian counted"),
    "DDPM": ("ddpm_digits", {"fd_samples": 0, "eval_images": 360}, "variational bound, discretised decoder"),
    "FFJORD": ("ffjord_digits", {}, f"Hutchinson estimate of the exact {DEQUANTISED}"),
}
FITTED = ("PPCA", "GMM")  # closed form / EM: no optimiser steps
QUICK = {"models": ["PPCA", "GMM", "VAE", "NVAE", "RealNVP", "Glow", "MAF"], "steps": 200}
FULL = {"models": list(MODELS), "steps": 0}  # 0: each preset's own budget


def bits_of(metrics: dict[str, float]) -> float:
    """The test bits/dim, whichever name the objective reports it under."""
    return metrics["test_bpd"] if "test_bpd" in metrics else metrics["test_bits_per_dim"]


@experiment(
    "likelihoods",
    tags=("G16", "G13", "G14", "G5"),
    claim="One bookkeeping for every likelihood model: on digits' test split, in bits per dimension of the 17-level "
    "data, PPCA, GMM, the VAE and NVAE (importance-weighted bounds), RealNVP, Glow and MAF (and in full mode DDPM's "
    "bound and FFJORD) all score between 0 and the uniform distribution's log₂ 17 = 4.087 bits/dim.",
)
def likelihoods(ctx: Context) -> Result:
    """Each model at its preset's recipe for `steps` optimiser steps (0: the preset's budget) on digits."""
    s = ctx.pick(QUICK, FULL)
    data = load_data("digits")
    uniform = math.log2(17)
    rows, numbers = [], {}
    for name in s["models"]:
        preset, objective_args, convention = MODELS[name]
        fields = {"steps": s["steps"]} if s["steps"] and name not in FITTED else {}
        start = time.process_time()
        cfg, objective = ctx.build(preset, data, objective_args=objective_args, **fields)
        metrics = ctx.train(objective, data, cfg)["metrics"]
        numbers[name] = bits = bits_of(metrics)
        steps = "fitted" if name in FITTED else cfg.steps or f"{cfg.epochs} epochs"
        rows.append([name, preset, steps, convention, bits, round(time.process_time() - start, 1)])
    ranked = sorted(numbers, key=numbers.get)
    outside = [n for n, b in numbers.items() if not 0 < b < uniform]
    holds = not outside
    fig, axes = figure(1, width=6.0, height=0.45 * len(ranked) + 1.2)
    ax = axes[0]
    ax.barh(ranked[::-1], [numbers[n] for n in ranked[::-1]], color="tab:blue")
    ax.axvline(uniform, color="k", ls="--", label=f"uniform on 17 levels: log₂ 17 = {uniform:.3f}")
    ax.set(xlabel="test bits per dimension (lower is better)", title="Likelihood models on digits, one convention")
    ax.legend(loc="lower right", fontsize=8)
    budget = f"{s['steps']} optimiser steps each" if s["steps"] else "each preset's own budget"
    return Result(
        verdict=f"At {budget}, from best to worst: "
        + ", ".join(f"{n} {numbers[n]:.3f}" for n in ranked)
        + f" bits/dim against {uniform:.3f} for the uniform distribution. "
        + ("Every model lies between 0 and that line." if holds else f"Outside (0, {uniform:.3f}): {outside}.")
        + ("" if "DDPM" in numbers else " DDPM and FFJORD are in the full-mode table (`dlcanon reproduce "
           "likelihoods --full`): their bound and ODE solves cost minutes on a CPU."),
        holds=holds,
        tables=[
            Table(
                "Test bits per dimension of the 17-level digits (360 test images); CPU seconds include evaluation",
                ["model", "preset", "steps", "what the number is", "bits/dim", "CPU s"],
                [*rows, ["uniform", "–", "–", "log₂ 17, exact", uniform, 0.0]],
            )
        ],
        figures={"likelihoods": fig},
        captions={
            "likelihoods": "Every likelihood model's test bits/dim on digits; the dashed line is the uniform "
            "distribution on the 17 grey levels. Continuous densities pay log₂ 17 for dequantisation; DDPM's "
            "discretised decoder scores the levels directly."
        },
        numbers=numbers,
    )
