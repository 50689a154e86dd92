"""F2: the curse of dimensionality, measured four ways (no training; closed forms against Monte Carlo).

1. Shell volume: the fraction of the unit n-ball's volume within 1 − α of its surface is 1 − αⁿ → 1.
   Monte Carlo draws uniform points in the ball as the first n coordinates of a uniform point on the
   sphere S^{n+1} (Voelker, Gosmann & Stewart, 2017), independently of the formula.
2. Nearest-neighbour regression of the Lipschitz f(x) = Σ_i sin(πx_i)/√d (variance ½, ‖∇f‖ ≤ π for every d)
   needs O(ε^{−d}) samples: the sample size m at which the 1-NN test RMSE first falls below ε grows
   exponentially with d.
3. Distance concentration: for uniform points in [0, 1]^d, the median over queries of (max − min)/min of the distances
   from a query shrinks towards 0 (Beyer et al., 1999): the nearest and farthest points become equally far.
4. Corners: the share of the cube [−1, 1]^d outside its inscribed ball, 1 − π^{d/2}/(Γ(d/2 + 1)·2^d) → 1.
"""

from __future__ import annotations

import itertools
import math

import torch

from dlcanon.experiments.base import Result, Table, experiment
from dlcanon.experiments.context import Context
from dlcanon.plots import figure


def shell_fraction_mc(n: int, alpha: float, samples: int, g: torch.Generator) -> float:
    """Monte Carlo P(‖x‖ > α) for x uniform in the n-ball (first n coordinates of a point on S^{n+1})."""
    z = torch.randn(samples, n + 2, generator=g, dtype=torch.float64)
    x = (z / z.norm(dim=1, keepdim=True))[:, :n]
    return float((x.norm(dim=1) > alpha).double().mean())


def lipschitz_target(x: torch.Tensor) -> torch.Tensor:
    return torch.sin(math.pi * x).sum(1) / math.sqrt(x.shape[1])


def nn_rmse(dim: int, m: int, g: torch.Generator, n_test: int = 500) -> float:
    """Test RMSE of 1-nearest-neighbour regression from m uniform samples of [−1, 1]^d."""
    x, q = torch.rand(m, dim, generator=g) * 2 - 1, torch.rand(n_test, dim, generator=g) * 2 - 1
    best_d = torch.full((n_test,), float("inf"))
    best_i = torch.zeros(n_test, dtype=torch.long)
    for start in range(0, m, 65536):
        d, i = torch.cdist(q, x[start : start + 65536], compute_mode="donot_use_mm_for_euclid_dist").min(1)
        better = d < best_d
        best_d, best_i = torch.where(better, d, best_d), torch.where(better, i + start, best_i)
    return float((lipschitz_target(x[best_i]) - lipschitz_target(q)).pow(2).mean().sqrt())


def samples_needed(dim: int, eps: float, max_log2: int, g: torch.Generator) -> tuple[int | None, list[float]]:
    """Smallest m = 2^k with 1-NN RMSE ≤ ε (None if even 2^max_log2 does not reach it), and the RMSE curve."""
    curve = []
    for k in range(2, max_log2 + 1):
        curve.append(nn_rmse(dim, 2**k, g))
        if curve[-1] <= eps:
            return 2**k, curve
    return None, curve


def relative_contrast(dim: int, g: torch.Generator, n: int = 1000, queries: int = 50) -> float:
    """Median over queries of (max − min)/min distance to n uniform points in [0, 1]^d (exact distances)."""
    q, x = (torch.rand(k, dim, generator=g, dtype=torch.float64) for k in (queries, n))
    d = torch.cdist(q, x, compute_mode="donot_use_mm_for_euclid_dist")
    return float(((d.max(1).values - d.min(1).values) / d.min(1).values).median())


def corner_share(dim: int) -> float:
    """1 − vol(unit ball)/vol([−1, 1]^d), in logs to avoid overflow."""
    return 1 - math.exp(dim / 2 * math.log(math.pi) - math.lgamma(dim / 2 + 1) - dim * math.log(2))


QUICK = {"mc": 20_000, "max_log2": 16, "nn_dims": [1, 2, 3, 4, 5, 6]}
FULL = {"mc": 200_000, "max_log2": 20, "nn_dims": [1, 2, 3, 4, 5, 6, 7, 8]}


