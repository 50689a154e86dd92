"""Render `OUT/index.html` (one section per notion, in the notes' order) and `OUT/coverage.html`.

Static pages: CSS and a tiny self-check script are inlined, figures are PNG files referenced by paths
relative to OUT, nothing is fetched from the network.
"""

from __future__ import annotations

import struct
from pathlib import Path
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

from dlcanon.report.coverage import KINDS, Topic, coverage, curriculum_order, load_curriculum
from dlcanon.report.format import cell, is_number, seconds

STATUS_LABELS = {"holds": "claim holds", "fails": "claim not reproduced", "error": "error"}


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


def status_of(record: dict[str, Any]) -> str:
    if record.get("status") != "ok":
        return "error"
    return "holds" if record.get("holds") else "fails"


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


def render_report(out: Path, report: dict[str, Any]) -> Path:
    """Write `out/index.html` and `out/coverage.html` for the `report` of `run_experiments`; return index."""
    env = environment()
    views = [experiment_view(record, out) for record in report["experiments"]]
    groups = group_by_topic(views)
    measured = {tag for view in views for tag in view.get("tags", [])}  # secondary tags measure their topic too
    unmeasured = [topic for topic in load_curriculum() if topic.id not in measured]
    rows, unknown = coverage()
    ran = {view["name"]: view for view in views}
    counts = {status: sum(row.status == status for row in rows) for status in ("verified", "implemented", "gap")}
    common = {"run": report, "kinds": KINDS}
    index = env.get_template("index.html").render(groups=groups, unmeasured=unmeasured, **common)
    page = env.get_template("coverage.html").render(rows=rows, unknown=unknown, ran=ran, counts=counts, **common)
    write_page(out / "coverage.html", page)
    return write_page(out / "index.html", index)
