"""dlcanon.metrics.equivariance on cases whose answer is known, and `dlcanon check equivariance`."""

import json

import pytest
import torch
from torch import nn

from dlcanon.metrics.equivariance import (
    check,
    equivariance_error,
    invariance_error,
    prediction_consistency,
    rotate,
    rotation_equivariance_error,
    shift,
    shift_equivariance_error,
)
from helpers import dlcanon


def conv(padding_mode: str, stride: int = 1) -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(
        nn.Conv2d(2, 4, 3, padding=1, padding_mode=padding_mode, stride=stride),
        nn.ReLU(),
        nn.Conv2d(4, 3, 3, padding=1, padding_mode=padding_mode),
    ).eval()


@pytest.fixture
def x() -> torch.Tensor:
    return torch.rand(4, 2, 16, 16, generator=torch.Generator().manual_seed(1))  # non-zero up to the borders


def test_shift_modes():
    x = torch.arange(16.0).view(1, 1, 4, 4)
    assert torch.equal(shift(x, 1, 0), torch.roll(x, 1, 2))
    z = shift(x, 1, -1, mode="zero")
    assert (
        torch.equal(z[0, 0, 1:, :3], x[0, 0, :3, 1:]) and z[0, 0, 0].abs().sum() == 0 and z[0, 0, :, 3].abs().sum() == 0
    )
    with pytest.raises(ValueError, match="circular or zero"):
        shift(x, 1, 1, mode="reflect")


def test_circular_conv_is_equivariant_to_float_precision(x):
    for s in (1, 3, 7):
        assert shift_equivariance_error(conv("circular"), x, s, -s) < 1e-6


def test_zero_padding_breaks_equivariance_only_at_the_borders(x):
    f = conv("zeros")
    assert shift_equivariance_error(f, x, 2, 2, mode="zero") > 1e-2
    with torch.no_grad():
        diff = f(shift(x, 2, 2, mode="zero")) - shift(f(x), 2, 2, mode="zero")
    assert diff[..., 4:-4, 4:-4].abs().max() < 1e-6  # receptive radius 2 + shift 2 from every border
    assert diff[..., :4, :].abs().max() > 1e-3


def test_stride_breaks_equivariance_for_shifts_it_does_not_divide(x):
    f = conv("circular", stride=2)
    assert shift_equivariance_error(f, x, 2, 4) < 1e-6
    with pytest.raises(ValueError, match="no counterpart"):
        shift_equivariance_error(f, x, 1, 0)
    with torch.no_grad():
        y, ys = f(x), f(shift(x, 1, 1))
    assert (ys - y).norm() / y.norm() > 1e-2 and (ys - shift(y, 1, 1)).norm() / y.norm() > 1e-2


def test_global_average_pooling_gives_invariance(x):
    pooled = nn.Sequential(conv("circular"), nn.AdaptiveAvgPool2d(1), nn.Flatten())
    flat = nn.Sequential(conv("circular"), nn.Flatten())
    assert invariance_error(pooled, x, lambda t: shift(t, 3, 5)) < 1e-6
    assert invariance_error(flat, x, lambda t: shift(t, 3, 5)) > 0.1
    assert prediction_consistency(pooled, x, lambda t: shift(t, 3, 5)) == 1.0


def test_equivariance_error_detects_a_wrong_output_action(x):
    f = conv("circular")
    assert equivariance_error(f, x, lambda t: shift(t, 1, 0)) < 1e-6
    assert equivariance_error(f, x, lambda t: shift(t, 1, 0), lambda t: shift(t, 0, 1)) > 0.1


def test_rotations(x):
    assert torch.equal(rotate(x, 90), torch.rot90(x, 1, (-2, -1)))
    c = torch.arange(16.0) - 7.5
    blob = torch.exp(-(c[:, None] ** 2 + c[None, :] ** 2) / 20).expand(1, 1, 16, 16)  # centred, radial
    assert (rotate(blob, 30) - blob).abs().max() < 0.05  # about the centre (off by ½ px: ≈ 0.1)
    identity = nn.Identity()
    assert rotation_equivariance_error(identity, x, 90) == 0 and rotation_equivariance_error(identity, x, 37) < 1e-6
    assert rotation_equivariance_error(lambda t: shift(t, 1, 0), x, 90) > 0.1


def test_check_reports_every_measure(x):
    out = check(conv("circular"), x, "shift")
    assert out["equivariance_error"] < 1e-6 and "invariance_error" in out and len(out["elements"]) == 3
    logits = check(nn.Sequential(conv("circular"), nn.AdaptiveAvgPool2d(1), nn.Flatten()), x, "rot90")
    assert "equivariance_error" not in logits and 0 <= logits["prediction_consistency"] <= 1
    with pytest.raises(ValueError, match="group"):
        check(conv("circular"), x, "scale")


def test_cli_check_equivariance():
    out = dlcanon("check", "equivariance", "lenet5", "--group", "rot90", "--n", "8", "--json")
    assert out.returncode == 0, out.stderr
    result = json.loads(out.stdout)
    assert result["source"] == "fresh" and result["group"] == "rot90" and result["invariance_error"] > 0
    bad = dlcanon("check", "equivariance", "lenet5", "--group", "scale")
    assert bad.returncode == 2 and "--group" in bad.stderr
    missing = dlcanon("check", "equivariance", "runs/none")
    assert missing.returncode == 2 and "not a run directory" in missing.stderr
