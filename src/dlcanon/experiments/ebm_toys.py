"""G15 on 2-D data: the energy an EBM learns, its Langevin samples, and its mode coverage beside a GAN's."""

from __future__ import annotations

import torch
from torch import Tensor

from dlcanon.data import load_data
from dlcanon.data.base import DataBundle
from dlcanon.experiments.base import Result, Table, experiment
from dlcanon.experiments.context import Context
from dlcanon.metrics.generative import sample_quality
from dlcanon.objectives.ebm import EBM
from dlcanon.plots import figure

MIXTURES = ("ring8", "gaussians8")  # labelled Gaussian mixtures: mode coverage applies; moons: precision/recall
# the GANs (presets, their own recipes) train on `gan_datasets` only: the quick mode compares on ring8 alone
QUICK = {"datasets": ["ring8", "gaussians8", "moons"], "ebm_steps": 500, "gans": ["wgan-gp"], "gan_steps": 250,
         "gan_datasets": ["ring8"]}  # fmt: skip
FULL = {"datasets": ["ring8", "gaussians8", "moons"], "ebm_steps": 1200, "gans": ["nsgan", "wgan-gp"], "gan_steps": 800,
        "gan_datasets": ["ring8", "gaussians8", "moons"]}  # fmt: skip
SAMPLES = 2500


def limits(data: DataBundle) -> tuple[float, float, float, float]:
    """The plotting box: the data's range widened by 20 % each side."""
    x = data.train.x
    lo, hi = x.min(0).values, x.max(0).values
    pad = 0.2 * (hi - lo)
    return float(lo[0] - pad[0]), float(hi[0] + pad[0]), float(lo[1] - pad[1]), float(hi[1] + pad[1])


@torch.no_grad()
def energy_grid(ebm: EBM, box: tuple[float, float, float, float], n: int = 120) -> tuple[Tensor, Tensor, Tensor]:
    """E on an n × n grid over `box`: (X, Y, E), each (n, n)."""
    xs, ys = torch.linspace(box[0], box[1], n), torch.linspace(box[2], box[3], n)
    gx, gy = torch.meshgrid(xs, ys, indexing="xy")
    e = ebm.energy(torch.stack([gx.flatten(), gy.flatten()], 1)).view(n, n)
    return gx, gy, e


def scores(name: str, fake: Tensor, metrics: dict[str, float], real: Tensor) -> dict[str, float]:
    """Modes covered and high-quality share (mixtures, from the objective's evaluation) and precision/recall of
    the 2-D coordinates against the test points (every dataset, computed here alike for both families)."""
    out = sample_quality(real, fake[: len(real)])
    out = {"precision": out["precision"], "recall": out["recall"]}
    if name in MIXTURES:
        out |= {k: metrics[f"test_{k}"] for k in ("modes_covered", "high_quality_share")}
    return out


@experiment(
    "ebm_toys",
    tags=("G15", "G16"),
    claim="An EBM trained by contrastive divergence on persistent Langevin chains learns an energy whose minima "
    "are the data's modes: its samples cover all 8 modes of ring8 and of gaussians8 and follow both half circles "
    "of moons (precision and recall of the 2-D samples ≥ 0.8); GANs' samples on the same data are shown beside.",
)
def ebm_toys(ctx: Context) -> Result:
    """The `ebm` preset and the GAN presets (`ctx.build`) on ring8, gaussians8 and moons."""
    s = ctx.pick(QUICK, FULL)
    methods = ["EBM", *s["gans"]]
    rows, numbers = [], {}
    fig, axes = figure(1 + len(methods), nrows=len(s["datasets"]), width=2.6, height=2.6)
    for r, name in enumerate(s["datasets"]):
        data = load_data(name)
        real, box = data.test.x, limits(data)
        cfg, ebm = ctx.build("ebm", data, steps=s["ebm_steps"])
        runs = {"EBM": (ebm, ctx.train(ebm, data, cfg)["metrics"], s["ebm_steps"])}
        for preset in s["gans"] if name in s["gan_datasets"] else []:
            cfg, gan = ctx.build(preset, data, steps=s["gan_steps"])
            runs[preset] = (gan, ctx.train(gan, data, cfg)["metrics"], s["gan_steps"])
        row_axes = axes[r * (1 + len(methods)) : (r + 1) * (1 + len(methods))]
        gx, gy, e = energy_grid(ebm, box)
        e = e.clamp(max=float(e.quantile(0.9)))  # the far corners would take the whole colour scale
        contour = row_axes[0].contourf(gx.numpy(), gy.numpy(), e.numpy(), levels=30, cmap="viridis")
        fig.colorbar(contour, ax=row_axes[0], shrink=0.8, label="E(x)")
        row_axes[0].set(title=f"{name}: learned energy", xlabel="x₁", ylabel="x₂")
        for ax in row_axes[1 + len(runs) :]:
            ax.set_axis_off()
        for ax, (method, (model, metrics, steps)) in zip(row_axes[1:], runs.items(), strict=False):
            fake = model.sample(SAMPLES, seed=1).cpu()
            numbers[f"{name}/{method}"] = found = scores(name, fake, metrics, real)
            modes = found.get("modes_covered", "–")
            rows.append([name, method, steps, modes, found.get("high_quality_share", "–"), found["precision"],
                         found["recall"]])  # fmt: skip
            ax.scatter(*real.numpy().T, s=1, c="k", label="data")
            ax.scatter(*fake.numpy().T, s=1, alpha=0.25, c="tab:orange", label="samples")
            ax.set(xlim=box[:2], ylim=box[2:], xlabel="x₁", ylabel="x₂")
            ax.set_title(f"{method}, {steps} steps" + (f"\n{modes}/8 modes" if name in MIXTURES else ""), fontsize=8)
    ebm_modes = [numbers[f"{n}/EBM"]["modes_covered"] for n in s["datasets"] if n in MIXTURES]
    moons = [numbers[f"{n}/EBM"] for n in s["datasets"] if n == "moons"]
    holds = all(m == 8 for m in ebm_modes) and all(m["precision"] >= 0.8 and m["recall"] >= 0.8 for m in moons)
    described = "; ".join(
        f"{row[0]} {row[1]}: "
        + (f"{row[3]} modes, {row[4]:.0%} within 3σ, " if row[0] in MIXTURES else "")
        + f"precision {row[5]:.2f}, recall {row[6]:.2f}"
        for row in rows
    )
    return Result(
        verdict=f"{described}. The EBM {'covers' if holds else 'does not cover'} every mode"
        f"{'' if holds else ' or misses moons'} in {s['ebm_steps']} steps (samples: {SAMPLES} Langevin chains "
        f"continued from the replay buffer); the GANs had their presets' recipes for {s['gan_steps']} steps.",
        holds=holds,
        tables=[
            Table(
                f"Mode coverage (≥ 20 of {SAMPLES} samples within 3σ) and precision/recall of 2-D samples",
                ["data", "method", "steps", "modes covered", "within 3σ", "precision", "recall"],
                rows,
            )
        ],
        figures={"ebm_toys": fig},
        captions={
            "ebm_toys": "Per dataset: the EBM's learned energy E(x) (dark = low energy = high density), then 2,500 "
            "samples (orange) of the EBM (persistent Langevin chains) and of each GAN over the test data (black)."
        },
        numbers=numbers,
    )
