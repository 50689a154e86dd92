"""U-Net, 3D U-Net, UNet++ and H-DenseUNet: the papers' shapes and parameter counts (on the meta device, by our
own arithmetic written out), skips that carry gradient, pruned UNet++ outputs."""

from __future__ import annotations

from itertools import pairwise

import pytest
import torch

from dlcanon.models import build_model
from dlcanon.nn.summary import count_parameters


def conv(c_in: int, c_out: int, k: int, dims: int = 2, bias: bool = True) -> int:
    """Parameters of a k^dims convolution: c_in · c_out · k^dims weights (+ c_out biases)."""
    return c_in * c_out * k**dims + (c_out if bias else 0)


def meta(name: str, shape: tuple[int, ...], classes: int, **kwargs) -> tuple[int, tuple]:
    with torch.device("meta"):
        net = build_model(name, shape, classes, **kwargs).eval()
        out = net(torch.empty(1, *shape))
    return count_parameters(net), tuple(out.shape)


def test_unet_is_ronneberger_2015():
    params, shape = meta("unet", (1, 572, 572), 2)
    assert shape == (1, 2, 388, 388)
    widths = [64, 128, 256, 512, 1024]
    encoder = conv(1, 64, 3) + conv(64, 64, 3)  # level 1: 640 + 36,928
    for c_in, c in pairwise(widths):  # levels 2..5 (5 = the bottom, 512 → 1024 → 1024)
        encoder += conv(c_in, c, 3) + conv(c, c, 3)
    decoder = 0
    for c in (512, 256, 128, 64):  # 2×2 up-conv 2c → c, then 3×3 convs 2c → c → c on the concatenation
        decoder += conv(2 * c, c, 2) + conv(2 * c, c, 3) + conv(c, c, 3)
    head = conv(64, 2, 1)
    assert encoder == 18_842_048 and decoder == 12_188_480 and head == 130
    assert params == encoder + decoder + head == 31_030_658
    assert encoder + decoder + conv(64, 1, 1) == 31_030_593  # the often-quoted figure: one output map


def test_unet_valid_size_is_checked_with_the_nearest_size():
    with pytest.raises(ValueError, match="nearest valid size is 572"):
        build_model("unet", (1, 570, 570), 2)


def test_unet3d_is_cicek_2016():
    params, shape = meta("unet3d", (3, 116, 132, 132), 3)
    assert shape == (1, 3, 28, 44, 44)  # 132×132×116 → 44×44×28
    encoder = conv(3, 32, 3, 3) + conv(32, 64, 3, 3) + conv(64, 64, 3, 3) + conv(64, 128, 3, 3)
    encoder += conv(128, 128, 3, 3) + conv(128, 256, 3, 3) + conv(256, 256, 3, 3) + conv(256, 512, 3, 3)
    decoder = 0
    for below, c in ((512, 256), (256, 128), (128, 64)):  # 2×2×2 up-conv keeps `below`, concat c, two convs
        decoder += conv(below, below, 2, 3) + conv(below + c, c, 3, 3) + conv(c, c, 3, 3)
    head = conv(64, 3, 1, 3)
    # Caffe's BatchNorm has no learnable affine: the paper convention counts no BN parameters
    assert params == encoder + decoder + head == 19_070_851


def test_unetpp_is_the_authors_nest_net():
    params, _ = meta("unetpp", (1, 96, 96), 1)
    f = [32, 64, 128, 256, 512]
    backbone = conv(1, 32, 3) + conv(32, 32, 3)
    backbone += sum(conv(f[i - 1], f[i], 3) + conv(f[i], f[i], 3) for i in range(1, 5))
    nested = 0
    for j in range(1, 5):
        for i in range(5 - j):  # X^{i,j}: up-conv f[i+1] → f[i], then H on (j + 1)·f[i] channels
            nested += conv(f[i + 1], f[i], 2) + conv((j + 1) * f[i], f[i], 3) + conv(f[i], f[i], 3)
    heads = 4 * conv(32, 1, 1)
    assert params == backbone + nested + heads == 9_041_700
    assert params - 3 * conv(32, 1, 1) == 9_041_601  # Nest_Net's summary in MrGiovanni/UNetPlusPlus


