"""C3: at an equal parameter budget, many narrow 3×3 convolutions beat a few wide ones (VGG)."""

from __future__ import annotations

from collections.abc import Sequence

import torch

from dlcanon.experiments.base import Result, Table, experiment
from dlcanon.experiments.classification import dataset, evaluate, precise_bn, recipe
from dlcanon.experiments.context import Context
from dlcanon.models.vgg import VGG
from dlcanon.nn.summary import count_parameters, summarize
from dlcanon.objectives.classifier import Classifier
from dlcanon.plots import figure

QUICK = {"depths": (1, 2, 4), "budget": 60_000, "n_train": 1024, "epochs": 4, "seeds": (0,)}
FULL = {"depths": (1, 2, 3, 4), "budget": 60_000, "n_train": None, "epochs": 8, "seeds": (0, 1, 2)}


def vgg_at_budget(convs_per_stage: int, budget: int) -> VGG:
    """A VGG-style net (BN, three stages of widths w-2w-4w, a max-pool after each, global pool, one Linear)
    with `convs_per_stage` 3×3 convs per stage and the width w whose parameter count is closest to `budget`."""

    def make(w: int) -> VGG:
        return VGG(
            1,
            10,
            stages=(convs_per_stage,) * 3,
            widths=(w, 2 * w, 4 * w),
            batchnorm=True,
            pools=3,
            pool_size=1,
            hidden=(),
        )

    with torch.device("meta"):
        w = min(range(2, 129), key=lambda w: abs(count_parameters(make(w)) - budget))
    return make(w)


def depth_runs(
    ctx: Context, depths: Sequence[int], *, budget: int, n_train: int | None, epochs: int, seeds: Sequence[int]
) -> list:
    """[convs, width, parameters, FLOPs, mean test accuracy over seeds] per depth."""
    data = dataset("mnist5k", n_train=n_train, n_test=1000)
    rows = []
    for d in depths:
        accs = []
        for seed in seeds:
            ctx.manual_seed(seed)
            net = vgg_at_budget(d, budget)
            ctx.manual_seed(seed)
            ctx.train(Classifier(net), data, **recipe(epochs=epochs, batch_size=32, lr=2e-3, seed=ctx.seed + seed))
            precise_bn(net, data.train)
            accs.append(evaluate(net, data.test)["accuracy"])
        flops = summarize(net, (1, 28, 28)).flops
        rows.append([3 * d, net.features[0].out_channels, count_parameters(net), flops, sum(accs) / len(accs)])
    return rows


@experiment(
    "depth_vs_width",
    tags=("C3",),
    claim="At the same number of parameters, a deeper network of many narrow 3×3 convolutions is more accurate "
    "than a shallower one of few wide convolutions (VGG's design rule).",
)
def depth_vs_width(ctx: Context) -> Result:
    """VGG-style networks with 1–4 convs per stage, widths chosen for an equal parameter budget, on mnist5k."""
    s = ctx.pick(QUICK, FULL)
    rows = depth_runs(ctx, s["depths"], budget=s["budget"], n_train=s["n_train"], epochs=s["epochs"], seeds=s["seeds"])

    fig, (ax,) = figure()
    ax.plot([r[0] for r in rows], [r[4] for r in rows], "o-")
    for r in rows:
        ax.annotate(f"w={r[1]}", (r[0], r[4]), fontsize=7)
    ax.set(xlabel="3×3 conv layers", ylabel="test accuracy", title=f"Equal budget ≈ {s['budget']:,} parameters")
    shallow, deep = rows[0], rows[-1]
    subset = f"{s['n_train'] or 4000} mnist5k images, {s['epochs']} epochs, {len(s['seeds'])} seed(s)"
    return Result(
        verdict=f"At ≈{s['budget']:,} parameters ({subset}): {shallow[0]} convs of width {shallow[1]}–{4 * shallow[1]} "
        f"reach {shallow[4]:.1%}, {deep[0]} convs of width {deep[1]}–{4 * deep[1]} reach {deep[4]:.1%}.",
        holds=deep[4] > shallow[4],
        tables=[
            Table(
                f"Depth vs width at an equal budget ({subset})",
                ["conv layers", "first width", "parameters", "FLOPs", "test accuracy"],
                [[*r[:4], round(r[4], 4)] for r in rows],
            )
        ],
        figures={"accuracy_vs_depth": fig},
        captions={"accuracy_vs_depth": "Test accuracy against depth, every network with about the same parameters."},
        numbers={str(r[0]): r[4] for r in rows},
    )
