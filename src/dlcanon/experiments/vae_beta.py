"""G3: β-VAE and KL annealing: β trades rate (KL) against distortion (reconstruction); β = 1 is the ELBO."""

from __future__ import annotations

import itertools

from dlcanon.data import load_data
from dlcanon.experiments.base import Result, Table, experiment
from dlcanon.experiments.context import Context, final_metrics
from dlcanon.plots import figure

BETAS = (0.5, 1.0, 2.0, 4.0)
QUICK, FULL = {"epochs": 8}, {"epochs": 50}


@experiment(
    "vae_beta_annealing",
    tags=("G3",),
    claim="Raising the KL weight β lowers the rate KL[q(z|x) ‖ p(z)] and raises the distortion −E_q log p(x|z); "
    "β = 1 is the weight at which the loss is the negative ELBO; KL annealing ramps β from 0 to 1.",
)
def vae_beta_annealing(ctx: Context) -> Result:
    """MLP VAEs on mnist5k for β ∈ {0.5, 1, 2, 4}, and β = 1 reached by linear annealing over half the steps."""
    epochs = ctx.pick(QUICK, FULL)["epochs"]
    steps = epochs * 31  # 4,000 images in batches of 128
    data = load_data("mnist5k")
    runs = [(f"β = {b:g}", {"beta": b}) for b in BETAS] + [("β: 0 → 1 (annealed)", {"anneal_steps": steps // 2})]
    rows, points = [], {}
    for label, args in runs:
        cfg, vae = ctx.build("vae", data, epochs=epochs, objective_args={"iwae_k": 10, **args})
        m = final_metrics(ctx.train(vae, data, cfg))
        rows.append([label, m["kl"], m["reconstruction"], m["elbo"], m["nll_iwae"]])
        points[label] = (m["reconstruction"], m["kl"])
    rates = [r[1] for r in rows[: len(BETAS)]]
    distortions = [r[2] for r in rows[: len(BETAS)]]
    holds = all(a > b for a, b in itertools.pairwise(rates)) and all(a < b for a, b in itertools.pairwise(distortions))
    fig, (ax,) = figure(width=5)
    for label, (d, r) in points.items():
        ax.scatter(d, r, s=25)
        ax.annotate(label, (d, r), fontsize=7, xytext=(4, 2), textcoords="offset points")
    d_lo, d_hi = ax.get_xlim()
    for total in sorted({round(-r[3], -1) for r in rows}):  # lines of equal ELBO: D + R = −ELBO
        ax.plot([d_lo, d_hi], [total - d_lo, total - d_hi], ":", lw=0.7, color="gray")
    ax.set(
        xlim=(d_lo, d_hi),
        ylim=(0, max(rates) * 1.3),
        xlabel="distortion −E_q log p(x|z) (nats)",
        ylabel="rate KL (nats)",
    )
    ax.set(title="Rate vs distortion (dotted: equal ELBO)")
    best = max(rows, key=lambda r: r[3])
    anneal, plain = rows[-1], rows[1]
    verdict = (
        f"After {epochs} epochs each, the rate falls {' > '.join(f'{r:.1f}' for r in rates)} nats and the distortion "
        f"rises {' < '.join(f'{d:.1f}' for d in distortions)} nats as β goes {', '.join(f'{b:g}' for b in BETAS)}; "
        f"the best test ELBO is {best[0]}'s ({best[3]:.1f} nats); annealing β over the first half gives ELBO "
        f"{anneal[3]:.1f} and rate {anneal[1]:.1f} vs {plain[3]:.1f} and {plain[1]:.1f} without."
    )
    return Result(
        verdict=verdict,
        holds=holds,
        tables=[
            Table(
                "β-VAE on mnist5k, test split (nats per image; ELBO and IWAE always with β = 1)",
                ["β", "rate (KL)", "distortion", "ELBO", "−IWAE_10"],
                rows,
            )
        ],
        figures={"rate_distortion": fig},
        captions={"rate_distortion": "Each run's test rate and distortion; dotted lines have equal ELBO = −(D + R)."},
        numbers={"rates": rates, "distortions": distortions},
    )
