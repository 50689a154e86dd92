"""Harmonic Networks: exact rot90 equivariance of magnitudes, the rotation-order bookkeeping, and a much smaller
arbitrary-angle error than a standard convolution's."""

import cmath

import torch
import torch.nn.functional as F
from torch import nn

from dlcanon.experiments.base import threads
from dlcanon.metrics.equivariance import rotation_equivariance_error
from dlcanon.models.hnet import HNet
from dlcanon.nn.harmonic import HBatchNormReLU, HConv2d, as_harmonic, magnitude, polar_grid


def smooth_images(n: int = 4, size: int = 24) -> torch.Tensor:
    x = torch.rand(n, 1, size, size, generator=torch.Generator().manual_seed(0))
    g = torch.exp(-(torch.arange(-3.0, 4.0) ** 2) / 4)
    return F.conv2d(
        F.conv2d(x, (g / g.sum()).view(1, 1, 1, -1), padding=(0, 3)), (g / g.sum()).view(1, 1, -1, 1), padding=(3, 0)
    )


def two_layers() -> nn.Module:
    torch.manual_seed(0)
    net = nn.Sequential(HConv2d(1, 3, 5), HBatchNormReLU(3), HConv2d(3, 3, 5, in_orders=2)).eval()
    return net


def test_magnitudes_are_exactly_equivariant_to_rot90():
    net, x = two_layers(), smooth_images()
    with torch.no_grad():
        y = magnitude(net(as_harmonic(x)))  # (N, orders, C, H, W)
        ys = [magnitude(net(as_harmonic(torch.rot90(x, k, (-2, -1))))) for k in (1, 2, 3)]
    for k, yr in zip((1, 2, 3), ys, strict=True):
        assert (yr - torch.rot90(y, k, (-2, -1))).abs().max() < 1e-5 * y.abs().max()


def test_order_m_features_pick_up_the_phase_e_imtheta():
    """Rotating the input by 90° multiplies order-1 features by e^{±iπ/2} (one sign for the whole net)."""
    net, x = two_layers(), smooth_images()
    with torch.no_grad():
        z, zr = net(as_harmonic(x)), net(as_harmonic(torch.rot90(x, 1, (-2, -1))))
    rotated = torch.complex(*torch.rot90(z, 1, (-2, -1)).unbind(2))  # (N, orders, C, H, W)
    got = torch.complex(*zr.unbind(2))
    errors = [float((got[:, 1] - cmath.exp(s * 1j * cmath.pi / 2) * rotated[:, 1]).abs().max()) for s in (1, -1)]
    assert min(errors) < 1e-5 * float(rotated.abs().max()) < max(errors)
    assert float((got[:, 0] - rotated[:, 0]).abs().max()) < 1e-5 * float(rotated.abs().max())  # order 0: no phase


def test_arbitrary_angles_small_error_versus_a_plain_convolution():
    torch.manual_seed(0)
    hconv, plain = HConv2d(1, 4, 5), nn.Conv2d(1, 8, 5, padding=2, bias=False)
    x = smooth_images(size=32)
    for angle in (30, 45):
        h = rotation_equivariance_error(lambda t: magnitude(hconv(as_harmonic(t))).flatten(1, 2), x, angle)
        c = rotation_equivariance_error(plain, x, angle)
        assert h < 0.15 and h < 0.3 * c


def test_filters_are_circular_harmonics():
    layer = HConv2d(1, 1, 5, in_orders=1, out_orders=2)
    wr, wi = layer.filters()  # paths (0→0, m=0) and (0→1, m=1)
    w1 = torch.complex(wr[1, 0, 0], wi[1, 0, 0])
    assert w1[2, 2] == 0  # no centre tap for m ≠ 0
    # rotating the filter by 90° multiplies it by e^{±iπ/2}
    rot = torch.rot90(w1, 1)
    assert min(float((rot - s * 1j * w1).abs().max().detach()) for s in (1, -1)) < 1e-6
    r, _ = polar_grid(5)
    assert torch.allclose(r[2, 4], torch.tensor(2.0))


def test_hnet_logits_invariant_to_rot90_and_it_trains():
    torch.manual_seed(0)
    net = HNet(1, 10, channels=2).eval()
    x = torch.rand(3, 1, 12, 12)
    with torch.no_grad():
        assert torch.allclose(net(torch.rot90(x, 1, (-2, -1))), net(x), atol=1e-5)
    net.train()
    opt = torch.optim.Adam(net.parameters(), 3e-2)
    y = torch.tensor([1, 2, 3])
    losses = []
    with threads(1):  # tiny tensors: one thread avoids waking a second one per op
        for _ in range(6):
            loss = F.cross_entropy(net(x), y)
            losses.append(loss.item())
            opt.zero_grad()
            loss.backward()
            opt.step()
    assert losses[-1] < losses[0]
