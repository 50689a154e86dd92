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


@pytest.mark.parametrize("name", MODELS.names())
def test_every_registered_model_builds_and_steps(name):
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
