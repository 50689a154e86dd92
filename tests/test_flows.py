"""Normalizing flows (G13): invertibility, exact log-determinants, normalisation and the bits/dim bookkeeping."""

import math

import pytest
import torch
from torch import nn

from dlcanon.data.base import Split
from dlcanon.metrics.likelihood import (
    bits_per_dim,
    dequantization_bound,
    logit_inverse,
    logit_transform,
    mixture_entropy,
)
from dlcanon.models.flows import build_glow, build_maf, build_realnvp
from dlcanon.nn.flows import (
    ActNorm,
    AffineCoupling,
    InvertibleConv1x1,
    MAFLayer,
    Permute,
    Squeeze,
    channel_mask,
    checkerboard_mask,
    made_masks,
)
from dlcanon.objectives.flow import FlowObjective

torch.set_default_dtype(torch.float32)


def perturbed(module: nn.Module, scale: float = 0.3, seed: int = 0) -> nn.Module:
    """Double precision, every parameter moved off its (often identity) initialisation."""
    module = module.double()
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in module.parameters():
            p.add_(scale * torch.randn(p.shape, generator=g, dtype=p.dtype))
        for m in module.modules():  # ActNorm as if initialised: its data init is tested on its own
            if isinstance(m, ActNorm):
                m.initialized.fill_(1)
    return module


def small_cnn(c: int) -> nn.Module:
    return nn.Sequential(nn.Conv2d(c, 4, 3, padding=1), nn.Tanh(), nn.Conv2d(4, 2 * c, 3, padding=1))


def small_mlp(d: int) -> nn.Module:
    return nn.Sequential(nn.Linear(d, 8), nn.Tanh(), nn.Linear(8, 2 * d))


def layers():
    """(name, layer, one sample's shape) with D = prod(shape) ≤ 8 for the Jacobian checks."""
    return [
        ("coupling_vector", AffineCoupling(channel_mask((4,)), small_mlp(4)), (4,)),
        ("coupling_checkerboard", AffineCoupling(checkerboard_mask((2, 2, 2)), small_cnn(2)), (2, 2, 2)),
        ("coupling_channel", AffineCoupling(channel_mask((2, 2, 2), parity=1), small_cnn(2)), (2, 2, 2)),
        ("squeeze", Squeeze(), (2, 2, 2)),
        ("permute", Permute(5), (5,)),
        ("actnorm", ActNorm(2), (2, 2, 2)),
        ("invconv", InvertibleConv1x1(2, seed=1), (2, 2, 2)),
        ("invconv_vector", InvertibleConv1x1(5, seed=2), (5,)),
        ("maf", MAFLayer(5, [16, 16]), (5,)),
    ]


def models():
    return [
        ("realnvp_2d", build_realnvp((2,), None, width=16, couplings=4), (2,)),
        ("glow_2d", build_glow((2,), None, width=16, steps=3), (2,)),
        ("maf_2d", build_maf((2,), None, hidden=16), (2,)),
        ("realnvp_image", build_realnvp((2, 2, 2), None, width=4, scales=1), (2, 2, 2)),
        ("realnvp_multiscale", build_realnvp((1, 4, 2), None, width=8, scales=2), (1, 4, 2)),
        ("glow_image", build_glow((2, 2, 2), None, width=8, steps=2, levels=1), (2, 2, 2)),
        ("maf_image", build_maf((1, 2, 4), None, hidden=16, layers=2), (1, 2, 4)),
    ]


def flat_map(fn, shape):
    """x (D,) → fn(x.view(1, *shape))[0] flattened: the map whose Jacobian we take."""
    return lambda v: fn(v.view(1, *shape))[0].reshape(-1)


@pytest.mark.parametrize("name, layer, shape", layers() + models(), ids=lambda v: v if isinstance(v, str) else "")
def test_inverse_and_logdets_cancel(name, layer, shape):
    layer = perturbed(layer)
    x = torch.randn(6, *shape, dtype=torch.float64)
    z, logdet = layer(x)
    back, logdet_inv = layer.inverse(z)
    torch.testing.assert_close(back, x, atol=1e-9, rtol=1e-9)
    torch.testing.assert_close(logdet + logdet_inv, torch.zeros(6, dtype=torch.float64), atol=1e-9, rtol=0)
    assert logdet.abs().max() > 1e-3 or name in ("squeeze", "permute"), "the check needs a non-trivial log-det"


