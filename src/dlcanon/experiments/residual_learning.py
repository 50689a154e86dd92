"""C5: deeper plain networks train worse (the degradation problem); residual networks of the same depth do not."""

from __future__ import annotations

from collections.abc import Sequence

from dlcanon.experiments.base import Result, Table, experiment
from dlcanon.experiments.classification import build, dataset, evaluate, precise_bn, recipe
from dlcanon.experiments.context import Context
from dlcanon.objectives.classifier import Classifier
from dlcanon.plots import figure

QUICK = {"depths": (20, 56), "n_train": 512, "epochs": 3}
FULL = {"depths": (20, 32, 44, 56, 110), "n_train": None, "epochs": 10}


def training_losses(ctx: Context, depths: Sequence[int], *, n_train: int | None, epochs: int) -> dict[str, dict]:
    """Train resnet{d} and plain{d} (CIFAR layout, option A) on mnist5k (AdamW 1e-3, weight decay 1e-4 as He et
    al., cosine, batch 32): per model the final epoch's mean training loss, the curve, and the test accuracy
    after precise BN. (SGD at He et al.'s lr 0.1 needs their warm-up for the deep ResNets; AdamW does not.)"""
    data = dataset("mnist5k", n_train=n_train, n_test=500)
    batch = 32
    per_epoch = len(data.train) // batch
    out = {}
    for depth in depths:
        for kind in ("plain", "resnet"):
            name = f"{kind}{depth}"
            cfg = recipe(
                epochs=epochs,
                batch_size=batch,
                optimizer="adamw",
                lr=1e-3,
                weight_decay=1e-4,
                schedule="cosine",
                log_every=max(1, per_epoch // 4),
            )
            ctx.manual_seed(0)
            net = build(name, data)
            ctx.manual_seed(0)
            s = ctx.train(Classifier(net), data, curve=True, **cfg)
            precise_bn(net, data.train)
            final_epoch = zip(s["curve_steps"], s["losses"], strict=True)
            last = [loss for step, loss in final_epoch if step > (epochs - 1) * per_epoch]
            out[name] = {
                "final_train_loss": sum(last) / len(last),
                "steps": s["curve_steps"],
                "losses": s["losses"],
                "test_accuracy": evaluate(net, data.test)["accuracy"],
            }
    return out


@experiment(
    "residual_learning",
    tags=("C5",),
    claim="Stacking more layers on a plain network raises its training loss (degradation, not overfitting); "
    "the same network with identity shortcuts (a ResNet) trains at least as well when deeper.",
)
def residual_learning(ctx: Context) -> Result:
    """Training loss of plain vs residual CIFAR-style networks of increasing depth on mnist5k."""
    setting = ctx.pick(QUICK, FULL)
    res = training_losses(ctx, **setting)
    depths = setting["depths"]
    shallow, deep = depths[0], depths[-1]
    loss = {name: r["final_train_loss"] for name, r in res.items()}
    plain_degrades = loss[f"plain{deep}"] > loss[f"plain{shallow}"]
    residual_ok = loss[f"resnet{deep}"] <= loss[f"resnet{shallow}"] * 1.05
    rows = [
        [
            d,
            round(loss[f"plain{d}"], 4),
            round(loss[f"resnet{d}"], 4),
            round(res[f"plain{d}"]["test_accuracy"], 4),
            round(res[f"resnet{d}"]["test_accuracy"], 4),
        ]
        for d in depths
    ]
    fig, axes = figure(2)
    for ax, kind in zip(axes, ("plain", "resnet"), strict=True):
        for d in depths:
            r = res[f"{kind}{d}"]
            ax.plot(r["steps"], r["losses"], label=f"{d} layers")
        ax.set(xlabel="step", ylabel="training loss", yscale="log", title=f"{kind} networks")
        ax.legend(fontsize=7)
    subset = f"{setting['n_train'] or 4000} mnist5k images, {setting['epochs']} epochs"
    return Result(
        verdict=f"Final-epoch training loss ({subset}): plain-{shallow} {loss[f'plain{shallow}']:.3f} → "
        f"plain-{deep} {loss[f'plain{deep}']:.3f}; ResNet-{shallow} {loss[f'resnet{shallow}']:.3f} → "
        f"ResNet-{deep} {loss[f'resnet{deep}']:.3f}.",
        holds=plain_degrades and residual_ok,
        tables=[
            Table(
                f"Training loss by depth ({subset})",
                ["depth", "plain train loss", "ResNet train loss", "plain test acc", "ResNet test acc"],
                rows,
            )
        ],
        figures={"training_loss": fig},
        captions={
            "training_loss": "Training loss (mean over quarter epochs) of plain (left) and residual (right) "
            "networks; He et al. 2016 Fig. 1/6 on CIFAR-10."
        },
        numbers={"final_train_loss": loss, "plain_degrades": plain_degrades, "residual_ok": residual_ok},
    )
