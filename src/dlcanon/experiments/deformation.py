"""F8: approximate deformation stability ‖f(x) − f(D_τx)‖ ≈ C‖∇τ‖ (Mallat, 2012; Bruna & Mallat, 2013)."""

from __future__ import annotations

import torch
from torch import nn

from dlcanon.data import load_data
from dlcanon.data.base import DataBundle
from dlcanon.data.deform import deform, random_displacement
from dlcanon.experiments.base import Result, Table, experiment
from dlcanon.experiments.context import Context
from dlcanon.models.lenet import LeNet5
from dlcanon.models.mlp import MLP
from dlcanon.objectives.classifier import Classifier
from dlcanon.plots import figure


@torch.no_grad()
def output_change(
    net: nn.Module, x: torch.Tensor, size: float, repeats: int, g: torch.Generator
) -> tuple[float, float]:
    """Mean over images and fields of ‖f(x) − f(D_τx)‖/‖f(x)‖ and of ‖x − D_τx‖/‖x‖ at ‖∇τ‖_∞ = size."""
    out, inp = [], []
    y = net(x)
    for _ in range(repeats):
        xd = deform(x, random_displacement(len(x), *x.shape[-2:], size=size, smoothness=4.0, generator=g))
        out.append((net(xd) - y).norm(dim=1) / y.norm(dim=1))
        inp.append((xd - x).flatten(1).norm(dim=1) / x.flatten(1).norm(dim=1))
    return float(torch.cat(out).mean()), float(torch.cat(inp).mean())


def loglog_slope(xs: list[float], ys: list[float]) -> float:
    lx, ly = torch.tensor(xs).log(), torch.tensor(ys).log()
    lx, ly = lx - lx.mean(), ly - ly.mean()
    return float((lx * ly).sum() / (lx * lx).sum())


QUICK = {"epochs": 2, "images": 200, "repeats": 2, "n_train": 4000}
FULL = {"epochs": 15, "images": 1000, "repeats": 8, "n_train": 4000}


@experiment(
    "deformation_stability",
    tags=("F8",),
    claim="CNN outputs change roughly in proportion to the size ‖∇τ‖ of a smooth deformation "
    "(‖f(x) − f(D_τx)‖ ≈ C‖∇τ‖), and less than a fully connected network's outputs do.",
)
def deformation_stability(ctx: Context) -> Result:
    """Relative change of trained LeNet-5 and MLP logits under random smooth deformations of growing ‖∇τ‖."""
    s = ctx.pick(QUICK, FULL)
    epochs, n_test, repeats = s["epochs"], s["images"], s["repeats"]
    full = load_data("mnist5k")
    data = DataBundle(full.name, full.train.subset(slice(0, s["n_train"])), full.test, 10, "image")
    sizes = [0.025, 0.05, 0.1, 0.2, 0.4]
    nets = {"CNN (LeNet-5)": LeNet5(1, 10, input_size=28), "MLP (256, 256)": MLP(784, 10)}
    cfg = ctx.config(
        epochs=epochs, batch_size=64, lr=2e-3, optimizer="adamw", precision="fp32", channels_last=False
    )
    x = data.test.x[:n_test]
    curves, accs = {}, {}
    for name, net in nets.items():
        ctx.manual_seed(0)
        accs[name] = ctx.train(Classifier(net), data, cfg)["metrics"]["test_accuracy"]
        net.eval()
        g = ctx.generator(0)
        curves[name] = [output_change(net, x, size, repeats, g) for size in sizes]
    fig, ax = figure(2)
    for name, c in curves.items():
        ax[0].loglog(sizes, [v[0] for v in c], "o-", label=name)
        ax[1].loglog([v[1] for v in c], [v[0] for v in c], "o-", label=name)
    ax[0].loglog(sizes, [curves["CNN (LeNet-5)"][0][0] * s / sizes[0] for s in sizes], "k--", lw=0.8, label="∝ ‖∇τ‖")
    ax[0].set(xlabel="‖∇τ‖∞", ylabel="‖f(x) − f(D_τx)‖/‖f(x)‖", title="Output change vs deformation size")
    ax[1].set(xlabel="‖x − D_τx‖/‖x‖", ylabel="output change", title="Output change vs input change")
    ax[0].legend(fontsize=7)
    slopes = {k: loglog_slope(sizes, [v[0] for v in c]) for k, c in curves.items()}
    cnn, mlp = curves["CNN (LeNet-5)"], curves["MLP (256, 256)"]
    cnn_smaller = all(a[0] < b[0] for a, b in zip(cnn, mlp, strict=True))
    holds = 0.6 <= slopes["CNN (LeNet-5)"] <= 1.4 and cnn_smaller
    rows = [[name, s, v[0], v[1]] for name, c in curves.items() for s, v in zip(sizes, c, strict=True)]
    return Result(
        verdict=f"Over ‖∇τ‖∞ = {sizes[0]}–{sizes[-1]} the relative logit change grew as "
        f"‖∇τ‖^{slopes['CNN (LeNet-5)']:.2f} "
        f"for LeNet-5 ({cnn[0][0]:.3f} → {cnn[-1][0]:.3f}) and ‖∇τ‖^{slopes['MLP (256, 256)']:.2f} for the MLP "
        f"({mlp[0][0]:.3f} → {mlp[-1][0]:.3f}); the CNN changed {'less' if cnn_smaller else 'not always less'} than "
        f"the MLP at every size (test accuracy {accs['CNN (LeNet-5)']:.1%} vs {accs['MLP (256, 256)']:.1%}).",
        holds=holds,
        tables=[
            Table(
                "Relative change under smooth deformations", ["network", "‖∇τ‖∞", "output change", "input change"], rows
            ),
            Table(
                "Log-log slope of output change vs ‖∇τ‖",
                ["network", "slope", "test accuracy"],
                [[k, v, accs[k]] for k, v in slopes.items()],
            ),
        ],
        figures={"deformation": fig},
        captions={"deformation": "Relative logit change against ‖∇τ‖ (left) and against the input change (right)."},
        numbers={"slopes": slopes, "curves": {k: [v[0] for v in c] for k, c in curves.items()}},
    )
