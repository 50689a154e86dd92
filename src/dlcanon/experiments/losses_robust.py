"""L2: L1 and Smooth L1 are robust to outliers where L2 is not; ranking, triplet and cosine-embedding losses
train Siamese networks whose embeddings separate classes."""

from __future__ import annotations

import torch
from torch import nn

from dlcanon.data import load_data
from dlcanon.data.base import DataBundle, Split
from dlcanon.experiments.base import Result, Table, experiment
from dlcanon.experiments.context import Context
from dlcanon.models.mlp import MLP
from dlcanon.objectives.regressor import Regressor
from dlcanon.objectives.siamese import Siamese
from dlcanon.plots import figure

SLOPE, INTERCEPT = 2.0, 1.0


def outlier_data(n: int, fraction: float, g: torch.Generator) -> DataBundle:
    """y = 2x + 1 + N(0, 0.1²) on x ~ U(−1, 1); a `fraction` of the training targets get +U(5, 10)."""
    x = torch.rand(n, 1, generator=g) * 2 - 1
    y = SLOPE * x[:, 0] + INTERCEPT + 0.1 * torch.randn(n, generator=g)
    bad = torch.rand(n, generator=g) < fraction
    y_train = torch.where(bad, y + 5 + 5 * torch.rand(n, generator=g), y)
    return DataBundle("outliers", Split(x, y_train), Split(x, y), None, "points")


ADAM = {"optimizer": "adam", "precision": "fp32", "schedule": "cosine"}  # with cosine decay, in fp32


QUICK, FULL = {"line_steps": 800, "epochs": 20}, {"line_steps": 3000, "epochs": 100}


def robust_regression(ctx: Context, line_steps: int) -> tuple[DataBundle, dict[str, tuple[float, float, float]]]:
    """Fit a line under l2, l1 and smooth_l1 by `line_steps` full-batch steps; returns (slope, intercept,
    clean-test RMSE) per loss."""
    data = outlier_data(200, 0.15, ctx.generator(0))
    fits = {}
    for loss in ("l2", "l1", "smooth_l1"):
        ctx.manual_seed(0)
        line = nn.Linear(1, 1)
        summary = ctx.train(Regressor(line, loss=loss), data, epochs=line_steps, batch_size=200, lr=0.05, **ADAM)
        fits[loss] = (line.weight.item(), line.bias.item(), summary["metrics"]["test_rmse"])
    return data, fits


def siamese_runs(ctx: Context, epochs: int) -> tuple[DataBundle, dict[str, tuple[torch.Tensor, dict]]]:
    """Train one 64 → 128 → 64 → 2 embedding MLP per loss on digits for `epochs`; returns test embeddings and
    metrics."""
    data = load_data("digits")
    runs = {}
    for loss in ("untrained", "ranking", "triplet", "cosine"):
        ctx.manual_seed(0)
        net = MLP(64, 2, hidden=(128, 64))
        objective = Siamese(net, loss="ranking" if loss == "untrained" else loss)
        if loss == "untrained":
            metrics = objective.evaluate([(data.test.x, data.test.y)])
            history = [metrics["loss"]]
        else:
            summary = ctx.train(objective, data, epochs=epochs, batch_size=128, lr=3e-3, eval_every=1, **ADAM)
            metrics = {k.removeprefix("test_"): v for k, v in summary["metrics"].items() if k.startswith("test_")}
            history = [h["train_loss"] for h in summary["history"]]
        runs[loss] = (objective.embed(data.test.x), {**metrics, "history": history})
    return data, runs


@experiment(
    "losses_outliers_siamese",
    tags=("L2",),
    claim="L1 and Smooth L1 regression resist outliers that pull an L2 fit away; margin-ranking (contrastive), "
    "triplet and cosine-embedding losses train Siamese networks whose embeddings separate the classes.",
)
def losses_outliers_siamese(ctx: Context) -> Result:
    """Lines fitted under L2/L1/Smooth L1 with 15% outliers; 2-D Siamese embeddings of digits under three losses."""
    s = ctx.pick(QUICK, FULL)
    reg_data, fits = robust_regression(ctx, s["line_steps"])
    digits, runs = siamese_runs(ctx, s["epochs"])
    fig, ax = figure(5, width=3.2)
    x = reg_data.train.x[:, 0]
    ax[0].scatter(x, reg_data.train.y, s=4, c="0.5")
    grid = torch.linspace(-1, 1, 2)
    ax[0].plot(grid, SLOPE * grid + INTERCEPT, "k--", lw=1, label="truth")
    for loss, (w, b, _) in fits.items():
        ax[0].plot(grid, w * grid + b, label=loss)
    ax[0].set(title="15% outliers", xlabel="x", ylabel="y")
    ax[0].legend(fontsize=7)
    for a, loss in zip(ax[1:], ("untrained", "ranking", "triplet", "cosine"), strict=True):
        z, m = runs[loss]
        if loss == "cosine":
            z = nn.functional.normalize(z, dim=1)
        a.scatter(z[:, 0], z[:, 1], c=digits.test.y, cmap="tab10", s=4)
        a.set_title(f"{loss}: 1-NN {m['knn_accuracy']:.0%}, sep {m['separation']:.2f}", fontsize=8)
    errors = {k: abs(v[0] - SLOPE) + abs(v[1] - INTERCEPT) for k, v in fits.items()}
    base = runs["untrained"][1]
    trained = {k: v[1] for k, v in runs.items() if k != "untrained"}
    decreased = all(m["history"][-1] < m["history"][0] for m in trained.values())
    better = all(
        m["separation"] > base["separation"] and m["knn_accuracy"] > base["knn_accuracy"] for m in trained.values()
    )
    holds = errors["l1"] < 0.5 * errors["l2"] and errors["smooth_l1"] < 0.5 * errors["l2"] and decreased and better
    return Result(
        verdict=f"With 15% outliers the fitted (slope, intercept) was L2 ({fits['l2'][0]:.2f}, {fits['l2'][1]:.2f}), "
        f"L1 ({fits['l1'][0]:.2f}, {fits['l1'][1]:.2f}), Smooth L1 ({fits['smooth_l1'][0]:.2f}, "
        f"{fits['smooth_l1'][1]:.2f}) against the true (2, 1); 2-D Siamese embeddings of digits reached 1-NN "
        + ", ".join(f"{k} {m['knn_accuracy']:.0%} (separation {m['separation']:.2f})" for k, m in trained.items())
        + f" vs {base['knn_accuracy']:.0%} ({base['separation']:.2f}) untrained.",
        holds=holds,
        tables=[
            Table(
                "Line fit with 15% outliers (truth y = 2x + 1)",
                ["loss", "slope", "intercept", "|Δslope| + |Δintercept|", "clean-test RMSE"],
                [[k, w, b, errors[k], r] for k, (w, b, r) in fits.items()],
            ),
            Table(
                "Siamese 2-D embeddings of digits (test split)",
                ["loss", "first train loss", "last train loss", "1-NN accuracy", "separation (between/within)"],
                [
                    [k, m["history"][0], m["history"][-1], m["knn_accuracy"], m["separation"]]
                    for k, (_, m) in runs.items()
                ],
            ),
        ],
        figures={"losses": fig},
        captions={"losses": "Left: robust line fits; right: test embeddings coloured by digit (cosine: unit circle)."},
        numbers={
            "line_error": errors,
            "siamese": {k: {"knn": m["knn_accuracy"], "separation": m["separation"]} for k, (_, m) in runs.items()},
        },
    )
