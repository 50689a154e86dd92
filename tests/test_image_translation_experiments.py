"""S4 and S5 in quick mode (slow: each trains for about 45–70 s of one CPU core)."""

import pytest

from dlcanon.reproduce import run_experiments


def run(name, tmp_path):
    record = run_experiments([name], quick=True, out=tmp_path)["experiments"][0]
    assert record["status"] == "ok", record.get("traceback")
    return record


@pytest.mark.slow
def test_pix2pix_ablation_holds(tmp_path):
    record = run("pix2pix_ablation", tmp_path)
    assert record["holds"], record["verdict"]


@pytest.mark.slow
def test_sr_gan_runs_and_reports_every_method(tmp_path):
    """Quick mode is too short for SRResNet to pass bicubic (the verdict says so); the numbers must be there."""
    numbers = run("sr_gan", tmp_path)["numbers"]
    assert numbers["psnr_bicubic"] == pytest.approx(28.34, abs=0.01)  # the held-out tiles, Y channel, 4-px border
    assert {"psnr_srresnet", "psnr_srgan", "energy"} <= set(numbers)
