"""The segmentation presets and experiments (S1, S2): the done-when of issue 13 (`dlcanon train unet_small --data
digitseg` reaches a mean foreground Dice ≥ 0.90 by default), eval's metrics and sample's overlays from a run,
and the experiments' helpers."""

import json

import pytest
import torch

from dlcanon.data.base import Split
from dlcanon.experiments.segmentation_curves import head, split_dice
from dlcanon.experiments.unet3d_slices import SliceWise
from dlcanon.metrics.segmentation import dice
from dlcanon.models.unet import build_unet
from dlcanon.objectives.segmenter import Segmenter
from helpers import dlcanon


def test_slicewise_applies_the_2d_net_to_every_slice_alone():
    torch.manual_seed(0)
    net = build_unet((1, 8, 8), 3, levels=((4, 4), (8, 8)), padding="same", norm="none")
    x = torch.randn(2, 1, 5, 8, 8)
    z = SliceWise(net)(x)
    assert z.shape == (2, 3, 5, 8, 8)
    for d in range(5):
        torch.testing.assert_close(z[:, :, d], net(x[:, :, d]))


class Oracle(Segmenter):
    """Scores that put each pixel's label, or a fixed wrong one, on top."""

    def __init__(self, k: int) -> None:
        super().__init__(torch.nn.Identity())
        self.k, self.w = k, torch.nn.Parameter(torch.zeros(()))

    def scores(self, x):
        return torch.nn.functional.one_hot(x[:, 0].long(), self.k).movedim(-1, 1).float()


def test_split_dice_equals_the_metric_on_the_whole_split_in_batches():
    g = torch.Generator().manual_seed(0)
    y = torch.randint(0, 4, (10, 6, 6), generator=g)
    pred = torch.where(torch.rand(10, 6, 6, generator=g) < 0.7, y, torch.randint(0, 4, (10, 6, 6), generator=g))
    split = Split(pred[:, None].float(), y)
    expected = float(dice(pred, y, 4)[1:].mean())
    assert split_dice(Oracle(4), split, batch=3) == pytest.approx(expected)
    assert len(head(split, 4)) == 4


def test_segmentation_presets_resolve_to_their_data_with_batch_dice():
    from dlcanon.runs import default_config

    for name, data in (("unet_small", "digitseg"), ("unet_small_phantom", "phantom"), ("unetpp_small", "phantom"),
                       ("unet3d_small", "phantom3d"), ("hdenseunet_small", "phantom3d")):  # fmt: skip
        cfg = default_config(name)
        assert cfg.data == data and cfg.steps > 0 and cfg.objective_args == {"batch_dice": True}, (name, cfg)


@pytest.mark.slow
def test_unet_small_default_preset_reaches_dice_090_on_digitseg(tmp_path):
    run = tmp_path / "run"
    out = dlcanon("train", "unet_small", "--data", "digitseg", "--device", "cpu", "--out", str(run), "--json",
                  timeout=1800)  # fmt: skip
    assert out.returncode == 0, out.stderr
    summary = json.loads(out.stdout)
    assert summary["metrics"]["test_dice"] >= 0.90, summary
    ev = dlcanon("eval", str(run), "--json", timeout=600)
    assert ev.returncode == 0, ev.stderr
    metrics = json.loads(ev.stdout)
    metrics = metrics.get("metrics", metrics)
    for key in ("test_dice", "test_iou", "test_pixel_accuracy", "test_dice_1", "test_dice_10"):
        assert key in metrics, sorted(metrics)
    assert metrics["test_iou"] <= metrics["test_dice"] <= 1
    sample = dlcanon("sample", str(run), "--out", str(tmp_path / "overlays.png"), "--json", timeout=600)
    assert sample.returncode == 0, sample.stderr
    assert (tmp_path / "overlays.png").stat().st_size > 0


@pytest.mark.slow
@pytest.mark.parametrize("name", ["unet_skips", "unetpp_pruning", "unet3d_slices", "hdenseunet_halves"])
def test_segmentation_experiments_run_in_quick_mode(tmp_path, name):
    from dlcanon.reproduce import run_one

    record = run_one(name, quick=True, out=tmp_path)
    assert record["verdict"]


def test_hdenseunet_halves_runs_when_shrunk():
    from dlcanon.experiments import Context, run_experiment

    settings = {"steps": 1, "batch_size": 2, "size": 16, "n_train": 4, "probe": 2}
    result = run_experiment("hdenseunet_halves", Context(settings=settings))
    assert set(result.numbers) == {"hybrid", "2-D half", "3-D half"}
    assert result.holds == (result.numbers["hybrid"] > max(result.numbers["2-D half"], result.numbers["3-D half"]))
