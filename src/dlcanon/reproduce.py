"""`dlcanon reproduce`: run experiments, isolating failures and reusing cached results; write JSON, PNG figures
and the report. Above both the experiments and the report, so neither imports the other.

With `jobs` > 1 the experiments that are not cached run in that many worker processes (spawned, one intra-op
thread each), longest first by their last recorded time. An experiment seeds every draw from its context, so
its result does not depend on the process or on the order it runs in; each worker saves the experiment's
figures and returns its record, and this process writes `results.json` and the report.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import pickle
import signal
import time
import traceback
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path
from typing import Any

import torch

from dlcanon import __version__
from dlcanon.config import DEVICES, git_hash, write_json
from dlcanon.errors import UserError
from dlcanon.experiments import full_samples
from dlcanon.experiments.base import run_experiment
from dlcanon.experiments.context import ASSUMED, Context
from dlcanon.plots import save_figure
from dlcanon.progress import progress_bar
from dlcanon.registry import EXPERIMENTS, Entry
from dlcanon.report import cache_key, cached_record, code_version, render_report
from dlcanon.report.check import check, summary
from dlcanon.report.machine import describe_machine
from dlcanon.report.markdown import command_for
from dlcanon.report.sources import source_path
from dlcanon.runtime import select_device

MAX_AUTO_JOBS = 4  # beyond this, memory rather than cores limits a laptop


def context(*, quick: bool, device: str = "auto", seed: int = 0, precision: str = "auto") -> Context:
    """The context of a reproduction: `device` resolved ("auto": a GPU when there is one), one thread, `auto`
    precision resolved as `precision` says (`Context.precision`)."""
    if device not in DEVICES:
        raise UserError(f"device must be one of {', '.join(DEVICES)}; got {device!r}")
    if precision not in ASSUMED:
        raise UserError(f"--precision must be one of {', '.join(ASSUMED)}; got {precision!r}")
    return Context(quick=quick, device=str(select_device(device)), seed=seed, precision=precision)


def default_jobs(device: str) -> int:
    """Worker processes when none are asked for: one per core (at most `MAX_AUTO_JOBS`) on the CPU, one on an
    accelerator, which the workers would share."""
    return min(len(os.sched_getaffinity(0)), MAX_AUTO_JOBS) if device == "cpu" else 1


def declaration(name: str) -> dict[str, str]:
    """What the registration of `name` declares about its verdict, and where: the record's `disagrees` (the
    reason, empty when the claim is expected to hold) and `source`."""
    return {"disagrees": EXPERIMENTS.entry(name).meta.get("disagrees", ""), "source": source_path(name)}


def key_for(name: str, ctx: Context) -> str:
    precision = "" if ctx.precision == "auto" else f" precision={ctx.precision}"
    return cache_key(name, f"{'quick' if ctx.quick else 'full'} seed={ctx.seed} device={ctx.device}{precision}")


def lookup(
    name: str, *, quick: bool, out: Path, device: str = "auto", seed: int = 0, precision: str = "auto"
) -> dict[str, Any] | None:
    """The cached record of `name` in `out` under the current key (see `dlcanon.report.cache`), or None."""
    record = cached_record(out / name, key_for(name, context(quick=quick, device=device, seed=seed,
                                                               precision=precision)))  # fmt: skip
    return None if record is None else {**record, **declaration(name), "cached": True}


def header(name: str, ctx: Context) -> dict[str, Any]:
    """What a record of `name` under `ctx` says before the experiment runs."""
    entry = EXPERIMENTS.entry(name)
    return {
        "name": name,
        "tags": list(entry.tags),
        "claim": entry.meta.get("claim", ""),
        **declaration(name),
        "mode": "quick" if ctx.quick else "full",
        "device": ctx.device,
        "seed": ctx.seed,
        "precision": ctx.precision,
        "command": command_for(name, ctx.quick, ctx.seed, ctx.precision),
        "cache_key": key_for(name, ctx),
        "code_version": code_version(),
    }


def compute(
    name: str, *, quick: bool, out: Path, device: str = "auto", seed: int = 0, precision: str = "auto"
) -> dict[str, Any]:
    """Run experiment `name` under `context(quick, device, seed, precision)`, save its figures, sample sets and
    `out/name/result.json` and return its record; an exception becomes a failed record, not a crash."""
    ctx = context(quick=quick, device=device, seed=seed, precision=precision)
    record = header(name, ctx)
    start = time.perf_counter()
    try:
        result = run_experiment(name, ctx)
    except Exception as exc:  # reported in the experiment's section; the others go on
        record.update(status="error", error=f"{type(exc).__name__}: {exc}", traceback=traceback.format_exc())
    else:
        figures = {}
        for stem, fig in result.figures.items():
            path = save_figure(fig, out / name / f"{stem}.png")
            figures[stem] = {"path": path.relative_to(out).as_posix(), "caption": result.captions.get(stem, "")}
        provenance = {k: record[k] for k in ("name", "mode", "seed", "device", "command", "code_version")}
        samples = {stem: full_samples.save(out / name / f"{stem}.npz", s, provenance).relative_to(out).as_posix()
                   for stem, s in result.samples.items()}  # fmt: skip
        record.update(
            status="ok",
            verdict=result.verdict,
            holds=result.holds,
            tables=[t.to_dict() for t in result.tables],
            figures=figures,
            numbers=result.numbers,
            samples=samples,
        )
    record["seconds"] = round(time.perf_counter() - start, 2)
    (out / name).mkdir(parents=True, exist_ok=True)
    write_json(out / name / "result.json", record)
    return {**record, "cached": False}


def run_one(name: str, *, out: Path, force: bool = False, **options: Any) -> dict[str, Any]:
    """The cached record of `name` in `out` unless `force` or there is none; otherwise `compute` it (`options`:
    quick, device, seed, precision)."""
    hit = None if force else lookup(name, out=out, **options)
    return hit if hit is not None else compute(name, out=out, **options)


def last_seconds(out: Path, name: str) -> float:
    """How long `name` took when it last ran into `out` (any key), 0 when unknown: longest first packs the
    workers best."""
    try:
        return float(json.loads((out / name / "result.json").read_text(encoding="utf-8"))["seconds"])
    except (OSError, ValueError, KeyError, TypeError):
        return 0.0


def _worker_start(entries: list[Entry]) -> None:
    """A worker's start: Ctrl-C ignored, one intra-op thread, the package's experiments, and those of `entries`
    registered elsewhere (a plugin's, a test's), whose builders unpickle by importing their modules."""
    import dlcanon.experiments  # noqa: F401  (registrations)

    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle: it stops the workers
    torch.set_num_threads(1)
    for entry in entries:
        if entry.name not in EXPERIMENTS:
            EXPERIMENTS.add(entry.name, entry.builder, tags=entry.tags, **entry.meta)


def failed_record(name: str, exc: BaseException, **options: Any) -> dict[str, Any]:
    """The record of an experiment whose worker died (killed, out of memory) before returning one."""
    ctx = context(quick=options["quick"], device=options["device"], seed=options["seed"],
                  precision=options["precision"])  # fmt: skip
    error = f"worker process failed: {type(exc).__name__}: {exc}"
    return {**header(name, ctx), "status": "error", "error": error, "seconds": 0.0, "cached": False}


def importable(entry: Entry) -> bool:
    """Whether a worker can receive `entry`: its builder pickles by reference (not a closure or a lambda)."""
    try:
        pickle.dumps(entry)
    except (pickle.PicklingError, AttributeError, TypeError):
        return False
    return True


def compute_all(names: list[str], *, jobs: int, **options: Any) -> Iterator[dict[str, Any]]:
    """Records of `names` computed on `jobs` worker processes, as they finish; in this process when `jobs` is 1
    and for experiments a worker cannot receive (`importable`)."""
    entries = [e for e in map(EXPERIMENTS.entry, names) if importable(e)] if jobs > 1 else []
    sent = {e.name for e in entries} if len(entries) > 1 else set()
    yield from (compute(name, **options) for name in names if name not in sent)
    if not sent:
        return
    spawn = multiprocessing.get_context("spawn")  # no forked torch state (threads, OpenMP) in the workers
    with ProcessPoolExecutor(min(jobs, len(entries)), mp_context=spawn, initializer=_worker_start,
                             initargs=(entries,)) as pool:  # fmt: skip
        futures = {pool.submit(compute, e.name, **options): e.name for e in entries}
        try:
            for future in as_completed(futures):
                try:
                    yield future.result()
                except Exception as exc:  # the worker died; the pool may be broken for the rest
                    yield failed_record(futures[future], exc, **options)
        except BaseException:  # Ctrl-C here (the workers ignore it): drop the queue, stop the workers
            pool.shutdown(wait=False, cancel_futures=True)
            for worker in multiprocessing.active_children():
                worker.terminate()
            raise


def run_experiments(
    names: list[str] | None,
    *,
    quick: bool,
    out: Path,
    progress: bool = False,
    force: bool = False,
    device: str = "auto",
    seed: int = 0,
    jobs: int = 1,
    precision: str = "auto",
) -> dict[str, Any]:
    """Run the named experiments (all when None) on `device` from `seed`, `auto` precision resolved as
    `precision` says, reusing cached results unless `force`, the others on `jobs` worker processes (0:
    `default_jobs`); write `out/results.json`, then the HTML report `out/index.html` and `out/coverage.html`."""
    import dlcanon.experiments  # noqa: F401  (registrations)

    ctx = context(quick=quick, device=device, seed=seed, precision=precision)  # bad options fail before anything
    if jobs < 0:
        raise UserError(f"--jobs must be 0 (one per core) or more; got {jobs}")
    names = names or EXPERIMENTS.names()
    for name in names:
        EXPERIMENTS.entry(name)  # unknown names fail before anything runs
    out.mkdir(parents=True, exist_ok=True)
    options = {"quick": quick, "out": out, "device": device, "seed": seed, "precision": precision}
    start = time.perf_counter()
    done: dict[str, dict[str, Any]] = {}
    with progress_bar(len(names), "reproduce", enabled=progress) as bar:
        for name in names:
            if not force and (hit := lookup(name, **options)) is not None:
                done[name] = hit
                bar.advance(1, status=f"{name} (cached)")
        todo = sorted((n for n in names if n not in done), key=lambda n: -last_seconds(out, n))
        workers = jobs or default_jobs(ctx.device)
        bar.advance(0, status=", ".join(todo[:workers]))
        for record in compute_all(todo, jobs=workers, **options):
            done[record["name"]] = record
            bar.advance(1, status=record["name"])
    records = [done[name] for name in names]
    passed = sum(r["status"] == "ok" for r in records)
    report = {
        "mode": "quick" if quick else "full",
        "device": ctx.device,
        "seed": ctx.seed,
        "precision": ctx.precision,
        "total": len(records),
        "passed": passed,
        "held": sum(bool(r.get("holds")) for r in records),
        "failed": len(records) - passed,
        "cached": sum(r["cached"] for r in records),
        "seconds": round(time.perf_counter() - start, 2),
        "jobs": workers,
        "version": __version__,
        "code_version": code_version(),
        "git": git_hash(),
        "torch": torch.__version__,
        "machine": describe_machine(),
        "created": time.strftime("%Y-%m-%d %H:%M:%S %Z"),
        "experiments": records,
    }
    write_json(out / "results.json", report)
    report["index"] = str(render_report(out, report))
    return report


def claims_check(report: dict[str, Any]) -> tuple[list[str], bool]:
    """The lines of `dlcanon reproduce --check` for a report of `run_experiments` (one per experiment, then a
    summary) and whether every verdict is the declared one (see `dlcanon.report.check`)."""
    checks = [check(record) for record in report["experiments"]]
    width = max((len(c.name) for c in checks), default=0)
    return [*(c.line(width) for c in checks), summary(checks)], all(c.ok for c in checks)
