"""G15: a classifier is secretly an energy-based model (JEM, Grathwohl et al., 2020, arXiv:1912.03263).

The same convolutional network (`jem_cnn`) is trained twice on digits with the same optimiser and budget: as a
plain classifier (cross-entropy) and as JEM (cross-entropy + contrastive divergence on E(x) = −logsumexp f(x),
SGLD negatives from a replay buffer). Both are scored on the test split by accuracy, negative log-likelihood and
expected calibration error (15 bins); JEM's samples, class by class (E(x, y) = −f(x)[y]), are scored by the
Fréchet distance in the shipped metric classifier's features, beside that of uniform noise.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from dlcanon import presets
from dlcanon.data import load_data
from dlcanon.experiments.base import Result, Table, experiment
from dlcanon.experiments.context import Context
from dlcanon.metrics.calibration import expected_calibration_error
from dlcanon.metrics.feature_net import load_feature_net
from dlcanon.metrics.generative import sample_quality
from dlcanon.objectives.ebm import JEM
from dlcanon.plots import figure, image_grid

QUICK = {"epochs": 24, "langevin_steps": 5, "sample_steps": 40}
FULL = {"epochs": 30, "langevin_steps": 10, "sample_steps": 100}
PER_CLASS = 8  # samples of each class in the figure


@experiment(
    "jem_digits",
    tags=("G15",),
    claim="Trained as JEM, a classifier on digits keeps its accuracy within 2 points of the same network trained "
    "by cross-entropy alone, and its logits' energy E(x) = −logsumexp f(x) samples digit-like images "
    "(Fréchet distance far below that of noise); calibration (ECE) is reported for both.",
)
def jem_digits(ctx: Context) -> Result:
    """Plain classifier vs JEM on `jem_cnn`, digits: accuracy, NLL, ECE; JEM's class-conditional samples."""
    s = ctx.pick(QUICK, FULL)
    data = load_data("digits")
    x, y = data.test.x, data.test.y
    chains = {"langevin_steps": s["langevin_steps"], "sample_steps": s["sample_steps"], "sample_metrics": False}
    recipe = {k: v for k, v in presets.get("jem").fields.items() if k != "objective_args"}  # JEM's optimiser
    cfg, plain = ctx.build("jem_cnn", data, objective="classifier", **(recipe | {"epochs": s["epochs"]}))
    ctx.train(plain, data, cfg)
    cfg, jem = ctx.build("jem", data, objective_args=chains, epochs=s["epochs"])
    ctx.train(jem, data, cfg)
    assert isinstance(jem, JEM)
    rows, numbers = [], {}
    with torch.no_grad():
        for name, probs in (("plain classifier", F.softmax(plain.network(x), 1)), ("JEM", jem.classify(x))):
            found = {
                "accuracy": float((probs.argmax(1) == y).double().mean()),
                "nll": float(F.nll_loss(probs.double().clamp_min(1e-12).log(), y)),
                "ece": expected_calibration_error(probs, y),
            }
            numbers[name] = found
            rows.append([name, found["accuracy"], found["nll"], found["ece"]])
        samples = torch.cat([jem.sample(len(x) // 10 + 1, label=c, seed=c) for c in range(10)])[: len(x)]
        net = load_feature_net("digits")
        real = net.features(x)
        fd = sample_quality(real, net.features(samples))["frechet_distance"]
        noise = torch.rand(x.shape, generator=ctx.generator(1))
        fd_noise = sample_quality(real, net.features(noise))["frechet_distance"]
        predicted = net(samples).argmax(1)
        wanted = torch.arange(10).repeat_interleave(len(x) // 10 + 1)[: len(x)]
        conditional = float((predicted == wanted).double().mean())
    numbers["JEM samples"] = {"frechet_distance": fd, "noise_frechet_distance": fd_noise, "class_accuracy": conditional}
    gap = numbers["plain classifier"]["accuracy"] - numbers["JEM"]["accuracy"]
    holds = gap <= 0.02 and fd < 0.5 * fd_noise
    fig, axes = figure(1, width=5.0, height=5.0)
    per = len(x) // 10 + 1
    grid = torch.cat([samples[c * per : c * per + PER_CLASS] for c in range(10)])
    axes[0].imshow(image_grid(grid, nrow=PER_CLASS).squeeze(-1).numpy(), cmap="gray", vmin=0, vmax=1)
    axes[0].set(
        xticks=[],
        yticks=[],
        ylabel="class y = 0 … 9 (top to bottom)",
        title=f"JEM samples of exp(f(x)[y]), {s['sample_steps']} SGLD steps",
    )
    verdict = (
        f"After {s['epochs']} epochs each: plain classifier {numbers['plain classifier']['accuracy']:.1%} "
        f"(NLL {numbers['plain classifier']['nll']:.3f}, ECE {numbers['plain classifier']['ece']:.3f}), JEM "
        f"{numbers['JEM']['accuracy']:.1%} (NLL {numbers['JEM']['nll']:.3f}, ECE {numbers['JEM']['ece']:.3f}): "
        f"a gap of {100 * gap:.1f} points ({'within' if gap <= 0.02 else 'outside'} 2); JEM is "
        f"{'better' if numbers['JEM']['ece'] < numbers['plain classifier']['ece'] else 'worse'} calibrated here. "
        f"JEM's class-conditional "
        f"samples reach a Fréchet distance of {fd:.1f} against {fd_noise:.1f} for uniform noise, and the metric "
        f"classifier assigns {conditional:.0%} of them to the class they were drawn for."
    )
    return Result(
        verdict=verdict,
        holds=holds,
        tables=[
            Table(
                "Plain classifier vs JEM, same network and recipe, digits test split",
                ["training", "accuracy", "NLL (nats)", "ECE (15 bins)"],
                rows,
            ),
            Table(
                "JEM's samples (metric classifier's features)",
                ["quantity", "value"],
                [
                    ["Fréchet distance, JEM samples", fd],
                    ["Fréchet distance, uniform noise", fd_noise],
                    ["samples classified as their class", conditional],
                ],
            ),
        ],
        figures={"jem_samples": fig},
        captions={
            "jem_samples": f"{PER_CLASS} samples per class from JEM's E(x, y) = −f(x)[y], chains continued "
            "from the replay buffer."
        },
        numbers=numbers,
    )
