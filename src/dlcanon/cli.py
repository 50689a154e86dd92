"""The command line: the only place that reads argv. Every command has --help and --json.

A user's mistake exits 2 with one line on stderr; --json prints one JSON object on stdout and nothing else.
"""

from __future__ import annotations

import dataclasses
import json
import sys
import time
from pathlib import Path
from typing import Annotated, Any

import typer

from dlcanon.errors import Interrupted, NonFiniteLoss, UserError
from dlcanon.listing import KINDS  # the standard library only: `--help` imports no family

app = typer.Typer(
    name="dlcanon",
    help="An executable deep-learning curriculum: train, evaluate, sample and reproduce every notion.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)
MAX_SAMPLES = 4096  # a grid of more is unreadable and its PNG hundreds of megabytes


def _version(value: bool) -> None:
    if value:
        from dlcanon import __version__

        typer.echo(f"dlcanon {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Print the version and exit.")
    ] = False,
) -> None:
    """An executable deep-learning curriculum: train, evaluate, sample and reproduce every notion."""

JsonOpt = Annotated[bool, typer.Option("--json", help="Print one JSON object on stdout.")]


def emit(obj: Any, as_json: bool, render: Any = None) -> None:
    """Print `obj` as JSON, or call `render()` for the human view (default: pretty JSON)."""
    if as_json or render is None:
        typer.echo(json.dumps(obj, indent=None if as_json else 2, default=str))
    else:
        render()


@app.command("list")
def list_cmd(
    kind: Annotated[str, typer.Argument(help=f"One of: {', '.join(KINDS)}.")] = "models",
    as_json: JsonOpt = False,
) -> None:
    """List registered names (models with their parameter count on their default data)."""
    if kind not in KINDS:
        from dlcanon.registry import suggest

        raise UserError(f"list expects one of {', '.join(KINDS)}; got {kind!r}{suggest(kind, list(KINDS))}")
    from dlcanon.listing import rows as listing

    rows = listing(kind)  # cached by code version: no family is imported when this code has listed it before
    from rich.markup import escape
    from rich.table import Table

    from dlcanon.progress import Console

    def render() -> None:
        table = Table(title=f"dlcanon {kind}")
        for col in rows[0] if rows else ["name"]:  # names are typed: whole, on one line; descriptions wrap
            table.add_column(col, no_wrap=col in ("name", "model", "data"), overflow="fold")
        for row in rows:
            table.add_row(
                *(
                    ", ".join(v) if isinstance(v, list) else f"{v:,}" if isinstance(v, int) else escape(str(v))
                    for v in row.values()
                )
            )
        Console().print(table)

    emit(rows, as_json, render)


