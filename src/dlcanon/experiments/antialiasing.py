"""F9: blurring before sub-sampling (BlurPool) makes a classifier's predictions more consistent under shifts."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor, nn

from dlcanon.experiments.base import Result, Table, experiment
from dlcanon.experiments.classification import autocast, build, dataset, evaluate, precise_bn, recipe
from dlcanon.experiments.context import Context
from dlcanon.objectives.classifier import Classifier
from dlcanon.plots import figure

QUICK = {"model": "vgg11_bn_small", "filters": (0, 3), "n_train": 2000, "n_test": None, "epochs": 3, "max_shift": 4}
FULL = {
    "model": "vgg11_bn_small",
    "filters": (0, 2, 3, 5),
    "n_train": None,
    "n_test": None,
    "epochs": 10,
    "max_shift": 4,
}


@torch.no_grad()
def consistency(net: nn.Module, x: Tensor, *, max_shift: int, pairs: int = 5, seed: int = 0) -> float:
    """Zhang (2019)'s consistency: the fraction of pairs of randomly shifted copies of an image that get the same
    class. Each pair draws two shifts (dy, dx) uniform in [−max_shift, max_shift]²; shifts are circular, which
    for MNIST's black borders only moves the digit."""
    g = torch.Generator().manual_seed(seed)
    net.eval()
    same = 0
    with autocast("auto", net):
        for _ in range(pairs):
            a, b = (torch.randint(-max_shift, max_shift + 1, (2,), generator=g).tolist() for _ in range(2))
            pa = net(torch.roll(x, a, dims=(-2, -1))).argmax(1)
            pb = net(torch.roll(x, b, dims=(-2, -1))).argmax(1)
            same += int((pa == pb).sum())
    return same / (pairs * len(x))


def antialias_runs(
    ctx: Context,
    *,
    model: str,
    filters: Sequence[int],
    n_train: int | None,
    n_test: int | None,
    epochs: int,
    max_shift: int,
) -> list:
    """[filter size, test accuracy, consistency] for `model` trained with `antialias=m` (0: none)."""
    data = dataset("mnist5k", n_train=n_train, n_test=n_test)
    rows = []
    for m in filters:
        ctx.manual_seed(0)
        net = build(model, data, antialias=m)
        ctx.manual_seed(0)
        ctx.train(Classifier(net), data, **recipe(epochs=epochs, batch_size=32, lr=2e-3))
        precise_bn(net, data.train.subset(slice(0, 512)))
        acc = evaluate(net, data.test)["accuracy"]
        rows.append([m, acc, consistency(net, data.test.x, max_shift=max_shift, seed=ctx.seed)])
    return rows


@experiment(
    "antialiasing",
    tags=("F9",),
    claim="Max-pooling and strided layers alias, so a CNN's prediction changes when the input shifts by a few "
    "pixels; blurring before sub-sampling (BlurPool, Zhang 2019) makes predictions more shift-consistent "
    "without costing accuracy.",
)
def antialiasing(ctx: Context) -> Result:
    """Accuracy and shift consistency of VGG-11 (small, BN) with plain and blurred max-pools on mnist5k."""
    s = ctx.pick(QUICK, FULL)
    rows = antialias_runs(ctx, **s)
    fig, axes = figure(2)
    labels = ["none" if m == 0 else f"binomial {m}" for m, _, _ in rows]
    axes[0].bar(labels, [r[2] for r in rows])
    axes[1].bar(labels, [r[1] for r in rows], color="C1")
    lo = min(r[2] for r in rows)
    axes[0].set(ylabel="consistency", ylim=(max(0.0, lo - 0.05), 1.0), title=f"Shifts up to ±{s['max_shift']} px")
    axes[1].set(ylabel="test accuracy", ylim=(max(0.0, min(r[1] for r in rows) - 0.05), 1.0), title="Accuracy")
    plain, blurred = rows[0], rows[-1]
    subset = f"{s['n_train'] or 4000} mnist5k images, {s['epochs']} epochs"
    return Result(
        verdict=f"{s['model']} ({subset}): without BlurPool consistency {plain[2]:.1%}, accuracy {plain[1]:.1%}; "
        f"with a binomial-{blurred[0]} blur consistency {blurred[2]:.1%}, accuracy {blurred[1]:.1%}.",
        holds=blurred[2] > plain[2] and blurred[1] >= plain[1] - 0.01,
        tables=[
            Table(
                f"Anti-aliasing ({subset}; shifts up to ±{s['max_shift']} px)",
                ["blur filter", "test accuracy", "consistency"],
                [[lab, round(r[1], 4), round(r[2], 4)] for lab, r in zip(labels, rows, strict=True)],
            )
        ],
        figures={"consistency": fig},
        captions={"consistency": "Fraction of pairs of shifted test images classified the same, and accuracy."},
        numbers={lab: {"accuracy": r[1], "consistency": r[2]} for lab, r in zip(labels, rows, strict=True)},
    )
