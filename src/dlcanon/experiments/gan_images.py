"""G8–G9, G16 on mnist5k: image GANs scored by Fréchet distance and precision/recall in the features of the
shipped metric classifier, with sample grids and wall-clock time."""

from __future__ import annotations

import time

import torch

from dlcanon.data import load_data
from dlcanon.data.base import DataBundle
from dlcanon.data.loader import DeviceLoader
from dlcanon.experiments.base import Result, Table, experiment, threads
from dlcanon.metrics.feature_net import load_feature_net
from dlcanon.metrics.generative import frechet_distance, precision_recall
from dlcanon.plots import figure, image_grid
from dlcanon.runs import build_objective, default_config
from dlcanon.train import fit

# Epochs of mnist5k (31 steps each at batch 64: a D and a G batch per step) and model arguments. The quick
# budget, about a minute on one core: DCGAN 93 steps, the MLP cGAN 124, LAPGAN and StyleGAN 31, ProGAN 31
# growing every 6 steps (7×7 → 14×14 → 28×28 by step 30).
MODELS_QUICK = {
    "dcgan": (3, {}),
    "cgan": (4, {}),
    "lapgan": (1, {}),
    "progan": (1, {"phase_steps": 6}),
    "stylegan": (1, {}),
}
MODELS_FULL = {"dcgan": (25, {}), "cgan": (60, {}), "lapgan": (25, {}), "progan": (30, {}), "stylegan": (25, {})}


def scores(objective, data) -> dict[str, float]:
    batches = DeviceLoader(data.test, 500, shuffle=False, drop_last=False).epoch(0)
    objective.eval()
    with torch.no_grad():
        return objective.evaluate(batches)


@experiment(
    "gan_images",
    tags=("G8", "G9", "G16"),
    claim="Adversarial training moves the generated distribution towards the data: the Fréchet distance in a "
    "digit classifier's features falls below that of the untrained generator for every model, and (full mode) a "
    "conditional generator's samples are classified as their label more often than chance.",
)
def gan_images(quick: bool) -> Result:
    """DCGAN and a conditional GAN on mnist5k: FD, precision, recall, conditional accuracy, time; sample grids."""
    data = load_data("mnist5k")
    if quick:  # metrics on the first 500 test images (the real floor too): half the cost of evaluation
        data = DataBundle(data.name, data.train, data.test.subset(slice(0, 500)), data.num_classes, data.kind)
    budgets = MODELS_QUICK if quick else MODELS_FULL
    net = load_feature_net("mnist5k")
    with torch.no_grad():
        f_train, f_test = net.features(data.train.x[:1000]), net.features(data.test.x)
    floor = frechet_distance(f_train, f_test)
    p_floor, r_floor = precision_recall(f_test, f_train)
    rows = [["real (train vs test)", 0, 0.0, floor, p_floor, r_floor, "-"]]
    grids, numbers, ok = {}, {"real_floor": floor}, True
    for name, (epochs, model_args) in budgets.items():
        cfg = default_config(name, device="cpu", epochs=epochs, precision="fp32", tensorboard=False, eval_every=0)
        cfg.model_args = dict(model_args)
        torch.manual_seed(0)
        objective = build_objective(cfg, data)
        before = scores(objective, data)
        start = time.perf_counter()
        with threads(1):  # small convolutions: a second thread costs more than it saves on a busy machine
            summary = fit(objective, data, cfg)
        seconds = time.perf_counter() - start
        after = {k.removeprefix("test_"): v for k, v in summary["metrics"].items() if k.startswith("test_")}
        cond = after.get("conditional_accuracy")
        rows.append([f"{name} untrained", 0, 0.0, before["frechet_distance"], before["precision"], before["recall"],
                     "-" if cond is None else f"{before['conditional_accuracy']:.2f}"])  # fmt: skip
        rows.append([name, summary["steps"], seconds, after["frechet_distance"], after["precision"], after["recall"],
                     "-" if cond is None else f"{cond:.2f}"])  # fmt: skip
        numbers[name] = {"before": before, "after": after, "seconds": seconds, "steps": summary["steps"]}
        ok &= after["frechet_distance"] < before["frechet_distance"]
        ok &= quick or cond is None or cond > 0.2
        grids[name] = image_grid(objective.sample(64, seed=0).cpu(), nrow=8)
        if name == "stylegan":
            mixing, nrow = objective.style_mixing(5)
            grids["stylegan style mixing"] = image_grid(mixing.cpu(), nrow=nrow)
    fig, axes = figure(len(grids), width=2.6, height=2.8)
    for ax, (name, grid) in zip(axes, grids.items(), strict=True):
        ax.imshow(grid.squeeze(-1), cmap="gray", vmin=0, vmax=1)
        ax.set(title=name, xticks=[], yticks=[])
        ax.grid(False)
    fd = "; ".join(
        f"{k} FD {v['before']['frechet_distance']:.1f} → {v['after']['frechet_distance']:.1f} "
        f"in {v['steps']} steps ({v['seconds']:.0f} s)"
        for k, v in numbers.items()
        if k in budgets
    )
    return Result(
        verdict=f"Fréchet distance in the mnist5k classifier's features: {fd}; real train vs test: {floor:.1f}.",
        holds=bool(ok),
        tables=[
            Table(
                f"Image GANs on mnist5k ({len(data.test)} test images; 64-d metric-classifier features)",
                ["model", "steps", "seconds", "Fréchet distance", "precision", "recall", "conditional accuracy"],
                rows,
            )
        ],
        figures={"samples": fig},
        captions={
            "samples": "64 samples of each model (seed 0; the conditional GAN cycles through the labels); StyleGAN "
            "style mixing: row 0 gives the fine styles, column 0 the coarse ones."
        },
        numbers=numbers,
    )
