"""The HTML report of `dlcanon reproduce`: structure of index.html and coverage.html, the cache, results.json."""

from __future__ import annotations

import json
import re
from collections import Counter
from html.parser import HTMLParser
from pathlib import Path

import pytest
from typer.testing import CliRunner

from dlcanon.cli import app
from dlcanon.experiments.base import Result, Table, experiment
from dlcanon.plots import figure
from dlcanon.registry import EXPERIMENTS
from dlcanon.report import Topic, cache, coverage, load_curriculum
from dlcanon.report.format import cell, seconds
from dlcanon.reproduce import run_experiments

VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"}
NAMES = ("toy_report_fail", "toy_report_ok")  # alphabetical order; the notes' order is the reverse


class Node:
    def __init__(self, tag: str, attrs: dict[str, str], parent: Node | None) -> None:
        self.tag, self.attrs, self.parent, self.children = tag, attrs, parent, []

    def text(self) -> str:
        return " ".join(" ".join(c.text() if isinstance(c, Node) else c for c in self.children).split())

    def find_all(self, tag: str, **attrs: str) -> list[Node]:
        """Descendants with this tag whose attributes contain the given values (class_ matches one class)."""
        found = []
        for child in self.children:
            if not isinstance(child, Node):
                continue
            wanted = {k.rstrip("_"): v for k, v in attrs.items()}
            if child.tag == tag and all(
                v in child.attrs.get(k, "").split() if k == "class" else child.attrs.get(k) == v
                for k, v in wanted.items()
            ):
                found.append(child)
            found += child.find_all(tag, **attrs)
        return found

    def find(self, tag: str, **attrs: str) -> Node:
        found = self.find_all(tag, **attrs)
        assert found, f"no <{tag} {attrs}> in <{self.tag} {self.attrs}>"
        return found[0]


