"""A2: what activations do to deep networks. Vanishing gradients with sigmoid/tanh, dying ReLUs after a too
large learning rate, SELU self-normalisation (Klambauer et al., 2017: with LeCun-normal weights
W ~ N(0, 1/fan_in), SELU maps mean 0 / variance 1 pre-activations to mean 0 / variance 1)."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from dlcanon.data import load_data
from dlcanon.experiments.base import Result, Table, experiment
from dlcanon.experiments.context import Context
from dlcanon.models.mlp import MLP
from dlcanon.nn.activations import activation
from dlcanon.objectives.classifier import Classifier
from dlcanon.plots import figure
from dlcanon.registry import ACTIVATIONS

SMALL_LR, LARGE_LR = 1e-3, 0.03  # Adam on digits: the usual rate, and one large enough to knock units dead
VECTOR = ("softmax", "softmin", "log_softmax")  # act on a whole vector: plotted along a 2-vector (t, 0)


def curve(name: str, t: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """φ(t) and φ'(t) by autograd (vector activations: first output for inputs (t, 0))."""
    t = t.clone().requires_grad_(True)
    act = activation(name)
    y = act(torch.stack([t, torch.zeros_like(t)], -1))[..., 0] if name in VECTOR else act(t)
    (grad,) = torch.autograd.grad(y.sum(), t)
    return y.detach(), grad


def layer_grad_norms(net: MLP, x: torch.Tensor, y: torch.Tensor) -> list[float]:
    """‖∂L/∂W_l‖ of every Linear layer, input side first."""
    net.zero_grad()
    F.cross_entropy(net(x), y).backward()
    return [float(m.weight.grad.norm()) for m in net.modules() if isinstance(m, nn.Linear)]


@torch.no_grad()
def dead_fraction(net: MLP, x: torch.Tensor) -> float:
    """Share of hidden ReLU units that output 0 for every input in x."""
    dead, total, h = 0, 0, x.flatten(1)
    for m in net.net:
        h = m(h)
        if isinstance(m, nn.ReLU):
            dead, total = dead + int((h.amax(0) <= 0).sum()), total + h.shape[1]
    return dead / total


@torch.no_grad()
def depth_statistics(name: str, depth: int, width: int, g: torch.Generator) -> list[tuple[float, float]]:
    """Mean and variance of the activations after each layer of a LeCun-normal network on N(0, 1) inputs."""
    h, act, stats = torch.randn(2000, width, generator=g), activation(name), []
    for _ in range(depth):
        h = act(h @ (torch.randn(width, width, generator=g) / width**0.5))
        stats.append((float(h.mean()), float(h.var())))
    return stats


QUICK = {"steps": 150, "depth": 20, "stat_depth": 50}
FULL = {"steps": 1500, "depth": 20, "stat_depth": 50}