def test_unetpp_deep_supervision_and_pruning():
    torch.manual_seed(0)
    net = build_model("unetpp_small", (1, 32, 32), 3)
    x = torch.rand(2, 1, 32, 32)
    outs = net.train()(x)
    assert len(outs) == 3 and all(o.shape == (2, 3, 32, 32) for o in outs)
    net.eval()
    heads = net.supervised(x)  # X^{0,3}, X^{0,2}, X^{0,1} with eval-mode layers
    assert torch.equal(net(x), heads[0])
    for depth in (1, 2, 3):
        net.set_prune(depth)
        assert torch.allclose(net(x), heads[3 - depth], atol=1e-5)  # the head on X^{0,depth}
    with pytest.raises(ValueError):
        net.set_prune(4)
    one_head = build_model("unetpp_small", (1, 32, 32), 3, deep_supervision=False)
    with pytest.raises(ValueError, match="deep-supervision heads"):
        one_head.set_prune(2)


def test_pruned_unetpp_never_builds_deeper_nodes():
    net = build_model("unetpp_small", (1, 32, 32), 3).eval()
    net.set_prune(1)
    called = set()
    for name, node in net.nodes.items():
        node.register_forward_hook(lambda m, i, o, name=name: called.add(name))
    net(torch.rand(1, 1, 32, 32))
    assert called == {"0,0", "1,0", "0,1"}


def test_hdenseunet_small_shapes_and_the_hybrid_fusion():
    torch.manual_seed(0)
    net = build_model("hdenseunet_small", (1, 8, 32, 32), 4)
    x = torch.rand(2, 1, 8, 32, 32)
    scores, scores2d = net.train()(x)
    assert scores.shape == scores2d.shape == (2, 4, 8, 32, 32)
    assert net.eval()(x).shape == (2, 4, 8, 32, 32)
    with pytest.raises(ValueError, match="divisible"):
        build_model("hdenseunet_small", (1, 6, 32, 32), 4)


def test_hdenseunet_halves_are_fresh_networks_of_the_hybrids_configuration():
    from dlcanon.models.hdenseunet import DenseUNet, halves

    hybrid = build_model("hdenseunet_small", (1, 8, 32, 32), 4)
    parts = halves(hybrid)
    x = torch.rand(2, 1, 8, 32, 32)
    for net in parts.values():
        assert net.eval()(x).shape == (2, 4, 8, 32, 32)
    two, three = parts["2-D half"].net2d, parts["3-D half"].net3d
    assert isinstance(two, DenseUNet) and isinstance(three, DenseUNet)
    count = lambda m: sum(p.numel() for p in m.parameters())  # noqa: E731
    assert count(two) == count(hybrid.net2d)  # the same 2-D network, fresh weights
    assert two.stem[0].weight.data_ptr() != hybrid.net2d.stem[0].weight.data_ptr()
    assert three.stem[0].in_channels == 1 and hybrid.net3d.stem[0].in_channels == 1 + 4  # no 2-D scores to read
    assert count(three) < count(hybrid.net3d)


