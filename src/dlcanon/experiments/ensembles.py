"""C2: averaging the softmaxes of k independently trained networks beats one network (Krizhevsky et al. 2012)."""

from __future__ import annotations

from dlcanon.experiments.base import Result, Table, experiment
from dlcanon.experiments.classification import build, dataset, evaluate, recipe
from dlcanon.experiments.context import Context
from dlcanon.models.alexnet import Ensemble
from dlcanon.objectives.classifier import Classifier
from dlcanon.plots import figure

QUICK = {"model": "alexnet_small", "k": 5, "n_train": 1000, "epochs": 4}
FULL = {"model": "alexnet_small", "k": 7, "n_train": None, "epochs": 8}


def ensemble_runs(ctx: Context, *, model: str, k: int, n_train: int | None, epochs: int) -> list[dict[str, float]]:
    """Train `k` members (seeds 0..k−1: initialisation, data order, dropout) and evaluate, for each size
    j = 1..k, the ensemble of the first j members and the mean of those members alone."""
    data = dataset("mnist5k", n_train=n_train)
    members, alone = [], []
    for seed in range(k):
        ctx.manual_seed(seed)
        net = build(model, data)
        ctx.manual_seed(seed)
        ctx.train(Classifier(net), data, **recipe(epochs=epochs, batch_size=32, lr=1e-3, seed=ctx.seed + seed))
        members.append(net.eval())
        alone.append(evaluate(net, data.test))
    rows = []
    for j in range(1, k + 1):
        both = evaluate(Ensemble(members[:j]), data.test)
        mean_acc = sum(a["accuracy"] for a in alone[:j]) / j
        mean_nll = sum(a["loss"] for a in alone[:j]) / j
        rows.append(
            {"k": j, "accuracy": both["accuracy"], "nll": both["loss"], "member_accuracy": mean_acc,
             "member_nll": mean_nll, "best_member_nll": min(a["loss"] for a in alone[:j])}
        )  # fmt: skip
    return rows


@experiment(
    "ensembles",
    tags=("C2",),
    claim="An ensemble that averages the class probabilities of k independently trained networks is more "
    "accurate (and better calibrated) than its members on their own.",
)
def ensembles(ctx: Context) -> Result:
    """Test accuracy and NLL of ensembles of 1..k small AlexNets on mnist5k against their members' mean."""
    s = ctx.pick(QUICK, FULL)
    rows = ensemble_runs(ctx, **s)
    fig, axes = figure(2)
    ks = [r["k"] for r in rows]
    axes[0].plot(ks, [r["accuracy"] for r in rows], "o-", label="ensemble")
    axes[0].plot(ks, [r["member_accuracy"] for r in rows], "s--", label="members, mean")
    axes[1].plot(ks, [r["nll"] for r in rows], "o-", label="ensemble")
    axes[1].plot(ks, [r["member_nll"] for r in rows], "s--", label="members, mean")
    axes[1].plot(ks, [r["best_member_nll"] for r in rows], ":", label="best member")
    axes[1].legend(fontsize=7)
    axes[0].set(xlabel="members k", ylabel="test accuracy", title="Accuracy")
    axes[1].set(xlabel="members k", ylabel="test NLL (nats)", title="Negative log-likelihood")
    axes[0].legend(fontsize=7)
    one, many = rows[0], rows[-1]
    subset = f"{s['n_train'] or 4000} mnist5k images, {s['epochs']} epochs"
    return Result(
        verdict=f"{s['model']} ({subset}): an ensemble of {many['k']} reaches {many['accuracy']:.1%} against its "
        f"members' mean {many['member_accuracy']:.1%}, NLL {many['nll']:.3f} against their mean "
        f"{many['member_nll']:.3f} (best member {many['best_member_nll']:.3f}; the first network alone "
        f"{one['accuracy']:.1%}). Averaging probabilities can never raise the NLL above the members' mean (−log is "
        f"convex); the accuracy gain is what the experiment measures.",
        holds=many["accuracy"] > many["member_accuracy"] and many["nll"] < many["member_nll"],
        tables=[
            Table(
                f"Ensembles of {s['model']} ({subset})",
                ["k", "ensemble accuracy", "ensemble NLL", "members' mean accuracy", "members' mean NLL"],
                [
                    [r["k"], round(r["accuracy"], 4), round(r["nll"], 4), round(r["member_accuracy"], 4),
                     round(r["member_nll"], 4)]
                    for r in rows
                ],
            )
        ],
        figures={"ensemble_size": fig},
        captions={"ensemble_size": "Accuracy and NLL of the average of the first k members' softmaxes."},
        numbers={"rows": rows},
    )
