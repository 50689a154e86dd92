"""The classification families (C2–C7): parameter counts against the papers and torchvision, the Inception
FLOP formula against the counter, plain twins, auxiliary heads, ensembles, small inputs and anti-aliasing."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from dlcanon.experiments.base import threads
from dlcanon.modelinfo import default_params, model_summary
from dlcanon.models import build_model
from dlcanon.models.alexnet import ORIGINAL, AlexNet, Ensemble
from dlcanon.models.densenet import build_densenet_bc
from dlcanon.models.inception import GoogLeNet, Inception
from dlcanon.models.resnet import CIFAR_ARGS, build_resnet
from dlcanon.nn.blurpool import BlurPool2d
from dlcanon.nn.summary import count_parameters, summarize
from dlcanon.objectives.auxiliary import AuxiliaryClassifier
from dlcanon.registry import MODELS

# 224×224, 1,000 classes; torchvision's counts unless said otherwise
IMAGENET_COUNTS = {
    "alexnet": 61_100_840,
    "alexnet_2stream": 60_965_224,  # the 2012 paper's widths and two streams ("60 million")
    "vgg11": 132_863_336,
    "vgg13": 133_047_848,
    "vgg16": 138_357_544,
    "vgg19": 143_667_240,
    "vgg11_bn": 132_868_840,
    "vgg13_bn": 133_053_736,
    "vgg16_bn": 138_365_992,
    "vgg19_bn": 143_678_248,
    "googlenet": 7_005_832,  # true 5×5 kernels; torchvision's 3×3 "5×5" gives 6,624,904 (below)
    "resnet18": 11_689_512,
    "resnet34": 21_797_672,
    "resnet50": 25_557_032,
    "resnet101": 44_549_160,
    "resnet152": 60_192_808,
    "densenet121": 7_978_856,
    "densenet161": 28_681_000,
    "densenet169": 14_149_480,
    "densenet201": 20_013_928,
    "se_resnet18": 11_778_592,
    "se_resnet50": 28_088_024,  # Hu et al. Table 2: 28.09 M
}


@pytest.fixture(autouse=True)
def one_thread():
    """These networks are small: on a busy 2-core machine a second intra-op thread spins far more than it helps."""
    with threads(1):
        yield


OURS = {"C2", "C3", "C4", "C5", "C6", "C7", "F10"}
SMALL_MODELS = [e.name for e in MODELS if OURS & set(e.tags) and "input_shape" not in e.meta]


def meta_count(name: str, shape=(3, 224, 224), classes=1000, **kwargs) -> int:
    with torch.device("meta"):
        return count_parameters(build_model(name, shape, classes, **kwargs))


@pytest.mark.parametrize(("name", "count"), IMAGENET_COUNTS.items())
def test_imagenet_parameter_counts(name, count):
    assert meta_count(name) == count
    assert MODELS.entry(name).meta["input_shape"] == (3, 224, 224)


def test_alexnet_two_streams_halve_the_grouped_convs():
    with torch.device("meta"):
        one = count_parameters(AlexNet(3, 1000, layers=ORIGINAL))
    assert one == 62_378_344
    # conv2 5·5·96·256, conv4 3·3·384·384, conv5 3·3·384·256: groups=2 halves each fan-in
    assert one - IMAGENET_COUNTS["alexnet_2stream"] == (25 * 96 * 256 + 9 * 384 * 384 + 9 * 384 * 256) // 2


def test_googlenet_torchvision_variant_and_aux_heads():
    assert meta_count("googlenet", branch5_kernel=3) == 6_624_904  # torchvision's googlenet(aux_logits=False)
    # the true 5×5 adds (25 − 9)·c5r·c5 per module
    extra = 16 * sum(
        c5r * c5
        for c5r, c5 in [(16, 32), (32, 96), (16, 48), (24, 64), (24, 64), (32, 64), (32, 128), (32, 128), (48, 128)]
    )
    assert 6_624_904 + extra == IMAGENET_COUNTS["googlenet"]
    # torchvision with aux_logits=True: 13,004,888; the heads do not depend on the 5×5 kernels
    assert meta_count("googlenet", aux=True) - IMAGENET_COUNTS["googlenet"] == 13_004_888 - 6_624_904


def test_se_resnet50_count_without_se_biases():
    # 2C²/r weights per block, stages of 3, 4, 6, 3 bottlenecks with C = 256, 512, 1024, 2048
    weights = sum(n * 2 * c * c // 16 for n, c in [(3, 256), (4, 512), (6, 1024), (3, 2048)])
    biases = sum(n * (c // 16 + c) for n, c in [(3, 256), (4, 512), (6, 1024), (3, 2048)])
    assert IMAGENET_COUNTS["resnet50"] + weights + biases == IMAGENET_COUNTS["se_resnet50"]
    assert IMAGENET_COUNTS["resnet50"] + weights == 28_071_976


@pytest.mark.parametrize(
    ("depth", "count", "paper"),
    [(20, 269_722, 0.27), (32, 464_154, 0.46), (44, 658_586, 0.66), (56, 853_018, 0.85), (110, 1_727_962, 1.7)],
)
def test_cifar_resnet_counts_against_table_6(depth, count, paper):
    net = build_resnet((3, 32, 32), 10, layers=((depth - 2) // 6,) * 3, **CIFAR_ARGS)
    assert count_parameters(net) == count
    digits = 1 - math.floor(math.log10(count / 1e6))  # two significant figures, as the paper
    assert round(count / 1e6, digits) == paper
    assert (
        count_parameters(build_resnet((3, 32, 32), 10, layers=((depth - 2) // 6,) * 3, **CIFAR_ARGS, residual=False))
        == count
    )  # option A has no parameters


def test_densenet_bc_100_has_the_papers_08M():
    count = count_parameters(build_densenet_bc((3, 32, 32), 10, depth=100, growth=12))
    assert count == 769_162 and round(count / 1e6, 1) == 0.8
    assert count_parameters(build_densenet_bc((3, 32, 32), 10)) == 176_122  # the registered L = 40


@pytest.mark.parametrize("depth", [18, 50])
def test_plain_twin_is_the_residual_net_without_shortcuts(depth):
    with torch.device("meta"):
        res, plain = (
            build_model(f"resnet{depth}", (3, 224, 224), 1000),
            build_model(f"plain{depth}", (3, 224, 224), 1000),
        )
    res_keys = {k for k in res.state_dict() if ".shortcut." not in k}
    assert set(plain.state_dict()) == res_keys
    projections = sum(p.numel() for n, p in res.named_parameters() if ".shortcut." in n)
    assert count_parameters(res) - count_parameters(plain) == projections == (173_824 if depth == 18 else 2_776_576)


def test_plain_and_residual_blocks_differ_only_by_the_identity():
    torch.manual_seed(0)
    res = build_model("resnet20", (1, 8, 8), 10).eval()
    plain = build_model("plain20", (1, 8, 8), 10).eval()
    plain.load_state_dict(res.state_dict())  # the same layers, the same keys
    block_r, block_p = res.stages[1], plain.stages[1]  # an identity-shortcut block, shape (N, 16, 8, 8)
    x = torch.randn(2, 16, 8, 8)
    assert torch.allclose(block_r(x), torch.relu(block_r.branch(x) + x))
    assert torch.allclose(block_p(x), torch.relu(block_r.branch(x)))


def test_inception_flops_follow_the_notes_formula():
    """k²·c_in·c_out·m_h·m_w multiply-adds per conv, summed over the paths (×2: a multiply-add is 2 FLOPs)."""
    m = 28
    module = Inception(192, 64, 96, 128, 16, 32, 32)  # the notes' first module (3a), with BN as in GoogLeNet
    convs = [(1, 192, 64), (1, 192, 96), (3, 96, 128), (1, 192, 16), (5, 16, 32), (1, 192, 32)]
    s = summarize(module, (192, m, m))
    assert s.output_shape == (1, 64 + 128 + 32 + 32, m, m)
    assert s.flops == 2 * sum(k * k * c_in * c_out * m * m for k, c_in, c_out in convs) == 2 * 128_049_152
    # the notes' module form c_in·m_h·m_w·Σ_j k_j²·c_out,j is exact for the naive module (no reductions)
    naive = summarize(Inception(192, 64, 0, 128, 0, 32, 0), (192, m, m))
    assert naive.flops == 2 * 192 * m * m * (1 * 64 + 9 * 128 + 25 * 32) == 2 * 303_464_448
    assert naive.output_shape == (1, 64 + 128 + 32 + 192, m, m)


def test_googlenet_table_1_weights_for_conv2_and_3a():
    net = GoogLeNet(3, 1000, batchnorm=False)

    def kilo_weights(module: nn.Module) -> float:
        return sum(p.numel() for n, p in module.named_parameters() if n.endswith("weight")) / 1024

    assert math.floor(kilo_weights(net.layers[2]) + kilo_weights(net.layers[3])) == 112  # conv2: 1×1 64, 3×3 192
    assert math.floor(kilo_weights(net.layers[5])) == 159  # inception (3a)


def test_auxiliary_heads_and_their_loss():
    torch.manual_seed(0)
    net = build_model("googlenet_small", (1, 28, 28), 10, aux=True)
    x, y = torch.rand(4, 1, 28, 28), torch.randint(0, 10, (4,))
    objective = AuxiliaryClassifier(net)
    torch.manual_seed(1)
    logits, aux1, aux2 = net(x)  # training mode: three heads
    torch.manual_seed(1)
    loss, logs = objective((x, y))
    expected = F.cross_entropy(logits, y) + 0.3 * (F.cross_entropy(aux1, y) + F.cross_entropy(aux2, y))
    assert torch.allclose(loss, expected) and torch.allclose(logs["main_loss"], F.cross_entropy(logits, y))
    loss.backward()
    assert all(p.grad is not None for p in net.aux_heads.parameters())
    assert net.eval()(x).shape == (4, 10)  # eval mode: the main head only


def test_ensemble_returns_log_of_averaged_probabilities():
    torch.manual_seed(0)
    members = [nn.Sequential(nn.Flatten(), nn.Linear(16, 5)) for _ in range(3)]
    ensemble = Ensemble(members)
    x, y = torch.randn(6, 1, 4, 4), torch.randint(0, 5, (6,))
    mean = torch.stack([F.softmax(m(x), 1) for m in members]).mean(0)
    out = ensemble(x)
    assert torch.allclose(out, mean.log(), atol=1e-6)
    assert torch.allclose(F.log_softmax(out, 1), out, atol=1e-6)  # already normalised
    assert torch.allclose(F.cross_entropy(out, y), -mean.log()[torch.arange(6), y].mean(), atol=1e-6)
    assert torch.allclose(Ensemble(members[:1])(x), F.log_softmax(members[0](x), 1), atol=1e-6)


@pytest.mark.parametrize("name", SMALL_MODELS)
def test_small_models_take_digits_mnist_and_cifar_sizes_with_and_without_antialias(name):
    for shape in [(1, 8, 8), (3, 32, 32)]:
        assert build_model(name, shape, 10).eval()(torch.rand(1, *shape)).shape == (1, 10)
    blurred = build_model(name, (1, 28, 28), 10, antialias=3).eval()
    assert any(isinstance(m, BlurPool2d) for m in blurred.modules())  # every one has a down-sampling step
    assert blurred(torch.rand(1, 1, 28, 28)).shape == (1, 10)


def test_info_and_list_size_imagenet_models_without_data(monkeypatch):
    import dlcanon.modelinfo as modelinfo

    monkeypatch.setattr(modelinfo, "load_data", lambda name: pytest.fail(f"loaded {name}"))
    assert default_params("resnet50") == {"data": "imagenet224", "params": 25_557_032}
    s = model_summary("resnet50")
    assert s.params == 25_557_032 and s.output_shape == (1, 1000) and s.input_shape == (1, 3, 224, 224)
    assert 8.0e9 < s.flops < 8.4e9  # 4.1 G multiply-adds (torchvision: 4.09 GMACs)
