"""Library pieces of the foundations lab: locally connected layer, deformations, rotated digits, SIREN,
Siamese objective; and every experiment of the lab on a tiny setting (the quick runs are marked slow)."""

import math

import pytest
import torch
import torch.nn.functional as F
from matplotlib.figure import Figure

import dlcanon.experiments  # noqa: F401  (registers the experiments)
from dlcanon.config import TrainConfig
from dlcanon.data import load_data
from dlcanon.data.base import DataBundle
from dlcanon.data.deform import deform, gradient_norm, random_displacement
from dlcanon.experiments.base import run_experiment, threads
from dlcanon.experiments.context import Context
from dlcanon.models import build_model
from dlcanon.models.mlp import MLP
from dlcanon.models.siren import PositionalEncoding, Siren
from dlcanon.nn.locally_connected import LocallyConnected2d, parameter_counts
from dlcanon.nn.summary import count_parameters
from dlcanon.objectives.siamese import Siamese, separation
from dlcanon.registry import MODELS, OBJECTIVES
from dlcanon.train import fit


def test_locally_connected_matches_a_per_position_reference():
    torch.manual_seed(0)
    layer = LocallyConnected2d(2, 3, (7, 6), 3, stride=2, padding=1)
    x = torch.randn(2, 2, 7, 6)
    out = layer(x)
    oh, ow = layer.output_size
    assert out.shape == (2, 3, oh, ow) == (2, 3, 4, 3)
    xp = F.pad(x, (1, 1, 1, 1))
    for i in range(oh):
        for j in range(ow):
            patch = xp[:, :, 2 * i : 2 * i + 3, 2 * j : 2 * j + 3].reshape(2, -1)  # (N, C·K²)
            expected = patch @ layer.weight[i * ow + j].T + layer.bias[:, i, j]
            assert torch.allclose(out[:, :, i, j], expected, atol=1e-5)
    assert count_parameters(layer) == oh * ow * 3 * 2 * 9 + 3 * oh * ow


def test_locally_connected_with_shared_weights_is_a_convolution():
    torch.manual_seed(0)
    conv, layer = torch.nn.Conv2d(1, 4, 5), LocallyConnected2d(1, 4, (12, 12), 5)
    with torch.no_grad():
        layer.weight.copy_(conv.weight.reshape(4, -1).expand_as(layer.weight))
        layer.bias.copy_(conv.bias.view(4, 1, 1).expand_as(layer.bias))
    x = torch.rand(2, 1, 12, 12)
    assert torch.allclose(layer(x), conv(x), atol=1e-5)
    counts = parameter_counts(1, 4, 12, 5)
    assert counts["locally connected"] == count_parameters(layer) and counts["convolution (shared)"] == 104
    assert counts["fully connected"] == 144 * 4 * 64 + 4 * 64


@pytest.mark.parametrize("size", [0.01, 0.1, 0.5])
def test_displacement_fields_have_the_requested_gradient_size(size):
    tau = random_displacement(3, 20, 24, size=size, generator=torch.Generator().manual_seed(0))
    assert tau.shape == (3, 2, 20, 24)
    assert torch.allclose(gradient_norm(tau), torch.full((3,), size), rtol=1e-5)


def test_deform_identity_and_translation():
    x = torch.rand(2, 1, 10, 10)
    assert torch.allclose(deform(x, torch.zeros(2, 2, 10, 10)), x, atol=1e-6)
    tau = torch.zeros(2, 2, 10, 10)
    tau[:, 0] = 1.0  # τ_x = 1: D_τx(u) = x(u − e_x), content moves right by one pixel
    assert torch.allclose(deform(x, tau)[..., 1:], x[..., :-1], atol=1e-6)
    assert gradient_norm(tau).abs().max() == 0


def test_mnist5k_rot_is_rotated_mnist5k_with_a_fixed_split():
    base, rot = load_data("mnist5k"), load_data("mnist5k_rot")
    assert rot.train.x.shape == base.train.x.shape and torch.equal(rot.test.y, base.test.y)
    assert torch.equal(rot.test.x, load_data("mnist5k_rot").test.x)
    assert not torch.allclose(rot.test.x, base.test.x, atol=0.1)
    mass = lambda x: x.sum((1, 2, 3))  # noqa: E731
    assert torch.allclose(mass(rot.test.x), mass(base.test.x), rtol=0.15)  # rotation keeps the ink (roughly)


