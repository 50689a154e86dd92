"""C9: data augmentation helps most when data is scarce: accuracy per augmentation family on 500 images."""

from __future__ import annotations

from collections.abc import Sequence

from dlcanon.experiments.base import Result, Table, experiment
from dlcanon.experiments.classification import build, dataset, evaluate, recipe
from dlcanon.experiments.context import Context
from dlcanon.objectives.classifier import Classifier
from dlcanon.plots import figure

# each family of the notes with its default strength (dlcanon.data.augment); "digits" = scale+rotate+translate
FAMILIES = (
    "none",
    "flip",
    "crop",
    "scale",
    "rotate",
    "translate",
    "affine",
    "perspective",
    "intensity",
    "noise",
    "digits",
)
QUICK = {"families": FAMILIES, "model": "lenet5", "n_train": 500, "epochs": 30, "seeds": (0,)}
FULL = {"families": FAMILIES, "model": "lenet5", "n_train": 500, "epochs": 60, "seeds": (0, 1, 2)}


def augmentation_runs(
    ctx: Context, families: Sequence[str], *, model: str, n_train: int, epochs: int, seeds: Sequence[int]
) -> dict[str, float]:
    """Mean test accuracy (whole 1,000-image test split) over `seeds` for each augmentation family."""
    data = dataset("mnist5k", n_train=n_train)
    out = {}
    for family in families:
        accs = []
        for seed in seeds:
            ctx.manual_seed(seed)
            net = build(model, data)
            ctx.manual_seed(seed)
            cfg = recipe(
                epochs=epochs, batch_size=50, lr=3e-3, seed=ctx.seed + seed, augment="" if family == "none" else family
            )
            ctx.train(Classifier(net), data, **cfg)
            accs.append(evaluate(net, data.test)["accuracy"])
        out[family] = sum(accs) / len(accs)
    return out


@experiment(
    "augmentation",
    tags=("C9",),
    claim="On a small training set, augmenting the data with label-preserving transformations raises test "
    "accuracy; transformations that do not preserve the label (mirrored digits) do not help.",
)
def augmentation(ctx: Context) -> Result:
    """LeNet-5 on 500 mnist5k images with each augmentation family of the notes, against none."""
    s = ctx.pick(QUICK, FULL)
    acc = augmentation_runs(ctx, **s)
    base = acc["none"]
    rows = [[f, round(a, 4), round(a - base, 4)] for f, a in acc.items()]
    fig, (ax,) = figure(width=6.0)
    ax.bar(range(len(acc)), [a - base for a in acc.values()], color=["C0" if a >= base else "C3" for a in acc.values()])
    ax.set_xticks(range(len(acc)), list(acc), rotation=45, ha="right", fontsize=7)
    ax.axhline(0, color="k", lw=0.8)
    ax.set(ylabel="test accuracy − no augmentation", title=f"{s['model']} on {s['n_train']} images")
    helped = [f for f, a in acc.items() if a > base]
    best = max(acc, key=acc.get)
    return Result(
        verdict=f"{s['model']} on {s['n_train']} images: no augmentation {base:.1%}; {len(helped)} of "
        f"{len(acc) - 1} families raise test accuracy, best {best} {acc[best]:.1%}; flip {acc['flip']:.1%}.",
        holds=acc["digits"] > base and len(helped) >= (len(acc) - 1) // 2,
        tables=[
            Table(
                f"Test accuracy by augmentation ({s['n_train']} training images, {s['epochs']} epochs, "
                f"{len(s['seeds'])} seed(s))",
                ["augmentation", "test accuracy", "vs none"],
                rows,
            )
        ],
        figures={"accuracy_by_family": fig},
        captions={"accuracy_by_family": "Change in test accuracy from each augmentation family (red: it hurt)."},
        numbers=acc,
    )
