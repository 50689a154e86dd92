"""`dlcanon predict`: a trained model on a user's own files (labels, label maps, output images)."""

import json

import numpy as np
import pytest
from PIL import Image
from typer.testing import CliRunner

from dlcanon.cli import app

runner = CliRunner()


def run(*args):
    return runner.invoke(app, [str(a) for a in args])


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """runs / NAME: a one-step run of NAME, trained on first use."""
    root = tmp_path_factory.mktemp("runs")
    data = {"lenet5": "digits", "srresnet_small": "sr", "unet_small": "digitseg"}

    class Runs:
        def __truediv__(self, name):
            if not (root / name).exists():
                result = run("train", name, "--data", data[name], "--steps", 1, "--device", "cpu", "--out",
                             root / name, "--set", "tensorboard=false")  # fmt: skip
                assert result.exit_code == 0, result.output
            return root / name

    return Runs()


def write_png(path, shape):
    Image.fromarray((np.random.default_rng(0).random(shape) * 255).astype("uint8")).save(path)
    return path


def test_a_classifier_labels_each_file(runs, tmp_path):
    a = tmp_path / "a.npy"
    np.save(a, np.random.default_rng(0).random((1, 8, 8)).astype("float32"))
    result = run("predict", runs / "lenet5", a, write_png(tmp_path / "b.png", (8, 8)), "--out", tmp_path / "o",
                 "--json")  # fmt: skip
    assert result.exit_code == 0, result.output
    listing = json.loads(result.output)
    assert [set(p) for p in listing["predictions"]] == [{"input", "label"}] * 2
    assert all(0 <= p["label"] < 10 for p in listing["predictions"])
    assert json.loads((tmp_path / "o" / "predictions.json").read_text()) == listing


@pytest.mark.slow  # two trainings with their evaluations: ~40 s
def test_super_resolution_writes_an_upscaled_image_and_segmentation_a_label_map(runs, tmp_path):
    result = run("predict", runs / "srresnet_small", write_png(tmp_path / "lr.png", (10, 12, 3)), "--out",
                 tmp_path / "sr")  # fmt: skip
    assert result.exit_code == 0, result.output
    assert Image.open(tmp_path / "sr" / "lr.png").size == (48, 40)  # ×4, (W, H)
    result = run("predict", runs / "unet_small", write_png(tmp_path / "c.png", (64, 64)), "--out", tmp_path / "seg")
    assert result.exit_code == 0, result.output
    labels = np.asarray(Image.open(tmp_path / "seg" / "c.png"))
    assert labels.shape == (64, 64) and labels.max() <= 10


def main(capsys, *args):
    """The real entry point (`dlcanon.cli.main`, which turns a UserError into one line and exit 2)."""
    import sys

    from dlcanon.cli import main as entry

    argv, sys.argv = sys.argv, ["dlcanon", *map(str, args)]
    try:
        entry()
        code = 0
    except SystemExit as exc:
        code = exc.code
    finally:
        sys.argv = argv
    captured = capsys.readouterr()
    return code, captured.out + captured.err


@pytest.mark.parametrize(
    "case, message",
    [("missing", "no such file"), ("channels", "channel"), ("shape", "classifier takes"), ("range", "[0, 1]")],
)
def test_bad_inputs_are_one_line_and_write_nothing(runs, tmp_path, capsys, case, message):
    files = {
        "missing": tmp_path / "nope.png",
        "channels": write_png(tmp_path / "rgb.png", (8, 8, 3)),
        "shape": write_png(tmp_path / "big.png", (9, 8)),
        "range": tmp_path / "r.npy",
    }
    np.save(files["range"], np.full((1, 8, 8), 2.0, dtype="float32"))
    code, output = main(capsys, "predict", runs / "lenet5", files[case], "--out", tmp_path / "o")
    assert code == 2 and message in output and len(output.strip().splitlines()) == 1, output
    assert not (tmp_path / "o").exists()