class TreeBuilder(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.root = self.current = Node("#document", {}, None)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        node = Node(tag, {k: v or "" for k, v in attrs}, self.current)
        self.current.children.append(node)
        if tag not in VOID:
            self.current = node

    def handle_endtag(self, tag: str) -> None:
        node = self.current
        while node is not None and node.tag != tag:
            node = node.parent
        assert node is not None, f"stray </{tag}>"
        self.current = node.parent

    def handle_data(self, data: str) -> None:
        self.current.children.append(data)


def parse(path: Path) -> Node:
    builder = TreeBuilder()
    builder.feed(path.read_text(encoding="utf-8"))
    builder.close()
    assert builder.current is builder.root, "unclosed elements"
    return builder.root


@pytest.fixture
def toys():
    """Two registered toy experiments, one that fails; yields the number of calls of each."""
    calls: Counter[str] = Counter()

    @experiment("toy_report_ok", tags=("F4", "G16"), claim="Flipping the kernel turns correlation into convolution.")
    def toy_ok(quick: bool) -> Result:
        calls["toy_report_ok"] += 1
        fig, (ax,) = figure()
        ax.plot([0, 1, 2], [0, 1, 4])
        return Result(
            "Measured: π ≈ 3.142 in 1234 trials.",
            True,
            tables=[Table("Measured values", ["quantity", "trials", "value"], [["pi", 1234, 3.14159265]])],
            figures={"parabola": fig},
            captions={"parabola": "A parabola through three points."},
            numbers={"pi": 3.14159265},
        )

    @experiment("toy_report_fail", tags=("G3",), claim="This experiment breaks.")
    def toy_fail(quick: bool) -> Result:
        calls["toy_report_fail"] += 1
        raise RuntimeError("deliberate failure")

    yield calls
    for name in NAMES:
        EXPERIMENTS._entries.pop(name)


@pytest.fixture
def rendered(tmp_path, toys):
    report = run_experiments(list(NAMES), quick=True, out=tmp_path)
    return tmp_path, report


def articles(root: Node) -> dict[str, Node]:
    return {a.attrs["data-experiment"]: a for a in root.find_all("article", class_="experiment")}


def test_index_has_one_section_per_experiment_in_the_notes_order(rendered):
    out, report = rendered
    assert report["index"] == str(out / "index.html")
    root = parse(out / "index.html")
    found = articles(root)
    assert list(found) == ["toy_report_ok", "toy_report_fail"]  # F4 before G3, not alphabetical
    order = {topic.id: i for i, topic in enumerate(load_curriculum())}
    ids = [s.attrs["data-id"] for s in root.find_all("section", class_="notion")]
    assert ids == sorted(ids, key=order.__getitem__) == ["F4", "G3"]
    for name, tag in (("toy_report_ok", "F4"), ("toy_report_fail", "G3")):
        article = found[name]
        assert article.parent.attrs["data-id"] == tag
        assert article.parent.find("h2").text().startswith(tag)
        assert article.find("code", class_="command").text() == f"dlcanon reproduce {name} --quick"
        time = article.find("dd", class_="seconds")
        assert float(time.attrs["data-seconds"]) >= 0 and re.search(r"\d s", time.text())
        assert EXPERIMENTS.entry(name).meta["claim"] in article.find("p", class_="claim").text()


def test_contents_list_every_tag_and_a_secondary_tag_counts_as_measured(rendered):
    out, _ = rendered
    root = parse(out / "index.html")
    contents = root.find("table", class_="contents")
    links = [a.attrs["href"] for a in contents.find_all("a")]
    assert "#F4" in links and "coverage.html#G16" in links
    unmeasured = [a.text() for a in root.find("p", class_="unmeasured").find_all("a") if "#" in a.attrs["href"]]
    assert "F1" in unmeasured and not {"F4", "G16", "G3"} & set(unmeasured)  # G3: the failing toy's tag


def test_a_successful_section_shows_table_figure_and_verdict(rendered):
    out, _ = rendered
    article = articles(parse(out / "index.html"))["toy_report_ok"]
    assert article.attrs["data-status"] == "holds"
    assert "π ≈ 3.142 in 1234 trials" in article.find("p", class_="verdict").text()
    table = article.find("table", class_="measured")
    assert table.find("caption").text() == "Measured values"
    assert [th.text() for th in table.find_all("th")] == ["quantity", "trials", "value"]
    assert [td.text() for td in table.find_all("td")] == ["pi", "1,234", "3.142"]  # floats to 4 digits
    (img,) = article.find_all("img")
    assert (out / img.attrs["src"]).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert not Path(img.attrs["src"]).is_absolute() and img.attrs["alt"]
    assert int(img.attrs["width"]) > 0 and int(img.attrs["height"]) > 0
    assert article.find("figcaption").text() == "A parabola through three points."


def test_a_failing_section_shows_its_error(rendered):
    out, report = rendered
    assert report["failed"] == 1
    article = articles(parse(out / "index.html"))["toy_report_fail"]
    assert article.attrs["data-status"] == "error"
    assert "RuntimeError: deliberate failure" in article.find("div", class_="error-message").text()
    assert "deliberate failure" in article.find("pre").text()  # the traceback
    assert not article.find_all("p", class_="verdict")


def test_page_is_self_contained(rendered):
    out, _ = rendered
    for page in ("index.html", "coverage.html"):
        text = (out / page).read_text(encoding="utf-8")
        root = parse(out / page)
        assert not root.find_all("link") and "http://" not in text and "https://" not in text
        assert not [s for s in root.find_all("script") if "src" in s.attrs]
        assert "@media print" in root.find("style").text()
        assert str(out) not in text  # no local paths: the pages can move with their folder


def test_coverage_lists_every_id_and_marks_gaps(rendered):
    out, _ = rendered
    root = parse(out / "coverage.html")
    rows = {r.attrs["data-id"]: r for r in root.find_all("tr", class_="topic")}
    assert list(rows) == [topic.id for topic in load_curriculum()]
    for row in rows.values():
        status = row.attrs["data-status"]
        assert status in row.attrs["class"].split()
        missing = [span.text() for span in row.find_all("span", class_="none")]
        assert (status == "gap") == (missing == ["nothing", "no experiment"])
        assert (status == "verified") == ("no experiment" not in missing)
    f4 = rows["F4"]
    assert f4.attrs["data-status"] == "verified"
    assert "dlcanon.nn.convolution" in f4.text()  # the module's CURRICULUM tuple
    link = f4.find("a", href="index.html#exp-toy_report_ok")
    assert link.text() == "toy_report_ok"
    assert "toy_report_fail" in rows["G3"].text()
    assert "relu" in rows["A1"].text() and "lenet5" in rows["C1"].text()  # registry tags


def test_coverage_marks_a_topic_nothing_carries_as_a_gap_and_reports_unknown_tags():
    EXPERIMENTS.add("toy_report_untagged", lambda quick: None, tags=("Q9",), claim="")
    try:
        rows, unknown = coverage((*load_curriculum(), Topic("Z1", "Test", "nothing here", "No code has it.")))
    finally:
        EXPERIMENTS._entries.pop("toy_report_untagged")
    assert rows[-1].topic.id == "Z1" and rows[-1].status == "gap"
    assert not any(rows[-1].items.values())
    assert unknown["Q9"] == ["experiment toy_report_untagged"]
    modules = {row.topic.id: row.items["modules"] for row in rows}
    assert "dlcanon.nn.conv_arith" in modules["F5"] and "dlcanon.data.augment" in modules["C9"]
    assert "dlcanon.losses" in modules["L1"] and "dlcanon.nn.activations" in modules["A3"]


def test_curriculum_has_every_id_in_order():
    expected = [
        f"{s}{i}" for s, n in (("F", 11), ("A", 3), ("L", 2), ("C", 9), ("S", 5), ("G", 16)) for i in range(1, n + 1)
    ]
    topics = load_curriculum()
    assert [t.id for t in topics] == expected
    for topic in topics:
        assert topic.section and topic.title and topic.description.endswith(".")


def test_cache_reuses_a_result_and_force_recomputes(tmp_path, toys):
    first = run_experiments(list(NAMES), quick=True, out=tmp_path)
    second = run_experiments(list(NAMES), quick=True, out=tmp_path)
    assert toys["toy_report_ok"] == 1  # reused, not recomputed
    assert toys["toy_report_fail"] == 2  # failures are never cached
    ok = {r["name"]: r for r in second["experiments"]}["toy_report_ok"]
    assert ok["cached"] and second["cached"] == 1
    assert ok["figures"] == {r["name"]: r for r in first["experiments"]}["toy_report_ok"]["figures"]
    assert "cached" in articles(parse(tmp_path / "index.html"))["toy_report_ok"].text()
    forced = run_experiments(["toy_report_ok"], quick=True, out=tmp_path, force=True)
    assert toys["toy_report_ok"] == 2 and not forced["experiments"][0]["cached"]
    run_experiments(["toy_report_ok"], quick=False, out=tmp_path)  # another mode, another key
    assert toys["toy_report_ok"] == 3


def test_a_source_change_invalidates_the_cache(tmp_path, toys, monkeypatch):
    run_experiments(["toy_report_ok"], quick=True, out=tmp_path)
    monkeypatch.setattr(cache, "source_hash", lambda: "edited")
    run_experiments(["toy_report_ok"], quick=True, out=tmp_path)
    assert toys["toy_report_ok"] == 2


def test_a_missing_figure_invalidates_the_cache(tmp_path, toys):
    run_experiments(["toy_report_ok"], quick=True, out=tmp_path)
    (tmp_path / "toy_report_ok" / "parabola.png").unlink()
    run_experiments(["toy_report_ok"], quick=True, out=tmp_path)
    assert toys["toy_report_ok"] == 2 and (tmp_path / "toy_report_ok" / "parabola.png").is_file()


def test_results_json_is_well_formed(rendered):
    out, _ = rendered
    data = json.loads((out / "results.json").read_text())
    assert data["total"] == 2 and data["passed"] == 1 and data["failed"] == 1 and data["held"] == 1
    assert data["mode"] == "quick" and data["code_version"].startswith(data["version"])
    records = {r["name"]: r for r in data["experiments"]}
    assert set(records) == set(NAMES)
    ok, bad = records["toy_report_ok"], records["toy_report_fail"]
    assert ok["status"] == "ok" and ok["holds"] is True and ok["numbers"] == {"pi": 3.14159265}
    assert ok["tables"][0]["rows"] == [["pi", 1234, 3.14159265]]
    assert (out / ok["figures"]["parabola"]["path"]).is_file()
    assert bad["status"] == "error" and "deliberate failure" in bad["error"]
    for record in records.values():
        assert record["command"] == f"dlcanon reproduce {record['name']} --quick"
        assert record["seconds"] >= 0 and len(record["cache_key"]) == 64
    assert json.loads((out / "toy_report_ok" / "result.json").read_text())["cache_key"] == ok["cache_key"]


def test_cli_reproduce_prints_the_report_and_exits_with_the_failures(tmp_path, toys):
    runner = CliRunner()
    args = ["reproduce", *NAMES, "--quick", "--out", str(tmp_path)]
    result = runner.invoke(app, args)
    assert result.exit_code == 1, result.output  # one failed experiment
    assert f"report: {(tmp_path / 'index.html').resolve()}" in result.output
    assert runner.invoke(app, args).exit_code == 1 and toys["toy_report_ok"] == 1
    assert runner.invoke(app, [*args, "--force"]).exit_code == 1 and toys["toy_report_ok"] == 2


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (3.14159265, "3.142"),
        (123456.7, "1.235×10⁵"),
        (0.000123456, "0.0001235"),
        (2.0e-7, "2×10⁻⁷"),
        (-0.5, "−0.5"),
        (4.0, "4"),
        (1234, "1,234"),
        (True, "yes"),
        (None, "—"),
        (float("nan"), "NaN"),
        ([0.5, 0.25], "0.5, 0.25"),
        ("100.0%", "100.0%"),
    ],
)
def test_cells_are_formatted_to_four_significant_digits(value, text):
    assert cell(value) == text


def test_seconds_are_readable():
    assert [seconds(s) for s in (0.001, 0.42, 12.34, 125)] == ["< 0.01 s", "0.42 s", "12.3 s", "2 min 05 s"]
