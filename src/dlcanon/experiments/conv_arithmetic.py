"""F5: the output size M' = ⌊(M + 2P − D(K − 1) − 1)/S⌋ + 1 equals what real layers produce."""

from __future__ import annotations

import random

import torch
from torch import nn

from dlcanon.experiments.base import Result, Table, experiment
from dlcanon.experiments.context import Context
from dlcanon.nn.conv_arith import conv_output_size, pool_output_size
from dlcanon.plots import figure


def random_config(rng: random.Random) -> dict[str, int]:
    return {
        "size": rng.randint(1, 48),
        "kernel": rng.randint(1, 7),
        "padding": rng.randint(0, 3),
        "stride": rng.randint(1, 4),
        "dilation": rng.randint(1, 3),
    }


def measured(layer: nn.Module, size: int, channels: int = 1) -> int | None:
    """The layer's real output width on a (1, C, size, size) input, or None if the layer rejects it."""
    try:
        with torch.no_grad():
            return layer(torch.zeros(1, channels, size, size)).shape[-1]
    except RuntimeError:
        return None


def predicted(fn, c: dict[str, int], **kw) -> int | None:
    try:
        return fn(c["size"], c["kernel"], padding=c["padding"], stride=c["stride"], dilation=c["dilation"], **kw)
    except ValueError:
        return None


@experiment(
    "conv_output_size",
    tags=("F5",),
    claim="A convolution's output size is ⌊(M + 2P − D(K−1) − 1)/S⌋ + 1 for input M, padding P, "
    "dilation D, kernel K and stride S.",
)
def conv_output_size_experiment(ctx: Context) -> Result:
    """Random convolution and pooling configurations: formula vs the shape PyTorch's layers produce."""
    rng = random.Random(ctx.seed)
    n = ctx.pick({"configurations": 300}, {"configurations": 3000})["configurations"]
    counts = {"Conv2d": [0, 0], "MaxPool2d": [0, 0], "MaxPool2d (ceil_mode)": [0, 0]}
    points: list[tuple[int, int]] = []
    for _ in range(n):
        c = random_config(rng)
        args = dict(stride=c["stride"], padding=c["padding"], dilation=c["dilation"])
        cases = [("Conv2d", nn.Conv2d(1, 1, c["kernel"], **args), predicted(conv_output_size, c))]
        if c["padding"] <= c["kernel"] // 2:  # PyTorch's pooling requires P ≤ K/2
            for ceil in (False, True):
                key = "MaxPool2d (ceil_mode)" if ceil else "MaxPool2d"
                layer = nn.MaxPool2d(c["kernel"], ceil_mode=ceil, **args)
                cases.append((key, layer, predicted(pool_output_size, c, ceil_mode=ceil)))
        for key, layer, want in cases:
            got = measured(layer, c["size"])
            counts[key][0] += 1
            counts[key][1] += got == want
            if got is not None and want is not None:
                points.append((want, got))
    rows = [[k, total, ok, f"{ok / total:.1%}"] for k, (total, ok) in counts.items()]
    total, ok = sum(v[0] for v in counts.values()), sum(v[1] for v in counts.values())
    fig, (ax,) = figure()
    xs, ys = zip(*points, strict=True)
    ax.scatter(xs, ys, s=8, alpha=0.5)
    ax.plot([0, max(xs)], [0, max(xs)], "k--", lw=0.8)
    ax.set(xlabel="formula M'", ylabel="measured output size", title="Output size: formula vs layers")
    return Result(
        verdict=f"The formula gave the measured output size (or rejected the configuration exactly when the "
        f"layer did) in {ok} of {total} random layer configurations.",
        holds=ok == total,
        tables=[Table("Formula vs PyTorch layers", ["layer", "configurations", "agree", "share"], rows)],
        figures={"formula_vs_measured": fig},
        captions={"formula_vs_measured": "Each dot is one random configuration; all lie on the diagonal."},
        numbers={"configurations": total, "agree": ok},
    )
