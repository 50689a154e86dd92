"""Run experiments, isolating failures, and write results as JSON plus PNG figures."""

from __future__ import annotations

import time
import traceback
from pathlib import Path
from typing import Any

import torch

from dlcanon.config import write_json
from dlcanon.plots import save_figure
from dlcanon.progress import progress_bar
from dlcanon.registry import EXPERIMENTS


def command_for(name: str, quick: bool) -> str:
    return f"dlcanon reproduce {name} {'--quick' if quick else '--full'}"


def run_one(name: str, *, quick: bool, out: Path) -> dict[str, Any]:
    """Run one experiment with a fixed seed; an exception becomes a failed record, not a crash."""
    entry = EXPERIMENTS.entry(name)
    record: dict[str, Any] = {
        "name": name,
        "tags": list(entry.tags),
        "claim": entry.meta.get("claim", ""),
        "mode": "quick" if quick else "full",
        "command": command_for(name, quick),
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
            figures[stem] = {"path": str(path.relative_to(out)), "caption": result.captions.get(stem, "")}
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
    return record


def run_experiments(names: list[str] | None, *, quick: bool, out: Path, progress: bool = False) -> dict[str, Any]:
    """Run the named experiments (all when None) and write `out/results.json`."""
    import dlcanon.experiments  # noqa: F401  (registrations)

    names = names or EXPERIMENTS.names()
    for name in names:
        EXPERIMENTS.entry(name)  # unknown names fail before anything runs
    out.mkdir(parents=True, exist_ok=True)
    records = []
    with progress_bar(len(names), "reproduce", enabled=progress) as bar:
        for name in names:
            bar.advance(0, status=name)
            records.append(run_one(name, quick=quick, out=out))
            bar.advance(1, status=name)
    report = {
        "mode": "quick" if quick else "full",
        "total": len(records),
        "passed": sum(r["status"] == "ok" for r in records),
        "held": sum(bool(r.get("holds")) for r in records),
        "experiments": records,
    }
    write_json(out / "results.json", report)
    return report
