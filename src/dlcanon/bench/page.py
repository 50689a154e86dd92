"""docs/benchmarks.md from one `dlcanon bench` run: the command, machine and date on top, then every table,
and for each target whether this run met it (`dlcanon bench mnist5k --markdown docs/benchmarks.md`)."""

from __future__ import annotations

from typing import Any

TARGETS = {"speedup": 5.0, "accuracy": 0.98, "overhead": 0.03, "cli_seconds": 1.0, "report_seconds": 900.0,
           "experiment_seconds": 60.0}  # fmt: skip


def _f(x: float | None, spec: str) -> str:
    return "—" if x is None else format(x, spec)


def verdict(met: bool) -> str:
    return "met" if met else "**not met**"


def header(results: dict[str, Any]) -> list[str]:
    m = next(v["machine"] for k, v in results.items() if k != "command")
    gpu = "no CUDA device on this machine" if m["cuda"] is None else f"CUDA device: {m['cuda']}"
    return [
        "# Benchmarks",
        "",
        "All numbers on this page come from one run of",
        "",
        "```bash",
        f"{results['command']} --markdown docs/benchmarks.md",
        "```",
        "",
        f"on {m['platform']} ({m['cpu_capability']}), {m['cores']} cores, torch {m['torch']} ({m['threads']} "
        f"threads), {m['date']}, 1-minute load average {_f(m['load_average'], '.1f')} when it started. Timings "
        "move with the machine's load; rerun the command to regenerate this page (`--json` gives every "
        "per-seed curve and repetition).",
        "",
        "Every figure is timed on the CPU; GPU throughput (autocast, `--compile`, DDP on CUDA) is not measured by "
        f"this benchmark yet ({gpu}).",
    ]


def time_section(t: dict[str, Any]) -> list[str]:
    reach = t["seconds_to_target"]
    return [
        "",
        "## Time to the classic recipe's accuracy",
        "",
        f"The baseline is the PyTorch MNIST example's recipe ({t['baseline_epochs']} epochs, {t['baseline_params']:,} "
        "parameters, Adadelta, a DataLoader over per-sample tensors, fp32, the default threads); dlcanon's side is "
        f"`{t['command']}` ({t['dlcanon_epochs']} epochs, {t['dlcanon_params']:,} parameters, "
        f"{t['dlcanon_threads']} thread(s) chosen by the trainer). Same mnist5k split, both evaluated after every "
        f"epoch; the target is the baseline's final test accuracy, median over {t['seeds']} seed(s); each time "
        "is the median over the seeds of the training seconds to the first epoch at or above it.",
        "",
        "| recipe | final test accuracy (median) | training seconds (median) | seconds to the target (median) |",
        "|---|---:|---:|---:|",
        f"| PyTorch MNIST example | {t['baseline_accuracy']:.2%} | {t['baseline_seconds']:.1f} | "
        f"{_f(reach['baseline'], '.1f')} |",
        f"| `dlcanon train {t['preset']}` | {t['dlcanon_accuracy']:.2%} | {t['dlcanon_seconds']:.1f} | "
        f"{_f(reach['dlcanon'], '.1f')} |",
        "",
        f"- Sooner to the baseline's accuracy ({t['target_accuracy']:.2%}): **{_f(t['speedup'], '.2f')}×** "
        f"(target ≥ {TARGETS['speedup']:g}×: {verdict((t['speedup'] or 0) >= TARGETS['speedup'])}); against the "
        f"baseline's whole recipe {_f(t['speedup_vs_whole_baseline'], '.2f')}×.",
        f"- dlcanon's final accuracy: median {t['dlcanon_accuracy']:.2%}, lowest {t['dlcanon_min_accuracy']:.2%} "
        f"(target ≥ {TARGETS['accuracy']:.1%}: {verdict(t['dlcanon_min_accuracy'] >= TARGETS['accuracy'])}).",
    ]


