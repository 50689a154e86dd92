"""G3-G5: VAE, conditional VAE and NVAE objectives: bounds, likelihoods, binarisation, labels, shapes."""

import math

import pytest
import torch
from torch import nn

from dlcanon.errors import UserError
from dlcanon.models import build_model
from dlcanon.models.vae import VAENetwork, build_mlp_vae
from dlcanon.objectives.nvae import kl_balance_coefficients, power_iteration, spectral_norm
from dlcanon.objectives.ppca import ppca_closed_form, ppca_log_likelihood
from dlcanon.objectives.vae import VAE, kl_weight
from dlcanon.registry import MODELS, OBJECTIVES


def small_vae(**kwargs) -> VAE:
    torch.manual_seed(0)
    return VAE(build_mlp_vae((1, 8, 8), 10, latent_dim=4, hidden=(32,)), **kwargs)


def test_bernoulli_log_likelihood_is_the_hand_formula():
    vae = small_vae()
    x = torch.rand(3, 1, 8, 8).round()
    logits = torch.randn(3, 1, 8, 8) * 3
    p = torch.sigmoid(logits.double())
    hand = (x * p.log() + (1 - x) * (1 - p).log()).sum((1, 2, 3))
    assert torch.allclose(vae.log_px(x, logits).double(), hand, atol=1e-4)


def test_dynamic_binarisation_redraws_every_batch():
    vae = small_vae()
    x = torch.full((200, 1, 8, 8), 0.3)
    a, b = vae.observe(x), vae.observe(x)
    assert set(a.unique().tolist()) <= {0.0, 1.0} and not torch.equal(a, b)
    assert abs(float(a.mean()) - 0.3) < 0.02  # E[x_b] = x


def test_loss_is_reconstruction_plus_beta_kl_with_annealing():
    assert kl_weight(0, 1.0, 0) == 1.0 and kl_weight(50, 2.0, 100) == 1.0 and kl_weight(500, 2.0, 100) == 2.0
    x = (torch.rand(16, 1, 8, 8), torch.zeros(16, dtype=torch.long))
    vae = small_vae()  # β = 1: the negative ELBO, no hidden weight
    loss, logs = vae(x)
    assert loss.item() == pytest.approx((logs["reconstruction"] + logs["kl"]).item(), rel=1e-6)
    annealed = small_vae(anneal_steps=10)  # step 0: β = 0, only the reconstruction
    loss, logs = annealed(x)
    assert loss.item() == pytest.approx(logs["reconstruction"].item()) and int(annealed.step) == 1
    loss, logs = annealed(x)
    assert logs["beta"].item() == pytest.approx(0.1)


@torch.no_grad()
def test_monte_carlo_kl_option_matches_the_analytic_kl_on_average():
    image = torch.rand(1, 1, 8, 8, generator=torch.Generator().manual_seed(0)).round()
    x = (image.expand(500, 1, 8, 8), None)  # one image, 500 draws per batch
    mc, analytic = small_vae(kl="mc"), small_vae()
    mc.network.encoder.net.net[-1].weight.mul_(4)
    analytic.network.encoder.net.net[-1].weight.mul_(4)
    exact = analytic(x)[1]["kl"].item()
    draws = torch.stack([mc(x)[1]["kl"] for _ in range(20)])  # 20 means of 500 one-sample estimates
    assert exact > 0.1 and abs(draws.mean().item() - exact) < 4 * draws.std().item() / math.sqrt(20)


@torch.no_grad()
def test_iwae_is_at_least_the_elbo_and_grows_with_k():
    vae = small_vae()
    vae.eval()
    vae.network.encoder.net.net[-1].weight.mul_(4)  # q far from the posterior: gaps of nats, not hundredths
    x = vae.observe(torch.rand(20, 1, 8, 8))
    draw = vae.importance_terms(x, None)
    mean, se = {}, {}
    for k in (1, 10, 100):  # 40 independent estimates of L_k per image
        estimates = torch.stack([torch.logsumexp(draw(k)[0], 0) - math.log(k) for _ in range(40)])  # (40, 20)
        mean[k], se[k] = estimates.mean().item(), estimates.mean(1).std().item() / math.sqrt(40)
    _, log_px, kl = draw(4000)
    elbo = (log_px - kl).mean().item()  # E_q[log p(x|z)] − KL: the ELBO with the analytic KL
    assert abs(mean[1] - elbo) < 4 * se[1]  # L_1 = E[log w] is the ELBO
    assert mean[10] - mean[1] > 3 * (se[1] + se[10]) and mean[100] - mean[10] > 3 * (se[10] + se[100])
    metrics = vae.evaluate([(torch.rand(20, 1, 8, 8), None)])
    assert metrics["elbo"] < -metrics["nll_iwae"]
    assert metrics["elbo"] == pytest.approx(-metrics["reconstruction"] - metrics["kl"])
    torch.manual_seed(5)
    again = vae.evaluate([(torch.rand(20, 1, 8, 8), None)])
    torch.manual_seed(5)
    assert vae.evaluate([(torch.rand(20, 1, 8, 8), None)]) == again  # seeded noise: repeatable


