"""A1: every activation against the notes' formula (corrected where garbled), written here independently.

Oracles use float64 elementwise torch ops. Where the notes' form overflows in floating point (tanh,
softplus, logsigmoid at |x| ~ 1e3) the oracle uses an exact algebraic rearrangement of the same formula.
"""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from dlcanon.errors import UserError
from dlcanon.nn import SELU_ALPHA, SELU_SCALE, Sine, activation
from dlcanon.registry import ACTIVATIONS

# The paper's constants (Klambauer et al., 2017), typed here rather than imported.
PAPER_ALPHA = 1.6732632423543772848170429916717
PAPER_SCALE = 1.0507009873554804934193349852946

EXTREMES = [-1e3, -88.0, -87.0, -20.0, -1.0, -1e-3, 0.0, 1e-3, 1.0, 6.0, 20.0, 87.0, 88.0, 1e3]


def inputs(dtype: torch.dtype = torch.float32) -> torch.Tensor:
    g = torch.Generator().manual_seed(0)
    return torch.cat([torch.tensor(EXTREMES), 4 * torch.randn(2000, generator=g)]).to(dtype)


def zero(x: torch.Tensor) -> torch.Tensor:
    return torch.zeros_like(x)


# The notes' formulas -----------------------------------------------------------------------------------


def linear_formula(x, c=1.0):
    return c * x


def sigmoid_formula(x):
    return 1 / (1 + torch.exp(-x))


def tanh_formula(x):
    # (e^x − e^−x)/(e^x + e^−x), numerator and denominator multiplied by e^−|x|
    e = torch.exp(-2 * x.abs())
    return torch.sign(x) * (1 - e) / (1 + e)


def relu_formula(x):
    return torch.maximum(zero(x), x)


def leaky_relu_formula(x, a=0.01):
    return torch.maximum(zero(x), x) + a * torch.minimum(zero(x), x)


def softplus_formula(x, beta=1.0):
    # (1/β)·log(1 + e^(βx)) = (1/β)·(max(βx, 0) + log(1 + e^(−|βx|)))
    bx = beta * x
    return (torch.maximum(bx, zero(x)) + torch.log1p(torch.exp(-bx.abs()))) / beta


def elu_formula(x, alpha=1.0):
    return torch.maximum(zero(x), x) + torch.minimum(zero(x), alpha * (torch.exp(x) - 1))


def celu_formula(x, alpha=1.0):
    return torch.maximum(zero(x), x) + torch.minimum(zero(x), alpha * (torch.exp(x / alpha) - 1))


def selu_formula(x):
    return PAPER_SCALE * (
        torch.maximum(zero(x), x) + torch.minimum(zero(x), PAPER_ALPHA * (torch.exp(x) - 1))
    )


def gelu_formula(x):
    return x * 0.5 * (1 + torch.erf(x / math.sqrt(2)))


def gelu_tanh_formula(x):
    return 0.5 * x * (1 + torch.tanh(math.sqrt(2 / math.pi) * (x + 0.044715 * x**3)))


def relu6_formula(x):
    return torch.minimum(torch.maximum(zero(x), x), torch.full_like(x, 6.0))


def logsigmoid_formula(x):
    # log(1/(1 + e^−x)) = min(x, 0) − log(1 + e^−|x|)
    return torch.minimum(x, zero(x)) - torch.log1p(torch.exp(-x.abs()))


def sine_formula(x, w0=30.0):
    return torch.sin(w0 * x)


def softmax_formula(x, dim=-1):
    e = torch.exp(x - x.amax(dim=dim, keepdim=True))  # e^x_i / Σ e^x_j, shifted by the max
    return e / e.sum(dim=dim, keepdim=True)


def softmin_formula(x, dim=-1):
    e = torch.exp(-x - (-x).amax(dim=dim, keepdim=True))
    return e / e.sum(dim=dim, keepdim=True)


def log_softmax_formula(x, dim=-1):
    m = x.amax(dim=dim, keepdim=True)
    return x - (m + torch.log(torch.exp(x - m).sum(dim=dim, keepdim=True)))


ELEMENTWISE = [
    ("linear", {}, linear_formula),
    ("linear", {"c": -2.5}, lambda x: linear_formula(x, -2.5)),
    ("sigmoid", {}, sigmoid_formula),
    ("tanh", {}, tanh_formula),
    ("relu", {}, relu_formula),
    ("leaky_relu", {}, leaky_relu_formula),
    ("leaky_relu", {"negative_slope": 0.2}, lambda x: leaky_relu_formula(x, 0.2)),
    ("prelu", {}, lambda x: leaky_relu_formula(x, 0.25)),
    ("prelu", {"init": 0.01}, leaky_relu_formula),
    ("softplus", {}, softplus_formula),
    ("softplus", {"beta": 3.0}, lambda x: softplus_formula(x, 3.0)),
    ("softplus", {"beta": 0.5}, lambda x: softplus_formula(x, 0.5)),
    ("elu", {}, elu_formula),
    ("elu", {"alpha": 0.5}, lambda x: elu_formula(x, 0.5)),
    ("celu", {}, celu_formula),
    ("celu", {"alpha": 0.5}, lambda x: celu_formula(x, 0.5)),
    ("celu", {"alpha": 2.0}, lambda x: celu_formula(x, 2.0)),
    ("selu", {}, selu_formula),
    ("gelu", {}, gelu_formula),
    ("gelu", {"approximate": "tanh"}, gelu_tanh_formula),
    ("relu6", {}, relu6_formula),
    ("logsigmoid", {}, logsigmoid_formula),
    ("sine", {}, sine_formula),
    ("sine", {"w0": 1.0}, lambda x: sine_formula(x, 1.0)),
]