def test_hdenseunet_paper_configuration_on_the_meta_device():
    params, shape = meta("hdenseunet", (1, 12, 224, 224), 3)
    assert shape == (1, 3, 12, 224, 224)

    def densenet(c_in: int, init: int, growth: int, blocks: tuple[int, ...], dims: int) -> tuple[int, list[int], int]:
        """Encoder parameters (BN: γ, β), skip widths, bottom width."""
        p, c, widths = conv(c_in, init, 7, dims, bias=False) + 2 * init, init, [init]
        for b, n in enumerate(blocks):
            for _ in range(n):  # BN(c), 1×1 conv c → 4k, BN(4k), 3×3 conv 4k → k
                p += 2 * c + conv(c, 4 * growth, 1, dims, False)
                p += 2 * 4 * growth + conv(4 * growth, growth, 3, dims, False)
                c += growth
            if b < len(blocks) - 1:
                widths.append(c)
                p += 2 * c + conv(c, c // 2, 1, dims, False)
                c //= 2
        return p + 2 * c, widths, c

    p2, w2, c2 = densenet(3, 96, 48, (6, 12, 36, 24), 2)
    assert w2 == [96, 384, 768, 2112] and c2 == 2208  # DenseNet-161
    outs2 = [768, 384, 96, 96, 64]
    p2 += conv(2112, 2208, 1)  # the 1×1 projection of the deepest skip
    for c_in, c_out in zip([2208, *outs2], outs2, strict=False):
        p2 += conv(c_in, c_out, 3) + 2 * c_out
    p2 += conv(64, 3, 1)
    p3, w3, c3 = densenet(1 + 3, 96, 32, (3, 4, 12, 8), 3)
    assert w3 == [96, 192, 224, 496] and c3 == 504
    outs3 = [504, 224, 192, 96, 64]
    for c_in, c_out in zip([504, *outs3], outs3, strict=False):
        p3 += conv(c_in, c_out, 3, 3) + 2 * c_out
    p3 += conv(64, 3, 1, 3)
    fusion = conv(64, 64, 3, 3) + 2 * 64 + conv(64, 3, 1, 3)
    assert params == p2 + p3 + fusion


def cut_below_first_level(block: torch.nn.Module) -> None:
    """Zero the convolutions and BN affines of the second level: nothing of level 1 passes down any more."""
    with torch.no_grad():
        for m in block.modules():
            if isinstance(m, torch.nn.Conv2d | torch.nn.BatchNorm2d):
                m.weight.zero_()
                if m.bias is not None:
                    m.bias.zero_()


def gradient_at_first_block(net: torch.nn.Module, first: torch.nn.Module) -> torch.Tensor | None:
    captured = {}
    first.register_forward_hook(lambda m, i, o: captured.setdefault("h", o))
    out = net(torch.rand(1, 1, 32, 32))
    return torch.autograd.grad(out.square().sum(), captured["h"], allow_unused=True)[0]


@pytest.mark.parametrize("name", ["unet_small", "unetpp_small"])
def test_skips_carry_gradient_to_the_first_encoder_block(name):
    """With the path below the first level cut, the output still depends on the first encoder block: through
    the skip. (Without skips it does not: the next test.)"""
    torch.manual_seed(0)
    net = build_model(name, (1, 32, 32), 3).eval()
    unet = name == "unet_small"
    cut_below_first_level(net.encoder[1] if unet else net.nodes["1,0"])
    grad = gradient_at_first_block(net, net.encoder[0] if unet else net.nodes["0,0"])
    assert grad is not None and grad.abs().sum() > 0


def test_without_skips_the_cut_network_ignores_the_first_block():
    torch.manual_seed(0)
    net = build_model("unet_small_noskip", (1, 32, 32), 3).eval()
    cut_below_first_level(net.encoder[1])
    grad = gradient_at_first_block(net, net.encoder[0])
    assert grad is None or grad.abs().sum() == 0
    skip_params = count_parameters(build_model("unet_small", (1, 32, 32), 3))
    # the concatenations add c_skip · c · 9 weights to each decoder's first conv: (64·64 + 32·32 + 16·16 + 8·8)·9
    assert skip_params - count_parameters(net) == (64 * 64 + 32 * 32 + 16 * 16 + 8 * 8) * 9


def test_small_variants_keep_the_input_size():
    for name, shape in (("unet_small", (1, 64, 64)), ("unet3d_small", (1, 16, 16, 16))):
        net = build_model(name, shape, 5).eval()
        assert net(torch.rand(1, *shape)).shape == (1, 5, *shape[1:])
