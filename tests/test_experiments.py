import json

import pytest

from dlcanon.errors import UserError
from dlcanon.experiments.base import Result, Table, experiment
from dlcanon.experiments.runner import run_experiments
from dlcanon.plots import figure
from dlcanon.registry import EXPERIMENTS


@pytest.fixture
def toy_experiments():
    @experiment("toy_ok", tags=("F5",), claim="Two plus two is four.")
    def toy_ok(quick: bool) -> Result:
        fig, (ax,) = figure()
        ax.plot([0, 1], [0, 1])
        return Result(
            "Measured 2 + 2 = 4.",
            True,
            tables=[Table("sum", ["a", "b", "a+b"], [[2, 2, 4]])],
            figures={"line": fig},
        )

    @experiment("toy_fail", tags=("F1",), claim="This one breaks.")
    def toy_fail(quick: bool) -> Result:
        raise RuntimeError("boom")

    yield
    for name in ("toy_ok", "toy_fail"):
        EXPERIMENTS._entries.pop(name)


def test_runner_writes_json_and_png_and_isolates_failures(tmp_path, toy_experiments):
    report = run_experiments(["toy_fail", "toy_ok"], quick=True, out=tmp_path)
    assert report["total"] == 2 and report["passed"] == 1
    ok = json.loads((tmp_path / "toy_ok" / "result.json").read_text())
    assert ok["status"] == "ok" and ok["holds"] and ok["tables"][0]["rows"] == [[2, 2, 4]]
    assert ok["command"] == "dlcanon reproduce toy_ok --quick"
    png = tmp_path / ok["figures"]["line"]["path"]
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    bad = json.loads((tmp_path / "toy_fail" / "result.json").read_text())
    assert bad["status"] == "error" and "boom" in bad["error"]
    assert json.loads((tmp_path / "results.json").read_text())["passed"] == 1


def test_unknown_experiment_is_a_user_error(tmp_path):
    with pytest.raises(UserError, match="unknown experiment"):
        run_experiments(["nope"], quick=True, out=tmp_path)


def test_conv_output_size_experiment_holds(tmp_path):
    report = run_experiments(["conv_output_size"], quick=True, out=tmp_path)
    record = report["experiments"][0]
    assert record["status"] == "ok" and record["holds"], record
    assert record["numbers"]["configurations"] >= 300


def test_universal_approximation_error_falls_with_width(tmp_path):
    record = run_experiments(["universal_approximation"], quick=True, out=tmp_path)["experiments"][0]
    assert record["status"] == "ok", record.get("traceback")
    for errors in record["numbers"].values():
        assert errors[-1] < 0.2 * errors[0]  # sup error at the largest N is a fifth of that at N = 1
    assert record["holds"]
