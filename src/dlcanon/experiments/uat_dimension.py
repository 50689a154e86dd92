"""F1, the practical side: at a fixed number N of sigmoid units and a fixed sample, the error grows with d."""

from __future__ import annotations

import itertools
import math

import torch

from dlcanon.data.base import DataBundle, Split
from dlcanon.experiments.base import Result, Table, experiment
from dlcanon.experiments.context import Context
from dlcanon.experiments.universal_approximation import random_feature_init
from dlcanon.models.mlp import ShallowNetwork
from dlcanon.objectives.regressor import Regressor
from dlcanon.plots import figure


def target(x: torch.Tensor) -> torch.Tensor:
    """f(x) = Π_i cos(πx_i/2) on [−1, 1]^d: a product of d bumps, Lipschitz, maximal at 0."""
    return torch.cos(math.pi * x / 2).prod(1)


def relative_error(ctx: Context, dim: int, units: int, *, n_train: int, steps: int) -> dict[str, float]:
    """Relative test RMSE ‖F − f‖/‖f − mean f‖ (1 = no better than a constant) of an N-unit sigmoid network."""
    g = ctx.generator(0)
    x, x_test = (torch.rand(n, dim, generator=g) * 2 - 1 for n in (n_train, 2000))
    train, test = Split(x, target(x)), Split(x_test, target(x_test))
    ctx.manual_seed(0)
    net = ShallowNetwork(dim, 1, units=units)
    random_feature_init(net, train.x, train.y, scale=4.0 / math.sqrt(dim))  # switches spread over the data
    data = DataBundle("uat", train, test, None, "points")
    metrics = ctx.train(
        Regressor(net), data, epochs=steps, batch_size=n_train, lr=0.003, optimizer="adam", schedule="cosine",
        precision="fp32",
    )["metrics"]  # fmt: skip
    spread = float(test.y.std())
    return {"rmse": metrics["test_rmse"], "relative": metrics["test_rmse"] / spread, "std": spread}


QUICK = {"dims": [1, 2, 4, 8], "units": 32, "n_train": 2000, "steps": 800}
FULL = {"dims": [1, 2, 3, 4, 6, 8, 12, 16], "units": 64, "n_train": 8000, "steps": 4000}


@experiment(
    "uat_dimension",
    tags=("F1", "F2"),
    claim="The theorem promises some N for every ε, not a small one: at fixed N and a fixed sample, the "
    "approximation error of a one-hidden-layer network grows with the input dimension.",
)
def uat_dimension(ctx: Context) -> Result:
    """Relative test RMSE of N-unit sigmoid networks fitting Π cos(πx_i/2) on [−1,1]^d, for growing d."""
    s = ctx.pick(QUICK, FULL)
    dims, units, n_train, steps = s["dims"], s["units"], s["n_train"], s["steps"]
    errs = [relative_error(ctx, d, units, n_train=n_train, steps=steps) for d in dims]
    rel = [e["relative"] for e in errs]
    fig, axes = figure(1)
    axes[0].semilogy(dims, rel, "o-")
    axes[0].set(xlabel="input dimension d", ylabel="test RMSE / std(f)", title=f"N = {units}, {n_train} samples")
    grows = rel[-1] > 3 * rel[0] and all(b >= 0.8 * a for a, b in itertools.pairwise(rel))
    return Result(
        verdict=f"At N={units} sigmoid units and {n_train} training points the relative test RMSE rose from "
        f"{rel[0]:.3g} at d={dims[0]} to {rel[-1]:.3g} at d={dims[-1]}.",
        holds=grows,
        tables=[
            Table(
                f"One hidden layer of N={units} sigmoid units fitting Π cos(πx_i/2), {n_train} samples",
                ["d", "test RMSE", "std of f", "relative RMSE"],
                [[d, e["rmse"], e["std"], e["relative"]] for d, e in zip(dims, errs, strict=True)],
            )
        ],
        figures={"error_vs_dimension": fig},
        captions={"error_vs_dimension": "Relative test error at fixed N against the input dimension (log scale)."},
        numbers={"dims": dims, "relative_rmse": rel},
    )
