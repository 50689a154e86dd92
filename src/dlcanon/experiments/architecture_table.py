"""C2–C7, F10: every small-input classifier trained on mnist5k with one recipe, side by side."""

from __future__ import annotations

import math
from collections.abc import Sequence

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
from dlcanon.plots import figure

# models: None means every small classifier (`small_classifiers()`); a test may name a few
QUICK = {"models": None, "n_train": 256, "n_test": 200, "epochs": 1}  # a stated subset: one pass over 256 images
FULL = {"models": None, "n_train": None, "n_test": None, "epochs": 5}  # all 4,000 / 1,000 images


def measure(ctx: Context, name: str, data: DataBundle, epochs: int) -> dict[str, float]:
    """Build, count, train (AdamW 1e-3, batch 16) and test `name` after precise BN; seconds of the training loop."""
    ctx.manual_seed(0)
    net = build(name, data)
    params, flops = count_parameters(net), summarize_meta(lambda: build(name, data), data.input_shape).flops
    cfg = recipe(epochs=epochs, batch_size=16, lr=1e-3, schedule="constant")
    ctx.manual_seed(0)
    seconds = ctx.train(objective_for(name, net), data, **cfg)["seconds"]
    precise_bn(net, data.train.subset(slice(0, 64)))
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


@experiment(
    "architecture_table",
    tags=("C2", "C3", "C4", "C5", "C6", "C7", "F10"),
    claim="The classic architectures (AlexNet, VGG, GoogLeNet, ResNet and plain twins, DenseNet, SE-ResNet, "
    "factorized VGG) all train on MNIST with one recipe; the table sets their accuracy against parameters, "
    "FLOPs and training time.",
)
def architecture_table(ctx: Context) -> Result:
    """Every small-input classifier of the C2–C7/F10 families on mnist5k: accuracy, parameters, FLOPs, seconds."""
    setting = ctx.pick(QUICK, FULL)
    names = setting.pop("models") or small_classifiers()
    rows = architecture_rows(ctx, names, **setting)
    n_train = setting["n_train"] or 4000
    fig, axes = figure(2, width=5.0, height=4.0)
    for name, acc, _, _, flops, seconds in rows:
        for ax, x in zip(axes, (flops, seconds), strict=True):
            ax.scatter(x, acc, s=14)
            ax.annotate(name, (x, acc), fontsize=5, alpha=0.8)
    axes[0].set(xscale="log", xlabel="FLOPs per 28×28 image", ylabel="test accuracy", title="Accuracy vs cost")
    axes[1].set(
        xscale="log", xlabel="training seconds (1 CPU thread)", ylabel="test accuracy", title="Accuracy vs time"
    )
    best = max(rows, key=lambda r: r[1])
    chance = 1 / 10
    above = [r[0] for r in rows if r[1] > chance + 0.05]
    finite = all(math.isfinite(r[2]) for r in rows)
    subset = f"{n_train} training images, {setting['epochs']} epoch(s)"
    return Result(
        verdict=f"{len(rows)} classifiers trained on mnist5k ({subset}, AdamW 1e-3, batch 16): {len(above)} beat "
        f"chance by 5 points; best {best[0]} at {best[1]:.1%} test accuracy; losses finite: {finite}.",
        holds=finite and len(above) >= len(rows) // 2,
        tables=[
            Table(
                f"Small-input classifiers on mnist5k ({subset})",
                ["model", "test accuracy", "test loss", "parameters", "FLOPs", "train seconds"],
                rows,
            )
        ],
        figures={"accuracy_vs_cost": fig},
        captions={"accuracy_vs_cost": "Test accuracy against FLOPs per image (multiply-add = 2) and training time."},
        numbers={r[0]: {"accuracy": r[1], "params": r[3], "flops": r[4], "seconds": r[5]} for r in rows},
    )