class ExactPosterior(nn.Module):
    """The PPCA posterior N(M⁻¹Wᵀ(x − μ), σ²M⁻¹) (diagonal: W has orthogonal columns), optionally perturbed."""

    def __init__(self, w, mu, sigma2, *, shift=0.0, scale=1.0):
        super().__init__()
        m = w.T @ w + sigma2 * torch.eye(w.shape[1], dtype=w.dtype)
        self.w, self.mu, self.m, self.sigma2, self.shift, self.scale = w, mu, m, sigma2, shift, scale

    def forward(self, x, c=None):
        mean = torch.linalg.solve(self.m, self.w.T @ (x.flatten(1) - self.mu).T).T + self.shift
        logvar = torch.log(self.sigma2 * self.scale**2 / torch.diagonal(self.m)).expand_as(mean)
        return mean, logvar


class LinearDecoder(nn.Linear):
    """z ↦ Wz + μ, the mean of p(x|z); ignores a (absent) condition."""

    def forward(self, z, c=None):
        return super().forward(z)


def test_iwae_converges_to_the_exact_log_likelihood_of_a_linear_gaussian_model():
    g = torch.Generator().manual_seed(0)
    x = torch.randn(400, 3, generator=g, dtype=torch.float64) @ torch.randn(3, 6, generator=g, dtype=torch.float64)
    x = x + 0.5 * torch.randn(400, 6, generator=g, dtype=torch.float64)
    w, mu, sigma2 = ppca_closed_form(x, 2)
    exact = ppca_log_likelihood(x[:50], w, mu, sigma2).mean().item()
    decoder = LinearDecoder(2, 6).double()
    decoder.weight.data, decoder.bias.data = w.clone(), mu.clone()
    errors = {}
    for label, encoder in {
        "exact": ExactPosterior(w, mu, sigma2),
        "approx": ExactPosterior(w, mu, sigma2, shift=0.3, scale=1.6),
    }.items():
        net = VAENetwork(encoder, decoder, shape=(6,), latent_dim=2).double()
        vae = VAE(net, likelihood="gaussian", variance="fixed", sigma=math.sqrt(sigma2), levels=0).double()
        for k in (1, 10, 1000):
            vae.iwae_k = k
            m = vae.evaluate([(x[:50], None)])
            errors[label, k] = -m["nll_iwae"] - exact
        errors[label, "elbo"] = m["elbo"] - exact
    # with the true posterior as q, every weight equals p(x): ELBO = IWAE = log p(x)
    assert abs(errors["exact", 1]) < 1e-6 and abs(errors["exact", 1000]) < 1e-6 and abs(errors["exact", "elbo"]) < 0.05
    # with a wrong q the bounds are below log p(x) and close in as k grows
    assert errors["approx", "elbo"] < -0.5 and abs(errors["approx", "elbo"] - errors["approx", 1]) < 0.5
    assert errors["approx", 1] < errors["approx", 10] < errors["approx", 1000] and abs(errors["approx", 1000]) < 0.02


def test_conditional_samples_depend_on_the_label_and_labels_are_checked():
    torch.manual_seed(0)
    cvae = OBJECTIVES.build("cvae", build_model("cvae", (1, 8, 8), 10, latent_dim=4, hidden=(32,)))
    torch.manual_seed(1)
    threes = cvae.sample(5, label=3)
    torch.manual_seed(1)
    sevens = cvae.sample(5, label=7)
    torch.manual_seed(1)
    assert torch.equal(cvae.sample(5, label=3), threes)  # same z, same label: same images
    assert (threes - sevens).abs().amax((1, 2, 3)).min() > 1e-3  # same z, other label: other images
    with pytest.raises(UserError, match=r"0\.\.9"):
        cvae.sample(2, label=10)
    with pytest.raises(UserError, match="not conditional"):
        small_vae().sample(2, label=3)
    with pytest.raises(UserError, match="conditional network"):
        OBJECTIVES.build("cvae", build_mlp_vae((1, 8, 8), 10))


def test_nvae_kl_balancing_and_spectral_norm():
    kl = torch.tensor([[4.0, 1.0, 8.0]]).expand(5, 3)
    gamma = kl_balance_coefficients(kl, torch.tensor([1.0, 1.0, 4.0]))
    assert gamma.mean().item() == pytest.approx(1.0)
    assert gamma[0] / gamma[1] == pytest.approx(4.01 / 1.01) and gamma[2] / gamma[0] == pytest.approx(8.01 / 4.01 / 4)
    weight = torch.randn(8, 3, 3, 3)
    u = torch.nn.functional.normalize(torch.randn(8), dim=0)
    u, v = power_iteration(weight, u, iterations=200)
    assert spectral_norm(weight, u, v).item() == pytest.approx(torch.linalg.matrix_norm(weight.flatten(1), 2).item())