@pytest.mark.parametrize("name, layer, shape", layers() + models(), ids=lambda v: v if isinstance(v, str) else "")
def test_logdet_is_slogdet_of_the_autograd_jacobian(name, layer, shape):
    layer = perturbed(layer, seed=1)
    x = torch.randn(2, *shape, dtype=torch.float64)
    z, logdet = layer(x)
    _, logdet_inv = layer.inverse(z)
    for i in range(2):
        jac = torch.autograd.functional.jacobian(flat_map(layer, shape), x[i].reshape(-1), vectorize=True)
        sign, expected = torch.linalg.slogdet(jac)
        assert sign != 0
        torch.testing.assert_close(logdet[i], expected, atol=1e-8, rtol=1e-8)
        jac_inv = torch.autograd.functional.jacobian(
            flat_map(layer.inverse, z.shape[1:]), z[i].reshape(-1), vectorize=True
        )
        torch.testing.assert_close(logdet_inv[i], torch.linalg.slogdet(jac_inv)[1], atol=1e-8, rtol=1e-8)


def test_made_is_autoregressive():
    """∂μ_i/∂x_j = ∂α_i/∂x_j = 0 for j ≥ i: the MAF Jacobian is triangular (its log-det the diagonal's)."""
    layer = perturbed(MAFLayer(5, [7, 9]))
    jac = torch.autograd.functional.jacobian(
        lambda v: torch.cat(layer.made(v[None])).reshape(-1), torch.randn(5).double()
    )
    mu, alpha = jac[:5], jac[5:]
    upper = torch.triu(torch.ones(5, 5, dtype=torch.bool))
    assert mu[upper].abs().max() == 0 and alpha[upper].abs().max() == 0
    assert mu[~upper].abs().max() > 0
    assert all((m.sum(1) > 0).all() or i == len(made_masks(5, [7, 9])) - 1 for i, m in enumerate(made_masks(5, [7, 9])))


def test_actnorm_data_init_gives_zero_mean_unit_variance():
    x = (
        3.0
        + 2.5 * torch.randn(64, 3, 5, 5, dtype=torch.float64) * torch.tensor([1.0, 0.2, 4.0]).view(1, 3, 1, 1).double()
    )
    layer = ActNorm(3).double()
    y, _ = layer(x)  # the first batch initialises
    assert int(layer.initialized) == 1
    mean, var = y.mean((0, 2, 3)), y.var((0, 2, 3), unbiased=False)
    torch.testing.assert_close(mean, torch.zeros(3, dtype=torch.float64), atol=1e-9, rtol=0)
    torch.testing.assert_close(var, torch.ones(3, dtype=torch.float64), atol=1e-5, rtol=0)
    y2, _ = layer(x + 1)  # the second batch does not initialise again
    torch.testing.assert_close(y2.mean((0, 2, 3)), 1 / x.std((0, 2, 3), unbiased=False), atol=0, rtol=1e-4)
    assert "initialized" in layer.state_dict()  # the flag travels in the checkpoint


def test_lu_conv_logdet_is_slogdet_of_the_weight_times_hw():
    layer = perturbed(InvertibleConv1x1(4, seed=3))
    x = torch.randn(2, 4, 3, 5, dtype=torch.float64)
    z, logdet = layer(x)
    w = layer.weight()
    expected = torch.linalg.slogdet(w)[1] * 3 * 5
    torch.testing.assert_close(logdet, expected.expand(2), atol=1e-10, rtol=1e-10)
    torch.testing.assert_close(z, nn.functional.conv2d(x, w[:, :, None, None]))  # it is a 1×1 convolution


