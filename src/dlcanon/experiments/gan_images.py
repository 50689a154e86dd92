"""G8–G9, G16 on mnist5k: image GANs scored by Fréchet distance and precision/recall in the features of the
shipped metric classifier, with samples of one fixed noise batch over training.

`scored_run` (score the untrained GAN, train it with `Context.train`, score it again) is shared with the
growing and multi-scale GANs of `gan_scales`."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import Tensor

from dlcanon.config import TrainConfig
from dlcanon.data import load_data
from dlcanon.data.base import DataBundle
from dlcanon.data.loader import DeviceLoader
from dlcanon.experiments.base import Result, Table, experiment
from dlcanon.experiments.context import Context, final_metrics
from dlcanon.experiments.full_samples import Samples, made_by, shipped
from dlcanon.metrics.feature_net import load_feature_net
from dlcanon.metrics.generative import sample_quality
from dlcanon.metrics.recognisability import recognisability
from dlcanon.objectives.gan import GAN
from dlcanon.plots import figure, image_grid

CLASSES = 10


def digits(quick: bool) -> DataBundle:
    """mnist5k; quick mode scores against its first 500 test images (half the cost of evaluation)."""
    data = load_data("mnist5k")
    if quick:
        data = DataBundle(data.name, data.train, data.test.subset(slice(0, 500)), data.num_classes, data.kind)
    return data


def scores(real: Tensor, fake: Tensor) -> dict[str, float]:
    """Fréchet distance, precision and recall of `fake` against `real` ([0, 1] images (N, 1, 28, 28)) in the
    64-d features of the shipped mnist5k metric classifier, and the share of `fake` it names with
    probability ≥ 0.9 (`recognisable`)."""
    net = load_feature_net("mnist5k")
    with torch.no_grad():
        return sample_quality(net.features(real.float()), net.features(fake.float())) | recognisability(fake, net)


def real_floor(data: DataBundle) -> dict[str, float]:
    """The best a generator can hope for: 1,000 real training images scored against the test images, with
    the recognisability of the test images themselves (the classifier learnt from the training images)."""
    return scores(data.test.x, data.train.x[:1000]) | recognisability(data.test.x, load_feature_net("mnist5k"))


def evaluate(objective: GAN, data: DataBundle) -> dict[str, float]:
    """The objective's own test metrics (FD, precision, recall, conditional accuracy) in eval mode."""
    objective.eval()
    with torch.no_grad():
        return objective.evaluate(DeviceLoader(data.test, 500, shuffle=False, drop_last=False).epoch(0))


@dataclass
class Trained:
    objective: GAN
    before: dict[str, float]  # the untrained model's test metrics
    after: dict[str, float]
    seconds: float  # training time, snapshots excluded
    steps: int  # generator steps
    snapshots: dict[int, Tensor] = field(default_factory=dict)  # step -> samples of one fixed noise batch


def build_gan(ctx: Context, name: str, data: DataBundle, **fields: Any) -> tuple[TrainConfig, GAN]:
    """Registered GAN `name` with its recipe, fp32 and `fields` (epochs, model_args, ...) on top
    (`Context.build`)."""
    return ctx.build(name, data, **{"precision": "fp32", **fields})