@experiment(
    "curse_of_dimensionality",
    tags=("F2",),
    claim="In high dimension volume sits in a thin shell and in the cube's corners, distances concentrate, and "
    "ε-accurate local (nearest-neighbour) estimation of a Lipschitz function needs O(ε^−d) samples.",
)
def curse_of_dimensionality(ctx: Context) -> Result:
    """Shell-volume fraction, 1-NN sample complexity, distance concentration and corner share against d."""
    g = ctx.generator(0)
    s = ctx.pick(QUICK, FULL)
    alpha, mc = 0.9, s["mc"]
    ns = [1, 2, 3, 5, 10, 20, 50, 100]
    shell = [(n, 1 - alpha**n, shell_fraction_mc(n, alpha, mc, g)) for n in ns]
    mc_gap = max(abs(a - b) for _, a, b in shell)
    eps, max_log2, nn_dims = 0.25, s["max_log2"], s["nn_dims"]
    needed = [(d, *samples_needed(d, eps, max_log2, g)) for d in nn_dims]
    c_dims = [1, 2, 5, 10, 20, 50, 100, 1000]
    contrast = [relative_contrast(d, g) for d in c_dims]
    corners = [corner_share(d) for d in c_dims]
    fig, ax = figure(4, width=3.6)
    ax[0].plot(ns, [s[1] for s in shell], "-", label="1 − αⁿ")
    ax[0].plot(ns, [s[2] for s in shell], "o", label="Monte Carlo")
    ax[0].set(xscale="log", xlabel="n", ylabel="volume fraction", title=f"Shell 1 − α of the ball, α = {alpha}")
    ax[0].legend(fontsize=7)
    for d, _, curve in needed:
        ax[1].loglog([2**k for k in range(2, 2 + len(curve))], curve, ".-", label=f"d={d}")
    ax[1].axhline(eps, color="k", lw=0.8, ls="--")
    ax[1].set(xlabel="samples m", ylabel="1-NN test RMSE", title="Nearest-neighbour regression")
    ax[1].legend(fontsize=6)
    ax[2].loglog(c_dims, contrast, "o-")
    ax[2].set(xlabel="d", ylabel="(max − min)/min distance", title="Distance concentration")
    ax[3].semilogx(c_dims, corners, "o-")
    ax[3].set(xlabel="d", ylabel="share of the cube", title="Outside the inscribed ball")
    reached = [(d, m) for d, m, _ in needed if m is not None]
    increasing = all(b[1] > a[1] for a, b in itertools.pairwise(reached))
    missing = [d for d, m, _ in needed if m is None]
    growth = (
        math.exp((math.log(reached[-1][1]) - math.log(reached[0][1])) / (reached[-1][0] - reached[0][0]))
        if len(reached) > 1
        else float("nan")
    )
    holds = (
        mc_gap < 0.02 and increasing and len(reached) >= 3 and contrast[-1] < 0.1 * contrast[0] and corners[-1] > 0.99
    )
    miss = f" (d = {', '.join(map(str, missing))} not reached with 2^{max_log2} samples)" if missing else ""
    return Result(
        verdict=f"Shell fraction 1 − 0.9ⁿ matched Monte Carlo within {mc_gap:.4f}; 1-NN regression reached "
        f"RMSE ≤ {eps} with {', '.join(f'{m} samples at d={d}' for d, m in reached)}{miss}, ×{growth:.1f} per "
        f"dimension; relative contrast fell from {contrast[0]:.0f} at d=1 to {contrast[-1]:.3f} at d=1000; "
        f"{corners[-1]:.3f} of the cube lies outside its ball at d=1000.",
        holds=holds,
        tables=[
            Table(
                "Shell volume fraction 1 − αⁿ (α = 0.9)", ["n", "closed form", "Monte Carlo"], [list(s) for s in shell]
            ),
            Table(
                f"Samples for 1-NN RMSE ≤ {eps} on f = Σ sin(πx_i)/√d",
                ["d", "samples needed", "RMSE at largest m tried"],
                [[d, m if m is not None else f"> {2**max_log2}", c[-1]] for d, m, c in needed],
            ),
            Table(
                "Distance concentration and corners",
                ["d", "(max − min)/min", "share outside inscribed ball"],
                [[d, c, k] for d, c, k in zip(c_dims, contrast, corners, strict=True)],
            ),
        ],
        figures={"curse": fig},
        captions={"curse": "Shell volume, nearest-neighbour sample complexity, distance concentration, corners."},
        numbers={"mc_gap": mc_gap, "samples_needed": {d: m for d, m, _ in needed}, "growth_per_dim": growth},
    )
