"""G1, G2: probabilistic PCA in closed form and by EM; Gaussian mixtures by EM, against scikit-learn."""

import itertools
import warnings

import pytest
import torch

from dlcanon import checkpoint
from dlcanon.config import TrainConfig
from dlcanon.data import load_data
from dlcanon.data.base import DataBundle, Split
from dlcanon.data.sources import mixture_modes
from dlcanon.models.gmm import GaussianMixture
from dlcanon.models.ppca import LinearGaussian
from dlcanon.objectives.gmm import GMM, e_step, fit_em, initial_params, kmeans_plusplus
from dlcanon.objectives.ppca import PPCA, covariance, ppca_closed_form, ppca_em, ppca_log_likelihood
from dlcanon.train import fit


@pytest.fixture(scope="module")
def low_rank_data() -> torch.Tensor:
    """600 points in 12-D: a 3-D signal with distinct variances plus isotropic noise."""
    g = torch.Generator().manual_seed(0)
    basis = torch.linalg.qr(torch.randn(12, 3, generator=g, dtype=torch.float64))[0]
    z = torch.randn(600, 3, generator=g, dtype=torch.float64) * torch.tensor([3.0, 2.0, 1.0], dtype=torch.float64)
    return z @ basis.T + 0.3 * torch.randn(600, 12, generator=g, dtype=torch.float64) + 1.0


def test_ppca_closed_form_is_the_principal_subspace(low_rank_data):
    x, k = low_rank_data, 3
    w, mu, sigma2 = ppca_closed_form(x, k)
    evals, evecs = torch.linalg.eigh(covariance(x)[1])
    evals, evecs = evals.flip(0), evecs.flip(1)
    top = evecs[:, :k]
    projector = w @ torch.linalg.pinv(w)  # onto span(W)
    assert torch.allclose(projector, top @ top.T, atol=1e-10)
    assert sigma2 == pytest.approx(float(evals[k:].mean()))  # the mean of the discarded eigenvalues
    assert torch.allclose(torch.linalg.eigvalsh(w.T @ w).flip(0), evals[:k] - sigma2)  # WᵀW = Λ_K − σ²I
    assert torch.allclose(mu, x.mean(0))
    # it is a maximum: any perturbation lowers the training log-likelihood
    best = ppca_log_likelihood(x, w, mu, sigma2).mean()
    for dw, ds in ((0.05 * torch.randn_like(w), 0.0), (0.0, 0.01), (0.0, -0.01)):
        assert ppca_log_likelihood(x, w + dw, mu, sigma2 + ds).mean() < best


def test_ppca_em_converges_to_the_closed_form(low_rank_data):
    w, mu, sigma2 = ppca_closed_form(low_rank_data, 3)
    w_em, mu_em, sigma2_em = ppca_em(low_rank_data, 3, steps=3000)
    assert torch.equal(mu_em, mu)
    assert torch.allclose(w_em @ w_em.T, w @ w.T, atol=1e-8)  # W itself is defined up to a rotation R
    assert sigma2_em == pytest.approx(float(sigma2), rel=1e-6)


def test_ppca_log_likelihood_and_posterior_match_direct_gaussian_algebra(low_rank_data):
    x = low_rank_data
    w, mu, sigma2 = ppca_closed_form(x, 3)
    c = w @ w.T + sigma2 * torch.eye(12, dtype=torch.float64)
    direct = torch.distributions.MultivariateNormal(mu, c).log_prob(x)
    assert torch.allclose(ppca_log_likelihood(x, w, mu, sigma2), direct)
    net = LinearGaussian((12,), 3)
    net.W.copy_(w), net.mu.copy_(mu), net.sigma2.copy_(sigma2)
    mean, cov = net.posterior(x[:5].float())
    # Gaussian conditioning of the joint (z, x): E[z|x] = WᵀC⁻¹(x − μ), Cov = I − WᵀC⁻¹W
    ref_mean = (w.T @ torch.linalg.solve(c, (x[:5] - mu).T)).T
    ref_cov = torch.eye(3, dtype=torch.float64) - w.T @ torch.linalg.solve(c, w)
    assert torch.allclose(mean.double(), ref_mean, atol=1e-4) and torch.allclose(cov.double(), ref_cov, atol=1e-5)


def test_ppca_objective_fits_saves_and_reloads(tmp_path):
    data = load_data("digits")
    cfg = TrainConfig(model="ppca", data="digits", objective="ppca", device="cpu", tensorboard=False)
    objective = PPCA(LinearGaussian((1, 8, 8), 5))
    summary = fit(objective, data, cfg, out_dir=tmp_path)
    assert summary["steps"] == 0 and int(objective.levels) == 17  # digits: 17 grey levels, dequantised
    state = checkpoint.load(tmp_path / "checkpoint.pt")["objective"]
    again = PPCA(LinearGaussian((1, 8, 8), 5))
    again.load_state_dict(state)
    assert torch.equal(again.network.W, objective.network.W)
    test = [(data.test.x, data.test.y)]
    assert again.evaluate(test)["nll"] == pytest.approx(summary["metrics"]["test_nll"])
    assert summary["metrics"]["test_bits_per_dim"] < 4.09  # better than uniform over 17 levels (log2 17)


