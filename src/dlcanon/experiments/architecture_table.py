"""C2–C7, F10: every small-input classifier trained on mnist5k with one recipe, side by side."""

from __future__ import annotations

import math
from collections.abc import Sequence

from matplotlib.ticker import EngFormatter, LogLocator, NullLocator

from dlcanon.data.base import DataBundle
from dlcanon.experiments.base import Result, Table, experiment
from dlcanon.experiments.classification import (
    build,
    dataset,
    evaluate,
    objective_for,
    precise_bn,
    recipe,
    small_classifiers,
)
from dlcanon.experiments.context import Context
from dlcanon.nn.summary import count_parameters, summarize_meta
from dlcanon.plots import figure, label_column

# models: None means every small classifier (`small_classifiers()`); quick mode trains one configuration of each
# family the claim names, at a budget where each learns: 192 AdamW steps of batch 16 (512 images × 6 epochs; at 4
# epochs VGG-11 without BatchNorm ended 1 point above the bar)
FAMILIES = ["alexnet_small", "vgg11_small", "vgg11_bn_small", "vgg_factorized_small", "googlenet_small", "resnet20",
            "plain20", "densenet_bc_small", "se_resnet18_small"]  # fmt: skip
QUICK = {"models": FAMILIES, "n_train": 512, "n_test": 500, "epochs": 6}
FULL = {"models": None, "n_train": None, "n_test": None, "epochs": 5}  # all 4,000 / 1,000 images
RECIPE = {"batch_size": 16, "lr": 1e-3, "schedule": "onecycle"}  # AdamW, weight decay 5e-4 (`recipe`)
CHANCE, MARGIN = 0.1, 0.1  # "trains" = test accuracy at least 10 points above chance (10 classes)


def measure(ctx: Context, name: str, data: DataBundle, epochs: int) -> dict[str, float]:
    """Build, count, train (`RECIPE`) and test `name` after precise BN (statistics re-estimated over 256 training
    images); seconds of the training loop."""
    ctx.manual_seed(0)
    net = build(name, data)
    params, flops = count_parameters(net), summarize_meta(lambda: build(name, data), data.input_shape).flops
    cfg = recipe(epochs=epochs, **RECIPE)
    ctx.manual_seed(0)
    seconds = ctx.train(objective_for(name, net), data, **cfg)["seconds"]
    precise_bn(net, data.train.subset(slice(0, 256)))
    return {"params": params, "flops": flops, "seconds": seconds, **evaluate(net, data.test)}


def architecture_rows(
    ctx: Context, names: Sequence[str], *, n_train: int | None, n_test: int | None, epochs: int
) -> list[list]:
    """[name, test accuracy, test loss, parameters, FLOPs per 28×28 image, training seconds] per model."""
    data = dataset("mnist5k", n_train=n_train, n_test=n_test)
    rows = []
    for name in names:
        m = measure(ctx, name, data, epochs)
        rows.append(
            [name, round(m["accuracy"], 4), round(m["loss"], 4), m["params"], m["flops"], round(m["seconds"], 2)]
        )
    return rows


def cost_figure(rows: list[list], n_train: int):
    """Accuracy against FLOPs and against training seconds; names in a column beside each panel, in the order
    of their accuracy, joined to their points (labels never overlap, however many models)."""
    height = max(3.4, 0.13 * len(rows) + 0.8)
    fig, axes = figure(2, width=5.4, height=height)
    for ax, col, xlabel, unit in ((axes[0], 4, "FLOPs per 28×28 image (log scale)", ""),
                                  (axes[1], 5, "training time, 1 CPU thread (log scale)", "s")):  # fmt: skip
        ax.scatter([r[col] for r in rows], [r[1] for r in rows], s=14, zorder=3)
        ax.set(xscale="log", xlabel=xlabel, ylabel="test accuracy (fraction)")
        ax.axhline(CHANCE + MARGIN, ls=":", color="grey", label="chance + 10 points")
        ax.xaxis.set_major_locator(LogLocator(subs=(1.0, 2.0, 5.0)))  # 1, 2, 5, 10, …: labels that do not crowd
        ax.xaxis.set_minor_locator(NullLocator())
        ax.xaxis.set_major_formatter(EngFormatter(unit=unit))  # 20 M FLOPs, 50 s
        ax.legend(fontsize=7, loc="best")
        label_column(ax, [(r[0], r[col], r[1]) for r in rows])
    axes[0].set_title(f"Accuracy vs cost ({n_train} training images)")
    axes[1].set_title("Accuracy vs time")
    return fig


@experiment(
    "architecture_table",
    tags=("C2", "C3", "C4", "C5", "C6", "C7", "F10"),
    claim="The classic architectures (AlexNet, VGG, GoogLeNet, ResNet and plain twins, DenseNet, SE-ResNet, "
    "factorized VGG) all train on MNIST with one recipe; the table sets their accuracy against parameters, "
    "FLOPs and training time.",
)
def architecture_table(ctx: Context) -> Result:
    """Small-input classifiers of the C2–C7/F10 families on mnist5k (quick: one of each family; full: every
    one): accuracy, parameters, FLOPs, seconds. Holds when every one ends at least 10 points above chance."""
    setting = ctx.pick(QUICK, FULL)
    names = setting.pop("models") or small_classifiers()
    rows = architecture_rows(ctx, names, **setting)
    n_train = setting["n_train"] or 4000
    fig = cost_figure(rows, n_train)
    best, worst = max(rows, key=lambda r: r[1]), min(rows, key=lambda r: r[1])
    below = [r[0] for r in rows if r[1] < CHANCE + MARGIN]
    finite = all(math.isfinite(r[2]) for r in rows)
    steps = -(-n_train // RECIPE["batch_size"]) * setting["epochs"]
    subset = f"{n_train} training images, {setting['epochs']} epoch(s), {steps} steps"
    return Result(
        verdict=f"{len(rows)} classifiers trained on mnist5k with one recipe ({subset}, AdamW {RECIPE['lr']:g} "
        f"one-cycle, batch {RECIPE['batch_size']}, BatchNorm statistics re-estimated): "
        f"{len(rows) - len(below)} of {len(rows)} ended at least {MARGIN * 100:.0f} points above chance"
        f"{' (not: ' + ', '.join(below) + ')' if below else ''}; best {best[0]} at {best[1]:.1%}, worst "
        f"{worst[0]} at {worst[1]:.1%} test accuracy; losses finite: {finite}.",
        holds=finite and not below,
        tables=[
            Table(
                f"Small-input classifiers on mnist5k ({subset})",
                ["model", "test accuracy", "test loss", "parameters", "FLOPs", "train seconds"],
                rows,
            )
        ],
        figures={"accuracy_vs_cost": fig},
        captions={
            "accuracy_vs_cost": "Test accuracy against FLOPs per image (multiply-add = 2) and training time; "
            "the dotted line is the claim's bar, 10 points above chance."
        },
        numbers={r[0]: {"accuracy": r[1], "params": r[3], "flops": r[4], "seconds": r[5]} for r in rows},
    )
