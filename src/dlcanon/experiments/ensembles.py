"""C2: averaging the softmaxes of k independently trained networks beats one network (Krizhevsky et al. 2012).

The gain of one ensemble over its members is a small difference measured once; the experiment repeats it over
independent replicates (disjoint member seeds), reports mean ± standard deviation, and decides with the spread:
a claim that held on one machine's bf16 and failed on another's fp32 rested on one draw."""

from __future__ import annotations

import math

import torch

from dlcanon.experiments.base import Result, Table, experiment
from dlcanon.experiments.classification import build, dataset, evaluate, recipe
from dlcanon.experiments.context import Context
from dlcanon.models.alexnet import Ensemble
from dlcanon.objectives.classifier import Classifier
from dlcanon.plots import figure

# precision: "auto" (the project's default), or "fp32"/"bf16" to check that the verdict does not depend on it
QUICK = {"model": "lenet5", "k": 4, "replicates": 3, "n_train": 1000, "epochs": 4, "precision": "auto"}
FULL = {"model": "alexnet_small", "k": 5, "replicates": 3, "n_train": None, "epochs": 8, "precision": "auto"}


SIZE_COLUMNS = ["k", "ensemble accuracy", "ensemble NLL", "members' mean accuracy", "members' mean NLL"]
GAIN_COLUMNS = ["replicate", "member seeds", "accuracy gain", "NLL reduction (nats)"]


def mean_sd(values: list[float]) -> tuple[float, float]:
    """Mean and sample standard deviation (n − 1; 0 for one value)."""
    t = torch.tensor(values, dtype=torch.float64)
    return float(t.mean()), (float(t.std()) if len(values) > 1 else 0.0)


def clear_gain(gains: list[float]) -> bool:
    """A gain that holds with its spread in view: positive in every replicate, and its mean more than two
    standard errors (sd/√R) above zero."""
    mean, sd = mean_sd(gains)
    return min(gains) > 0 and mean > 2 * sd / math.sqrt(len(gains))


def ensemble_runs(
    ctx: Context, *, model: str, k: int, n_train: int | None, epochs: int, replicate: int = 0, precision: str = "auto"
) -> list[dict[str, float]]:
    """Train `k` members (seeds replicate·k … replicate·k + k − 1: initialisation, data order, dropout) and
    evaluate, for each size j = 1..k, the ensemble of the first j members and the mean of those members alone."""
    data = dataset("mnist5k", n_train=n_train)
    members, alone = [], []
    for seed in range(replicate * k, (replicate + 1) * k):
        ctx.manual_seed(seed)
        net = build(model, data)
        ctx.manual_seed(seed)
        cfg = recipe(epochs=epochs, batch_size=32, lr=1e-3, seed=ctx.seed + seed, precision=precision)
        ctx.train(Classifier(net), data, **cfg)
        members.append(net.eval())
        alone.append(evaluate(net, data.test, precision=precision))
    rows = []
    for j in range(1, k + 1):
        both = evaluate(Ensemble(members[:j]), data.test, precision=precision)
        mean_acc = sum(a["accuracy"] for a in alone[:j]) / j
        mean_nll = sum(a["loss"] for a in alone[:j]) / j
        rows.append(
            {"k": j, "accuracy": both["accuracy"], "nll": both["loss"], "member_accuracy": mean_acc,
             "member_nll": mean_nll, "best_member_nll": min(a["loss"] for a in alone[:j])}
        )  # fmt: skip
    return rows


def by_size(replicates: list[list[dict[str, float]]], key: str) -> list[tuple[float, float]]:
    """(mean, sd) over replicates of `key` at each ensemble size."""
    return [mean_sd([rows[j][key] for rows in replicates]) for j in range(len(replicates[0]))]


