"""Render `OUT/index.html` (one section per notion, in the notes' order) and `OUT/coverage.html`.

Static pages: CSS and a tiny self-check script are inlined, figures are PNG files referenced by paths
relative to OUT, nothing is fetched from the network.
"""

from __future__ import annotations

import os
import struct
from pathlib import Path
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

from dlcanon.registry import EXPERIMENTS
from dlcanon.report.cache import package_root, source_path
from dlcanon.report.claims import STATUS_LABELS, status_of, tally
from dlcanon.report.coverage import KINDS, Coverage, Topic, coverage, curriculum_order, load_curriculum
from dlcanon.report.format import cell, is_number, seconds


def environment() -> Environment:
    env = Environment(
        loader=PackageLoader("dlcanon.report", "templates"),
        autoescape=select_autoescape(["html"]),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters.update(cell=cell, seconds=seconds)
    return env


def png_size(path: Path) -> tuple[int, int] | None:
    """(width, height) from a PNG's IHDR chunk, or None when the file is missing or not a PNG."""
    try:
        with path.open("rb") as f:
            head = f.read(24)
    except OSError:
        return None
    if len(head) < 24 or head[:8] != b"\x89PNG\r\n\x1a\n":
        return None
    return struct.unpack(">II", head[16:24])


def source_of(record: dict[str, Any], out: Path) -> dict[str, str] | None:
    """The file that declares the experiment: {"path": as the repository names it (src/dlcanon/...), "href":
    relative to the report folder `out`}, from the record's `source` or, for an older record, the registry;
    None when the file is not in this source tree."""
    name = record["name"]
    path = record.get("source") or (source_path(name) if name in EXPERIMENTS else "")
    root = package_root()
    base = root.parent.parent if root.parent.name == "src" else root.parent  # the repository's root
    if not path or not (base / path).is_file():
        return None
    return {"path": path, "href": Path(os.path.relpath(base / path, out.resolve())).as_posix()}


def experiment_view(record: dict[str, Any], out: Path) -> dict[str, Any]:
    """What the template shows of one result record (see `dlcanon.reproduce.run_one`)."""
    figures = []
    for stem, figure in record.get("figures", {}).items():
        size = png_size(out / figure["path"])
        figures.append(
            {
                "src": Path(figure["path"]).as_posix(),
                "caption": figure.get("caption", ""),
                "alt": figure.get("caption") or stem.replace("_", " "),
                "size": size,
            }
        )
    tables = [
        {
            "title": table.get("title", ""),
            "columns": table.get("columns", []),
            "rows": [[{"text": cell(v), "num": is_number(v)} for v in row] for row in table.get("rows", [])],
        }
        for table in record.get("tables", [])
    ]
    status = status_of(record)
    return {
        "name": record["name"],
        "tags": record.get("tags", []),
        "claim": record.get("claim", ""),
        "verdict": record.get("verdict", ""),
        "error": record.get("error", ""),
        "traceback": record.get("traceback", ""),
        "command": record.get("command", ""),
        "seconds": record.get("seconds"),
        "cached": bool(record.get("cached")),
        "status_key": status,
        "status_label": STATUS_LABELS[status],
        "disagrees": record.get("disagrees") or "",
        "source": source_of(record, out),
        "tables": tables,
        "figures": figures,
        "numbers": {k: cell(v) for k, v in record.get("numbers", {}).items()},
    }


def group_by_topic(views: list[dict[str, Any]]) -> list[tuple[Topic | None, list[dict[str, Any]]]]:
    """Experiments under the first of their tags that names a topic, topics in the notes' order; experiments
    whose tags name none come last, under None."""
    order = curriculum_order()
    topics = {topic.id: topic for topic in load_curriculum()}
    groups: dict[str | None, list[dict[str, Any]]] = {}
    for view in sorted(views, key=lambda v: v["name"]):
        primary = next((tag for tag in view.get("tags", []) if tag in topics), None)
        groups.setdefault(primary, []).append(view)
    ids = sorted(groups, key=lambda i: order.get(i, len(order)) if i is not None else len(order) + 1)
    return [(topics.get(i) if i is not None else None, groups[i]) for i in ids]


def write_page(path: Path, text: str) -> Path:
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(path)
    return path


def overview(report: dict[str, Any], rows: list[Coverage], measured: set[str]) -> dict[str, Any]:
    """What the first screen of the index says: notions covered and measured, claims by status, and the
    registered experiments this run did not run."""
    ran = {record["name"] for record in report["experiments"]}
    return {
        "notions": len(rows),
        "covered": sum(row.status != "gap" for row in rows),
        "verified": sum(row.status == "verified" for row in rows),
        "measured": sum(row.topic.id in measured for row in rows),
        "claims": tally(report["experiments"]),
        "not_run": [name for name in EXPERIMENTS.names() if name not in ran],
    }


def render_report(out: Path, report: dict[str, Any]) -> Path:
    """Write `out/index.html` and `out/coverage.html` for the `report` of `run_experiments`; return index."""
    env = environment()
    rows, unknown = coverage()  # imports every registering package: experiment sources are known after it
    views = [experiment_view(record, out) for record in report["experiments"]]
    groups = group_by_topic(views)
    measured = {tag for view in views for tag in view.get("tags", [])}  # secondary tags measure their topic too
    unmeasured = [topic for topic in load_curriculum() if topic.id not in measured]
    ran = {view["name"]: view for view in views}
    counts = {status: sum(row.status == status for row in rows) for status in ("verified", "implemented", "gap")}
    common = {"run": report, "kinds": KINDS}
    index = env.get_template("index.html").render(
        groups=groups, unmeasured=unmeasured, overview=overview(report, rows, measured), **common
    )
    page = env.get_template("coverage.html").render(rows=rows, unknown=unknown, ran=ran, counts=counts, **common)
    write_page(out / "coverage.html", page)
    return write_page(out / "index.html", index)
