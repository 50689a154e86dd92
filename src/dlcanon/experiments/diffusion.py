"""G14: DDPM on a 2-D toy and on digits — the reverse chain, the variational bound in bits/dim, DDIM steps against
quality, and the probability-flow ODE likelihood of the same denoiser beside the discrete bound."""

from __future__ import annotations

import math

import torch

from dlcanon.data import load_data
from dlcanon.experiments.base import Result, Table, experiment
from dlcanon.experiments.context import Context, final_metrics
from dlcanon.plots import figure, image_grid

QUICK = {"steps_2d": 800, "steps_digits": 400, "timesteps": 100, "ddim": (5, 10, 20), "fd_samples": 360,
         "pf_items": 24, "eval_images": 200}  # fmt: skip
FULL = {"steps_2d": 4000, "steps_digits": 4000, "timesteps": 1000, "ddim": (10, 20, 50, 100), "fd_samples": 360,
        "pf_items": 64, "eval_images": 360}  # fmt: skip
CHAIN_FRACTIONS = (1.0, 0.6, 0.4, 0.25, 0.15, 0.08, 0.03, 0.0)  # the steps t/T shown in the chain figure
UNIFORM_DIGITS = math.log2(17)  # bits/dim of the uniform model on 17 levels


@experiment(
    "ddpm_chain",
    tags=("G14",),
    claim="A DDPM's reverse chain turns N(0, I) noise into data step by step; its variational bound (prior + KL "
    "terms + discretised decoder) is a likelihood in bits/dim below the uniform model's; DDIM (η = 0) samples "
    "with a fraction of the steps at a comparable Fréchet distance; the probability-flow ODE of the same "
    "denoiser gives an exact (dequantised) likelihood near the discrete bound.",
)
def ddpm_chain(ctx: Context) -> Result:
    """DDPM (MLP) on moons and DDPM (U-Net) on digits, T = 100 (quick) or 1000, linear β rescaled by 1000/T."""
    s = ctx.pick(QUICK, FULL)
    T = s["timesteps"]
    common = dict(batch_size=64, lr=2e-3, optimizer="adam", schedule="cosine", ema=0.99, eval_every=0,
                  log_every=100, grad_clip=1.0)  # fmt: skip
    # ---- 2-D
    moons = load_data("moons")
    args = {"timesteps": T, "pf_ode": True, "pf_items": 500, "pf_tol": 1e-4, "eval_points": 1000}
    cfg, toy = ctx.build("ddpm", moons, objective_args=args, **common | dict(steps=s["steps_2d"], batch_size=256))
    m2d = final_metrics(ctx.train(toy, moons, cfg))
    toy_chain = [toy.to_data(x) for x in toy.sample_chain(1000, keep=6, seed=ctx.seed)]
    # ---- digits
    digits = load_data("digits")
    args = {
        "timesteps": T,
        "pf_ode": True,
        "pf_items": s["pf_items"],
        "pf_tol": 1e-3,
        "eval_images": s["eval_images"],
        "fd_samples": 0,
    }  # fmt: skip  (the Fréchet distances are measured below, once per sampler)
    cfg, ddpm = ctx.build(
        "ddpm", digits, model_args={"channels": (16, 32)}, objective_args=args, **common | dict(steps=s["steps_digits"])
    )
    averaged: dict[str, torch.Tensor] = {}  # the EMA weights at the last step, for the sampling comparisons

    def keep(step: int, model: torch.nn.Module) -> None:
        averaged.update({k: v.detach().cpu().clone() for k, v in model.state_dict().items()})

    m = final_metrics(ctx.train(ddpm, digits, cfg, snapshot=keep, snapshot_steps=[s["steps_digits"]]))
    ddpm.load_state_dict(averaged)
    # ---- DDIM steps against quality (same EMA denoiser, FD on the shipped digits feature net)
    fd_rows = []
    with torch.no_grad():
        for steps in (*s["ddim"], None):
            ddpm.fd_steps, ddpm.fd_samples = steps or T, s["fd_samples"]
            if steps is None:  # ancestral sampling over all T steps
                fd = ddpm_frechet_ancestral(ddpm, digits.test.x, s["fd_samples"], ctx.seed)
            else:
                fd = ddpm.frechet(digits.test.x)
            fd_rows.append([f"DDIM, {steps} steps" if steps else f"ancestral, {T} steps", steps or T, fd])
        states = ddpm.sample_chain(8, keep=T + 1, seed=ctx.seed)  # x_T, x_{T−1}, …, x_0
    shown = sorted({round(T * f) for f in CHAIN_FRACTIONS}, reverse=True)  # late steps shape the digit: more of them
    grid = torch.stack([ddpm.to_data(states[T - t]) for t in shown], 1).flatten(0, 1)
    # ---- figures
    fig_toy, axes = figure(len(toy_chain), width=2.2, height=2.4)
    ts = torch.linspace(T, 0, len(toy_chain)).round().long().tolist()
    for ax, x, t in zip(axes, toy_chain, ts, strict=True):
        ax.scatter(*x.T.numpy(), s=1, alpha=0.4)
        ax.set(title=f"t = {t}", xlim=(-2.5, 3.5), ylim=(-2.5, 2.5), xlabel="x₁", ylabel="x₂" if t == T else None)
    fig_chain, (ax,) = figure(width=6, height=6)
    ax.imshow(image_grid(grid, nrow=len(shown)).squeeze(-1).numpy(), cmap="gray", vmin=0, vmax=1)
    ax.set(title=f"Reverse chain on digits, T = {T}", xticks=[9 * i + 5 for i in range(len(shown))], yticks=[],
           xticklabels=[f"t={t}" for t in shown], xlabel="step t (x_T left, x_0 right)")  # fmt: skip
    fig_ddim, (ax,) = figure(width=5)
    ax.plot([r[1] for r in fd_rows[:-1]], [r[2] for r in fd_rows[:-1]], "o-", label="DDIM, η = 0")
    ax.axhline(fd_rows[-1][2], ls="--", color="gray", label=f"ancestral, T = {T}")
    ax.set(xscale="log", xlabel="sampling steps", ylabel="Fréchet distance (digits features)",
           title="DDIM steps against sample quality")  # fmt: skip
    ax.legend()
    # ---- verdict
    best_ddim = min(r[2] for r in fd_rows[:-1])
    few = fd_rows[-2]  # the most DDIM steps tried, still ≤ T/5 (quick) or T/10 (full)
    holds = m["bpd"] < UNIFORM_DIGITS and few[2] <= 1.5 * fd_rows[-1][2] and abs(m["pf_bpd"] - m["bpd"]) < 1.0
    verdict = (
        f"After {s['steps_digits']} steps on digits the bound is {m['bpd']:.3f} bits/dim (prior {m['prior_bpd']:.1e}, "
        f"KL terms {m['kl_bpd']:.3f}, decoder {m['decoder_bpd']:.3f}) against the uniform model's "
        f"{UNIFORM_DIGITS:.3f}; "
        f"the probability-flow ODE gives {m['pf_bpd']:.3f} bits/dim (dequantised, {s['pf_items']} images). "
        f"DDIM with {few[1]} steps reaches FD {few[2]:.1f} (best {best_ddim:.1f}) against {fd_rows[-1][2]:.1f} for "
        f"ancestral sampling over {T} steps. On moons the bound is {m2d['nll']:.3f} nats/point and the "
        f"probability-flow NLL {m2d['pf_nll']:.3f}."
    )
    return Result(
        verdict=verdict,
        holds=bool(holds),
        tables=[
            Table(
                f"DDPM likelihoods, test split (T = {T}, linear β × 1000/T)",
                ["data", "quantity", "value"],
                [
                    ["digits", "bound, bits/dim (discrete data, no offset)", m["bpd"]],
                    ["digits", "  prior term L_T, bits/dim", m["prior_bpd"]],
                    ["digits", "  KL terms Σ L_{t−1}, bits/dim", m["kl_bpd"]],
                    ["digits", "  decoder −log p(x_0|x_1), bits/dim", m["decoder_bpd"]],
                    ["digits", "probability-flow ODE, bits/dim (uniform dequantisation)", m["pf_bpd"]],
                    ["digits", "uniform model, bits/dim", UNIFORM_DIGITS],
                    ["moons", "bound, nats/point", m2d["nll"]],
                    ["moons", "probability-flow ODE, nats/point", m2d["pf_nll"]],
                ],
            ),
            Table("Sampling steps against quality on digits (EMA denoiser)", ["sampler", "steps", "FD"], fd_rows),
        ],
        figures={"toy_chain": fig_toy, "digits_chain": fig_chain, "ddim_steps": fig_ddim},
        captions={
            "toy_chain": "1,000 samples of the moons DDPM along its reverse chain, from x_T ~ N(0, I) to x_0.",
            "digits_chain": "Eight digits (rows), each along its ancestral reverse chain; columns: the steps t shown.",
            "ddim_steps": "Fréchet distance of DDIM samples (η = 0) against the number of steps; dashed: ancestral.",
        },
        numbers={
            "bpd": m["bpd"],
            "pf_bpd": m["pf_bpd"],
            "nll_2d": m2d["nll"],
            "pf_nll_2d": m2d["pf_nll"],
            "fd": {str(r[1]): r[2] for r in fd_rows},
        },
    )


def ddpm_frechet_ancestral(ddpm, real: torch.Tensor, n: int, seed: int) -> float:
    """FD of n ancestral samples (all T steps) against n test images, in the shipped features."""
    from dlcanon.metrics.feature_net import feature_net_for
    from dlcanon.metrics.generative import frechet_distance

    real = real[:n].float()
    fake = ddpm.sample(n, seed=seed).cpu()
    net = feature_net_for(tuple(real.shape[1:]))
    return frechet_distance(net.features(real), net.features(fake))