def generator_steps(cfg: TrainConfig, objective: GAN, data: DataBundle) -> int:
    """Generator steps of the configured epochs: each takes n_critic + 1 batches."""
    return cfg.epochs * (len(data.train) // cfg.batch_size // (objective.n_critic + 1))


def scored_run(
    ctx: Context,
    name: str,
    data: DataBundle,
    *,
    snapshot: Callable[[int, GAN], Tensor] | None = None,
    snapshot_steps: tuple[int, ...] = (),
    **fields: Any,
) -> Trained:
    """Registered GAN `name` (`build_gan(ctx, name, data, **fields)`) scored untrained, trained by
    `ctx.train`, scored again.

    `snapshot(step, objective)` returns images to keep at each of `snapshot_steps` (default: 16 samples of
    seed 0)."""
    cfg, objective = build_gan(ctx, name, data, **fields)
    before = evaluate(objective, data)
    objective.train()
    take = snapshot or (lambda step, model: model.sample(16, seed=0))
    kept: dict[int, Tensor] = {}
    keep = lambda s, m: kept.__setitem__(s, take(s, m).cpu())  # noqa: E731
    summary = ctx.train(objective, data, cfg, snapshot=keep, snapshot_steps=snapshot_steps)
    objective.eval()  # sampling in train mode would use, and overwrite, BatchNorm's batch statistics
    return Trained(objective, before, final_metrics(summary), summary["seconds"], summary["steps"], kept)


QUALITY = ("frechet_distance", "precision", "recall", "recognisable", "confident_classes")  # `METRIC_COLUMNS`' order
KEPT = 500  # samples a run keeps in `Result.samples`; a full-mode run's ship with dlcanon (`full_samples`)


def kept(run: Trained, **sample_args: Any) -> Samples:
    """`KEPT` samples of the trained run (noise seed 0), with its generator steps and seconds."""
    return Samples(run.objective.sample(KEPT, seed=0, **sample_args).cpu(), run.steps, run.seconds)


def metric_row(label: str, run: Trained | None, metrics: dict[str, float], *extra) -> list:
    steps, seconds = (0, 0.0) if run is None else (run.steps, run.seconds)
    return [label, steps, seconds, *(metrics[k] for k in QUALITY), *extra]


RECOGNISABLE = "recognisable (p ≥ 0.9)"  # the share of samples the metric classifier names with p ≥ 0.9

# The bar every image GAN's quick run is held to: the share of DCGAN's samples the metric classifier names with
# p ≥ 0.9 after its quick budget (620 generator steps), 0.29 of 1,000 samples, in all 10 classes, measured by
# training `dcgan` as `dlcanon reproduce dcgan_digits --quick` does (its table shows its 500 evaluation samples).
# A generator that draws a few clear digits over and over reaches the share (an untrained StyleGAN's blobs: 72%,
# all one class; StyleGAN variants that collapsed onto 1 to 4 digits), so the bar also asks for more than half of
# the 10 classes among the recognised samples.
DCGAN_QUICK_RECOGNISABLE, MIN_CLASSES = 0.29, 6


def as_recognisable_as_dcgan(metrics: dict[str, float]) -> bool:
    """At least DCGAN's quick-budget share recognised, spread over at least `MIN_CLASSES` classes."""
    return metrics["recognisable"] >= DCGAN_QUICK_RECOGNISABLE and metrics["confident_classes"] >= MIN_CLASSES


def against_dcgan(name: str, metrics: dict[str, float], real: float | None) -> str:
    """A sentence comparing the recognisability of `name`'s samples (`metrics`) with DCGAN's at the quick budget
    (and with the real test images' when `real` is given)."""
    side = "at least as recognisable as" if as_recognisable_as_dcgan(metrics) else "not as recognisable as"
    floor = "" if real is None else f" (real test images: {real:.0%})"
    return (
        f"the metric classifier names {metrics['recognisable']:.0%} of {name}'s samples with probability ≥ 0.9, in "
        f"{metrics['confident_classes']} classes{floor}, {side} DCGAN's after its quick budget "
        f"({DCGAN_QUICK_RECOGNISABLE:.0%} in 10 classes)"
    )


@dataclass
class FullBudget:
    """A generator's samples after its full-mode budget, held to DCGAN's quick-budget bar
    (`as_recognisable_as_dcgan`), with DCGAN's own full-budget samples beside them for context; all scored against
    the same real images. In full mode `own` is the run's own samples; in quick mode, and always for DCGAN, the
    set that the full-mode run shipped (`full_samples`): a quick report shows what the full budget reaches."""

    name: str
    own: Samples
    dcgan: Samples
    scores: dict[str, float]
    dcgan_scores: dict[str, float]

    @property
    def holds(self) -> bool:
        return as_recognisable_as_dcgan(self.scores)

    def sentence(self) -> str:
        mine, bar, fd = self.scores, self.dcgan_scores, "frechet_distance"
        return (
            f"after its full budget ({made_by(self.own)}) {against_dcgan(self.name, mine, None)}; DCGAN after its "
            f"own full budget ({self.dcgan.steps:,} steps): {bar['recognisable']:.0%} in {bar['confident_classes']} "
            f"classes, Fréchet distance {bar[fd]:.0f} and recall {bar['recall']:.2f} against {self.name}'s "
            f"{mine[fd]:.0f} and {mine['recall']:.2f}"
        )

    def table(self) -> Table:
        """Both sets' scores (`METRIC_COLUMNS`)."""
        rows = [
            [f"{label}, full mode", s.steps, s.seconds, *(m[k] for k in QUALITY)]
            for label, s, m in ((self.name, self.own, self.scores), ("DCGAN", self.dcgan, self.dcgan_scores))
        ]
        title = f"After the full budget: {self.name}'s samples and DCGAN's (full-mode runs; the bar: DCGAN's quick run)"
        return Table(title, METRIC_COLUMNS, rows)

    def figure(self):
        """36 samples of each set, side by side."""
        grids = {f"{label}, full mode ({s.steps:,} steps)": image_grid(s.images[:36], nrow=6)
                 for label, s in ((self.name, self.own), ("DCGAN", self.dcgan))}  # fmt: skip
        return show_grids(grids, width=3.2, height=3.5)

    def caption(self) -> str:
        return (f"Samples after the full budget: left {self.name}'s ({made_by(self.own)}), right DCGAN's "
                f"({made_by(self.dcgan)}). A quick report shows the sets that full-mode runs ship with dlcanon "
                "(`dlcanon.experiments.full_samples`), scored afresh.")  # fmt: skip

    def numbers(self) -> dict[str, Any]:
        own, dcgan = self.own, self.dcgan
        return {"own": self.scores, "dcgan": self.dcgan_scores, "own_steps": own.steps, "dcgan_steps": dcgan.steps,
                "own_record": own.record, "dcgan_record": dcgan.record}  # fmt: skip


def at_full_budget(ctx: Context, experiment: str, name: str, run: Trained, real: Tensor) -> FullBudget:
    """`FullBudget` of `experiment`'s generator (`name` in prose): its own `run` in full mode, the shipped set of
    its full-mode run in quick mode; DCGAN's shipped set of `dlcanon reproduce dcgan_digits --full` in both."""
    own = shipped(experiment) if ctx.quick else kept(run)
    dcgan = shipped("dcgan_digits")
    return FullBudget(name, own, dcgan, scores(real, own.images), scores(real, dcgan.images))


# classes named: how many classes hold at least 2 % of the recognised samples (one clear digit drawn over and
# over is recognisable, but names one class)
METRIC_COLUMNS = ["model", "generator steps", "seconds", "Fréchet distance", "precision", "recall", RECOGNISABLE,
                  "classes named"]  # fmt: skip


def show_grids(grids: dict[str, Tensor], *, width: float = 3.0, height: float = 3.2):
    """One axis per (H, W, 1) grid image, titled by its key."""
    fig, axes = figure(len(grids), width=width, height=height)
    for ax, (title, grid) in zip(axes, grids.items(), strict=True):
        ax.imshow(grid.squeeze(-1), cmap="gray", vmin=0, vmax=1)
        ax.set(title=title, xticks=[], yticks=[])
        ax.grid(False)
    return fig


def over_training(run: Trained) -> Tensor:
    """The snapshots as one grid: a row per snapshot step, the same noise in every row."""
    return image_grid(torch.cat([run.snapshots[s][:8] for s in sorted(run.snapshots)]), nrow=8)


def snapshot_points(steps: int) -> tuple[int, ...]:
    """0, T/8, T/4, T/2 and T: early steps change the samples most."""
    return (0, steps // 8, steps // 4, steps // 2, steps)


# Epochs of mnist5k (31 generator steps each at batch 64): about 35 s on one core in quick mode.
QUICK, FULL = {"epochs": 20, "conditions": ("projection",)}, {"epochs": 60, "conditions": ("projection", "concat")}


@experiment(
    "dcgan_digits",
    tags=("G9", "G16"),
    claim="An all-convolutional DCGAN (strided convolutions in D, fractional-strided in G, BatchNorm, "
    "LeakyReLU, N(0, 0.02) initialisation) learns the digits: the Fréchet distance in a digit classifier's "
    "features falls at least fivefold from the untrained generator's, and precision and recall exceed 0.3.",
)
def dcgan_digits(ctx: Context) -> Result:
    """DCGAN on mnist5k: FD, precision, recall before and after training; samples of one noise batch over time."""
    data = digits(ctx.quick)
    epochs = ctx.pick(QUICK, FULL)["epochs"]
    steps = generator_steps(*build_gan(ctx, "dcgan", data, epochs=epochs), data)
    run = scored_run(ctx, "dcgan", data, epochs=epochs, snapshot_steps=snapshot_points(steps))
    floor = real_floor(data)
    before, after = run.before, run.after
    fold = before["frechet_distance"] / after["frechet_distance"]
    holds = fold >= 5 and after["precision"] > 0.3 and after["recall"] > 0.3
    rows = [
        metric_row("real images (1,000 training; recognisable: test)", None, floor),
        metric_row("DCGAN untrained", None, before),
        metric_row("DCGAN", run, after),
    ]
    grids = {
        "samples": image_grid(run.objective.sample(64, seed=1).cpu(), nrow=8),
        f"over training (rows: steps {', '.join(map(str, sorted(run.snapshots)))})": over_training(run),
    }
    return Result(
        verdict=f"DCGAN's Fréchet distance fell {fold:.0f}-fold, {before['frechet_distance']:.0f} → "
        f"{after['frechet_distance']:.1f} (real images: {floor['frechet_distance']:.1f}), with precision "
        f"{after['precision']:.2f} and recall {after['recall']:.2f}, in {run.steps} generator steps "
        f"({run.seconds:.0f} s); the metric classifier names {after['recognisable']:.0%} of its samples with "
        f"probability ≥ 0.9 (real test images: {floor['recognisable']:.0%}).",
        holds=holds,
        tables=[Table(f"DCGAN on mnist5k ({len(data.test)} test images)", METRIC_COLUMNS, rows)],
        figures={"dcgan_samples": show_grids(grids, width=3.6, height=3.9)},
        captions={"dcgan_samples": "Left: 64 samples. Right: 8 samples of one fixed noise batch over training."},
        numbers={"before": before, "after": after, "real": floor, "steps": run.steps, "seconds": run.seconds},
        samples={"samples": kept(run)},
    )


def per_label_samples(objective: GAN, per_label: int = 10) -> Tensor:
    """(C·per_label, 1, H, W): row c is label c."""
    labels = torch.arange(CLASSES).repeat_interleave(per_label)
    return objective.sample(len(labels), labels=labels, seed=2)


def label_accuracy(objective: GAN, per_label: int = 100) -> Tensor:
    """(C,) share of `per_label` samples per label that the metric classifier assigns to that label."""
    images = per_label_samples(objective, per_label)
    with torch.no_grad():
        predicted = load_feature_net("mnist5k")(images.cpu()).argmax(1)
    labels = torch.arange(CLASSES).repeat_interleave(per_label)
    return (predicted == labels).float().view(CLASSES, per_label).mean(1)


@experiment(
    "cgan_conditional",
    tags=("G8", "G16"),
    claim="A conditional GAN, with the label fed to G and to D, generates the class it is asked for: the "
    "metric classifier assigns its samples to the requested label far more often than chance (over 50% "
    "against 10%).",
)
def cgan_conditional(ctx: Context) -> Result:
    """Conditional DCGAN (label by projection into D; full mode adds concatenation) on mnist5k."""
    data = digits(ctx.quick)
    s = ctx.pick(QUICK, FULL)
    rows, numbers, grids, holds = [], {}, {}, True
    for condition in s["conditions"]:
        run = scored_run(ctx, "cgan", data, epochs=s["epochs"], model_args={"condition": condition})
        per_label = label_accuracy(run.objective)
        accuracy = float(per_label.mean())
        rows.append(metric_row(f"cGAN, {condition}", run, run.after, accuracy, float(per_label.min())))
        numbers[condition] = {"after": run.after, "per_label": per_label.tolist(), "accuracy": accuracy}
        grids[f"{condition}: row c asks for label c"] = image_grid(per_label_samples(run.objective).cpu(), nrow=10)
        holds &= accuracy > 0.5
    summary = "; ".join(f"{c} {v['accuracy']:.0%} (worst label {min(v['per_label']):.0%})" for c, v in numbers.items())
    return Result(
        verdict=f"Samples classified as their requested label: {summary}; chance is 10%.",
        holds=bool(holds),
        tables=[
            Table(
                f"Conditional DCGAN on mnist5k (100 samples per label; {len(data.test)} test images for FD)",
                [*METRIC_COLUMNS, "label accuracy", "worst label"],
                rows,
            )
        ],
        figures={"cgan_samples": show_grids(grids, width=3.6, height=3.9)},
        captions={"cgan_samples": "Ten samples for each label, label 0 at the top."},
        numbers=numbers,
    )