def test_siren_initialisation_bounds():
    torch.manual_seed(0)
    net = Siren(2, 1, hidden=256, layers=3)
    first, hidden = net.body[1].linear.weight.detach(), net.body[2].linear.weight.detach()
    assert first.abs().max() <= 1 / 2 and first.abs().max() > 0.45
    bound = math.sqrt(6 / 256) / 30
    assert hidden.abs().max() <= bound and hidden.abs().max() > 0.95 * bound
    assert abs(float(hidden.std()) - bound / math.sqrt(3)) < 0.05 * bound  # uniform: std = bound/√3
    assert PositionalEncoding(4)(torch.zeros(5, 2)).shape == (5, 2 * 9)
    for name in ("siren", "pe_mlp", "hnet", "small_cnn"):
        assert name in MODELS
    assert build_model("siren", (2,), None)(torch.rand(7, 2)).shape == (7, 1)


@pytest.mark.parametrize("loss", ["ranking", "triplet", "cosine"])
def test_siamese_losses_decrease(loss):
    digits = load_data("digits")
    data = DataBundle("digits", digits.train.subset(slice(0, 512)), digits.test, 10, "image")
    torch.manual_seed(0)
    objective = OBJECTIVES.build("siamese", MLP(64, 2, hidden=(32,)), loss=loss)
    before = objective.evaluate([(data.test.x, data.test.y)])
    cfg = TrainConfig(
        epochs=6, batch_size=128, lr=1e-2, optimizer="adam", eval_every=0, device="cpu", tensorboard=False
    )
    with threads(1):
        after = fit(objective, data, cfg)["metrics"]
    assert after["test_loss"] < 0.8 * before["loss"]
    assert after["test_knn_accuracy"] > before["knn_accuracy"]


def test_separation_score_and_bad_loss():
    y = torch.tensor([0, 0, 1, 1])
    apart = torch.tensor([[0.0, 0.0], [0.1, 0.0], [5.0, 0.0], [5.1, 0.0]])
    knn, ratio = separation(apart, y)
    assert knn == 1.0 and ratio > 40
    with pytest.raises(ValueError, match="loss must be one of"):
        Siamese(torch.nn.Identity(), loss="hinge")


TINY = {
    "uat_dimension": {"dims": [1, 2], "units": 4, "n_train": 64, "steps": 5},
    "curse_of_dimensionality": {"mc": 500, "max_log2": 6, "nn_dims": [1, 2]},
    "shift_equivariance": {"images": 4},
    "locality_weight_sharing": {"steps": 10, "seeds": [0]},
    "rotation_hnet": {"angle_step": 45, "images": 2, "factor": 2, "n_train": 64, "epochs": 1, "hnet": 2, "cnn": 2},
    "deformation_stability": {"epochs": 1, "images": 8, "repeats": 1, "n_train": 128},
    "activations_depth": {"steps": 1, "depth": 3, "stat_depth": 3},
    "siren_image_fit": {"size": 8, "hidden": 8, "layers": 1, "steps": 4},
    "losses_outliers_siamese": {"line_steps": 5, "epochs": 1},
}


def assert_well_formed(result) -> None:
    assert isinstance(result.verdict, str) and result.verdict.endswith(".") and isinstance(result.holds, bool)
    assert result.tables and all(len(row) == len(t.columns) for t in result.tables for row in t.rows)
    assert result.figures and all(isinstance(f, Figure) for f in result.figures.values())
    assert set(result.captions) == set(result.figures)


@pytest.mark.parametrize("name", sorted(TINY))
def test_experiment_runs_on_a_tiny_setting(name):
    assert_well_formed(run_experiment(name, Context(quick=True, settings=TINY[name])))


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(TINY))
def test_experiment_quick_mode_holds(name):
    result = run_experiment(name, Context(quick=True))
    assert_well_formed(result)
    assert result.holds, result.verdict
