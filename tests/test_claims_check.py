"""The claims check: each experiment's verdict against the one its registration declares, one line each."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from dlcanon.cli import app
from dlcanon.experiments.base import Result, experiment
from dlcanon.registry import EXPERIMENTS
from dlcanon.report.check import check, summary
from dlcanon.reproduce import claims_check, run_experiments

TOYS = {
    "toy_check_holds": ("", True),
    "toy_check_disagrees": ("the quick budget is too short", False),
    "toy_check_stopped": ("", False),  # expected to hold, does not: a regression
    "toy_check_now_holds": ("declared long ago", True),  # declared to disagree, holds: stale declaration
}


@pytest.fixture
def toys():
    for name, (disagrees, holds) in TOYS.items():
        experiment(name, tags=("F5",), claim=f"{name} claims.", disagrees=disagrees)(
            lambda ctx, holds=holds: Result("measured", holds)
        )

    @experiment("toy_check_error", tags=("F5",), claim="It breaks.")
    def broken(ctx):
        raise RuntimeError("deliberate")

    yield
    for name in [*TOYS, "toy_check_error"]:
        EXPERIMENTS._entries.pop(name)


def record(name: str, **fields) -> dict:
    return {"name": name, "status": "ok", "holds": True, "disagrees": "", "seconds": 1.25,
            "source": "src/dlcanon/experiments/x.py", **fields}  # fmt: skip


@pytest.mark.parametrize(
    ("fields", "expected", "got", "ok"),
    [
        ({}, "holds", "holds", True),
        ({"holds": False}, "holds", "disagrees", False),
        ({"holds": False, "disagrees": "why"}, "disagrees", "disagrees", True),
        ({"disagrees": "why"}, "disagrees", "holds", False),
        ({"status": "error", "error": "RuntimeError: x", "holds": None}, "holds", "error", False),
        ({"status": "error", "error": "RuntimeError: x", "disagrees": "why"}, "disagrees", "error", False),
    ],
)
def test_a_check_passes_only_when_the_verdict_is_the_declared_one(fields, expected, got, ok):
    c = check(record("toy", **fields))
    assert (c.expected, c.got, c.ok) == (expected, got, ok)
    assert c.line().startswith("ok  " if ok else "FAIL")
    assert ("1.2 s" in c.line() or "1.3 s" in c.line()) and "toy" in c.line()


def test_a_failing_line_names_the_declaration_to_change():
    stopped = check(record("toy", holds=False)).line()
    assert 'disagrees="' in stopped and "@experiment(\"toy\"" in stopped and "src/dlcanon/experiments/x.py" in stopped
    stale = check(record("toy", disagrees="why")).line()
    assert "remove disagrees=" in stale and "src/dlcanon/experiments/x.py" in stale
    assert "RuntimeError: x" in check(record("toy", status="error", error="RuntimeError: x")).line()


def test_the_summary_counts_and_names_the_failures():
    checks = [check(record("a")), check(record("b", holds=False, disagrees="w")), check(record("c", holds=False)),
              check(record("d", status="error"))]  # fmt: skip
    line = summary(checks)
    assert "4 experiments" in line and "1 hold and 1 disagree as declared" in line
    assert "1 differ" in line and "1 failed to run" in line and line.endswith("FAILED (c, d)")
    assert summary(checks[:2]).endswith("passed")


def test_the_declaration_is_stored_and_recorded(tmp_path, toys):
    assert EXPERIMENTS.entry("toy_check_disagrees").meta["disagrees"] == "the quick budget is too short"
    assert EXPERIMENTS.entry("toy_check_holds").meta["disagrees"] == ""
    report = run_experiments([*TOYS, "toy_check_error"], quick=True, out=tmp_path)
    records = {r["name"]: r for r in report["experiments"]}
    assert records["toy_check_disagrees"]["disagrees"] == "the quick budget is too short"
    assert records["toy_check_holds"]["source"].endswith("tests/test_claims_check.py")
    lines, passed = claims_check(report)
    assert not passed and len(lines) == len(TOYS) + 2
    failed = {line.split()[1] for line in lines if line.startswith("FAIL")}
    assert failed == {"toy_check_stopped", "toy_check_now_holds", "toy_check_error"}
    cached = run_experiments(["toy_check_holds", "toy_check_disagrees"], quick=True, out=tmp_path)
    assert cached["cached"] == 2 and claims_check(cached)[1]


def test_cli_check_exits_non_zero_on_a_flip_and_zero_when_all_agree(tmp_path, toys):
    runner = CliRunner()
    good = runner.invoke(app, ["reproduce", "toy_check_holds", "toy_check_disagrees", "--check", "--jobs", "1",
                               "--out", str(tmp_path)])  # fmt: skip
    assert good.exit_code == 0, good.output
    assert "expected disagrees  got disagrees" in good.output and "passed" in good.output
    bad = runner.invoke(app, ["reproduce", "toy_check_holds", "toy_check_stopped", "--check", "--jobs", "1",
                              "--out", str(tmp_path)])  # fmt: skip
    assert bad.exit_code == 1 and "FAIL  toy_check_stopped" in bad.output and "FAILED (toy_check_stopped)" in bad.output
    plain = runner.invoke(app, ["reproduce", "toy_check_stopped", "--jobs", "1", "--out", str(tmp_path)])
    assert plain.exit_code == 0  # without --check a claim that does not hold is a result, not a failure
