"""`info` of a multi-network model shows each network (a GAN's generator from z, its critic from an image) and
the total; `list` counts parameters on the meta device and caches its rows by code version; TensorBoard gets
the objective's views and the run's configuration; a 2-D sample scatter overlays the data on equal axes."""

from __future__ import annotations

import json

import pytest
import torch
from typer.testing import CliRunner

from dlcanon.cli import app
from dlcanon.modelinfo import default_params, model_summary

runner = CliRunner()


def info_json(*args: str) -> dict:
    result = runner.invoke(app, ["info", *args, "--json"])
    assert result.exit_code == 0, (result.output, result.exception)
    return json.loads(result.stdout)


def test_info_dcgan_shows_the_generator_from_z_and_the_discriminator_from_an_image():
    info = info_json("dcgan")
    generator, discriminator = info["networks"]
    assert (generator["name"], discriminator["name"]) == ("generator", "discriminator")
    assert generator["input_shape"] == [1, 64]  # z, latent_dim 64
    assert discriminator["input_shape"] == [1, 1, 28, 28] and discriminator["output_shape"] == [1]
    assert generator["output_shape"] == [1, 1, 28, 28]
    # G: Linear 64→3136 (2·64·3136), ConvT 64→32 4×4 from 7² (2·16·64·32·7²: each input pixel scatters a
    # k×k×c_out block), ConvT 32→1 4×4 from 14² (2·16·32·14²)
    assert generator["flops"] == 2 * 64 * 3136 + 2 * 16 * 64 * 32 * 7**2 + 2 * 16 * 32 * 14**2
    assert info["params"] == generator["params"] + discriminator["params"]
    assert info["flops"] == generator["flops"] + discriminator["flops"]
    for network in (generator, discriminator):  # the rows of each network sum to its totals
        assert sum(r["params"] for r in network["layers"]) == network["params"]
        assert sum(r["flops"] for r in network["layers"]) == network["flops"]
        assert all(r["name"].startswith(network["name"]) or r["name"] == "(other)" for r in network["layers"])


def test_a_conditional_critic_takes_the_image_and_its_label():
    generator, discriminator = model_summary("cgan").networks
    assert generator.input_shape == (1, 64 + 10)  # [z, onehot(y)]
    assert discriminator.input_shape == [(1, 1, 28, 28), (1,)]


def test_a_single_player_model_is_one_table():
    info = info_json("lenet5")
    assert "networks" not in info and info["params"] == 61706 and info["recipe"]["preset"] == "lenet5"


def test_the_table_of_networks_names_each_and_the_total():
    result = runner.invoke(app, ["info", "mlp_gan"])
    assert result.exit_code == 0, result.output
    assert "generator from (1, 2), discriminator from (1, 2)" in result.stdout
    assert "generator total" in result.stdout and "discriminator total" in result.stdout


def test_parameters_on_the_meta_device_equal_the_real_count():
    assert default_params("lenet5") == {"data": "mnist5k", "params": 61706}
    assert default_params("dcgan")["params"] == model_summary("dcgan").params


def test_listing_is_cached_by_code_version(tmp_path, monkeypatch):
    from dlcanon import listing

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    first = listing.rows("optimizers")
    assert (tmp_path / "dlcanon" / f"listing-{listing.code_key()}.json").is_file()
    monkeypatch.setattr(listing, "compute", lambda kind: pytest.fail("computed again"))
    assert listing.rows("optimizers") == first
    monkeypatch.setattr(listing, "code_key", lambda: "edited")  # another version of the code: computed afresh
    monkeypatch.setattr(listing, "compute", lambda kind: [{"name": "fresh"}])
    assert listing.rows("optimizers") == [{"name": "fresh"}]
    assert [p.name for p in (tmp_path / "dlcanon").iterdir()] == ["listing-edited.json"]  # the old one is gone


def test_an_unwritable_cache_is_ignored(tmp_path, monkeypatch):
    from dlcanon import listing

    (tmp_path / "file").write_text("")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "file"))  # a file where the folder should be
    assert [r["name"] for r in listing.rows("schedules")] == sorted(r["name"] for r in listing.rows("schedules"))


def test_points_figure_overlays_the_data_on_equal_axes():
    from dlcanon.objectives.views import points_figure

    fig = points_figure(torch.randn(50, 2), torch.randn(300, 2) * 3)
    (ax,) = fig.axes
    assert ax.get_aspect() == 1.0 and len(ax.collections) == 2
    assert [len(c.get_offsets()) for c in ax.collections] == [300, 50]  # the data under the samples


def test_tensorboard_gets_sample_grids_and_the_config(tmp_path):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    from dlcanon.data import load_data
    from dlcanon.runs import build_objective, configure
    from dlcanon.train import Trainer

    cfg = configure("nsgan", steps=3, device="cpu", log_every=1, eval_every=0)
    bundle = load_data(cfg.data)
    Trainer(build_objective(cfg, bundle), bundle, cfg, out_dir=tmp_path, progress=False).fit()
    events = EventAccumulator(str(tmp_path), size_guidance={"images": 0, "tensors": 0}).Reload()
    assert "views/samples" in events.Tags()["images"]
    assert any("config" in tag for tag in events.Tags()["tensors"])


@pytest.mark.parametrize(
    "model, generator, discriminator",
    [
        ("pix2pix", ((1, 3, 256, 256), 54_413_955), ((1, 6, 256, 256), 2_768_705)),  # the authors' code's counts
        ("srgan", ((1, 3, 24, 24), 1_549_462), ((1, 3, 96, 96), 23_565_505)),
    ],
)
def test_info_splits_a_paper_size_image_to_image_model_into_its_networks(model, generator, discriminator):
    """Sized by the registered paper input on the meta device: no data, no memory, each network on its input."""
    info = info_json(model)
    parts = {n["name"]: n for n in info["networks"]}
    for name, (shape, params) in (("generator", generator), ("discriminator", discriminator)):
        assert tuple(parts[name]["input_shape"]) == shape and parts[name]["params"] == params
        assert parts[name]["flops"] > 0
    assert info["params"] == generator[1] + discriminator[1]
    assert tuple(parts["discriminator"]["output_shape"]) == ((1, 1, 30, 30) if model == "pix2pix" else (1,))