def overhead_section(o: dict[str, Any]) -> list[str]:
    return [
        "",
        "## The trainer against a bare loop",
        "",
        f"{o['model']}, {o['steps']} steps, the same batches, threads, precision and optimiser; {o['repeats']} "
        "interleaved pairs, medians. The bare loop does forward, backward and the optimiser step only; the "
        "trainer adds the schedule, non-finite checks, logged averages and the progress state.",
        "",
        f"- Bare loop {_f(o['bare_seconds'], '.2f')} s, trainer {_f(o['trainer_seconds'], '.2f')} s: overhead "
        f"**{o['overhead']:+.1%}** (median of the pairs' ratios; target ≤ {TARGETS['overhead']:.0%}: "
        f"{verdict(o['overhead'] <= TARGETS['overhead'])}).",
        f"- Noise floor: the bare loop's own repetitions of identical work varied by {o['noise']:.1%} (slowest "
        f"over fastest), and the pairs' overheads ranged from {o['ratio_range'][0]:+.1%} to "
        f"{o['ratio_range'][1]:+.1%}.",
    ]


def threads_section(rows: list[dict[str, Any]]) -> list[str]:
    n = rows[0]["threads_all"] if rows else 0
    lines = [
        "",
        "## Threads chosen for the model",
        "",
        "Seconds per training step (fp32, median of interleaved repetitions) on one intra-op thread, on all "
        f"{n}, and on the trainer's automatic choice (`threads = 0`: one thread per 2·10⁸ forward FLOPs of a "
        "batch, at most all).",
        "",
        f"| model | 1 thread (s/step) | {n} threads (s/step) | auto: threads | auto (s/step) | faster |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        lines.append(f"| {r['model']} | {r['seconds_1']:.4f} | {r['seconds_all']:.4f} | {r['auto_threads']} | "
                     f"{r['seconds_auto']:.4f} | {r['best']} |")  # fmt: skip
    return lines


def precision_section(p: dict[str, Any]) -> list[str]:
    lines = ["", "## bf16 autocast + channels_last against fp32", ""]
    if not p["native_bf16"]:
        return [
            *lines,
            f"Not timed: this CPU ({p['cpu_capability']}) has no native bf16 (oneDNN reports none), so bf16 "
            "would run as a slow emulation; `precision auto` keeps fp32 here."
        ]
    return [
        *lines,
        f"{p['model']} on CIFAR-shaped inputs, seconds per step: fp32 {p['fp32_seconds']:.4f}, bf16 autocast + "
        f"channels_last {p['bf16_channels_last_seconds']:.4f}: **{p['speedup']:.2f}×**."
    ]


def cli_section(c: dict[str, Any]) -> list[str]:
    limit = TARGETS["cli_seconds"]
    lines = [
        "",
        "## A command line that answers at once",
        "",
        f"Each command a fresh process to its exit, median of {c['repeats']} interleaved runs (after one untimed "
        f"run of each). Commands that need no tensors import no torch; `{c['reference']}` is what each would "
        "pay otherwise.",
        "",
        "| command | seconds (median) | target |",
        "|---|---:|---|",
    ]
    for label, sec in c["seconds"].items():
        target = "reference" if label == c["reference"] else f"< {limit:g} s: {verdict(sec < limit)}"
        lines.append(f"| `{label}` | {sec:.2f} | {target} |")
    return lines


def report_section(r: dict[str, Any]) -> list[str]:
    limit, each = TARGETS["report_seconds"], TARGETS["experiment_seconds"]
    ranked = sorted(r["experiments"].items(), key=lambda kv: -kv[1])
    over = [(name, sec) for name, sec in ranked if sec > each]
    lines = [
        "",
        "## The whole quick report",
        "",
        f"`dlcanon reproduce --quick` of all {len(ranked)} experiments into an empty directory on {r['jobs']} "
        f"worker process(es) of one thread each, as `make demo` runs it: **{r['wall_seconds'] / 60:.1f} min** wall "
        f"(target ≤ {limit / 60:g} min: {verdict(r['wall_seconds'] <= limit)}); {r['failed']} failed. "
        f"{len(over)} experiment(s) took over {each:g} s (target: none).",
        "",
        "| experiment (the slowest ten) | seconds |",
        "|---|---:|",
        *(f"| `{name}` | {sec:.0f} |" for name, sec in ranked[:10]),
    ]
    return lines


