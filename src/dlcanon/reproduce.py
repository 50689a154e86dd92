"""Run experiments, isolating failures and reusing cached results; write JSON, PNG figures and the report."""

from __future__ import annotations

import time
import traceback
from pathlib import Path
from typing import Any

import torch

from dlcanon import __version__
from dlcanon.config import git_hash, write_json
from dlcanon.plots import save_figure
from dlcanon.progress import progress_bar
from dlcanon.registry import EXPERIMENTS
from dlcanon.report import cache_key, cached_record, code_version, render_report


def command_for(name: str, quick: bool) -> str:
    return f"dlcanon reproduce {name} {'--quick' if quick else '--full'}"


def run_one(name: str, *, quick: bool, out: Path, force: bool = False) -> dict[str, Any]:
    """Run one experiment with a fixed seed; an exception becomes a failed record, not a crash.

    A successful result in `out/name/result.json` computed under the same cache key (name, mode, code
    version; see `dlcanon.report.cache`) is returned as it is, marked `cached`, unless `force`.
    """
    entry = EXPERIMENTS.entry(name)
    mode = "quick" if quick else "full"
    key = cache_key(name, mode)
    if not force and (record := cached_record(out / name, key)) is not None:
        return {**record, "cached": True}
    record: dict[str, Any] = {
        "name": name,
        "tags": list(entry.tags),
        "claim": entry.meta.get("claim", ""),
        "mode": mode,
        "command": command_for(name, quick),
        "cache_key": key,
        "code_version": code_version(),
    }
    torch.manual_seed(0)
    start = time.perf_counter()
    try:
        result = entry.builder(quick)
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
    names: list[str] | None, *, quick: bool, out: Path, progress: bool = False, force: bool = False
) -> dict[str, Any]:
    """Run the named experiments (all when None), reusing cached results unless `force`; write
    `out/results.json`, then the HTML report `out/index.html` and `out/coverage.html`."""
    import dlcanon.experiments  # noqa: F401  (registrations)

    names = names or EXPERIMENTS.names()
    for name in names:
        EXPERIMENTS.entry(name)  # unknown names fail before anything runs
    out.mkdir(parents=True, exist_ok=True)
    records = []
    start = time.perf_counter()
    with progress_bar(len(names), "reproduce", enabled=progress) as bar:
        for name in names:
            bar.advance(0, status=name)
            records.append(run_one(name, quick=quick, out=out, force=force))
            bar.advance(1, status=f"{name} (cached)" if records[-1]["cached"] else name)
    passed = sum(r["status"] == "ok" for r in records)
    report = {
        "mode": "quick" if quick else "full",
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