@experiment(
    "activations_depth",
    tags=("A2",),
    claim="Sigmoid and tanh make gradients vanish through depth (BN helps); a large learning rate kills ReLUs; "
    "SELU with LeCun-normal initialisation keeps activations near mean 0 and variance 1 through depth.",
)
def activations_depth(ctx: Context) -> Result:
    """Activation plots; per-layer gradient norms of 20-layer nets; dead ReLUs; SELU statistics through depth."""
    ctx.manual_seed(0)
    data = load_data("digits")
    x, y = data.train.x[:256], data.train.y[:256]
    t = torch.linspace(-4, 4, 401)
    names = [n for n in ACTIVATIONS.names() if n != "sine"] + ["sine"]
    fig_a, ax_a = figure(2)
    for name in names:
        f, df = curve(name, t if name != "sine" else t / 30)
        ax_a[0].plot(t, f, label=name, lw=1)
        ax_a[1].plot(t, df.clamp(-3, 3), lw=1)
    ax_a[0].set(ylim=(-3, 4), title="φ(t) (sine: sin(30·t/30))", xlabel="t")
    ax_a[1].set(ylim=(-1.5, 3), title="φ'(t) (clipped to ±3)", xlabel="t")
    ax_a[0].legend(fontsize=5, ncol=2)
    s = ctx.pick(QUICK, FULL)
    steps, depth, stat_depth = s["steps"], s["depth"], s["stat_depth"]
    adam = dict(steps=steps, batch_size=64, optimizer="adam", precision="fp32")  # `steps` Adam steps, batch 64
    grads, rows = {}, []
    for act in ("sigmoid", "tanh", "relu", "selu"):
        for bn in (False, True):
            ctx.manual_seed(0)
            net = MLP(64, 10, hidden=[64] * (depth - 1), activation=act, batchnorm=bn)
            before = layer_grad_norms(net, x, y)
            ctx.train(Classifier(net), data, lr=1e-3, **adam)
            net.eval()
            after = layer_grad_norms(net.train(), x, y)
            label = f"{act}{' + BN' if bn else ''}"
            grads[label] = (before, after)
            rows.append([label, before[0], before[-1], before[0] / before[-1], after[0] / after[-1]])
    dead = {}
    for lr in (SMALL_LR, LARGE_LR):
        ctx.manual_seed(0)
        net = MLP(64, 10, hidden=[128] * 4, activation="relu")
        ctx.train(Classifier(net), data, lr=lr, **adam)
        dead[lr] = dead_fraction(net, data.test.x)
    g = ctx.generator(0)
    stats = {name: depth_statistics(name, stat_depth, 256, g) for name in ("selu", "relu", "tanh")}
    fig_g, ax_g = figure(3, width=3.8)
    for label, (before, after) in grads.items():
        style = "--" if "BN" in label else "-"
        ax_g[0].semilogy(range(1, depth + 1), before, style, label=label)
        ax_g[1].semilogy(range(1, depth + 1), after, style, label=label)
    ax_g[0].set(xlabel="layer (input side = 1)", ylabel="‖∂L/∂W_l‖", title="At initialisation")
    ax_g[1].set(xlabel="layer", title=f"After {steps} Adam steps")
    ax_g[0].legend(fontsize=6)
    for name, s in stats.items():
        ax_g[2].plot(range(1, stat_depth + 1), [v[1] for v in s], label=f"{name} variance")
        ax_g[2].plot(range(1, stat_depth + 1), [v[0] for v in s], ":", label=f"{name} mean")
    ax_g[2].set(yscale="symlog", xlabel="layer", title="LeCun-normal init: activation stats")
    ax_g[2].legend(fontsize=6)
    ratio = {label: b[0] / b[-1] for label, (b, _) in grads.items()}
    layers = sorted({1, min(10, stat_depth), stat_depth})
    selu_end = stats["selu"][-1]
    holds = (
        ratio["sigmoid"] < 1e-3
        and ratio["sigmoid + BN"] > 100 * ratio["sigmoid"]
        and dead[LARGE_LR] > dead[SMALL_LR] + 0.1
        and abs(selu_end[0]) < 0.2
        and 0.7 < selu_end[1] < 1.3
    )
    return Result(
        verdict=f"First/last-layer gradient-norm ratio at init in {depth}-layer nets: sigmoid {ratio['sigmoid']:.1e}, "
        f"tanh {ratio['tanh']:.1e}, ReLU {ratio['relu']:.1e}, SELU {ratio['selu']:.1e} (sigmoid + BN "
        f"{ratio['sigmoid + BN']:.1e}); dead ReLUs after Adam at lr {LARGE_LR}: {dead[LARGE_LR]:.0%} vs "
        f"{dead[SMALL_LR]:.0%} at lr {SMALL_LR}; after {stat_depth} SELU layers with LeCun-normal weights, mean "
        f"{selu_end[0]:+.3f} and variance {selu_end[1]:.3f} (ReLU variance {stats['relu'][-1][1]:.1e}).",
        holds=holds,
        tables=[
            Table(
                f"Gradient norms in {depth}-layer MLPs on digits (‖∂L/∂W‖ of the first and last layer)",
                ["net", "first (init)", "last (init)", "first/last (init)", f"first/last (after {steps} steps)"],
                rows,
            ),
            Table(
                f"Dead ReLU units (4 × 128, {steps} Adam steps)",
                ["learning rate", "dead fraction"],
                [[k, v] for k, v in dead.items()],
            ),
            Table(
                "Activation statistics after layer l (LeCun-normal, width 256)",
                ["activation", *[f"l={i} mean/var" for i in layers]],
                [[k, *[f"{s[i - 1][0]:+.3f} / {s[i - 1][1]:.3f}" for i in layers]] for k, s in stats.items()],
            ),
        ],
        figures={"activations": fig_a, "depth": fig_g},
        captions={
            "activations": "Every registered activation and its derivative (autograd).",
            "depth": f"Per-layer gradient norms before and after training; activation statistics over {stat_depth} "
            "layers.",
        },
        numbers={"grad_ratio": ratio, "dead": {str(k): v for k, v in dead.items()}, "selu_last": selu_end},
    )
