"""`dlcanon reproduce`: run experiments, isolating failures and reusing cached results; write JSON, PNG figures
and the report. Above both the experiments and the report, so neither imports the other."""

from __future__ import annotations

import time
import traceback
from pathlib import Path
from typing import Any

import torch

from dlcanon import __version__
from dlcanon.config import DEVICES, git_hash, write_json
from dlcanon.errors import UserError
from dlcanon.experiments.base import run_experiment
from dlcanon.experiments.context import Context
from dlcanon.plots import save_figure
from dlcanon.progress import progress_bar
from dlcanon.registry import EXPERIMENTS
from dlcanon.report import cache_key, cached_record, code_version, render_report
from dlcanon.runtime import select_device


def command_for(name: str, quick: bool, seed: int = 0) -> str:
    return f"dlcanon reproduce {name} {'--quick' if quick else '--full'}" + (f" --seed {seed}" if seed else "")


def context(*, quick: bool, device: str = "auto", seed: int = 0) -> Context:
    """The context of a reproduction: `device` resolved ("auto": a GPU when there is one), one thread."""
    if device not in DEVICES:
        raise UserError(f"device must be one of {', '.join(DEVICES)}; got {device!r}")
    return Context(quick=quick, device=str(select_device(device)), seed=seed)


def run_one(
    name: str, *, quick: bool, out: Path, force: bool = False, device: str = "auto", seed: int = 0
) -> dict[str, Any]:
    """Run one experiment under `context(quick, device, seed)`; an exception becomes a failed record, not a
    crash.

    A successful result in `out/name/result.json` computed under the same cache key (name, mode, seed,
    device, code version; see `dlcanon.report.cache`) is returned as it is, marked `cached`, unless `force`.
    """
    entry = EXPERIMENTS.entry(name)
    ctx = context(quick=quick, device=device, seed=seed)
    mode = "quick" if quick else "full"
    key = cache_key(name, f"{mode} seed={ctx.seed} device={ctx.device}")
    if not force and (record := cached_record(out / name, key)) is not None:
        return {**record, "cached": True}
    record: dict[str, Any] = {
        "name": name,
        "tags": list(entry.tags),
        "claim": entry.meta.get("claim", ""),
        "mode": mode,
        "device": ctx.device,
        "seed": ctx.seed,
        "command": command_for(name, quick, seed),
        "cache_key": key,
        "code_version": code_version(),
    }
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
        record.update(
            status="ok",
            verdict=result.verdict,
            holds=result.holds,
            tables=[t.to_dict() for t in result.tables],
            figures=figures,
            numbers=result.numbers,
        )
    record["seconds"] = round(time.perf_counter() - start, 2)
    (out / name).mkdir(parents=True, exist_ok=True)
    write_json(out / name / "result.json", record)
    return {**record, "cached": False}


def run_experiments(
    names: list[str] | None,
    *,
    quick: bool,
    out: Path,
    progress: bool = False,
    force: bool = False,
    device: str = "auto",
    seed: int = 0,
) -> dict[str, Any]:
    """Run the named experiments (all when None) on `device` from `seed`, reusing cached results unless
    `force`; write `out/results.json`, then the HTML report `out/index.html` and `out/coverage.html`."""
    import dlcanon.experiments  # noqa: F401  (registrations)

    ctx = context(quick=quick, device=device, seed=seed)  # a bad device fails before anything runs
    names = names or EXPERIMENTS.names()
    for name in names:
        EXPERIMENTS.entry(name)  # unknown names fail before anything runs
    out.mkdir(parents=True, exist_ok=True)
    records = []
    start = time.perf_counter()
    with progress_bar(len(names), "reproduce", enabled=progress) as bar:
        for name in names:
            bar.advance(0, status=name)
            records.append(run_one(name, quick=quick, out=out, force=force, device=device, seed=seed))
            bar.advance(1, status=f"{name} (cached)" if records[-1]["cached"] else name)
    passed = sum(r["status"] == "ok" for r in records)
    report = {
        "mode": "quick" if quick else "full",
        "device": ctx.device,
        "seed": ctx.seed,
        "total": len(records),
        "passed": passed,
        "held": sum(bool(r.get("holds")) for r in records),
        "failed": len(records) - passed,
        "cached": sum(r["cached"] for r in records),
        "seconds": round(time.perf_counter() - start, 2),
        "version": __version__,
        "code_version": code_version(),
        "git": git_hash(),
        "torch": torch.__version__,
        "created": time.strftime("%Y-%m-%d %H:%M:%S %Z"),
        "experiments": records,
    }
    write_json(out / "results.json", report)
    report["index"] = str(render_report(out, report))
    return report
