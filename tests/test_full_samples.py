"""Full-mode sample sets: written by `reproduce` beside the figures, shipped with their sha256, read back and
scored by the quick runs of the GANs that need thousands of steps to draw digits."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from dlcanon.errors import UserError
from dlcanon.experiments import full_samples
from dlcanon.experiments.base import Result
from dlcanon.experiments.full_samples import SHIPPED, Samples, decode, encode, made_by, sha256, shipped
from dlcanon.registry import EXPERIMENTS
from dlcanon.reproduce import run_experiments


def test_encode_decode_round_trip_quantises_to_uint8():
    images = torch.rand(7, 1, 5, 4)
    back = decode(encode(Samples(images, 12, 3.25), {"command": "dlcanon reproduce x --full", "mode": "full"}))
    assert back.images.shape == images.shape
    assert (back.images - images).abs().max() <= 0.5 / 255 + 1e-6  # rounded to the nearest of 256 levels
    assert back.steps == 12 and back.seconds == 3.2  # seconds kept to 0.1 s (3.25 rounds to even)
    assert back.record["command"] == "dlcanon reproduce x --full" and back.record["shape"] == [7, 1, 5, 4]
    assert "`dlcanon reproduce x --full`: 12 generator steps" in made_by(back)


def test_decode_refuses_what_encode_does_not_write(tmp_path):
    import io

    buffer = io.BytesIO()
    np.savez(buffer, images=np.zeros((2, 3), dtype=np.float32), record=np.array(json.dumps({"steps": 1, "seconds": 1})))
    with pytest.raises(ValueError, match="uint8"):
        decode(buffer.getvalue())


def test_a_shipped_set_that_does_not_match_its_hash_is_one_clear_error(monkeypatch):
    monkeypatch.setitem(SHIPPED, "nothing.samples", "0" * 64)
    with pytest.raises(UserError, match="missing"):
        shipped("nothing")
    if SHIPPED.keys() - {"nothing.samples"}:
        key = sorted(SHIPPED.keys() - {"nothing.samples"})[0]
        monkeypatch.setitem(SHIPPED, key, "0" * 64)
        name, stem = key.split(".", 1)
        with pytest.raises(UserError, match="sha256"):
            shipped(name, stem)
    with pytest.raises(KeyError, match="ships no"):
        shipped("no_such_experiment")


@pytest.mark.parametrize("key", sorted(SHIPPED))
def test_every_shipped_set_is_its_experiments_full_mode_output(key):
    name = key.split(".", 1)[0]
    import dlcanon.experiments  # noqa: F401  (registrations)

    assert name in EXPERIMENTS.names()
    data = full_samples.asset(key).read_bytes()
    assert sha256(data) == SHIPPED[key]
    s = decode(data)
    assert s.record["mode"] == "full" and s.record["name"] == name
    assert s.record["command"] == f"dlcanon reproduce {name} --full"
    assert s.images.shape[0] >= 500 and s.steps > 0


def kept_draws(ctx) -> Result:
    return Result("kept", True, samples={"samples": Samples(torch.rand(4, 1, 3, 3), 5, 1.0)})


def test_reproduce_writes_an_experiments_samples_beside_its_figures(tmp_path: Path):
    EXPERIMENTS.add("toy_kept_samples", kept_draws, tags=("F5",), claim="toy.")
    try:
        report = run_experiments(["toy_kept_samples"], quick=False, out=tmp_path, device="cpu", jobs=1)
    finally:
        EXPERIMENTS._entries.pop("toy_kept_samples")
    record = report["experiments"][0]
    assert record["samples"] == {"samples": "toy_kept_samples/samples.npz"}
    s = decode((tmp_path / record["samples"]["samples"]).read_bytes())
    assert s.images.shape == (4, 1, 3, 3) and s.steps == 5
    assert s.record["command"] == "dlcanon reproduce toy_kept_samples --full" and s.record["mode"] == "full"


def test_the_quick_progan_run_scores_the_shipped_full_runs_samples():
    from dlcanon.experiments.context import Context
    from dlcanon.experiments.gan_images import at_full_budget, digits

    full = at_full_budget(Context(quick=True), "progan_growth", "ProGAN", None, digits(True).test.x)
    assert full.own.record["command"] == "dlcanon reproduce progan_growth --full"
    assert full.dcgan.record["command"] == "dlcanon reproduce dcgan_digits --full"
    # the shipped images meet the bar the claim names (DCGAN's quick-budget share, in at least 6 classes)
    assert full.holds and full.scores["confident_classes"] >= 6
    sentence = full.sentence()
    assert "`dlcanon reproduce progan_growth --full`: 2,480 generator steps" in sentence
    assert "DCGAN after its own full budget" in sentence
    assert [row[0] for row in full.table().rows] == ["ProGAN, full mode", "DCGAN, full mode"]