@pytest.mark.parametrize("builder", [build_realnvp, build_glow, build_maf])
def test_2d_density_integrates_to_one_on_a_grid(builder):
    torch.manual_seed(0)
    small = {build_realnvp: {"width": 16, "couplings": 4}, build_glow: {"width": 16, "steps": 3}}
    flow = perturbed(builder((2,), None, **small.get(builder, {"hidden": 16, "layers": 3})), 0.1)
    side = torch.linspace(-7, 7, 281, dtype=torch.float64)
    grid = torch.stack(torch.meshgrid(side, side, indexing="ij"), -1).view(-1, 2)
    with torch.no_grad():
        z, logdet = flow(grid)
        log_p = -0.5 * (math.log(2 * math.pi) * 2 + z.pow(2).sum(1)) + logdet
    mass = float(log_p.exp().sum() * (side[1] - side[0]) ** 2)
    assert abs(mass - 1) < 5e-3, mass


# ---------------------------------------------------------------------------------------------- bookkeeping
def test_logit_transform_jacobian_and_inverse():
    y = torch.rand(4, 3, dtype=torch.float64) * 0.98 + 0.01
    for alpha in (0.0, 0.05):
        z, logdet = logit_transform(y, alpha)
        torch.testing.assert_close(logit_inverse(z, alpha), y)
        jac = torch.autograd.functional.jacobian(lambda v, a=alpha: logit_transform(v[None], a)[0][0], y[0])
        torch.testing.assert_close(logdet[0], torch.linalg.slogdet(jac)[1])


def test_importance_weighted_dequantisation_bound():
    """A 1-D N(0.45, 0.1²) density on 4 levels: P(bin) exactly from the normal CDF; K = 1 is Jensen's bound,
    the bound tightens with K, and it is exact for a density constant on each bin."""
    levels, normal = 4, torch.distributions.Normal(torch.tensor(0.45).double(), torch.tensor(0.1).double())
    k = torch.tensor([1.0]).double()
    exact = torch.log(normal.cdf((k + 1) / levels) - normal.cdf(k / levels))
    g = torch.Generator().manual_seed(0)
    y = (k + torch.rand(20000, 1, generator=g, dtype=torch.float64)) / levels  # (K, N=1)
    log_p = normal.log_prob(y)
    jensen = dequantization_bound(log_p[:1], 1, levels)
    torch.testing.assert_close(jensen, log_p[:1, 0] - math.log(levels))
    bounds = [float(dequantization_bound(log_p[: m * 1000].view(1000, m).T, 1, levels).mean()) for m in (1, 4, 20)]
    assert bounds[0] < bounds[1] < bounds[2] <= float(exact) + 1e-3
    assert float(exact) - bounds[2] < 0.1 * (float(exact) - bounds[0])
    flat = torch.full((7, 3), math.log(2.5)).double()  # p = 2.5 on the bin: P = 2.5/L exactly, whatever K
    torch.testing.assert_close(dequantization_bound(flat, 1, levels), torch.full((3,), math.log(2.5 / levels)).double())


class UniformFlow(nn.Module):
    """A flow under which the objective's density of dequantised y ∈ [0, 1)^D is exactly 1: v → σ(v) (or v + ½)
    → (u − α)/(1 − 2α) → Φ⁻¹, with its exact log-determinant."""

    def __init__(self, shape, alpha):
        super().__init__()
        self.shape, self.alpha = shape, alpha
        self.dummy = nn.Parameter(torch.zeros(()))

    def forward(self, v):
        normal = torch.distributions.Normal(0.0, 1.0)
        if self.alpha > 0:
            u, log_du = torch.sigmoid(v), nn.functional.logsigmoid(v) + nn.functional.logsigmoid(-v)
            w, log_dw = (u - self.alpha) / (1 - 2 * self.alpha), log_du - math.log(1 - 2 * self.alpha)
        else:
            w, log_dw = v + 0.5, torch.zeros_like(v)
        z = normal.icdf(w.clamp(1e-7, 1 - 1e-7))
        logdet = (log_dw - normal.log_prob(z)).flatten(1).sum(1)
        return z.flatten(1), logdet + 0 * self.dummy

    def inverse(self, z):  # pragma: no cover - not needed here
        raise NotImplementedError


