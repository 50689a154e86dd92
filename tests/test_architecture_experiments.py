"""The classification experiments (C2, C3, C5, C8, C9, F9 and the architecture table): each registered one
run end to end on tiny settings (a table, a figure, a verdict), their building blocks checked, and the real
quick runs, with their claims, as slow tests."""

from __future__ import annotations

import pytest
import torch
from torch import nn

import dlcanon.experiments  # noqa: F401  (registrations)
from dlcanon.data.base import Split
from dlcanon.experiments import (
    antialiasing,
    architecture_table,
    augmentation,
    batchnorm,
    depth_vs_width,
    ensembles,
    residual_learning,
)
from dlcanon.experiments.base import run_experiment
from dlcanon.experiments.classification import dataset, precise_bn, small_classifiers, steps_to
from dlcanon.experiments.context import Context
from dlcanon.nn.summary import count_parameters
from dlcanon.reproduce import run_experiments

TINY = {
    architecture_table: {
        "models": ["resnet20", "googlenet_small", "ensemble"], "n_train": 48, "n_test": 40, "epochs": 1
    },
    residual_learning: {"depths": (20,), "n_train": 64, "epochs": 1},
    batchnorm: {"n_train": 64, "epochs": 1, "target": 10.0},
    depth_vs_width: {"depths": (1, 2), "budget": 5_000, "n_train": 64, "epochs": 1, "seeds": (0,)},
    augmentation: {"families": ("none", "flip", "digits"), "n_train": 50, "epochs": 1},
    ensembles: {"model": "lenet5", "k": 2, "n_train": 64, "epochs": 1},
    antialiasing: {"n_train": 64, "n_test": 100, "epochs": 1},
}
NAMES = {
    architecture_table: "architecture_table",
    residual_learning: "residual_learning",
    batchnorm: "batchnorm",
    depth_vs_width: "depth_vs_width",
    augmentation: "augmentation",
    ensembles: "ensembles",
    antialiasing: "antialiasing",
}


@pytest.mark.parametrize("module", list(TINY), ids=lambda m: m.__name__.rsplit(".", 1)[-1])
def test_experiment_runs_on_tiny_settings(module):
    result = run_experiment(NAMES[module], Context(quick=True, settings=TINY[module]))
    assert result.tables and result.tables[0].rows and result.figures and result.verdict
    assert isinstance(result.holds, bool)


def test_every_small_classifier_is_in_the_table():
    names = small_classifiers()
    assert {"alexnet_small", "vgg19_bn_small", "googlenet_small", "resnet110", "plain110", "densenet_bc_small",
            "se_resnet50_small", "vgg_factorized_small", "ensemble"} <= set(names)  # fmt: skip
    assert not {"resnet50", "vgg16", "lenet5"} & set(names)  # ImageNet configurations and other families are not


def test_dataset_subsets_are_stratified_and_fixed():
    a, b = dataset("mnist5k", n_train=100, n_test=50), dataset("mnist5k", n_train=100, n_test=50)
    assert len(a.train) == 100 and len(a.test) == 50 and torch.equal(a.train.y, b.train.y)
    assert torch.equal(a.train.y.bincount(), torch.full((10,), 10))


def test_precise_bn_sets_exact_batch_statistics():
    net = nn.Sequential(nn.Conv2d(1, 3, 1), nn.BatchNorm2d(3))
    x = torch.randn(64, 1, 4, 4) * 3 + 1
    precise_bn(net, Split(x, torch.zeros(64, dtype=torch.long)), batch_size=64, precision="fp32")
    with torch.no_grad():
        h = net[0](x)
    assert torch.allclose(net[1].running_mean, h.mean((0, 2, 3)), atol=1e-5)
    assert net[1].momentum == 0.1  # restored


def test_steps_to_target():
    assert steps_to([2.0, 1.5, 0.9, 0.4], [4, 8, 12, 16], 1.0) == 12
    assert steps_to([2.0, 1.5], [4, 8], 1.0) is None


def test_bn_after_relu_swaps_the_order():
    net = nn.Sequential(nn.Conv2d(1, 2, 3), nn.BatchNorm2d(2), nn.ReLU(), nn.Conv2d(2, 2, 3))
    batchnorm.bn_after_relu(net)
    assert [type(m) for m in net] == [nn.Conv2d, nn.ReLU, nn.BatchNorm2d, nn.Conv2d]


@pytest.mark.parametrize("convs", [1, 2, 3, 4])
def test_depth_vs_width_nets_share_a_budget(convs):
    net = depth_vs_width.vgg_at_budget(convs, 60_000)
    assert abs(count_parameters(net) - 60_000) < 0.1 * 60_000
    assert sum(isinstance(m, nn.Conv2d) for m in net.modules()) == 3 * convs


def test_consistency_is_one_for_a_shift_invariant_net_and_less_for_a_positional_one():
    x = torch.rand(50, 1, 8, 8)
    invariant = nn.Sequential(nn.Conv2d(1, 4, 1), nn.AdaptiveAvgPool2d(1), nn.Flatten())  # circularly invariant
    positional = nn.Sequential(nn.Flatten(), nn.Linear(64, 4))
    assert antialiasing.consistency(invariant, x, max_shift=3) == 1.0
    assert antialiasing.consistency(positional, x, max_shift=3) < 0.9


QUICK_CLAIMS = ["architecture_table", "residual_learning", "batchnorm", "depth_vs_width", "augmentation", "ensembles",
                "antialiasing"]  # fmt: skip


@pytest.mark.slow
@pytest.mark.parametrize("name", QUICK_CLAIMS)
def test_quick_run_reproduces_the_claim(name, tmp_path):
    record = run_experiments([name], quick=True, out=tmp_path, force=True)["experiments"][0]
    assert record["status"] == "ok", record.get("traceback")
    assert record["holds"], record["verdict"]