def assert_formula(actual: torch.Tensor, x: torch.Tensor, expected: torch.Tensor, rtol: float, atol) -> None:
    assert torch.isfinite(actual).all(), x[~torch.isfinite(actual)]
    err = (actual.double() - expected).abs()
    bad = err > atol + rtol * expected.abs()
    assert not bad.any(), list(
        zip(x[bad][:5].tolist(), actual[bad][:5].tolist(), expected[bad][:5].tolist(), strict=True)
    )


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize(("name", "kwargs", "formula"), ELEMENTWISE, ids=lambda v: str(v) if v else "")
def test_elementwise_activation_matches_formula(name, kwargs, formula, dtype):
    x = inputs(dtype)
    module = ACTIVATIONS.build(name, **kwargs).to(dtype)
    with torch.no_grad():
        actual = module(x)
    expected = formula(x.double())
    if name == "prelu":  # the learnable slope is a float32 parameter: use its stored value
        assert module.weight.item() == pytest.approx(kwargs.get("init", 0.25))
        expected = leaky_relu_formula(x.double(), module.weight.double().item())
    assert torch.isfinite(expected).all()
    if dtype == torch.float64:
        assert_formula(actual, x, expected, rtol=1e-10, atol=1e-12)
    else:
        # sin(ω₀x) in float32 inherits the rounding of ω₀·x: |error| ≲ ω₀·|x|·2⁻²³
        w0 = kwargs.get("w0", 30.0) if name == "sine" else 0.0
        assert_formula(actual, x, expected, rtol=1e-5, atol=1e-6 + 2 * w0 * x.double().abs() * 2**-23)


@pytest.mark.parametrize(("name", "kwargs", "formula"), ELEMENTWISE, ids=lambda v: str(v) if v else "")
def test_gradients_finite_at_extremes(name, kwargs, formula):
    x = torch.tensor(EXTREMES, requires_grad=True)
    ACTIVATIONS.build(name, **kwargs)(x).sum().backward()
    assert torch.isfinite(x.grad).all()


def test_softplus_threshold_switch_is_continuous_and_exact():
    for beta, threshold in [(1.0, 20.0), (2.0, 20.0), (0.5, 10.0)]:
        sp = ACTIVATIONS.build("softplus", beta=beta, threshold=threshold).double()
        edge = threshold / beta
        x = torch.tensor([edge - 1e-9, edge, edge + 1e-9], dtype=torch.float64)
        y = sp(x)
        gap = math.log1p(math.exp(-threshold)) / beta  # what the switch drops: < e^−threshold/β
        assert (y[2] - y[0]).abs() <= 2e-9 + 1.01 * gap  # continuous up to that gap (2e-9 from x itself)
        large = torch.linspace(edge + 1e-6, 1e4, 1000, dtype=torch.float64)
        assert torch.equal(sp(large), large)  # linear regime: exactly x
        assert torch.allclose(
            sp(large), softplus_formula(large, beta), rtol=0, atol=2 * math.exp(-threshold) / beta
        )
    y = ACTIVATIONS.build("softplus")(torch.tensor([20 - 1e-5, 20 + 1e-5], dtype=torch.float64))
    assert (y[1] - y[0]).abs() < 3e-5  # default threshold 20: the gap is 2e-9, invisible in float32
    assert torch.equal(ACTIVATIONS.build("softplus")(torch.tensor([1e3, 88.0])), torch.tensor([1e3, 88.0]))
    assert ACTIVATIONS.build("softplus")(torch.tensor(-1e3)) == 0.0


def logits(scale: float) -> torch.Tensor:
    g = torch.Generator().manual_seed(1)
    x = scale * torch.randn(16, 10, generator=g)
    x[0] = torch.tensor([1e3, -1e3, 88.0, -88.0, 0.0, 1e3, 1e3, 5.0, -5.0, 0.0])
    return x


@pytest.mark.parametrize("scale", [1.0, 100.0, 1e4])
@pytest.mark.parametrize(
    ("name", "formula"),
    [("softmax", softmax_formula), ("softmin", softmin_formula), ("log_softmax", log_softmax_formula)],
)
def test_normalising_activations_on_large_logits(name, formula, scale):
    x = logits(scale)
    y = ACTIVATIONS.build(name)(x)
    assert torch.isfinite(y).all()
    torch.testing.assert_close(y.double(), formula(x.double()), rtol=1e-5, atol=1e-6)
    probs = y.exp() if name == "log_softmax" else y
    torch.testing.assert_close(probs.sum(-1), torch.ones(16))


