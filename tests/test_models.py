import pytest
import torch

from dlcanon.models import build_model
from dlcanon.models.lenet import LeNet5
from dlcanon.models.mlp import MLP, ShallowNetwork
from dlcanon.nn.summary import count_parameters
from dlcanon.registry import MODELS


def test_lenet5_paper_parameter_count():
    # 32×32 input, full C3 connections: C1 156 + C3 2,416 + C5 48,120 + F6 10,164 + output 850
    assert count_parameters(LeNet5(1, 10, input_size=32)) == 156 + 2416 + 48120 + 10164 + 850 == 61706


@pytest.mark.parametrize("size", [8, 28, 32])
def test_lenet5_sizes(size):
    net = LeNet5(1, 10, input_size=size)
    assert net(torch.zeros(2, 1, size, size)).shape == (2, 10)
    # C5 always sees a 1×1 map: it is the paper's fully connected layer
    assert net.features(torch.zeros(1, 1, size, size)).shape == (1, 120, 1, 1)


def test_lenet5_28_equals_32_maps():
    assert count_parameters(LeNet5(1, 10, input_size=28)) == 61706


def test_mlp_structure_and_count():
    net = MLP(784, 10, hidden=(32, 16), activation="tanh", batchnorm=True, dropout=0.1)
    # Linear 784·32+32, BN 2·32, Linear 32·16+16, BN 2·16, Linear 16·10+10
    assert count_parameters(net) == 784 * 32 + 32 + 64 + 32 * 16 + 16 + 32 + 16 * 10 + 10
    assert net(torch.zeros(3, 1, 28, 28)).shape == (3, 10)
    assert any(isinstance(m, torch.nn.Tanh) for m in net.modules())


def test_shallow_network_is_one_hidden_sigmoid_layer():
    net = ShallowNetwork(2, 1, units=5)
    linears = [m for m in net.modules() if isinstance(m, torch.nn.Linear)]
    assert [tuple(m.weight.shape) for m in linears] == [(5, 2), (1, 5)]
    assert sum(isinstance(m, torch.nn.Sigmoid) for m in net.modules()) == 1


def step_on_meta(name: str, shape: tuple[int, ...], classes: int) -> None:
    """Forward and backward of a registered-shape (ImageNet) configuration on the meta device: every shape and
    every gradient is computed, nothing is allocated."""
    with torch.device("meta"):
        net = build_model(name, shape, classes)
        out = net(torch.empty(2, *shape))
        loss = torch.nn.functional.cross_entropy(out, torch.zeros(2, dtype=torch.long))
    loss.backward()
    assert out.shape == (2, classes)
    assert all(p.grad is not None and p.grad.shape == p.shape for p in net.parameters())


CLASSIFIERS = [e.name for e in MODELS if e.meta.get("objective", "classifier") in ("classifier", "classifier_aux")]


@pytest.mark.parametrize("name", CLASSIFIERS)  # the other models step through their objectives: test_every_model.py
def test_every_registered_classifier_builds_and_steps(name):
    meta = MODELS.entry(name).meta
    if "input_shape" in meta:  # the ImageNet configurations: too slow for a real step in the default suite
        step_on_meta(name, tuple(meta["input_shape"]), meta["num_classes"])
        return
    shape = (1, 28, 28)
    net = build_model(name, shape, 10)
    opt = torch.optim.SGD(net.parameters(), lr=0.01)
    x, y = torch.rand(4, *shape), torch.randint(0, 10, (4,))
    before = [p.detach().clone() for p in net.parameters()]
    loss = torch.nn.functional.cross_entropy(net(x), y)
    loss.backward()
    opt.step()
    assert torch.isfinite(loss)
    assert any(not torch.equal(a, b) for a, b in zip(before, net.parameters(), strict=True))


def test_lenet5_antialias_option_blurs_both_subsamplings():
    from dlcanon.nn.blurpool import BlurPool2d

    net = LeNet5(1, 10, input_size=28, antialias=3)
    assert sum(isinstance(m, BlurPool2d) for m in net.modules()) == 2
    assert net(torch.zeros(2, 1, 28, 28)).shape == (2, 10)
    assert count_parameters(net) == 61706  # blurring adds no parameters
