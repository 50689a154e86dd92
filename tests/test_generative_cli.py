"""CLI round trips of the latent-variable models: train → eval (ELBO, IWAE NLL in nats) → sample PNGs."""

import json
from pathlib import Path

import matplotlib.image
import pytest
import torch

from helpers import dlcanon

PNG = b"\x89PNG\r\n\x1a\n"


def is_png(path: str) -> bool:
    return Path(path).read_bytes()[:8] == PNG


def one_json(stdout: str):
    lines = [line for line in stdout.splitlines() if line.strip()]
    assert len(lines) == 1, stdout
    return json.loads(lines[0])


def test_vae_train_eval_sample_round_trip(tmp_path):
    run = tmp_path / "vae"
    out = dlcanon("train", "vae", "--data", "mnist5k", "--epochs", "1", "--out", str(run), "--json")
    assert out.returncode == 0, out.stderr
    metrics = one_json(out.stdout)["metrics"]
    assert metrics["test_nll_iwae"] <= -metrics["test_elbo"]  # IWAE_100 ≥ ELBO
    assert metrics["test_elbo"] == pytest.approx(-metrics["test_reconstruction"] - metrics["test_kl"])
    ev = one_json(dlcanon("eval", str(run), "--json").stdout)["metrics"]
    assert ev["test_elbo"] == pytest.approx(metrics["test_elbo"], rel=1e-4)  # seeded: the same numbers
    assert ev["test_nll_iwae"] == pytest.approx(metrics["test_nll_iwae"], rel=1e-4) and "test_bits_per_dim" in ev
    files = one_json(dlcanon("sample", str(run), "--n", "16", "--json").stdout)
    assert set(files) == {"samples", "reconstructions", "interpolation", "n"}
    assert all(is_png(files[k]) for k in ("samples", "reconstructions", "interpolation"))
    bad = dlcanon("sample", str(run), "--label", "3")
    assert bad.returncode == 2 and "not conditional" in bad.stderr and bad.stderr.strip().count("\n") == 0
    trunc = dlcanon("sample", str(run), "--truncation", "0.7")
    assert trunc.returncode == 2 and "--truncation is not an option" in trunc.stderr, trunc.stderr


@pytest.mark.slow  # a CLI round trip of ~15-40 s: `make test-slow`
def test_cvae_samples_a_class_and_rejects_unknown_labels(tmp_path):
    run = tmp_path / "cvae"
    args = ("train", "cvae", "--data", "digits", "--epochs", "1", "--out", str(run), "--set", "objective_args.iwae_k=5")
    assert dlcanon(*args).returncode == 0
    ok = one_json(dlcanon("sample", str(run), "--label", "3", "--n", "8", "--json").stdout)
    assert is_png(ok["samples"])
    bad = dlcanon("sample", str(run), "--label", "10")
    assert bad.returncode == 2 and "0..9" in bad.stderr and "Traceback" not in bad.stderr


@pytest.mark.slow  # ~17 s of CLI processes
def test_fitted_ppca_is_saved_and_reloaded(tmp_path):
    run = tmp_path / "ppca"
    summary = one_json(dlcanon("train", "ppca", "--data", "digits", "--out", str(run), "--json").stdout)
    assert summary["steps"] == 0 and (run / "checkpoint.pt").is_file()
    ev = one_json(dlcanon("eval", str(run), "--json").stdout)["metrics"]
    assert ev["test_nll"] == pytest.approx(summary["metrics"]["test_nll"])  # the fitted buffers came back
    files = one_json(dlcanon("sample", str(run), "--json").stdout)
    assert all(is_png(files[k]) for k in ("samples", "reconstructions", "interpolation"))


def test_sample_saves_exactly_the_declared_views_beside_the_samples(tmp_path):
    from dlcanon.evaluate import save_views
    from dlcanon.objectives.views import Figure, Grid, Points
    from dlcanon.plots import figure

    fig, _ = figure()
    views = {
        "samples": Grid(torch.rand(6, 1, 8, 8), nrow=3),
        "scales": Grid(torch.rand(4, 3, 5, 5)),
        "scatter": Points(torch.randn(50, 2)),
        "plot": Figure(fig),
    }
    files = save_views(views, tmp_path / "out" / "grid.png")
    expected = {"samples": "grid.png", **{name: f"grid-{name}.png" for name in ("scales", "scatter", "plot")}}
    assert {k: Path(v).name for k, v in files.items()} == expected
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == sorted(expected.values())
    assert all(is_png(f) for f in files.values())
    # 6 tiles of 8×8, 3 to a row, with 1-pixel borders: 2 rows of 9 + 1 by 3 columns of 9 + 1
    assert matplotlib.image.imread(files["samples"]).shape[:2] == (19, 28)
    assert matplotlib.image.imread(files["scales"]).shape[:2] == (13, 13)  # 4 tiles: 2 × 2
