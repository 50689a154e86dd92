"""F1: one hidden layer of N sigmoid units approximates continuous functions; the error falls as N grows."""

from __future__ import annotations

import math

import torch

from dlcanon.data.base import DataBundle, Split
from dlcanon.experiments.base import Result, Table, experiment
from dlcanon.experiments.context import Context, final_metrics
from dlcanon.models.mlp import ShallowNetwork
from dlcanon.objectives.regressor import Regressor
from dlcanon.plots import figure

TARGETS = {
    "1-D: sin(3πx)·x": (1, lambda x: torch.sin(3 * math.pi * x[:, 0]) * x[:, 0]),
    "2-D: exp(−4‖x‖²)·cos(2πx₁)": (
        2,
        lambda x: torch.exp(-4 * x.pow(2).sum(1)) * torch.cos(2 * math.pi * x[:, 0]),
    ),
}


QUICK = {"widths": [1, 2, 4, 8, 16, 32, 64], "steps": 1000}
FULL = {"widths": [1, 2, 4, 8, 16, 32, 64, 128, 256], "steps": 5000}


def grid(dim: int, n: int) -> torch.Tensor:
    """A regular grid of n points per axis on [−1, 1]^dim, shape (n^dim, dim)."""
    axis = torch.linspace(-1, 1, n)
    return torch.cartesian_prod(*[axis] * dim).reshape(-1, dim)


def random_feature_init(net: ShallowNetwork, x: torch.Tensor, y: torch.Tensor, *, scale: float) -> None:
    """Spread the sigmoids over the data, then solve the output layer by least squares.

    w_i ~ N(0, scale²·I), centre c_i drawn from the inputs, b_i = −w_iᵀc_i (so unit i switches at c_i);
    v, c = argmin ‖[σ(XWᵀ + b), 1]·[v; c] − y‖² (a random-features fit that gradient descent then refines).
    """
    hidden, out = net.net[1], net.net[-1]
    with torch.no_grad():
        hidden.weight.normal_(0.0, scale)
        centres = x[torch.randint(len(x), (hidden.out_features,))]
        hidden.bias.copy_(-(hidden.weight * centres).sum(1))
        features = torch.cat([torch.sigmoid(x @ hidden.weight.T + hidden.bias), torch.ones(len(x), 1)], 1)
        solution = torch.linalg.lstsq(features.double(), y.double().unsqueeze(1), driver="gelsd").solution
        out.weight.copy_(solution[:-1].T)
        out.bias.copy_(solution[-1])


def fit_shallow(ctx: Context, train: Split, test: Split, units: int, *, steps: int) -> dict[str, float]:
    """Fit F(x) = Σ v_i σ(w_iᵀx + b_i): random-feature start, then full-batch Adam with the shared trainer."""
    ctx.manual_seed(0)
    dim = train.x.shape[1]
    net = ShallowNetwork(dim, 1, units=units)
    random_feature_init(net, train.x, train.y, scale=8.0)
    data = DataBundle("uat", train, test, None, "points")
    summary = ctx.train(
        Regressor(net), data, epochs=steps, batch_size=len(train), lr=0.003, optimizer="adam", schedule="cosine"
    )
    return final_metrics(summary)


@experiment(
    "universal_approximation",
    tags=("F1",),
    claim="A network with one hidden layer of N bounded monotone (sigmoid) units approximates any continuous "
    "function on a compact set to any accuracy as N grows.",
)
def universal_approximation(ctx: Context) -> Result:
    """Sup-norm and L2 error of one-hidden-layer sigmoid networks vs N, for a 1-D and a 2-D target."""
    s = ctx.pick(QUICK, FULL)
    widths, steps = s["widths"], s["steps"]
    rows, curves = [], {}
    for label, (dim, f) in TARGETS.items():
        x, x_test = (
            grid(dim, 101 if dim == 1 else 21),
            grid(dim, 201 if dim == 1 else 41),
        )  # test grid is finer
        train, test = Split(x, f(x)), Split(x_test, f(x_test))
        errs = [fit_shallow(ctx, train, test, n, steps=steps) for n in widths]
        curves[label] = errs
        rows += [[label, n, e["sup_error"], e["rmse"]] for n, e in zip(widths, errs, strict=True)]
    fig, axes = figure(2)
    for label, errs in curves.items():
        axes[0].loglog(widths, [e["sup_error"] for e in errs], "o-", label=label)
        axes[1].loglog(widths, [e["rmse"] for e in errs], "o-", label=label)
    axes[0].set(xlabel="hidden units N", ylabel="sup |F − f|", title="Sup-norm error")
    axes[1].set(xlabel="hidden units N", ylabel="RMSE", title="L2 error")
    axes[0].legend(fontsize=7)
    falls = {k: v[-1]["sup_error"] < 0.2 * v[0]["sup_error"] for k, v in curves.items()}
    first, last = widths[0], widths[-1]
    summary = "; ".join(
        f"{k.split(':')[0]} sup error {v[0]['sup_error']:.3f} at N={first} → {v[-1]['sup_error']:.3f} at N={last}"
        for k, v in curves.items()
    )
    return Result(
        verdict=f"Measured on held-out grids: {summary}.",
        holds=all(falls.values()),
        tables=[Table("Error of one-hidden-layer sigmoid networks", ["target", "N", "sup error", "RMSE"], rows)],
        figures={"error_vs_units": fig},
        captions={"error_vs_units": "Error against the number of hidden sigmoid units (log-log)."},
        numbers={k: [e["sup_error"] for e in v] for k, v in curves.items()},
    )