@app.command()
def info(
    model: Annotated[str, typer.Argument(help="A registered model name (see `dlcanon list models`).")],
    data: Annotated[str | None, typer.Option(help="Dataset whose shape and classes size the model.")] = None,
    set_: Annotated[list[str] | None, typer.Option("--set", help="model_args.KEY=VALUE overrides.")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Per-layer table of a model (of each network, for a GAN's generator and critic): output shapes, parameters
    and FLOPs (a multiply-add counts 2), and the recipe `dlcanon train MODEL` uses."""
    from dlcanon.modelinfo import model_summary, recipe, recipe_line

    summary = model_summary(model, data=data, overrides=set_ or [])
    default = recipe(model, data=data)

    def render() -> None:
        _print_table(summary.to_table())
        typer.echo(recipe_line(default))
        typer.echo(f"every field: dlcanon train {model} --print-config")

    emit({**summary.to_dict(), "recipe": default}, as_json, render)


def _print_table(table: Any) -> None:
    from dlcanon.progress import Console

    Console().print(table)


@app.command()
def train(
    model: Annotated[
        str, typer.Argument(help="A preset or a model (`dlcanon list presets`, `dlcanon list models`).")
    ],
    data: Annotated[str | None, typer.Option(help="Dataset name or FORMAT:PATH (mnist:, cifar10:, npz:, ...).")] = None,
    objective: Annotated[str | None, typer.Option(help="Objective (default: the model's own).")] = None,
    epochs: Annotated[int | None, typer.Option(help="Epochs (default: the preset's).")] = None,
    steps: Annotated[int | None, typer.Option(help="Optimiser steps; when given, they decide, not epochs.")] = None,
    batch_size: Annotated[int | None, typer.Option(help="Global batch size (of each micro-batch).")] = None,
    accumulate: Annotated[int | None, typer.Option(help="Micro-batches per optimiser step.")] = None,
    lr: Annotated[float | None, typer.Option(help="Peak learning rate of every player.")] = None,
    optimizer: Annotated[str | None, typer.Option(help="Every player's optimiser (`dlcanon list optimizers`).")] = None,
    device: Annotated[str | None, typer.Option(help="auto, cpu, cuda or mps.")] = None,
    precision: Annotated[str | None, typer.Option(help="fp32, bf16 (autocast) or fp16 (CUDA, GradScaler).")] = None,
    threads: Annotated[int | None, typer.Option(help="Intra-op CPU threads (0: chosen by FLOPs).")] = None,
    compile_: Annotated[bool, typer.Option("--compile", help="torch.compile the training step.")] = False,
    seed: Annotated[int | None, typer.Option(help="Random seed.")] = None,
    out: Annotated[Path | None, typer.Option(help="Run directory (default runs/MODEL-DATA-TIME).")] = None,
    resume: Annotated[bool, typer.Option("--resume", help="Continue the run in --out from its checkpoint.")] = False,
    set_: Annotated[list[str] | None, typer.Option("--set", help="KEY=VALUE for any config field.")] = None,
    print_config: Annotated[
        bool,
        typer.Option(
            "--print-config",
            help="Print the fully resolved configuration (every player's optimiser, the model's and objective's "
            "arguments) and exit without training or writing anything.",
        ),
    ] = False,
    as_json: JsonOpt = False,
) -> None:
    """Train a preset or a model (with its preset of the same name, if any) on DATA with its objective; writes
    config.json (with every player's optimiser as built), metrics.jsonl, checkpoint.pt and summary.json."""
    from dlcanon.config import resolved, write_json
    from dlcanon.data import load_data
    from dlcanon.runs import budget_note, build_objective, check_resume, configure
    from dlcanon.train import Trainer

    cfg = configure(
        model,
        set_,
        data=data,
        objective=objective,
        epochs=epochs,
        steps=steps,
        batch_size=batch_size,
        accumulate=accumulate,
        lr=lr,
        optimizer=optimizer,
        device=device,
        precision=precision,
        threads=threads,
        seed=seed,
        compile=compile_ or None,
    )
    if print_config:
        from dlcanon.runs import print_config as show

        bundle = load_data(cfg.data, **cfg.data_args)
        built = build_objective(cfg, bundle)
        built.check_data(bundle.train)
        emit(show(cfg, bundle, built), as_json)
        return
    note = budget_note(cfg)
    if note and not as_json:
        typer.echo(note, err=True)
    if out is None:
        if resume:
            raise UserError("--resume needs the run directory: pass --out RUN_DIR")
        data_name = cfg.data.replace(":", "-").replace("/", "_")
        out = Path("runs") / f"{cfg.preset or cfg.model}-{data_name}-{time.strftime('%Y%m%d-%H%M%S')}"
    if out.exists() and not out.is_dir():
        raise UserError(f"--out expects a run directory; {out} is a file")
    if (out / "checkpoint.pt").exists() and not resume:
        raise UserError(f"{out} already holds a run; pass --resume to continue it or choose another --out")
    if resume:
        check_resume(cfg, out)
    from dlcanon.runtime import seed_everything

    seed_everything(cfg.seed, deterministic=cfg.deterministic)
    bundle = load_data(cfg.data, **cfg.data_args)
    trainer = Trainer(build_objective(cfg, bundle), bundle, cfg, out_dir=out, resume=resume)
    try:  # only now, when every value has been accepted, does the run directory appear
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:  # a file where a parent directory should be, no permission, ...
        raise UserError(f"--out {out}: cannot create the run directory ({exc.strerror})") from None
    try:
        if trainer.dist.is_main:
            used = trainer.optimizer_settings  # every player's optimiser as built
            ran = dataclasses.replace(cfg, device=trainer.device.type, precision=trainer.precision,
                                      threads=trainer.threads)  # not "auto" or 0
            write_json(out / "config.json", resolved(ran, data_info=bundle.describe(), optimizers=used))
        summary = trainer.fit()
        summary["run_dir"] = str(out)
        if trainer.dist.is_main:
            write_json(out / "summary.json", summary)
            emit(summary, as_json, lambda: _print_summary(summary))
    finally:
        trainer.close()


def _print_summary(summary: dict[str, Any]) -> None:
    metrics = "  ".join(
        f"{k}={v:.2%}" if k.endswith("accuracy") else f"{k}={v:.4g}" for k, v in summary["metrics"].items()
    )
    typer.echo(f"{summary['model']} on {summary['data']}: {metrics}  ({summary['seconds']:.1f} s)")
    typer.echo(f"run directory: {summary.get('run_dir', '-')}")


@app.command("eval")
def eval_cmd(
    run_dir: Annotated[Path, typer.Argument(help="A run directory written by `dlcanon train`.")],
    data: Annotated[str | None, typer.Option(help="Evaluate on this dataset's test split instead.")] = None,
    device: Annotated[str, typer.Option(help="auto, cpu, cuda or mps.")] = "auto",
    features: Annotated[
        Path | None,
        typer.Option(help="GANs: a local torch.export feature extractor (.pt2), e.g. Inception, for FD and P/R."),
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Evaluate a trained run on the test split; prints the run's summary with fresh metrics."""
    from dlcanon.evaluate import evaluate_run

    summary = evaluate_run(run_dir, data=data, device=device, features=features)
    emit(summary, as_json, lambda: _print_summary(summary))


@app.command()
def predict(
    run_dir: Annotated[Path, typer.Argument(help="A run of a classifier, segmenter or image-to-image model.")],
    files: Annotated[list[Path], typer.Argument(help="Image files (PNG, JPEG, TIFF, ...) or .npy arrays.")],
    out: Annotated[Path, typer.Option(help="Directory for the outputs and predictions.json.")] = Path("predictions"),
    device: Annotated[str, typer.Option(help="auto, cpu, cuda or mps.")] = "auto",
    as_json: JsonOpt = False,
) -> None:
    """Run a trained model on your own files: labels, label maps (PNG) or output images (PNG) in --out."""
    from dlcanon.predict import predict_files

    listing = predict_files(run_dir, files, out, device=device)
    emit(listing, as_json, lambda: typer.echo(f"{len(listing['predictions'])} prediction(s) written to {out}"))


@app.command()
def sample(
    run_dir: Annotated[Path, typer.Argument(help="A run directory of a generative model.")],
    n: Annotated[int, typer.Option(help="Number of samples.")] = 64,
    out: Annotated[Path | None, typer.Option(help="PNG file for the grid.")] = None,
    label: Annotated[int | None, typer.Option(help="Class of every sample (conditional models).")] = None,
    truncation: Annotated[
        float | None, typer.Option(help="Truncation ψ: w = w̄ + ψ(w − w̄) (StyleGAN; 1 = none).")
    ] = None,
    mixing: Annotated[
        bool, typer.Option("--mixing", help="Require the style-mixing grid (StyleGAN writes it in any case).")
    ] = False,
    as_json: JsonOpt = False,
) -> None:
    """Save every view the objective declares: its samples as a PNG grid (a scatter plot for 2-D points), and
    beside it SAMPLES-<view>.png for each other view: reconstructions and a latent interpolation of test images
    (vae, cvae, nvae, ppca), the sampling chain at every scale (lapgan: -scales), every resolution reached
    (progan: -resolutions), the style-mixing grid (stylegan: -mixing).
    """
    from dlcanon.runs import load_run

    if not 1 <= n <= MAX_SAMPLES:
        raise UserError(f"--n takes 1 to {MAX_SAMPLES} samples; got {n}")
    if out is not None and not out.parent.is_dir():
        raise UserError(f"--out {out}: the folder {out.parent} does not exist")
    cfg, bundle, objective = load_run(run_dir)
    options = {k: v for k, v in {"label": label, "truncation": truncation}.items() if v is not None}
    views = objective.views(bundle.test, n, **options)
    if not views:
        raise UserError(f"objective {cfg.objective!r} of {run_dir} shows no samples; generative objectives do")
    if mixing and "mixing" not in views:
        raise UserError(f"--mixing needs a style-based generator (stylegan); {cfg.model} has none")
    from dlcanon.evaluate import save_views

    result: dict[str, Any] = {**save_views(views, out or Path(run_dir) / "samples.png", real=bundle.test.x), "n": n}
    emit(result, as_json, lambda: typer.echo("wrote " + ", ".join(str(v) for k, v in result.items() if k != "n")))


@app.command()
def convsize(
    size: Annotated[int, typer.Option(help="Input size M.")],
    kernel: Annotated[int, typer.Option(help="Kernel size K.")],
    padding: Annotated[int, typer.Option(help="Padding P on each side.")] = 0,
    stride: Annotated[int, typer.Option(help="Stride S.")] = 1,
    dilation: Annotated[int, typer.Option(help="Dilation D.")] = 1,
    as_json: JsonOpt = False,
) -> None:
    """Output size of a convolution: M' = ⌊(M + 2P − D(K−1) − 1)/S⌋ + 1."""
    from dlcanon.nn.conv_arith import conv_output_size

    try:
        result = conv_output_size(size, kernel, padding=padding, stride=stride, dilation=dilation)
    except ValueError as exc:
        raise UserError(str(exc)) from None
    obj = {
        "size": size,
        "kernel": kernel,
        "padding": padding,
        "stride": stride,
        "dilation": dilation,
        "output_size": result,
    }
    formula = f"⌊({size} + 2·{padding} − {dilation}·({kernel}−1) − 1)/{stride}⌋ + 1 = {result}"
    emit(obj, as_json, lambda: typer.echo(formula))


@app.command()
def reproduce(
    names: Annotated[
        list[str] | None, typer.Argument(help="Experiments, or curriculum tags such as F3 (default: all).")
    ] = None,
    quick: Annotated[
        bool,
        typer.Option(
            "--quick/--full",
            help="Quick mode (about a minute each on 2 CPU cores, at most two; `dlcanon bench report` times "
            "them) or full mode.",
        ),
    ] = True,
    out: Annotated[Path, typer.Option(help="Output directory.")] = Path("reports/latest"),
    force: Annotated[
        bool, typer.Option("--force", help="Recompute every experiment, ignoring cached results in --out.")
    ] = False,
    device: Annotated[str, typer.Option(help="auto (a GPU when there is one), cpu, cuda or mps.")] = "auto",
    seed: Annotated[int, typer.Option(help="The seed every experiment's random draws derive from.")] = 0,
    markdown: Annotated[
        Path | None, typer.Option("--markdown", help="Also write the tables and verdicts as Markdown to this file.")
    ] = None,
    jobs: Annotated[
        int, typer.Option("--jobs", "-j", help="Worker processes, one thread each (0: one per core, at most 4).")
    ] = 0,
    check: Annotated[
        bool, typer.Option("--check", help="Fail unless every verdict is the one its experiment declares.")
    ] = False,
    precision: Annotated[
        str,
        typer.Option(
            help="What a run's auto precision becomes for conv nets: auto (bf16 where the hardware has it "
            "natively), fp32 or bf16 (autocast, whatever the hardware). Runs that fix a precision keep it."
        ),
    ] = "auto",
    as_json: JsonOpt = False,
) -> None:
    """Run the notes' experiments; write results.json, PNG figures and the HTML report OUT/index.html.

    Results are cached in OUT by experiment, mode, seed, device and code version: a rerun recomputes only what
    changed.
    """
    from dlcanon.reproduce import run_experiments

    report = run_experiments(
        expand_tags(names) or None, quick=quick, out=out, progress=True, force=force, device=device, seed=seed,
        jobs=jobs, precision=precision,
    )
    if markdown is not None:  # this run's tables, with the machine that ran them
        import shlex

        from dlcanon.report.machine import describe_machine
        from dlcanon.report.markdown import write_markdown

        options = [*(["--seed", str(seed)] if seed else []), *(["--device", device] if device != "auto" else []),
                   *(["--precision", precision] if precision != "auto" else [])]  # fmt: skip
        argv = ["dlcanon", "reproduce", *(names or []), "--quick" if quick else "--full", *options, "--out", str(out)]
        command = shlex.join([*argv, "--markdown", str(markdown)])
        write_markdown(markdown, {"machine": describe_machine(), **report}, command=command)

    def render() -> None:
        typer.echo(
            f"{report['passed']} of {report['total']} experiments ran ({report['cached']} from the cache), "
            f"{report['held']} claims hold, {report['failed']} failed"
        )
        typer.echo(f"report: {Path(report['index']).resolve()}")

    emit(report, as_json, render)
    if check:  # one line per experiment against the verdict it declares; any difference fails
        from dlcanon.reproduce import claims_check

        lines, passed = claims_check(report)
        typer.echo("\n".join(lines), err=as_json)
        if not passed:
            raise typer.Exit(1)
    if report["failed"]:  # the exit status is the number of failed experiments
        raise typer.Exit(min(report["failed"], 125))


@app.command("report")
def report_cmd(
    results: Annotated[Path, typer.Argument(help="The results.json of a `dlcanon reproduce` run.")],
    markdown: Annotated[
        Path | None, typer.Option("--markdown", help="Also write the tables and verdicts as Markdown to this file.")
    ] = None,
) -> None:
    """Render the HTML report beside RESULTS again, and its Markdown with --markdown; nothing is rerun."""
    from dlcanon.report import render_report
    from dlcanon.report.markdown import read_report, write_markdown

    report = read_report(results)
    typer.echo(f"report: {render_report(results.parent, report).resolve()}")
    if markdown is not None:
        write_markdown(markdown, report, command=f"dlcanon report {results} --markdown {markdown}")
        typer.echo(f"markdown: {markdown}")


def expand_tags(names: list[str] | None) -> list[str]:
    """Experiment names, with a curriculum tag (F3, G7) standing for every experiment tagged with it."""
    import dlcanon.experiments  # noqa: F401
    from dlcanon.registry import EXPERIMENTS

    out: list[str] = []
    for name in names or []:
        tagged = [e.name for e in EXPERIMENTS if name in e.tags] if name not in EXPERIMENTS else []
        out += [n for n in tagged or [name] if n not in out]  # an unknown name is reproduce's to refuse
    return out


@app.command()
def bench(
    names: Annotated[
        list[str] | None,
        typer.Argument(help="Benchmarks: mnist5k (default), report (the whole quick report: minutes)."),
    ] = None,
    quick: Annotated[bool, typer.Option("--quick", help="Short budgets, for a smoke run.")] = False,
    markdown: Annotated[Path | None, typer.Option(help="Also write the tables as Markdown to this file.")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Benchmarks, side by side with a baseline in one run."""
    from dlcanon import bench as benchmarks

    results = benchmarks.run_benchmarks(names or ["mnist5k"], quick=quick)
    if markdown is not None:
        markdown.write_text(benchmarks.markdown(results))
    emit(results, as_json, lambda: typer.echo(benchmarks.markdown(results)))


@app.command()
def plan(
    fingerprint: Annotated[Path | None, typer.Option(help="nnU-Net v2's dataset_fingerprint.json.")] = None,
    dataset: Annotated[Path | None, typer.Option(help="nnU-Net v2's dataset.json.")] = None,
    data: Annotated[str | None, typer.Option(help="Or a registered segmentation dataset to fingerprint.")] = None,
    vram_gb: Annotated[float, typer.Option("--vram-gb", help="Memory budget in GB (nnU-Net's default 8).")] = 8.0,
    spacing: Annotated[str | None, typer.Option(help="With --data: voxel spacing D,H,W of volumes.")] = None,
    as_json: JsonOpt = False,
) -> None:
    """nnU-Net v2's experiment planning: patch, batch, spacing, topology and normalisation per configuration."""
    from dlcanon.plan.command import plan_command, render_plans

    plans = plan_command(fingerprint=fingerprint, dataset=dataset, data=data, vram_gb=vram_gb, spacing=spacing)
    emit(plans, as_json, lambda: typer.echo(render_plans(plans)))


check_app = typer.Typer(help="Measure properties of a model or a trained run.", no_args_is_help=True)
app.add_typer(check_app, name="check")


@check_app.command("equivariance")
def check_equivariance(
    target: Annotated[str, typer.Argument(help="A registered model name (fresh weights) or a run directory.")],
    group: Annotated[str, typer.Option(help="shift (circular, 1-3 px), rot90 or rotation (15°..345°).")] = "shift",
    data: Annotated[str | None, typer.Option(help="Image dataset whose test images are used.")] = None,
    n: Annotated[int, typer.Option(help="Number of test images.")] = 64,
    as_json: JsonOpt = False,
) -> None:
    """Equivariance error ‖f(Sx) − Sf(x)‖/‖f(x)‖ (spatial outputs), invariance error and prediction consistency."""
    import torch

    from dlcanon.metrics.equivariance import GROUPS, check

    if group not in GROUPS:
        raise UserError(f"--group must be one of {', '.join(GROUPS)}; got {group!r}")
    if n < 1:
        raise UserError(f"--n takes at least 1 test image; got {n}")
    if Path(target).is_dir():
        from dlcanon.runs import load_run

        cfg, bundle, objective = load_run(Path(target), data=data)
        network, model, source = objective.network, cfg.model, "run"
    elif "/" in target:
        raise UserError(f"{target} is not a run directory (a model name has no '/')")
    else:
        from dlcanon.data import load_data
        from dlcanon.models import build_model
        from dlcanon.registry import MODELS

        bundle = load_data(data or MODELS.entry(target).meta.get("data", "mnist5k"))
        torch.manual_seed(0)
        network, model, source = build_model(target, bundle.input_shape, bundle.num_classes).eval(), target, "fresh"
    if bundle.kind != "image":
        raise UserError(f"check equivariance needs image data; {bundle.name} holds {bundle.kind}s")
    result = {"model": model, "source": source, "data": bundle.name, "n": min(n, len(bundle.test))}
    result.update(check(network, bundle.test.x[:n], group))

    def render() -> None:
        typer.echo(f"{model} ({source}) on {result['n']} {bundle.name} test images, group {group}:")
        for key in ("equivariance_error", "invariance_error", "prediction_consistency"):
            if key in result:
                typer.echo(f"  mean {key.replace('_', ' ')}: {result[key]:.4g}")

    emit(result, as_json, render)


def main() -> None:
    """Entry point: user mistakes exit 2 with one line; Ctrl-C exits 130 after saving; NaN exits 1."""
    try:
        code = app(standalone_mode=False)  # click returns, not raises, the status of an Exit (130: Ctrl-C)
    except UserError as exc:
        typer.echo(f"error: {exc}", err=True)
        sys.exit(2)
    except Interrupted as exc:
        typer.echo(f"stopped: {exc}", err=True)
        sys.exit(130)
    except NonFiniteLoss as exc:
        typer.echo(f"error: {exc}; the last good checkpoint is kept", err=True)
        sys.exit(1)
    except typer.Exit as exc:
        sys.exit(exc.exit_code)
    except typer.Abort:
        sys.exit(130)
    except typer.TyperException as exc:  # usage errors: a missing argument, a value of the wrong type
        message = exc.format_message() if hasattr(exc, "format_message") else str(exc)
        if message:  # empty when the help was shown for a bare `dlcanon`
            typer.echo(f"error: {message} (see --help)", err=True)
        sys.exit(getattr(exc, "exit_code", 2))
    if isinstance(code, int) and code:
        if code == 130:
            typer.echo("stopped: interrupted", err=True)
        sys.exit(code)