@pytest.fixture(scope="module")
def planted() -> DataBundle:
    return load_data("gaussians8", n_train=2000, n_test=1000)


@pytest.mark.parametrize("kind", ["full", "diag", "spherical"])
def test_gmm_em_never_lowers_the_log_likelihood(kind):
    """Exact EM (no covariance floor) on three overlapping 4-D clusters, from a k-means++ start."""
    g = torch.Generator().manual_seed(0)
    centres = torch.tensor([[0.0, 0, 0, 0], [1.5, 1, 0, 0], [0, 1.5, 1, 0]], dtype=torch.float64)
    scales = torch.rand(3, 1, 4, generator=g, dtype=torch.float64) + 0.5
    x = (centres[:, None] + scales * torch.randn(3, 300, 4, generator=g, dtype=torch.float64)).flatten(0, 1)
    start = initial_params(x, 4, kind, 0.0, generator=torch.Generator().manual_seed(0))
    _, history = fit_em(x, start, kind, max_iter=40, tol=0.0, reg_covar=0.0)
    assert len(history) == 40 and history[-1] > history[0] + 0.01
    assert all(b >= a - 1e-12 for a, b in itertools.pairwise(history))


def test_gmm_recovers_planted_clusters(planted):
    objective = GMM(GaussianMixture((2,), 8))
    objective.prepare(planted.train)
    metrics = objective.evaluate([(planted.test.x, planted.test.y)])
    assert metrics["adjusted_rand_index"] > 0.99
    modes, std = mixture_modes("gaussians8")
    error = torch.cdist(objective.network.means.float(), modes.float()).min(1).values
    assert error.max() < 0.01 and objective.network.log_weights.exp().min() > 0.1
    assert torch.allclose(
        objective.network.covariances.diagonal(dim1=1, dim2=2).sqrt().float(), torch.tensor(std), rtol=0.15
    )


def test_gmm_log_likelihood_matches_torch_mixture_and_survives_a_checkpoint(planted, tmp_path):
    cfg = TrainConfig(model="gmm", data="gaussians8", objective="gmm", device="cpu", tensorboard=False)
    summary = fit(GMM(GaussianMixture((2,), 8)), planted, cfg, out_dir=tmp_path)
    objective = GMM(GaussianMixture((2,), 8))  # a fresh one, from the checkpoint's buffers
    objective.load_state_dict(checkpoint.load(tmp_path / "checkpoint.pt")["objective"])
    assert objective.evaluate([(planted.test.x, planted.test.y)])["nll"] == pytest.approx(
        summary["metrics"]["test_nll"]
    )
    net, x = objective.network, planted.test.x.double()
    mixture = torch.distributions.MixtureSameFamily(
        torch.distributions.Categorical(logits=net.log_weights.double()),
        torch.distributions.MultivariateNormal(net.means.double(), net.covariances.double()),
    )
    assert torch.allclose(net.log_prob(x), mixture.log_prob(x))


@pytest.mark.parametrize("kind", ["full", "diag", "spherical"])
def test_gmm_agrees_with_scikit_learn_from_the_same_start(kind):
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.mixture import GaussianMixture as SkGMM

    x = load_data("digits").train.x.flatten(1).double()[:500] + 0.01 * torch.randn(500, 64, dtype=torch.float64)
    reg, k = 1e-3, 5
    start = initial_params(x, k, kind, reg, generator=torch.Generator().manual_seed(3))
    (log_w, means, cov), history = fit_em(x, start, kind, max_iter=15, tol=0.0, reg_covar=reg)
    precisions = torch.linalg.inv(start[2]) if kind == "full" else 1 / start[2]
    sk = SkGMM(k, covariance_type=kind, tol=0.0, reg_covar=reg, max_iter=15, weights_init=start[0].exp().numpy())
    sk.set_params(means_init=start[1].numpy(), precisions_init=precisions.numpy())
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        sk.fit(x.numpy())
    assert torch.allclose(means, torch.from_numpy(sk.means_), atol=1e-6)
    assert torch.allclose(log_w.exp(), torch.from_numpy(sk.weights_), atol=1e-8)
    assert torch.allclose(cov, torch.from_numpy(sk.covariances_), atol=1e-6)
    assert history[-1] == pytest.approx(sk.lower_bound_, abs=1e-6)
    assert float(e_step(x, (log_w, means, cov), kind)[1].mean()) == pytest.approx(sk.score(x.numpy()), abs=1e-6)


def test_kmeans_plusplus_picks_one_centre_per_separated_cluster():
    centres = torch.tensor([[0.0, 0.0], [10.0, 0.0], [0.0, 10.0], [10.0, 10.0]])
    x = (centres[:, None] + 0.1 * torch.randn(4, 50, 2)).flatten(0, 1)
    chosen = kmeans_plusplus(x, 4, generator=torch.Generator().manual_seed(0))
    assert all((x == c).all(1).any() for c in chosen)  # centres are data points
    assert len(set(torch.cdist(chosen, centres).argmin(1).tolist())) == 4


def test_gmm_objective_on_unlabelled_points_has_no_ari():
    split = Split(torch.randn(300, 2))
    objective = GMM(GaussianMixture((2,), 3))
    objective.prepare(split)
    assert set(objective.evaluate([(split.x, None)])) == {"nll"}  # continuous data: no bits per dimension