@experiment(
    "ensembles",
    tags=("C2",),
    claim="An ensemble that averages the class probabilities of k independently trained networks is more "
    "accurate (and better calibrated) than its members on their own.",
)
def ensembles(ctx: Context) -> Result:
    """Test accuracy and NLL of ensembles of 1..k small AlexNets on mnist5k against their members' mean, over
    independent replicates (mean ± sd)."""
    s = ctx.pick(QUICK, FULL)
    reps = [
        ensemble_runs(ctx, model=s["model"], k=s["k"], n_train=s["n_train"], epochs=s["epochs"], replicate=r,
                      precision=s["precision"])
        for r in range(s["replicates"])
    ]  # fmt: skip
    ks = [r["k"] for r in reps[0]]
    fig, axes = figure(2)
    for ax, (key, member) in zip(axes, (("accuracy", "member_accuracy"), ("nll", "member_nll")), strict=True):
        for name, field, style in (("ensemble", key, "o-"), ("members, mean", member, "s--")):
            mean, sd = zip(*by_size(reps, field), strict=True)
            ax.errorbar(ks, mean, yerr=sd, fmt=style, capsize=3, label=f"{name} (mean ± sd)")
        ax.legend(fontsize=7, loc="best")
        ax.set_xticks(ks)
    axes[0].set(xlabel="members k", ylabel="test accuracy (fraction)", title="Accuracy")
    axes[1].set(xlabel="members k", ylabel="test NLL (nats per image)", title="Negative log-likelihood")
    gains = [rows[-1]["accuracy"] - rows[-1]["member_accuracy"] for rows in reps]
    nll_gains = [rows[-1]["member_nll"] - rows[-1]["nll"] for rows in reps]
    (gain, gain_sd), (nll_gain, nll_sd) = mean_sd(gains), mean_sd(nll_gains)
    acc, member = mean_sd([r[-1]["accuracy"] for r in reps]), mean_sd([r[-1]["member_accuracy"] for r in reps])
    holds = clear_gain(gains) and clear_gain(nll_gains)
    k, n = s["k"], len(reps)
    keys = ("accuracy", "nll", "member_accuracy", "member_nll")
    size_rows = [[j, *(f"{m:.4f} ± {d:.4f}" for m, d in (by_size(reps, key)[i] for key in keys))]
                 for i, j in enumerate(ks)]  # fmt: skip
    gain_rows = [[r, f"{r * k}–{r * k + k - 1}", round(g, 4), round(d, 4)]
                 for r, (g, d) in enumerate(zip(gains, nll_gains, strict=True))]  # fmt: skip
    subset = f"{s['n_train'] or 4000} mnist5k images, {s['epochs']} epochs, precision {s['precision']}"
    return Result(
        verdict=f"{s['model']} ({subset}), {n} independent replicates: an ensemble of {k} reaches "
        f"{acc[0]:.1%} ± {acc[1]:.1%} against its members' mean {member[0]:.1%} ± {member[1]:.1%}, an accuracy gain "
        f"of {gain:+.1%} ± {gain_sd:.1%} (per replicate: {', '.join(f'{g:+.1%}' for g in gains)}); NLL fell by "
        f"{nll_gain:.3f} ± {nll_sd:.3f} nats from the members' mean (never negative: −log is convex). The gain "
        f"{'is' if holds else 'is not'} clear of its spread (positive in every replicate and above two standard "
        "errors).",
        holds=holds,
        tables=[
            Table(f"Ensembles of {s['model']} ({subset}; mean ± sd over {n} replicates)", SIZE_COLUMNS, size_rows),
            Table(f"Gain of the ensemble of {k} over its members' mean, per replicate", GAIN_COLUMNS, gain_rows),
        ],
        figures={"ensemble_size": fig},
        captions={
            "ensemble_size": "Accuracy and NLL of the average of the first k members' softmaxes, and the members' "
            f"mean; points are the mean over {n} replicates, bars one standard deviation."
        },
        numbers={"replicates": reps, "accuracy_gain": gains, "nll_reduction": nll_gains},
    )
