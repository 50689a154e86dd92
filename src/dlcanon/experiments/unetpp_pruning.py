"""S2: UNet++ against a U-Net of about the same size, with and without deep supervision, and UNet++ pruned at
inference (Zhou et al., 2018, arXiv:1807.10165): Dice against FLOPs."""

from __future__ import annotations

from dlcanon.data import load_data
from dlcanon.experiments.base import Result, Table, experiment
from dlcanon.experiments.context import Context
from dlcanon.experiments.segmentation_curves import dice_curve, head, split_dice
from dlcanon.models.unetpp import UNetPlusPlus
from dlcanon.nn.summary import count_parameters, summarize
from dlcanon.plots import figure

QUICK = {"steps": 60, "batch_size": 16, "n_train": 256, "probe": 64}  # ≈ 45 s of one CPU core
FULL = {"steps": 600, "batch_size": 32, "n_train": 512, "probe": 128}
# about equal sizes on phantom's 6 classes: U-Net 8→64 over 4 levels ≈ 121 k, UNet++ 8→64 at depth 3 ≈ 139 k
UNET_LEVELS = ((8, 8), (16, 16), (32, 32), (64, 64))
UNETPP_FILTERS = (8, 16, 32, 64)


@experiment(
    "unetpp_pruning",
    tags=("S2",),
    claim="At about equal parameters UNet++ (nested dense skips) segments at least as well as U-Net; deep "
    "supervision lets the trained UNet++ be pruned at inference, trading Dice for FLOPs, with shallow depths "
    "close to the full network.",
    disagrees="After quick mode's 60 steps the deeply supervised UNet++ pruned to depth 2 is far below the full "
    "network (0.344 against 0.515 Dice in a quick run): the shallow heads have not converged yet.",
)
def unetpp_pruning(ctx: Context) -> Result:
    """On phantom: U-Net, UNet++ without and with deep supervision (one recipe); the deeply supervised UNet++
    evaluated at depths 1–3 with its FLOPs (nn/summary's counter, a multiply-add = 2 FLOPs)."""
    s = ctx.pick(QUICK, FULL)
    data = load_data("phantom", n_train=s["n_train"], n_test=s["probe"])
    probe, shape = head(data.test, s["probe"]), tuple(data.train.x.shape[1:])
    runs = (
        ("U-Net", "unet_small", {"levels": UNET_LEVELS}),
        ("UNet++ without deep supervision", "unetpp_small", {"filters": UNETPP_FILTERS, "deep_supervision": False}),
        ("UNet++ with deep supervision", "unetpp_small", {"filters": UNETPP_FILTERS, "deep_supervision": True}),
    )
    rows, nets = [], {}
    for label, model, args in runs:
        ctx.manual_seed(0)
        (dice,), obj = dice_curve(ctx, model, data, steps=s["steps"], checkpoints=[s["steps"]], probe=probe,
                                  model_args=args, batch_size=s["batch_size"])  # fmt: skip
        obj.eval()
        flops = summarize(obj.network, shape).flops
        nets[label] = obj
        rows.append([label, count_parameters(obj.network), flops / 1e6, dice])
    obj = nets["UNet++ with deep supervision"]
    net = obj.network
    assert isinstance(net, UNetPlusPlus)
    pruned = []
    for depth in range(1, net.depth + 1):
        net.set_prune(depth)
        pruned.append([depth, summarize(net, shape).flops / 1e6, split_dice(obj, probe)])
    net.set_prune(0)
    fig, (ax,) = figure(width=5)
    ax.plot([r[1] for r in pruned], [r[2] for r in pruned], "o-", label="UNet++ (deep sup.) pruned at L = 1…3")
    for depth, mflops, dice in pruned:
        ax.annotate(f"L{depth}", (mflops, dice), fontsize=8, xytext=(4, -10), textcoords="offset points")
    for label, _, mflops, dice in rows[:2]:
        ax.scatter([mflops], [dice], marker="s", label=label)
    ax.set(title="phantom: test Dice vs inference cost", xlabel="MFLOPs per 64×64 image", ylabel="mean foreground Dice",
           ylim=(0, 1))  # fmt: skip
    ax.legend(fontsize=7)
    unet, plain, deep = (r[3] for r in rows)
    full, shallow = pruned[-1][2], pruned[-2][2]
    holds = max(plain, deep) >= unet - 0.01 and shallow >= full - 0.05 and pruned[0][1] < pruned[-1][1]
    verdict = (
        f"After {s['steps']} steps on phantom the test Dice is {unet:.3f} for U-Net ({rows[0][1]:,} parameters), "
        f"{plain:.3f} for UNet++ without and {deep:.3f} with deep supervision ({rows[1][1]:,} parameters); pruned, "
        "the deeply supervised UNet++ gives "
        + ", ".join(f"L{d}: {dice:.3f} at {m:.1f} MFLOPs" for d, m, dice in pruned)
        + "."
        + ("" if shallow >= full - 0.05 else f" Pruning to L{net.depth - 1} costs {full - shallow:.3f} Dice here.")
    )
    return Result(
        verdict=verdict,
        holds=holds,
        tables=[
            Table("phantom, test split", ["network", "parameters", "MFLOPs / image", "test Dice"], rows),
            Table("UNet++ (deep supervision) pruned at inference", ["depth L", "MFLOPs / image", "test Dice"], pruned),
        ],
        figures={"dice_vs_flops": fig},
        captions={"dice_vs_flops": "Test Dice against inference FLOPs (64×64 input); squares: unpruned networks."},
        numbers={"dice": {r[0]: r[3] for r in rows}, "pruned": {r[0]: r[2] for r in pruned}},
    )
