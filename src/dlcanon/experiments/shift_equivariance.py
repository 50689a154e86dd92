"""F3: convolutions commute with shifts, up to what padding and sub-sampling do; global pooling is invariant."""

from __future__ import annotations

import torch
from torch import nn

from dlcanon.data import load_data
from dlcanon.experiments.base import Result, Table, experiment
from dlcanon.experiments.context import Context
from dlcanon.metrics.equivariance import invariance_error, shift, shift_equivariance_error
from dlcanon.plots import figure


def conv_stack(padding_mode: str, *, stride: int = 1, channels: int = 8, depth: int = 3) -> nn.Sequential:
    """`depth` 3×3 convolutions with ReLU (the first with `stride`), padding 1 by `padding_mode`."""
    layers: list[nn.Module] = []
    for i in range(depth):
        layers += [
            nn.Conv2d(1 if i == 0 else channels, channels, 3, stride=stride if i == 0 else 1, padding=1,
                      padding_mode=padding_mode),
            nn.ReLU(),
        ]  # fmt: skip
    return nn.Sequential(*layers)


def interior_error(f: nn.Module, x: torch.Tensor, s: int, border: int) -> float:
    """Zero-fill shift error away from the borders (a frame of `border` + s pixels dropped)."""
    with torch.no_grad():
        a, b = f(shift(x, s, s, mode="zero")), shift(f(x), s, s, mode="zero")
    cut = (slice(None),) * 2 + (slice(border + s, -border - s),) * 2
    return float((a - b)[cut].norm() / b[cut].norm())


QUICK, FULL = {"images": 64}, {"images": 512}


@experiment(
    "shift_equivariance",
    tags=("F3",),
    claim="Convolutions are shift-equivariant: with circular padding exactly (to float precision); zero padding "
    "breaks it only at the borders; strided sub-sampling breaks it for shifts the stride does not divide; "
    "global average pooling turns equivariant maps into shift-invariant features.",
)
def shift_equivariance(ctx: Context) -> Result:
    """Equivariance and invariance errors of random conv stacks on mnist5k digits under shifts of 1–4 pixels."""
    ctx.manual_seed(0)
    x = load_data("mnist5k").test.x[: ctx.pick(QUICK, FULL)["images"]]  # (N, 1, 28, 28)
    shifts = [1, 2, 3, 4]
    nets = {
        "circular padding": conv_stack("circular"),
        "zero padding": conv_stack("zeros"),
        "circular, stride 2": conv_stack("circular", stride=2),
    }
    rows, curves = [], {}
    for name, net in nets.items():
        mode = "circular"
        errs = []
        for s in shifts:
            if name.endswith("stride 2") and s % 2:
                errs.append(_odd_shift_error(net, x, s))
            else:
                errs.append(shift_equivariance_error(net, x, s, s, mode=mode))
        curves[name] = errs
        rows += [[name, s, e] for s, e in zip(shifts, errs, strict=True)]
    zero_inside = [interior_error(nets["zero padding"], x, s, border=3) for s in shifts]
    gap = {
        name: [invariance_error(nn.Sequential(net, nn.AdaptiveAvgPool2d(1)), x, lambda t, s=s: shift(t, s, s))
               for s in shifts]
        for name, net in nets.items() if "stride" not in name
    }  # fmt: skip
    flat = nn.Sequential(nets["circular padding"], nn.Flatten(), nn.Linear(8 * 28 * 28, 10))
    flat_inv = [invariance_error(flat, x, lambda t, s=s: shift(t, s, s)) for s in shifts]
    fig, ax = figure(2)
    for name, errs in curves.items():
        ax[0].semilogy(shifts, [max(e, 1e-9) for e in errs], "o-", label=name)
    ax[0].semilogy(shifts, zero_inside, "s--", label="zero padding, interior")
    ax[0].set(xlabel="shift (pixels, both axes)", ylabel="‖f(Sx) − Sf(x)‖/‖f(x)‖", title="Equivariance error")
    ax[0].legend(fontsize=7)
    for name, errs in gap.items():
        ax[1].semilogy(shifts, [max(e, 1e-9) for e in errs], "o-", label=f"{name} + global avg pool")
    ax[1].semilogy(shifts, flat_inv, "o-", label="circular + flatten + linear")
    ax[1].set(xlabel="shift (pixels)", ylabel="‖f(Sx) − f(x)‖/‖f(x)‖", title="Invariance error")
    ax[1].legend(fontsize=7)
    circ, zero, strided = curves["circular padding"], curves["zero padding"], curves["circular, stride 2"]
    holds = (
        max(circ) < 1e-5
        and min(zero) > 1e-3
        and max(zero_inside) < 1e-5
        and min(strided[0], strided[2]) > 1e-2
        and max(strided[1], strided[3]) < 1e-5
        and max(gap["circular padding"]) < 1e-5
        and min(flat_inv) > 1e-2
    )
    return Result(
        verdict=f"Circular-padded convs: equivariance error ≤ {max(circ):.1e}; zero padding: {min(zero):.3f}–"
        f"{max(zero):.3f} overall but ≤ {max(zero_inside):.1e} away from the borders; stride 2: {strided[0]:.2f} "
        f"for a 1-pixel shift, {strided[1]:.1e} for a 2-pixel shift; global average pooling: invariance error "
        f"≤ {max(gap['circular padding']):.1e} (circular) vs {min(flat_inv):.2f}–{max(flat_inv):.2f} for a "
        "flatten + linear head.",
        holds=holds,
        tables=[
            Table("Shift-equivariance error of random 3-layer conv stacks", ["network", "shift", "error"], rows),
            Table(
                "Shift-invariance error of the pooled/flattened outputs",
                ["head", *[f"shift {s}" for s in shifts]],
                [[f"{k} + global avg pool", *v] for k, v in gap.items()] + [["circular + flatten + linear", *flat_inv]],
            ),
        ],
        figures={"shift_errors": fig},
        captions={"shift_errors": "Left: equivariance error vs shift; right: invariance error of pooled outputs."},
        numbers={"circular": circ, "zero": zero, "zero_interior": zero_inside, "stride2": strided},
    )


def _odd_shift_error(net: nn.Module, x: torch.Tensor, s: int) -> float:
    """A stride-2 map has no s/2-pixel shift for odd s: compare f(Sx) with the nearest output shift ⌊s/2⌋."""
    with torch.no_grad():
        y, ys = net(x), net(shift(x, s, s))
        return float((ys - shift(y, s // 2, s // 2)).norm() / y.norm())
