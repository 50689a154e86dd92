"""G10–G12 on mnist5k: GANs that build images across scales (LAPGAN, Progressive GAN) or styles (StyleGAN).

Scores at a coarser scale compare like with like: real images are average-pooled to that scale, and real and
generated images alike are brought back to 28×28 by nearest-neighbour up-sampling before the metric
classifier reads them (`at_scale`)."""

from __future__ import annotations

import itertools

import torch
import torch.nn.functional as F
from torch import Tensor

from dlcanon.experiments.base import Result, Table, experiment
from dlcanon.experiments.context import Context
from dlcanon.experiments.gan_images import (
    METRIC_COLUMNS,
    RECOGNISABLE,
    against_dcgan,
    as_recognisable_as_dcgan,
    at_full_budget,
    build_gan,
    digits,
    generator_steps,
    kept,
    metric_row,
    scored_run,
    scores,
    show_grids,
)
from dlcanon.metrics.feature_net import load_feature_net
from dlcanon.metrics.recognisability import recognisability
from dlcanon.models.progan import level_and_alpha
from dlcanon.objectives.gan import GAN
from dlcanon.plots import image_grid, scale_rows

SIDE = 28
REAL_COLUMNS = (RECOGNISABLE, "classes named", "real images recognisable")


def at_scale(x: Tensor, side: int) -> Tensor:
    """(N, C, S, S) images seen at side `side`: average-pooled to it if larger, then nearest-up-sampled to 28."""
    if x.shape[-1] > side:
        x = F.avg_pool2d(x, x.shape[-1] // side)
    return F.interpolate(x, size=SIDE, mode="nearest") if x.shape[-1] < SIDE else x


def scale_scores(objective: GAN, real: Tensor, n: int = 500) -> dict[int, dict[str, float]]:
    """Per pyramid level (by side): FD, precision, recall and recognisability of the chain's images against
    the real pyramid."""
    objective.eval()
    chain = objective.pyramid(n, seed=3)
    return {x.shape[-1]: scores(at_scale(real, x.shape[-1]), at_scale(x, x.shape[-1])) for x in chain}


def real_recognisable(real: Tensor, side: int) -> float:
    """The share of real images seen at side `side` (`at_scale`) that the metric classifier names with
    probability ≥ 0.9: what a generator's samples at that side can hope for."""
    return recognisability(at_scale(real, side), load_feature_net("mnist5k"))["recognisable"]


# quick: refining generators and discriminators of width 16 (about 45 s); full: the registered width 32
LAPGAN_QUICK, LAPGAN_FULL = {"epochs": 20, "model_args": {"width": 16}}, {"epochs": 60, "model_args": {}}


@experiment(
    "lapgan_pyramid",
    tags=("G10", "G16"),
    claim="A Laplacian pyramid of GANs samples coarse to fine: G₂ draws a 7×7 image from noise and each finer "
    "generator adds the band-pass residual over the up-sampled coarser image; at every scale the samples move "
    "towards the real images of that scale (Fréchet distance below the untrained pyramid's); at 28×28 the metric "
    "classifier recognises at least as many of its samples as of DCGAN's after the same quick budget.",
)
def lapgan_pyramid(ctx: Context) -> Result:
    """LAPGAN on mnist5k (7 → 14 → 28): per-scale FD before and after training; the chain of 10 samples."""
    data = digits(ctx.quick)
    s = ctx.pick(LAPGAN_QUICK, LAPGAN_FULL)
    run = scored_run(ctx, "lapgan", data, epochs=s["epochs"], model_args=s["model_args"])
    real = data.test.x
    before = scale_scores(build_gan(ctx, "lapgan", data, model_args=s["model_args"])[1], real)
    after = scale_scores(run.objective, real)
    metrics = ("frechet_distance", "precision", "recall", "recognisable", "confident_classes")
    reals = {side: real_recognisable(real, side) for side in after}
    rows = [
        [f"{s}×{s}", before[s]["frechet_distance"], *(after[s][k] for k in metrics), reals[s]] for s in sorted(after)
    ]
    chain = run.objective.pyramid(10, seed=1)
    grid = image_grid(scale_rows(chain), nrow=10)
    holds = all(after[s]["frechet_distance"] < before[s]["frechet_distance"] for s in after)
    holds = holds and as_recognisable_as_dcgan(after[SIDE])
    fd = "frechet_distance"
    fds = ", ".join(f"{s}×{s} {before[s][fd]:.0f} → {after[s][fd]:.0f}" for s in sorted(after))
    return Result(
        verdict=f"Fréchet distance per scale, untrained → trained: {fds}, after {run.steps} generator steps "
        f"({run.seconds:.0f} s); at 28×28 precision {after[SIDE]['precision']:.2f}, "
        f"recall {after[SIDE]['recall']:.2f}, and {against_dcgan('LAPGAN', after[SIDE], reals[SIDE])}.",
        holds=holds,
        tables=[
            Table(
                "LAPGAN on mnist5k: each scale's samples against the real images at that scale",
                ["scale", "FD untrained", "FD trained", "precision", "recall", *REAL_COLUMNS],
                rows,
            )
        ],
        figures={"lapgan_scales": show_grids({"rows: 7×7 → 14×14 → 28×28": grid}, width=7.0, height=2.6)},
        captions={
            "lapgan_scales": "Ten samples of the chain: row 1 is G₂(z) at 7×7, row 2 adds G₁'s residual at 14×14, "
            "row 3 adds G₀'s at 28×28 (the coarse rows shown nearest-up-sampled)."
        },
        numbers={"before": before, "after": after, "steps": run.steps, "seconds": run.seconds},
    )


def progan_level_ends(phase: int, levels: int, total: int) -> list[int]:
    """The generator step ending each resolution's stable phase (the last one: the end of training)."""
    ends = [phase * (1 + 2 * level) for level in range(levels)] + [total]
    if total < phase * (1 + 2 * levels):
        raise ValueError(f"{total} steps end before the last resolution's phases ({phase * (1 + 2 * levels)} steps)")
    assert all(level_and_alpha(end, levels, phase) == (level + 1, 0.0) for level, end in enumerate(ends[:-1]))
    return ends


# quick: 300 steps of growth, 382 more at 28×28. Phases of 120 steps (600 of growth, 82 at 28×28) left samples
# collapsed onto one blotch (1,000 samples: FD 334, recall 0.02, 9% recognisable in 5 classes); phases of 60
# gave FD 186, recall 0.25, 20% in 8 classes (gan_images.scored_run as below, then `scores` of 1,000 samples).
PROGAN_QUICK, PROGAN_FULL = {"phase": 60, "epochs": 11}, {"phase": 300, "epochs": 40}


@experiment(
    "progan_growth",
    tags=("G11", "G16"),
    claim="A Progressive GAN grows G and D from 7×7 to 28×28, fading each new resolution in, and ends with "
    "samples far closer to the data than the untrained network's: the Fréchet distance at 28×28 falls at least "
    "fivefold; and after its full budget the metric classifier recognises at least as many of its samples as of "
    "DCGAN's after DCGAN's quick budget, the bar every image GAN is held to (the full-mode run's samples ship "
    "with dlcanon: the quick report scores and shows them, with DCGAN's full-budget samples for context, beside "
    "the quick run's own, whose digits are still forming). Samples and scores at the end of each resolution's "
    "phase are shown.",
)
def progan_growth(ctx: Context) -> Result:
    """Progressive GAN on mnist5k: samples and FD at the end of each resolution's phase."""
    data = digits(ctx.quick)
    s = ctx.pick(PROGAN_QUICK, PROGAN_FULL)
    phase, epochs = s["phase"], s["epochs"]
    model_args = {"phase_steps": phase}
    cfg, untrained = build_gan(ctx, "progan", data, epochs=epochs, model_args=model_args)
    net = untrained.network
    levels, s0 = net.generator.levels, net.generator.s0
    total = generator_steps(cfg, untrained, data)
    ends = progan_level_ends(phase, levels, total)
    run = scored_run(ctx, "progan", data, epochs=epochs, model_args=model_args, snapshot_steps=tuple(ends),
                     snapshot=lambda step, model: model.sample(500, seed=0))  # fmt: skip
    real, rows, numbers, grid_rows = data.test.x, [], {}, []
    untrained.eval()
    for level, end in enumerate(ends):
        side = s0 * 2**level
        untrained.on_step(end, total)  # the untrained network grown as far as the trained one at `end`
        before = scores(at_scale(real, side), untrained.sample(500, seed=0))
        after = scores(at_scale(real, side), run.snapshots[end])
        real_share = real_recognisable(real, side)
        rows.append([f"{side}×{side}", end, before["frechet_distance"], after["frechet_distance"],
                     after["precision"], after["recall"], after["recognisable"], after["confident_classes"],
                     real_share])  # fmt: skip
        numbers[side] = {"step": end, "before": before, "after": after, "real_recognisable": real_share}
        grid_rows.append(run.snapshots[end][:10])
    final = numbers[s0 * 2**levels]
    full = at_full_budget(ctx, "progan_growth", "ProGAN", run, real)
    holds = final["after"]["frechet_distance"] * 5 <= final["before"]["frechet_distance"] and full.holds
    fd = "; ".join(
        f"{s}×{s} at step {v['step']}: {v['before']['frechet_distance']:.0f} → {v['after']['frechet_distance']:.0f}"
        for s, v in numbers.items()
    )
    return Result(
        verdict=f"Fréchet distance against the real images at each resolution, untrained → trained: {fd} "
        f"({run.seconds:.0f} s in all); at 28×28 "
        f"{against_dcgan('ProGAN', final['after'], final['real_recognisable'])}; {full.sentence()}.",
        holds=holds,
        tables=[
            Table(
                f"Progressive GAN on mnist5k ({phase} generator steps per phase; WGAN-GP, n_critic = 1)",
                ["resolution", "generator step", "FD untrained", "FD trained", "precision", "recall", *REAL_COLUMNS],
                rows,
            ),
            full.table(),
        ],
        figures={
            "progan_resolutions": show_grids(
                {"rows: 7×7, 14×14, 28×28": image_grid(torch.cat(grid_rows), nrow=10)}, width=7.0, height=2.6
            ),
            "progan_full": full.figure(),
        },
        captions={
            "progan_resolutions": "The same ten noise vectors at the end of each resolution's phase (the coarse "
            "rows as the generator outputs them: nearest-up-sampled to 28×28).",
            "progan_full": full.caption(),
        },
        numbers={"levels": numbers, "seconds": run.seconds, "steps": run.steps, "full_budget": full.numbers()},
        samples={"samples": kept(run)},
    )


TRUNCATIONS = (1.0, 0.7, 0.4, 0.0)


def feature_spread(images: Tensor) -> float:
    """Trace of the covariance of the metric classifier's features: how varied a set of samples is."""
    with torch.no_grad():
        f = load_feature_net("mnist5k").features(images.float())
    return float(f.var(0).sum())


def truncation_sweep(objective: GAN, real: Tensor, n: int = 500) -> dict[float, dict[str, float]]:
    """Per ψ: FD, precision, recall, recognisability and feature spread of n samples w̄ + ψ(w − w̄)."""
    sweep = {}
    for psi in TRUNCATIONS:
        samples = objective.sample(n, seed=4, truncation=psi)
        sweep[psi] = scores(real, samples) | {"spread": feature_spread(samples)}
    return sweep


def mixing_sources(objective: GAN, n: int = 400, *, seed: int = 6, crossover: int | None = None) -> dict[str, float]:
    """Which source the metric classifier's label of a style mix follows, over the pairs (A, B) it labels
    differently: `coarse` the share of mixes (A's styles before layer `crossover`, B's from it on) labelled as A,
    `fine` as B."""
    a, b, mixed = objective.mixed_pairs(n, seed=seed, crossover=crossover)
    with torch.no_grad():
        la, lb, lm = (load_feature_net("mnist5k")(x).argmax(1) for x in (a, b, mixed))
    differ = la != lb
    pairs = int(differ.sum())
    share = lambda hit: float((hit & differ).sum()) / max(1, pairs)  # noqa: E731
    return {"coarse": share(lm == la), "fine": share(lm == lb), "pairs": pairs}


def layer_span(first: int, end: int, layers: int, side: int) -> str:
    """"layers a–b (s×s, …)": the sides of style layers first … end − 1 of a synthesis network of `layers`
    = 1 + 2n layers and output side `side` (layer 0 at side/2ⁿ, then two layers per doubling)."""
    n = (layers - 1) // 2
    sides = sorted({side // 2 ** (n - (k + 1) // 2) for k in range(first, end)})
    span = f"layer {first}" if end - first == 1 else f"layers {first}–{end - 1}"
    return f"{span} ({', '.join(f'{s}×{s}' for s in sides)})"


STYLEGAN_QUICK, STYLEGAN_FULL = {"epochs": 16}, {"epochs": 40}


@experiment(
    "stylegan_styles",
    tags=("G12", "G16"),
    claim="A style-based generator (mapping network, learned constant, a style per layer, noise inputs, style "
    "mixing) learns the digits, its Fréchet distance falling below the untrained network's and the metric "
    "classifier recognising at least as many of its samples as of DCGAN's after the same quick budget; the truncation "
    "trick w̄ + ψ(w − w̄) trades variety for typicality: the samples' spread and recall shrink and the share "
    "the metric classifier recognises rises as ψ falls from 1 to 0.4; and a style mix takes the digit (a coarse "
    "attribute) from the source of its coarse styles (the resolutions below the output's) more often than from the "
    "source of its fine ones (the output resolution's).",
    disagrees="Truncation trades variety away, but not for typicality: as ψ falls from 1 to 0.4 the samples' spread "
    "and recall shrink, and the share the metric classifier names falls with them (the verdict gives the numbers) "
    "where the claim has it rise. The mean style w̄ of ten digit classes draws no digit (at ψ = 0 the classifier "
    "names none of the one image left), so pulling every w towards it takes the digit's identity away with its "
    "variety; the paper's w̄ is an average face, itself a face. The rest holds: the Fréchet distance falls about "
    "twentyfold, the share named is above DCGAN's quick 29%, and a mix of A's 7×7 and 14×14 styles with B's 28×28 "
    "ones takes A's label several times as often as B's. Over seeds 0–2 (`--seed N`, one run each) StyleGAN's "
    "share named was 38%, 34% and 28% and DCGAN's 31%, 40% and 34%: comparable, StyleGAN's a little lower, and "
    "seed 2's under the bar. (StyleGAN2's modulated layers in place of AdaIN collapsed onto a few digits at every "
    "recipe tried: models/stylegan.py.)",
)
def stylegan_styles(ctx: Context) -> Result:
    """StyleGAN on mnist5k: FD, samples, truncation sweep, style-mixing grid and which source a mix follows."""
    data = digits(ctx.quick)
    run = scored_run(ctx, "stylegan", data, **ctx.pick(STYLEGAN_QUICK, STYLEGAN_FULL))
    objective, real = run.objective.eval(), data.test.x
    floor = real_recognisable(real, SIDE)
    rows = [metric_row("StyleGAN untrained", None, run.before, "-"), metric_row("StyleGAN", run, run.after, "-")]
    sweep = truncation_sweep(objective, real)
    rows += [metric_row(f"ψ = {psi}", None, m, m["spread"]) for psi, m in sweep.items()]
    mixing, nrow = objective.style_mixing(5, seed=2)
    cut, layers = objective.network.default_crossover, objective.network.style_layers
    by_crossover = {c: mixing_sources(objective, crossover=c) for c in range(1, layers)}
    sources = by_crossover[cut]
    coarse_span, fine_span = layer_span(0, cut, layers, SIDE), layer_span(cut, layers, layers, SIDE)
    grids = {
        "samples": image_grid(objective.sample(36, seed=1), nrow=6),
        "truncation ψ = " + ", ".join(map(str, TRUNCATIONS)): image_grid(
            torch.cat([objective.sample(6, seed=5, truncation=psi) for psi in TRUNCATIONS]), nrow=6
        ),
        "style mixing": image_grid(mixing, nrow=nrow),
    }
    trading = TRUNCATIONS[:-1]  # ψ = 0 is one image, w̄: no spread left to trade
    shrinking = all(sweep[a]["spread"] > sweep[b]["spread"] for a, b in itertools.pairwise(TRUNCATIONS))
    recall_falls = sweep[trading[-1]]["recall"] < sweep[1.0]["recall"]
    sharper = sweep[trading[-1]]["recognisable"] > sweep[1.0]["recognisable"]
    fd = "frechet_distance"
    holds = run.after[fd] < run.before[fd] and shrinking and recall_falls and sharper
    holds = holds and sources["coarse"] > sources["fine"] and as_recognisable_as_dcgan(run.after)
    sweep_text = "; ".join(
        f"ψ = {p}: spread {m['spread']:.0f}, recall {m['recall']:.2f}, recognisable {m['recognisable']:.0%}"
        for p, m in sweep.items()
    )
    return Result(
        verdict=f"StyleGAN's Fréchet distance fell {run.before[fd]:.0f} → {run.after[fd]:.0f} in {run.steps} "
        f"generator steps ({run.seconds:.0f} s); {against_dcgan('StyleGAN', run.after, floor)}. "
        f"Truncation: {sweep_text}. Of "
        f"{sources['pairs']} style mixes of two differently labelled sources, {sources['coarse']:.0%} take the "
        f"label of the coarse styles' source and {sources['fine']:.0%} that of the fine styles' source.",
        holds=bool(holds),
        tables=[
            Table(
                f"StyleGAN on mnist5k; truncation sweep on 500 samples (real test images: {floor:.0%} recognisable)",
                [*METRIC_COLUMNS, "feature spread (trace of covariance)"],
                rows,
            ),
            Table(
                f"Style mixing: whose label a mix of A's coarse and B's fine styles takes, at each crossover "
                f"({sources['pairs']} pairs that the metric classifier labels differently; the verdict's split is "
                f"layer {cut}, the output resolution's first)",
                ["A's styles (coarse)", "B's styles (fine)", "label of A", "label of B", "neither"],
                [[layer_span(0, c, layers, SIDE), layer_span(c, layers, layers, SIDE), m["coarse"], m["fine"],
                  1 - m["coarse"] - m["fine"]] for c, m in by_crossover.items()],
            ),
        ],
        figures={"stylegan": show_grids(grids, width=3.2, height=3.5)},
        captions={
            "stylegan": "Left: samples. Middle: the same six w truncated towards w̄, one row per ψ. Right: style "
            f"mixing; row 0 gives the fine styles ({fine_span}), column 0 the coarse ones ({coarse_span})."
        },
        numbers={
            "before": run.before,
            "after": run.after,
            "real_recognisable": floor,
            "truncation": sweep,
            "mixing": sources,
            "mixing_by_crossover": by_crossover,
        },
        samples={"samples": kept(run)},
    )