def test_softmin_is_softmax_of_negation_and_dim_argument():
    x = logits(30.0)
    torch.testing.assert_close(ACTIVATIONS.build("softmin")(x), ACTIVATIONS.build("softmax")(-x))
    maps = torch.randn(2, 5, 3, 4)  # (N, C, H, W): classes along dim 1
    for name, formula in [("softmax", softmax_formula), ("log_softmax", log_softmax_formula)]:
        y = ACTIVATIONS.build(name, dim=1)(maps)
        torch.testing.assert_close(y.double(), formula(maps.double(), dim=1))
    torch.testing.assert_close(ACTIVATIONS.build("softmax")(maps).sum(-1), torch.ones(2, 5, 3))  # default −1


def test_selu_constants_and_self_normalisation():
    assert abs(SELU_ALPHA - PAPER_ALPHA) < 1e-15 and abs(SELU_SCALE - PAPER_SCALE) < 1e-15
    selu = ACTIVATIONS.build("selu").double()
    assert selu(torch.tensor(1.0, dtype=torch.float64)).item() == pytest.approx(PAPER_SCALE, rel=1e-12)
    assert selu(torch.tensor(-1e3, dtype=torch.float64)).item() == pytest.approx(
        -PAPER_SCALE * PAPER_ALPHA, rel=1e-12
    )

    g = torch.Generator().manual_seed(2)
    n = 512
    x = torch.randn(4096, n, generator=g, dtype=torch.float64)
    stats = []
    for _ in range(8):
        w = torch.randn(n, n, generator=g, dtype=torch.float64) / math.sqrt(n)  # LeCun normal: Var w = 1/n
        x = selu(x @ w.T)
        stats.append((x.mean().item(), x.var().item()))
    mean, var = stats[0]
    assert abs(mean) < 0.03 and abs(var - 1) < 0.05, stats[0]
    assert all(abs(m) < 0.1 and abs(v - 1) < 0.1 for m, v in stats), stats  # stays near (0, 1) through depth
    relu = ACTIVATIONS.build("relu")
    assert relu(torch.randn(4096, generator=g)).mean() > 0.3  # contrast: ReLU does not centre


def test_gelu_tanh_approximation_is_close_to_exact():
    x = torch.linspace(-10, 10, 20001, dtype=torch.float64)
    exact = ACTIVATIONS.build("gelu")(x)
    approx = ACTIVATIONS.build("gelu", approximate="tanh")(x)
    diff = (exact - approx).abs().max().item()
    assert 1e-5 < diff < 1e-3


def test_prelu_is_learnable_with_documented_init():
    default, notes = ACTIVATIONS.build("prelu"), ACTIVATIONS.build("prelu", init=0.01)
    assert default.weight.item() == pytest.approx(0.25) and notes.weight.item() == pytest.approx(0.01)
    assert default.weight.requires_grad
    x = torch.tensor([-2.0, -1.0, 3.0])
    default(x).sum().backward()
    assert default.weight.grad.item() == pytest.approx(-3.0)  # ∂/∂a Σ a·min(0, x) = Σ min(0, x)
    assert len(list(ACTIVATIONS.build("leaky_relu").parameters())) == 0
    assert ACTIVATIONS.build("prelu", num_parameters=4).weight.shape == (4,)


def test_sine_module():
    x = torch.linspace(-1, 1, 101, dtype=torch.float64)
    torch.testing.assert_close(Sine()(x), torch.sin(30 * x))
    torch.testing.assert_close(Sine(w0=2.0)(x), torch.sin(2 * x))
    assert "w0=30.0" in repr(Sine())


def test_registry_names_and_tags():
    expected = {
        "linear", "sigmoid", "tanh", "relu", "leaky_relu", "prelu", "softplus", "elu", "celu", "selu",
        "gelu", "relu6", "logsigmoid", "softmin", "softmax", "log_softmax", "sine",
    }  # fmt: skip
    assert expected <= set(ACTIVATIONS.names())
    for name in expected:
        entry = ACTIVATIONS.entry(name)
        assert "A1" in entry.tags and entry.doc
        assert isinstance(ACTIVATIONS.build(name), nn.Module)


def test_activation_helper():
    assert isinstance(activation("celu", alpha=0.5), nn.CELU) and activation("celu", alpha=0.5).alpha == 0.5
    module = nn.Tanh()
    assert activation(module) is module
    assert isinstance(activation(nn.ReLU), nn.ReLU)
    with pytest.raises(UserError, match="did you mean"):
        activation("rleu")
    with pytest.raises(UserError, match="accepts alpha"):
        activation("celu", beta=2.0)
    with pytest.raises(UserError):
        activation(module, alpha=1.0)
    with pytest.raises(UserError):
        activation(3)
    with pytest.raises(UserError, match="beta"):
        activation("softplus", beta=0.0)
    with pytest.raises(UserError, match="approximate"):
        activation("gelu", approximate="erf")