@pytest.mark.parametrize("levels, bits", [(256, 8.0), (17, math.log2(17))])
@pytest.mark.parametrize("alpha", [0.05, 0.0])
def test_a_uniform_model_scores_log2_levels_bits_per_dim(levels, bits, alpha):
    shape = (1, 4, 4)
    x = torch.randint(levels, (64, *shape)).float() / (levels - 1)
    objective = FlowObjective(UniformFlow(shape, alpha), logit_alpha=alpha)
    objective.prepare(Split(x, None))
    assert int(objective.levels) == levels
    metrics = objective.evaluate([(x, None)])
    assert abs(metrics["bits_per_dim"] - bits) < 1e-4 and metrics["bpd"] == metrics["bits_per_dim"], metrics
    assert abs(bits_per_dim(metrics["nll"], 16, levels=levels) - bits) < 1e-4


def test_flow_objective_steps_and_samples_on_the_data_grid():
    torch.manual_seed(0)
    x = torch.randint(17, (32, 1, 8, 8)).float() / 16
    small = {build_realnvp: {"width": 4}, build_glow: {"width": 4}, build_maf: {"hidden": 16, "layers": 2}}
    for builder, args in small.items():
        objective = FlowObjective(builder((1, 8, 8), None, **args))
        objective.prepare(Split(x, None))
        loss, logs = objective((x, None))
        loss.backward()
        assert torch.isfinite(loss) and "bpd" in logs
        s = objective.sample(5)
        assert s.shape == (5, 1, 8, 8)
        torch.testing.assert_close(s * 16, (s * 16).round())  # on the 17-level grid


def test_mixture_entropy_of_separated_modes_is_log_k_plus_gaussian_entropy():
    """Well-separated modes: H = log K + log(2πeσ²) (D = 2); the Monte Carlo error bars cover it."""
    centres = torch.tensor([[0.0, 0.0], [5.0, 0.0], [0.0, 5.0], [5.0, 5.0]])
    h, se = mixture_entropy(centres, 0.1, n=200_000, generator=torch.Generator().manual_seed(0))
    exact = math.log(4) + math.log(2 * math.pi * math.e * 0.01)
    assert 0 < se < 0.01 and abs(h - exact) < 4 * se, (h, se, exact)


# ---------------------------------------------------------------------------------------------- trained (slow)
@pytest.mark.slow
@pytest.mark.parametrize("name", ["flow_toys", "flow_digits"])
def test_flow_experiments_hold_in_quick_mode(tmp_path, name):
    from dlcanon.reproduce import run_experiments

    record = run_experiments([name], quick=True, out=tmp_path)["experiments"][0]
    assert record["status"] == "ok", record.get("traceback")
    assert record["holds"], record["verdict"]


@pytest.mark.slow
def test_realnvp_default_budget_comes_within_one_nat_of_the_entropy_of_gaussians8(tmp_path):
    from dlcanon.data import load_data
    from dlcanon.data.sources import mixture_modes
    from dlcanon.runs import build_objective, default_config
    from dlcanon.train import fit

    torch.manual_seed(0)
    cfg = default_config("realnvp", device="cpu", tensorboard=False)
    data = load_data(cfg.data)
    summary = fit(build_objective(cfg, data), data, cfg, out_dir=tmp_path)
    centres, std = mixture_modes("gaussians8")
    h, se = mixture_entropy(centres, std, n=200_000, generator=torch.Generator().manual_seed(0))
    nll, nll_se = summary["metrics"]["test_nll"], summary["metrics"]["test_nll_stderr"]
    assert h - 3 * math.hypot(se, nll_se) <= nll <= h + 1.0, (nll, h)


def test_flow_digits_runs_when_shrunk_one_table_per_dataset():
    from dlcanon.experiments import Context, run_experiment

    settings = {"datasets": ["digits"], "epochs": 1, "iw_samples": 2, "width": 8}
    result = run_experiment("flow_digits", Context(settings=settings))
    assert len(result.tables) == 1 and "flow_digit_samples" in result.figures
    found = result.numbers["digits"]
    assert found["levels"] == 17 and found["uniform"] == pytest.approx(math.log2(17))
    assert {"realnvp", "glow", "maf"} <= set(found)
