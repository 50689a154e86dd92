"""The foundation's promise: `dlcanon train lenet5 --data mnist5k` reaches ≥ 98% test accuracy by default."""

import json

from helpers import dlcanon


def test_lenet5_default_recipe_reaches_98_percent(tmp_path):
    out = dlcanon(
        "train", "lenet5", "--data", "mnist5k", "--device", "cpu", "--out", str(tmp_path / "run"), "--json", timeout=900
    )
    assert out.returncode == 0, out.stderr
    summary = json.loads(out.stdout)
    assert summary["metrics"]["test_accuracy"] >= 0.98, summary
    assert summary["epochs"] == 30 and summary["params"] == 61706
