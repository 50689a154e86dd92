"""L1: every loss against the notes' / PyTorch documentation's formula, written here with loops and
elementwise ops in float64, for every reduction; the Gaussian KL against Monte Carlo and torch.distributions.
"""

from __future__ import annotations

import json
import math

import pytest
import torch
from torch.distributions import Categorical, Independent, Normal, kl_divergence

from dlcanon import losses
from dlcanon.errors import UserError
from dlcanon.registry import LOSSES

REDUCTIONS = ["none", "mean", "sum"]
N, C = 12, 5


def gen(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def reduce(l: torch.Tensor, reduction: str, denominator: torch.Tensor | float | None = None) -> torch.Tensor:
    if reduction == "none":
        return l
    if reduction == "sum":
        return l.sum()
    return l.sum() / (l.numel() if denominator is None else denominator)


def close(actual: torch.Tensor, expected: torch.Tensor, rtol: float = 1e-10, atol: float = 1e-12) -> None:
    assert actual.shape == expected.shape, (actual.shape, expected.shape)
    assert torch.isfinite(actual).all()
    torch.testing.assert_close(actual.double(), expected.double(), rtol=rtol, atol=atol)


# Regression ----------------------------------------------------------------------------------------------


def regression_pair():
    g = gen(1)
    x = torch.randn(N, 3, generator=g, dtype=torch.float64)
    y = x + torch.randn(N, 3, generator=g, dtype=torch.float64) * torch.tensor(
        [0.1, 1.0, 10.0], dtype=torch.float64
    )
    return x, y


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_l2_l1(reduction):
    x, y = regression_pair()
    close(losses.l2(x, y, reduction=reduction), reduce((x - y) ** 2, reduction))
    close(losses.mse(x, y, reduction=reduction), reduce((x - y) ** 2, reduction))
    close(losses.l1(x, y, reduction=reduction), reduce((x - y).abs(), reduction))


@pytest.mark.parametrize("beta", [1.0, 0.5, 3.0, 0.0])
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_smooth_l1(reduction, beta):
    x, y = regression_pair()
    d = (x - y).abs()
    z = d if beta == 0.0 else torch.where(d < beta, 0.5 * d**2 / beta, d - 0.5 * beta)  # β = 0 is L1
    close(losses.smooth_l1(x, y, beta=beta, reduction=reduction), reduce(z, reduction))
    assert (d < 1).any() and (d >= 1).any()  # both branches exercised


# Classification ------------------------------------------------------------------------------------------


def classification(seed: int = 2, scale: float = 3.0):
    g = gen(seed)
    x = scale * torch.randn(N, C, generator=g, dtype=torch.float64)
    y = torch.randint(0, C, (N,), generator=g)
    w = torch.rand(C, generator=g, dtype=torch.float64) + 0.5
    return x, y, w


def nll_formula(logp, y, weight, ignore_index, reduction):
    """l_n = −w_{y_n}·x_{n,y_n}; mean divides by Σ_n w_{y_n} over non-ignored n."""
    w = torch.ones(logp.shape[1], dtype=logp.dtype) if weight is None else weight
    l = torch.zeros(len(y), dtype=logp.dtype)
    wy = torch.zeros(len(y), dtype=logp.dtype)
    for n in range(len(y)):
        c = int(y[n])
        if c == ignore_index:
            continue
        wy[n] = w[c]
        l[n] = -w[c] * logp[n, c]
    return reduce(l, reduction, wy.sum())


def log_softmax_formula(x):
    m = x.max(dim=1, keepdim=True).values
    return x - (m + torch.log(torch.exp(x - m).sum(dim=1, keepdim=True)))


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("ignore", [False, True])
def test_nll(reduction, weighted, ignore):
    x, y, w = classification()
    logp = log_softmax_formula(x)
    weight = w if weighted else None
    ignore_index = -100
    if ignore:
        ignore_index = int(y[0])  # a real class: every sample of it is ignored
        assert (y == ignore_index).sum() < N
    expected = nll_formula(logp, y, weight, ignore_index, reduction)
    close(losses.nll(logp, y, weight=weight, ignore_index=ignore_index, reduction=reduction), expected)


def test_nll_weighted_mean_is_not_plain_mean():
    x, y, w = classification()
    logp = log_softmax_formula(x)
    weighted = losses.nll(logp, y, weight=w)
    per_sample = losses.nll(logp, y, weight=w, reduction="none")
    close(weighted, per_sample.sum() / w[y].sum())
    assert not torch.allclose(weighted, per_sample.mean())


def test_nll_spatial_targets():
    g = gen(3)
    logp = torch.randn(2, C, 4, 3, generator=g, dtype=torch.float64).log_softmax(1)
    y = torch.randint(0, C, (2, 4, 3), generator=g)
    y[0, 0, 0] = -100
    w = torch.rand(C, generator=g, dtype=torch.float64)
    flat_logp, flat_y = logp.permute(0, 2, 3, 1).reshape(-1, C), y.reshape(-1)
    for reduction in REDUCTIONS:
        expected = nll_formula(flat_logp, flat_y, w, -100, reduction)
        actual = losses.nll(logp, y, weight=w, reduction=reduction)
        close(actual.reshape(-1) if reduction == "none" else actual, expected)


def cross_entropy_formula(x, y, weight, ignore_index, label_smoothing, reduction):
    """−x[class] + log Σ_j e^(x[j]) (weighted), with label smoothing (1 − ε)·nll + (ε/C)·Σ_c w_c(−log p_c)."""
    n_classes = x.shape[1]
    w = torch.ones(n_classes, dtype=x.dtype) if weight is None else weight
    m = x.max(dim=1).values
    lse = m + torch.log(torch.exp(x - m[:, None]).sum(dim=1))
    l, smooth, wy = (torch.zeros(len(y), dtype=x.dtype) for _ in range(3))
    for n in range(len(y)):
        c = int(y[n])
        if c == ignore_index:
            continue
        wy[n] = w[c]
        l[n] = w[c] * (-x[n, c] + lse[n])
        smooth[n] = sum(w[k] * (-x[n, k] + lse[n]) for k in range(n_classes))
    eps = label_smoothing
    if reduction == "none":
        return (1 - eps) * l + eps / n_classes * smooth
    return (1 - eps) * reduce(l, reduction, wy.sum()) + eps / n_classes * reduce(smooth, reduction, wy.sum())


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("label_smoothing", [0.0, 0.2])
@pytest.mark.parametrize("scale", [3.0, 1e4])
def test_cross_entropy(reduction, weighted, label_smoothing, scale):
    x, y, w = classification(scale=scale)
    weight = w if weighted else None
    y[1] = -100
    expected = cross_entropy_formula(x, y, weight, -100, label_smoothing, reduction)
    kwargs = {"weight": weight, "label_smoothing": label_smoothing, "reduction": reduction}
    close(losses.cross_entropy(x, y, **kwargs), expected, rtol=1e-9, atol=1e-9)
    single = {**kwargs, "weight": None if weight is None else weight.float()}
    close(losses.cross_entropy(x.float(), y, **single), expected, rtol=1e-5, atol=1e-5 * scale)


def test_cross_entropy_is_nll_of_log_softmax_and_probability_targets():
    x, y, w = classification()
    close(losses.cross_entropy(x, y, weight=w), losses.nll(log_softmax_formula(x), y, weight=w))
    p = torch.softmax(torch.randn(N, C, generator=gen(4), dtype=torch.float64), dim=1)
    l = -(w * p * log_softmax_formula(x)).sum(dim=1)  # −Σ_c w_c y_c log p_c
    for reduction in REDUCTIONS:
        close(losses.cross_entropy(x, p, weight=w, reduction=reduction), reduce(l, reduction))  # mean: / N


def bce_formula(x, y, w, reduction):
    log_x = torch.clamp(torch.log(x), min=-100)
    log_1mx = torch.clamp(torch.log(1 - x), min=-100)
    return reduce(-w * (y * log_x + (1 - y) * log_1mx), reduction)


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("weighted", [False, True])
def test_bce_with_clamped_log(reduction, weighted):
    g = gen(5)
    x = torch.rand(N, 3, generator=g, dtype=torch.float64)
    x[0] = torch.tensor([0.0, 1.0, 0.5], dtype=torch.float64)  # log 0 → clamped at −100
    y = torch.rand(N, 3, generator=g, dtype=torch.float64).round()
    y[0] = torch.tensor([1.0, 0.0, 0.3], dtype=torch.float64)
    w = torch.rand(N, 1, generator=g, dtype=torch.float64) if weighted else torch.ones(1, dtype=torch.float64)
    actual = losses.bce(x, y, weight=w if weighted else None, reduction=reduction)
    close(actual, bce_formula(x, y, w, reduction))
    if reduction == "none":  # a certain wrong answer costs exactly 100·w
        w0 = w.flatten()[0].item()
        assert actual[0, 0].item() == pytest.approx(100 * w0) and actual[0, 1].item() == pytest.approx(
            100 * w0
        )


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("pos_weight", [None, 3.0])
def test_bce_with_logits(reduction, pos_weight):
    g = gen(6)
    x = 5 * torch.randn(N, 3, generator=g, dtype=torch.float64)
    x[0] = torch.tensor([1e3, -1e3, 88.0], dtype=torch.float64)
    y = torch.rand(N, 3, generator=g, dtype=torch.float64).round()
    w = torch.rand(N, 3, generator=g, dtype=torch.float64)

    def log_sigmoid(z):  # log σ(z) = −log(1 + e^−z), stably
        return torch.minimum(z, torch.zeros_like(z)) - torch.log1p(torch.exp(-z.abs()))

    p = 1.0 if pos_weight is None else pos_weight
    expected = reduce(-w * (p * y * log_sigmoid(x) + (1 - y) * log_sigmoid(-x)), reduction)
    pw = None if pos_weight is None else torch.full((3,), pos_weight, dtype=torch.float64)
    close(losses.bce_with_logits(x, y, weight=w, pos_weight=pw, reduction=reduction), expected)


@pytest.mark.parametrize("reduction", [*REDUCTIONS, "batchmean"])
@pytest.mark.parametrize("log_target", [False, True])
def test_kl_div_pointwise(reduction, log_target):
    g = gen(7)
    log_q = torch.randn(N, C, generator=g, dtype=torch.float64).log_softmax(1)
    p = torch.randn(N, C, generator=g, dtype=torch.float64).softmax(1)
    if not log_target:  # a one-hot row: 0·log 0 = 0 (with log_target, log 0 = −inf gives nan)
        p[0] = torch.tensor([1.0, 0.0, 0.0, 0.0, 0.0], dtype=torch.float64)
    pointwise = torch.where(p > 0, p * (torch.log(p) - log_q), torch.zeros_like(p))  # y(log y − x)
    target = torch.log(p) if log_target else p
    expected = pointwise.sum() / N if reduction == "batchmean" else reduce(pointwise, reduction)
    close(losses.kl_div(log_q, target, reduction=reduction, log_target=log_target), expected)
    if reduction == "batchmean":  # Σ l / N is the mean KL[p ‖ q] over the batch
        reference = kl_divergence(Categorical(probs=p), Categorical(logits=log_q)).mean()
        close(losses.kl_div(log_q, p), reference, rtol=1e-9, atol=1e-12)


# Ranking and embeddings ----------------------------------------------------------------------------------


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("margin", [0.0, 0.5])
def test_margin_ranking(reduction, margin):
    g = gen(8)
    x1, x2 = torch.randn(2, N, generator=g, dtype=torch.float64)
    y = torch.randint(0, 2, (N,), generator=g).double() * 2 - 1
    expected = reduce(torch.clamp(-y * (x1 - x2) + margin, min=0), reduction)
    close(losses.margin_ranking(x1, x2, y, margin=margin, reduction=reduction), expected)


def distance(u, v, p, eps):
    """PyTorch's pairwise distance: ‖u − v + eps‖_p."""
    return ((u - v + eps).abs() ** p).sum(dim=-1) ** (1 / p)


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize(("p", "margin", "swap"), [(2.0, 1.0, False), (1.0, 0.5, False), (2.0, 0.5, True)])
def test_triplet_margin(reduction, p, margin, swap):
    g = gen(9)
    a, pos, neg = torch.randn(3, N, 4, generator=g, dtype=torch.float64)
    pos = a + torch.linspace(0.05, 3, N, dtype=torch.float64)[:, None] * pos  # near and far positives
    neg = a + 2 * neg
    eps = 1e-6
    d_neg = distance(a, neg, p, eps)
    if swap:
        d_neg = torch.minimum(d_neg, distance(pos, neg, p, eps))
    l = torch.clamp(margin + distance(a, pos, p, eps) - d_neg, min=0)
    assert (l > 0).any() and (l == 0).any()
    actual = losses.triplet_margin(a, pos, neg, margin=margin, p=p, swap=swap, reduction=reduction)
    close(actual, reduce(l, reduction))
    close(losses.triplet_margin(a, a, neg, eps=0.5, reduction="none"),
          torch.clamp(1 + distance(a, a, 2, 0.5) - distance(a, neg, 2, 0.5), min=0))  # fmt: skip


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("margin", [0.0, 0.3])
def test_cosine_embedding(reduction, margin):
    g = gen(10)
    x1, x2 = torch.randn(2, N, 6, generator=g, dtype=torch.float64)
    y = torch.randint(0, 2, (N,), generator=g).double() * 2 - 1
    cos = (x1 * x2).sum(-1) / (x1.norm(dim=-1) * x2.norm(dim=-1))
    l = torch.where(y == 1, 1 - cos, torch.clamp(cos - margin, min=0))
    close(
        losses.cosine_embedding(x1, x2, y, margin=margin, reduction=reduction),
        reduce(l, reduction),
        atol=1e-10,
    )


# Gaussian KL ---------------------------------------------------------------------------------------------


def test_kl_normal_matches_monte_carlo():
    mu = torch.tensor([0.5, -1.0, 2.0], dtype=torch.float64)
    logvar = torch.tensor([0.0, -1.5, 0.8], dtype=torch.float64)
    std = (0.5 * logvar).exp()
    eps = torch.randn(200_000, 3, generator=gen(11), dtype=torch.float64)
    z = mu + std * eps
    # log q(z) − log p(z) per sample; the −½ log 2π terms cancel
    log_ratio = (-0.5 * logvar - 0.5 * eps**2 + 0.5 * z**2).sum(-1)
    estimate, se = log_ratio.mean(), log_ratio.std() / math.sqrt(len(log_ratio))
    kl = losses.kl_normal(mu, logvar)
    assert abs(estimate - kl) < 4 * se, (estimate, kl, se)


def test_kl_normal_against_torch_distributions_and_general_form():
    g = gen(12)
    mu, logvar = torch.randn(2, 7, 4, generator=g, dtype=torch.float64)
    q = Independent(Normal(mu, (0.5 * logvar).exp()), 1)
    prior = Independent(Normal(torch.zeros_like(mu), torch.ones_like(mu)), 1)
    close(losses.kl_normal(mu, logvar), kl_divergence(q, prior))
    close(losses.kl_normal_normal(mu, logvar, 0.0, 0.0), losses.kl_normal(mu, logvar))
    close(losses.kl_normal_normal(mu, logvar, torch.zeros(4), torch.zeros(4)), losses.kl_normal(mu, logvar))
    mu_p, logvar_p = torch.randn(2, 7, 4, generator=g, dtype=torch.float64)
    p = Independent(Normal(mu_p, (0.5 * logvar_p).exp()), 1)
    close(losses.kl_normal_normal(mu, logvar, mu_p, logvar_p), kl_divergence(q, p))
    close(losses.kl_normal_normal(mu, logvar, mu, logvar), torch.zeros(7, dtype=torch.float64))
    for reduction in REDUCTIONS:
        close(losses.kl_normal(mu, logvar, reduction=reduction), reduce(kl_divergence(q, prior), reduction))


def test_kl_normal_corrects_the_notes_constant():
    d = 5
    mu, logvar = torch.zeros(d), torch.zeros(d)
    assert losses.kl_normal(mu, logvar).item() == 0.0  # KL[N(0, I) ‖ N(0, I)] = 0
    sigma = (0.5 * logvar).exp()
    notes = 0.5 * (mu @ mu + sigma @ sigma - 2 * sigma.log().sum()) - d
    assert notes.item() == pytest.approx(-d / 2)  # the notes' "½(...) − d" would be negative


# Registry ------------------------------------------------------------------------------------------------

NAMES = {
    "l2", "mse", "l1", "smooth_l1", "nll", "cross_entropy", "bce", "bce_with_logits", "kl_div",
    "margin_ranking", "triplet_margin", "cosine_embedding",
}  # fmt: skip


def example_args(name: str) -> tuple[torch.Tensor, ...]:
    g = gen(13)
    x, y, _ = classification()
    if name in ("l2", "mse", "l1", "smooth_l1"):
        return regression_pair()
    if name == "nll":
        return log_softmax_formula(x), y
    if name == "cross_entropy":
        return x, y
    if name == "bce":
        return torch.rand(N, generator=g, dtype=torch.float64), torch.rand(
            N, generator=g, dtype=torch.float64
        )
    if name == "bce_with_logits":
        return torch.randn(N, generator=g, dtype=torch.float64), torch.rand(
            N, generator=g, dtype=torch.float64
        )
    if name == "kl_div":
        return log_softmax_formula(x), torch.softmax(x.flip(0), dim=1)
    if name in ("margin_ranking", "cosine_embedding"):
        shape = (N,) if name == "margin_ranking" else (N, 3)
        sign = torch.randint(0, 2, (N,), generator=g).double() * 2 - 1
        return (
            torch.randn(shape, generator=g, dtype=torch.float64),
            torch.randn(shape, generator=g, dtype=torch.float64),
            sign,
        )
    return tuple(torch.randn(3, N, 4, generator=g, dtype=torch.float64))


def test_registry_names_tags_and_builders():
    assert set(LOSSES.names()) >= NAMES
    for name in NAMES:
        entry = LOSSES.entry(name)
        assert "L1" in entry.tags and entry.doc
        args = example_args(name)
        values = {r: LOSSES.build(name, reduction=r)(*args) for r in REDUCTIONS}
        fn = getattr(losses, name)
        for r in REDUCTIONS:
            close(values[r], fn(*args, reduction=r))
        pointwise = values["none"]
        assert pointwise.dim() >= 1
        close(values["sum"], pointwise.sum())
        if name not in ("nll", "cross_entropy"):  # those divide by Σ w_{y_n}, here = N
            close(values["mean"], pointwise.mean())
        close(LOSSES.build(name)(*args, reduction="sum"), values["sum"])  # call-time keyword wins
    json.dumps({e.name: list(e.tags) for e in LOSSES})


def test_builder_and_function_errors():
    with pytest.raises(UserError, match="accepts"):
        LOSSES.build("l1", beta=2.0)
    with pytest.raises(UserError, match="reduction"):
        LOSSES.build("l2", reduction="avg")
    assert LOSSES.build("kl_div", reduction="batchmean")
    with pytest.raises(UserError, match="did you mean"):
        LOSSES.build("cross_entropi")
    x, y = regression_pair()
    with pytest.raises(ValueError, match="reduction"):
        losses.l2(x, y, reduction="avg")
    with pytest.raises(ValueError, match="reduction"):
        losses.kl_normal(x, y, reduction="batchmean")
    with pytest.raises(ValueError, match="beta"):
        losses.smooth_l1(x, y, beta=-1.0)
    ce = LOSSES.build("cross_entropy", weight=torch.ones(C, dtype=torch.float64), label_smoothing=0.1)
    x, y, _ = classification()
    close(ce(x, y), losses.cross_entropy(x, y, label_smoothing=0.1))