def report_shortfalls(r: dict[str, Any]) -> list[str]:
    out, each = [], TARGETS["experiment_seconds"]
    if r["wall_seconds"] > TARGETS["report_seconds"]:
        out.append(f"the quick report: {r['wall_seconds'] / 60:.1f} min against ≤ {TARGETS['report_seconds'] / 60:g} "
                   "min")  # fmt: skip
    over = sorted((sec, name) for name, sec in r["experiments"].items() if sec > each)
    if over:
        names = ", ".join(f"{name} {sec:.0f} s" for sec, name in reversed(over))
        out.append(f"{len(over)} quick experiment(s) over {each:g} s: {names}. Each trains several networks (methods "
                   "× seeds) for one verdict; fewer seeds or steps would bring it under the target and leave a "
                   "verdict that one seed decides")  # fmt: skip
    return out


def shortfalls(r: dict[str, Any]) -> list[str]:
    """One line per target of the mnist5k benchmark this run missed, saying by how much."""
    t, o, out = r["time_to_accuracy"], r["trainer_overhead"], []
    slow = [k for k, v in r.get("cli", {}).get("seconds", {}).items()
            if k != r["cli"]["reference"] and v >= TARGETS["cli_seconds"]]  # fmt: skip
    if slow:
        out.append(f"commands answering in ≥ {TARGETS['cli_seconds']:g} s: {', '.join(slow)}")
    if (t["speedup"] or 0) < TARGETS["speedup"]:
        out.append(f"time to the baseline's accuracy: {_f(t['speedup'], '.2f')}× against ≥ {TARGETS['speedup']:g}×")
    if t["dlcanon_min_accuracy"] < TARGETS["accuracy"]:
        gap = 100 * (TARGETS["accuracy"] - t["dlcanon_min_accuracy"])
        out.append(f"final accuracy: lowest seed {t['dlcanon_min_accuracy']:.2%}, {gap:.1f} points below 98.0%")
    if o["overhead"] > TARGETS["overhead"]:
        floor = "inside" if o["overhead"] < o["noise"] else "beyond"
        out.append(f"trainer overhead: {o['overhead']:+.1%}, {100 * (o['overhead'] - TARGETS['overhead']):.1f} points "
                   f"above {TARGETS['overhead']:.0%}, {floor} the noise floor: repetitions of the same bare loop "
                   f"varied by {o['noise']:.0%} in this run")  # fmt: skip
    return out


def targets_section(missed: list[str], machine: dict[str, Any]) -> list[str]:
    lines = ["", "## Against the targets", ""]
    if not missed:
        return [*lines, "Every target above held in this run."]
    load = _f(machine["load_average"], ".1f")
    return [*lines, f"Missed in this run (1-minute load average {load} on {machine['cores']} cores at its start; "
            "every timing here is a ratio of runs interleaved on the same machine, but a load above the core count "
            "makes each run wait for a core and moves the ratios):", "", *(f"- {m}" for m in missed)]  # fmt: skip


def markdown(results: dict[str, Any]) -> str:
    """The whole docs/benchmarks.md page."""
    lines, missed = header(results), []
    if "mnist5k" in results:
        r = results["mnist5k"]
        lines += time_section(r["time_to_accuracy"]) + overhead_section(r["trainer_overhead"])
        lines += threads_section(r["threads"]) + precision_section(r["precision"])
        lines += cli_section(r["cli"]) if "cli" in r else []
        missed += shortfalls(r)
    if "report" in results:
        lines += report_section(results["report"])
        missed += report_shortfalls(results["report"])
    machine = next(v["machine"] for k, v in results.items() if k != "command")
    return "\n".join(lines + targets_section(missed, machine)) + "\n"