GENERATIVE = [n for n in MODELS.names() if MODELS.entry(n).meta.get("objective") in ("vae", "cvae", "nvae")]


@pytest.mark.parametrize("name", GENERATIVE)
def test_every_vae_model_steps_through_its_objective_and_generates(name):
    torch.manual_seed(0)
    objective = OBJECTIVES.build(MODELS.entry(name).meta["objective"], build_model(name, (1, 28, 28), 10), iwae_k=2)
    opt = torch.optim.Adam(objective.parameters(), 1e-3)
    batch = (torch.rand(4, 1, 28, 28), torch.arange(4))
    before = [p.detach().clone() for p in objective.parameters()]
    loss, logs = objective(batch)
    loss.backward()
    opt.step()
    assert torch.isfinite(loss) and {"reconstruction", "kl", "elbo"} <= set(logs)
    assert any(not torch.equal(a, b) for a, b in zip(before, objective.parameters(), strict=True))
    objective.eval()
    metrics = objective.evaluate([batch])
    assert {"elbo", "nll_iwae", "bits_per_dim", "reconstruction", "kl"} == set(metrics)
    assert metrics["nll_iwae"] <= -metrics["elbo"] + 5.0
    assert objective.sample(3).shape == (3, 1, 28, 28)
    assert objective.reconstruct(batch[0], batch[1]).shape == (4, 1, 28, 28)
    assert objective.interpolate(batch[0][:2], batch[0][2:], 5, y=batch[1][:2]).shape == (10, 1, 28, 28)


def test_latent_variable_models_and_objectives_are_registered():
    assert {"vae", "vae_conv", "cvae", "nvae", "ppca", "gmm"} <= set(MODELS.names())
    assert {"vae", "cvae", "nvae", "ppca", "gmm"} <= set(OBJECTIVES.names())
    assert MODELS.entry("vae").meta["objective"] == "vae" and MODELS.entry("ppca").meta["data"] == "digits"


def test_latent_models_declare_samples_reconstructions_and_interpolations():
    from dlcanon.data.base import Split
    from dlcanon.objectives.classifier import Classifier

    torch.manual_seed(0)
    cvae = OBJECTIVES.build("cvae", build_model("cvae", (1, 8, 8), 10, latent_dim=4, hidden=(32,))).eval()
    split = Split(torch.rand(60, 1, 8, 8), torch.arange(60) % 10)
    views = cvae.views(split, 6, label=3)
    assert set(views) == {"samples", "reconstructions", "interpolation"}
    assert views["samples"].images.shape == (6, 1, 8, 8)
    threes = split.x[split.y == 3]  # 6 test images of class 3: 3 pairs
    recon = views["reconstructions"]
    assert recon.nrow == 3 and torch.equal(recon.images[:3], threes[:3])  # originals over their reconstructions
    torch.testing.assert_close(recon.images[3:], cvae.reconstruct(threes[:3], torch.full((3,), 3)))
    path = views["interpolation"]  # t = 0 and t = 1 decode μ(x_a) and μ(x_b): the reconstructions of both ends
    assert path.nrow == 10 and path.images.shape == (30, 1, 8, 8)
    torch.testing.assert_close(path.images[::10], recon.images[3:])
    torch.testing.assert_close(path.images[9::10], cvae.reconstruct(threes[3:6], torch.full((3,), 3)))
    with pytest.raises(UserError, match=r"--truncation is not an option of VAE\.sample; it takes: label, temperature"):
        cvae.views(split, 2, truncation=0.7)
    ppca = OBJECTIVES.build("ppca", build_model("ppca", (1, 8, 8), 10))
    ppca.prepare(split)
    assert set(ppca.views(split, 2)) == set(views)
    assert Classifier(torch.nn.Linear(2, 2)).views(split, 4) == {}  # an objective that does not sample shows nothing


def test_a_bernoulli_vae_refuses_data_outside_0_1_before_anything_runs(tmp_path):
    """ring8's points lie in [−1, 1]: clamping them into a Bernoulli likelihood would report bits/dim of data
    the model never saw; the trainer refuses them when it is built, before a file is written."""
    from dlcanon.data import load_data
    from dlcanon.errors import UserError
    from dlcanon.runs import build_objective, default_config
    from dlcanon.train import Trainer

    data = load_data("ring8")
    cfg = default_config("vae", data="ring8", device="cpu", tensorboard=False)
    with pytest.raises(UserError, match=r"Bernoulli decoder models values in \[0, 1\]"):
        Trainer(build_objective(cfg, data), data, cfg, out_dir=tmp_path / "run")
    assert not (tmp_path / "run").exists()
    cfg.objective_args = {**cfg.objective_args, "likelihood": "gaussian"}
    Trainer(build_objective(cfg, data), data, cfg)  # the Gaussian decoder takes them
