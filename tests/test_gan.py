"""GAN losses, gradient penalty, optimal discriminator, generative metrics and every GAN model's step."""

import json
import math
from pathlib import Path

import pytest
import torch

from dlcanon.config import TrainConfig
from dlcanon.data import load_data, mixture_modes
from dlcanon.data.base import DataBundle, Split
from dlcanon.errors import UserError
from dlcanon.metrics.feature_net import load_feature_net, recorded
from dlcanon.metrics.generative import (
    frechet_distance,
    gaussian_frechet_distance,
    mode_coverage,
    precision_recall,
    sample_quality,
)
from dlcanon.objectives import gan_losses as L
from dlcanon.objectives.gan import GAN
from dlcanon.objectives.gan_variants import LAPGAN, ProGAN, StyleGAN, build_gan, gan_objective
from dlcanon.registry import MODELS, PRESETS
from dlcanon.runs import build_objective, default_config
from dlcanon.train import Trainer

GAN_PRESETS = [e.name for e in PRESETS if default_config(e.name).objective in ("gan", "wgan", "wgan-gp")]


def test_frechet_distance_of_a_set_with_itself_is_zero():
    x = torch.randn(500, 6, generator=torch.Generator().manual_seed(0))
    assert frechet_distance(x, x) == pytest.approx(0.0, abs=1e-8)


def test_frechet_distance_matches_the_closed_form_for_gaussians():
    # commuting covariances: FD = ‖μ₁ − μ₂‖² + Σ_i (√a_i − √b_i)²
    a, b = torch.tensor([1.0, 4.0, 9.0]), torch.tensor([4.0, 1.0, 0.25])
    mu1, mu2 = torch.zeros(3), torch.tensor([1.0, 2.0, 0.0])
    expected = 5.0 + float(((a.sqrt() - b.sqrt()) ** 2).sum())
    assert gaussian_frechet_distance(mu1, torch.diag(a), mu2, torch.diag(b)) == pytest.approx(expected)
    # a rotated pair: invariant under a common rotation, and sampled statistics converge to it
    q, _ = torch.linalg.qr(torch.randn(3, 3, generator=torch.Generator().manual_seed(1), dtype=torch.float64))
    s1, s2 = q @ torch.diag(a).double() @ q.T, q @ torch.diag(b).double() @ q.T
    assert gaussian_frechet_distance(q @ mu1.double(), s1, q @ mu2.double(), s2) == pytest.approx(expected)
    g = torch.Generator().manual_seed(2)
    x = torch.randn(200_000, 3, generator=g) * a.sqrt() + mu1
    y = torch.randn(200_000, 3, generator=g) * b.sqrt() + mu2
    assert frechet_distance(x, y) == pytest.approx(expected, rel=0.02)


def test_precision_recall_are_one_for_identical_sets_and_fall_when_modes_are_dropped():
    centres, std = mixture_modes("grid25")
    g = torch.Generator().manual_seed(0)
    real = centres[torch.arange(1000) % 25] + std * torch.randn(1000, 2, generator=g)
    assert precision_recall(real, real) == (1.0, 1.0)
    kept = real[(torch.arange(1000) % 25) < 5]  # 5 of 25 modes
    precision, recall = precision_recall(real, kept)
    assert precision > 0.95 and recall < 0.3
    expected = {"frechet_distance": frechet_distance(real, kept), "precision": precision, "recall": recall}
    assert sample_quality(real, kept) == expected
    off = real + 1.0  # every sample between modes
    assert precision_recall(real, off)[0] < 0.05


def test_mode_coverage_counts_planted_samples():
    centres, std = mixture_modes("ring8")
    g = torch.Generator().manual_seed(0)
    on = centres[torch.arange(2000) % 5] + std * torch.randn(2000, 2, generator=g)  # modes 0..4 only
    off = torch.zeros(500, 2)  # the centre of the ring: far from every mode
    out = mode_coverage(torch.cat([on, off]), centres, std)
    assert out["modes_covered"] == 5
    # in 2-D, P(‖ε‖ ≤ 3σ) = 1 − exp(−9/2) ≈ 0.989 (a χ with 2 degrees of freedom)
    assert out["high_quality_share"] == pytest.approx(2000 / 2500 * (1 - math.exp(-4.5)), abs=0.01)


def test_gradient_penalty_of_a_linear_critic():
    w = torch.tensor([3.0, 4.0])  # ‖w‖ = 5 everywhere: penalty (5 − 1)² = 16
    critic = torch.nn.Linear(2, 1, bias=True)
    with torch.no_grad():
        critic.weight.copy_(w.unsqueeze(0))
    points = L.interpolates(torch.randn(8, 2), torch.randn(8, 2))
    penalty = L.gradient_penalty(lambda v: critic(v).squeeze(1), points)
    assert penalty.item() == pytest.approx(16.0)
    penalty.backward()  # d/dw (‖w‖ − 1)² = 2(‖w‖ − 1)·w/‖w‖
    assert torch.allclose(critic.weight.grad[0], 2 * 4 * w / 5)


def test_drift_penalty_adds_epsilon_times_the_mean_squared_real_score():
    assert L.drift_penalty(torch.tensor([1.0, -3.0])).item() == pytest.approx(5.0)
    torch.manual_seed(0)
    network = MODELS.build("mlp_gan", (2,), 8)
    batch = (torch.randn(16, 2), None)
    losses = {}
    for drift in (0.0, 0.5):
        torch.manual_seed(1)
        losses[drift] = GAN(network, loss="wgan", drift=drift)(batch, "discriminator")[0]
    with torch.no_grad():
        expected = 0.5 * network.discriminate(batch[0]).pow(2).mean()
    torch.testing.assert_close(losses[0.5] - losses[0.0], expected)


def test_r1_penalty_is_the_mean_squared_gradient_norm_on_real_samples():
    x = torch.randn(8, 3, dtype=torch.float64)
    # D(x) = ½‖x‖² has ∇D = x: R1 = E‖x‖²; a linear critic w·x has R1 = ‖w‖² whatever x
    assert L.r1_penalty(lambda v: 0.5 * v.pow(2).sum(1), x).item() == pytest.approx(x.pow(2).sum(1).mean().item())
    w = torch.tensor([3.0, 4.0, 0.0], dtype=torch.float64, requires_grad=True)
    penalty = L.r1_penalty(lambda v: v @ w, x)
    assert penalty.item() == pytest.approx(25.0)
    penalty.backward()  # d/dw ‖w‖² = 2w: differentiable, as the critic's loss needs
    torch.testing.assert_close(w.grad, 2 * w.detach())


def test_r1_adds_half_gamma_times_the_penalty_to_the_discriminators_loss_only():
    torch.manual_seed(0)
    network = MODELS.build("mlp_gan", (2,), 8)
    batch = (torch.randn(16, 2), None)
    losses = {}
    for r1 in (0.0, 4.0):
        torch.manual_seed(1)
        losses[r1] = GAN(network, r1=r1)(batch, "discriminator")[0]
    expected = 2.0 * L.r1_penalty(network.discriminate, batch[0])  # γ/2 = 2; 2-D points are not rescaled
    torch.testing.assert_close(losses[4.0] - losses[0.0], expected.detach())
    for r1 in (0.0, 4.0):
        torch.manual_seed(1)
        losses[r1] = GAN(network, r1=r1)(batch, "generator")[0]
    assert losses[4.0].item() == losses[0.0].item()
    with pytest.raises(UserError, match="r1 ≥ 0"):
        GAN(network, r1=-1.0)


def test_interpolates_draw_one_epsilon_per_sample():
    real, fake = torch.zeros(4, 1, 3, 3), torch.ones(4, 1, 3, 3)
    x = L.interpolates(real, fake)
    assert all(torch.unique(x[i]).numel() == 1 for i in range(4)) and torch.unique(x).numel() == 4


def test_optimal_discriminator_and_the_js_identity_on_known_densities():
    x = torch.linspace(-8, 8, 20_001, dtype=torch.float64)
    dx = float(x[1] - x[0])

    def normal(mu: float, s: float) -> torch.Tensor:
        return torch.exp(-0.5 * ((x - mu) / s) ** 2) / (s * math.sqrt(2 * math.pi))

    p, q = normal(0.0, 1.0), normal(1.5, 0.7)
    d_star = L.optimal_discriminator(p, q)
    v_star = L.value_on_grid(d_star, p, q, dx)
    assert float(v_star) == pytest.approx(float(2 * L.js_divergence(p, q, dx) - L.LOG4), abs=1e-6)
    for d in (torch.full_like(x, 0.5), torch.sigmoid(x), d_star.clamp(0.1, 0.9)):  # D* maximises V
        assert L.value_on_grid(d, p, q, dx) <= v_star + 1e-9
    assert float(L.value_on_grid(L.optimal_discriminator(p, p), p, p, dx)) == pytest.approx(-L.LOG4, abs=1e-6)


def test_losses_in_terms_of_probabilities():
    d = torch.tensor([0.3, -1.2])
    prob = torch.sigmoid(d)
    assert L.nonsaturating_generator_loss(d) == pytest.approx(float(-prob.log().mean()))
    assert L.minimax_generator_loss(d) == pytest.approx(float((1 - prob).log().mean()))
    assert L.discriminator_loss(d, d) == pytest.approx(float(-(prob.log() + (1 - prob).log()).mean()))


@pytest.mark.parametrize("data", ["mnist5k", "digits"])
def test_shipped_metric_classifiers_reproduce_their_recorded_accuracy(data):
    bundle, net = load_data(data), load_feature_net(data)
    with torch.no_grad():
        accuracy = (net(bundle.test.x).argmax(1) == bundle.test.y).float().mean().item()
    assert accuracy == pytest.approx(recorded(data)["test_accuracy"], abs=2e-3) and accuracy > 0.9
    assert sum(p.numel() for p in net.parameters()) * 4 < 1_000_000


def _tiny(shape: tuple[int, ...], kind: str) -> DataBundle:
    g = torch.Generator().manual_seed(0)
    x = torch.rand(32, *shape, generator=g)
    y = torch.arange(32) % 4
    return DataBundle("tiny", Split(x, y), Split(x[:8], y[:8]), 4, kind)


VARIANT = {"lapgan": LAPGAN, "progan": ProGAN, "stylegan": StyleGAN}


@pytest.mark.parametrize("name", GAN_PRESETS)
def test_every_gan_preset_takes_one_declared_step_through_the_trainer(name):
    cfg = default_config(name, device="cpu", epochs=1, batch_size=4, precision="fp32", tensorboard=False, lr=1e-4)
    points = MODELS.entry(cfg.model).meta["data"] in ("ring8", "grid25", "gaussians8")
    bundle = _tiny((2,) if points else (1, 8, 8), "points" if points else "image")
    torch.manual_seed(0)
    objective = build_objective(cfg, bundle)
    assert type(objective) is VARIANT.get(cfg.model, GAN)  # the network's declared variant picks the objective
    trainer = Trainer(objective, bundle, cfg, progress=False)
    before = {n: p.detach().clone() for n, p in objective.named_parameters()}
    names = [u.name for u in trainer.updates]
    trainer.train_step(trainer.batches(0), torch.zeros((), dtype=torch.float64))
    changed = {n.split(".")[1] for n, p in objective.named_parameters() if not torch.equal(before[n], p)}
    assert names == ["discriminator", "generator"] and {"generator", "discriminator"} <= changed
    assert all(p.grad is None for p in objective.network.discriminator.parameters())  # G's step left none
    # no player keeps an optimiser of its own: --lr reaches the critic and the generator
    assert [g["initial_lr"] for opt in trainer.optimizers for g in opt.param_groups] == [pytest.approx(1e-4)] * 2
    assert objective.ema_modules() == ["network.generator"]
    with torch.no_grad():
        metrics = objective.eval().evaluate(trainer.eval_batches())
    assert all(math.isfinite(v) for v in metrics.values())
    assert objective.sample(4).shape == (4, *bundle.input_shape)


def test_the_loss_pair_is_chosen_once_by_name():
    from dlcanon.errors import UserError

    net = MODELS.build("mlp_gan", (2,), 8)
    assert GAN(net).losses == L.LOSS_PAIRS["gan"] and GAN(net).n_critic == 1
    wgan = GAN(net, loss="wgan")
    assert wgan.losses.clip and not wgan.losses.penalty and wgan.n_critic == 5
    assert GAN(net, loss="wgan-gp", n_critic=2).n_critic == 2
    minimax = GAN(net, generator_loss="minimax")
    assert minimax.losses.generator is L.minimax_generator_loss
    torch.manual_seed(0)
    batch = (torch.randn(16, 2), None)
    torch.manual_seed(1)
    loss, _ = minimax(batch, "generator")
    torch.manual_seed(1)  # the same z: the objective's loss is the pair's generator loss on d(G(z))
    fake = net.generate(net.sample_z(16, "cpu"))
    torch.testing.assert_close(loss, L.minimax_generator_loss(net.discriminate(fake)))
    with pytest.raises(UserError, match="Wasserstein"):
        GAN(net, loss="wgan", generator_loss="minimax")
    with pytest.raises(UserError, match="loss must be one of gan, wgan, wgan-gp"):
        GAN(net, loss="lsgan")
    with torch.no_grad():  # WGAN clips the critic before using it
        next(net.discriminator.parameters()).fill_(1.0)
    wgan(batch, "discriminator")
    assert float(next(net.discriminator.parameters()).detach().max()) == pytest.approx(0.01)


def test_a_network_without_the_protocol_is_a_user_error_naming_what_is_missing():
    from dlcanon.errors import UserError

    with pytest.raises(UserError, match=r"AdversarialNetwork's members; MLP lacks .*discriminate, .*generate"):
        build_gan(MODELS.build("mlp", (1, 8, 8), 10))
    dcgan = MODELS.build("dcgan", (1, 8, 8), 10)
    with pytest.raises(UserError, match="GrowingNetwork's members; GANNetwork lacks set_level, set_progress, stage"):
        ProGAN(dcgan)
    with pytest.raises(UserError, match="PyramidNetwork's members; GANNetwork lacks generate_pyramid, training_fakes"):
        LAPGAN(dcgan)
    with pytest.raises(UserError, match="StyleNetwork's members; GANNetwork lacks default_crossover, mix, style_lay"):
        StyleGAN(dcgan)


def test_progan_grows_with_the_trainers_step_and_shows_every_resolution_reached():
    from dlcanon.models.progan import level_and_alpha

    torch.manual_seed(0)
    objective = gan_objective(MODELS.build("progan", (1, 8, 8), 10, phase_steps=2, width=4), "wgan-gp", n_critic=1)
    assert type(objective) is ProGAN and objective.network.stage == (0, 1.0)
    for step in (0, 2, 3, 5):
        objective.on_step(step, 10)
        assert objective.network.stage == level_and_alpha(step, 1, 2)
    bundle = _tiny((1, 8, 8), "image")
    cfg = TrainConfig(model="progan", objective="wgan-gp", device="cpu", steps=3, batch_size=4, tensorboard=False)
    Trainer(objective, bundle, cfg, progress=False).fit()  # steps 0, 1, 2: the last one starts the 8×8 fade-in
    assert objective.network.stage == (1, 0.0)
    objective.network.set_level(1, 0.5)
    views = objective.eval().views(bundle.test, 3)
    assert set(views) == {"samples", "resolutions"} and objective.network.stage == (1, 0.5)  # restored
    rows = views["resolutions"].images.view(2, 3, 1, 8, 8)  # level 0 (4×4, up-sampled), level 1 (8×8)
    assert torch.equal(rows[0], torch.nn.functional.interpolate(rows[0][..., ::2, ::2], scale_factor=2))
    assert not torch.equal(rows[1], torch.nn.functional.interpolate(rows[1][..., ::2, ::2], scale_factor=2))


def test_progressive_gan_schedule_and_every_level_outputs_the_data_size():
    from dlcanon.models.progan import build_progan, level_and_alpha

    assert [level_and_alpha(t, 2, 10) for t in (0, 9, 10, 15, 20, 29, 30, 35, 50, 99)] == [
        (0, 1.0), (0, 1.0), (1, 0.0), (1, 0.5), (1, 1.0), (1, 1.0), (2, 0.0), (2, 0.5), (2, 1.0), (2, 1.0),
    ]  # fmt: skip
    net = build_progan((1, 28, 28), 10, phase_steps=10)
    x = torch.rand(3, 1, 28, 28)
    for step in (0, 15, 35, 60):
        net.set_progress(step)
        assert net.generate(net.sample_z(3, "cpu")).shape == (3, 1, 28, 28)
        assert net.discriminate(x).shape == (3,)
    net.set_progress(0)  # at s₀ = 7 the generator's image is constant on 4×4 blocks
    image = net.generate(net.sample_z(1, "cpu"))
    assert torch.equal(image, torch.nn.functional.interpolate(image[..., ::4, ::4], scale_factor=4))


@pytest.mark.parametrize("layer", ["adain", "modulate"])
def test_stylegan_truncation_to_the_mean_style_and_mixing_grid(layer):
    torch.manual_seed(0)
    objective = build_gan(MODELS.build("stylegan", (1, 8, 8), 10, layer=layer)).eval()
    same = objective.sample(4, truncation=0.0)  # every w = w̄ and the noise strengths start at 0
    assert torch.allclose(same, same[:1].expand_as(same), atol=1e-6)
    assert not torch.allclose(*objective.sample(2, seed=0))
    grid, nrow = objective.style_mixing(3)
    assert grid.shape == (16, 1, 8, 8) and nrow == 4
    views = objective.views(None, 4, truncation=0.0)  # the samples with the user's ψ, and the mixing grid
    assert set(views) == {"samples", "mixing"} and views["mixing"].nrow == 6
    assert torch.allclose(views["samples"].images, same)


def test_adain_sets_each_channels_mean_and_spread_to_the_style():
    """AdaIN(x, w) = y_s·(x − μ(x))/σ(x) + y_b: per sample and channel, the output's mean over the pixels is y_b
    and its (population) standard deviation y_s, whatever x's were."""
    from dlcanon.models.stylegan import AdaIN

    torch.manual_seed(0)
    adain = AdaIN(6, 16)
    x, w = 3 + 5 * torch.randn(4, 6, 9, 9), torch.randn(4, 16)
    out = adain(x, w).detach()
    y_s, y_b = adain.scale(w).detach(), adain.shift(w).detach()
    torch.testing.assert_close(out.mean((2, 3)), y_b, rtol=1e-4, atol=1e-4)
    torch.testing.assert_close(out.std((2, 3), unbiased=False), y_s.abs(), rtol=1e-3, atol=1e-4)


def test_style_mixing_splits_the_styles_at_the_crossover():
    """mix(A, B, crossover=L) is A's image and mix(A, B, crossover=0) B's; the default crossover is the output
    resolution's first layer (for 28×28 digits: layer 3 of 5, after the 7×7 layer and the two 14×14 ones)."""
    torch.manual_seed(0)
    net = MODELS.build("stylegan", (1, 28, 28), 10).eval()  # noise strengths start at 0: images are deterministic
    za, zb = net.sample_z(3, "cpu"), net.sample_z(3, "cpu")
    with torch.no_grad():
        a, b = net.generate(za), net.generate(zb)
        torch.testing.assert_close(net.mix(za, zb, crossover=net.style_layers), a)
        torch.testing.assert_close(net.mix(za, zb, crossover=0), b)
        assert (net.style_layers, net.default_crossover) == (5, 3)
        mixed = net.mix(za, zb)
        assert not torch.allclose(mixed, a) and not torch.allclose(mixed, b)


def grouped_modulated_conv(conv, x, w):
    """The paper's form: per-sample weights w''_{n,oik} = d_{n,o}·s_{n,i}·c·w_{oik}, one group per sample."""
    n, c, h, wd = x.shape
    weight = (conv.scale * conv.weight).unsqueeze(0) * conv.affine(w)[:, None, :, None, None]  # (N, out, in, k, k)
    if conv.demodulate:
        weight = weight * torch.rsqrt(weight.pow(2).sum((2, 3, 4), keepdim=True) + 1e-8)
    out = torch.nn.functional.conv2d(x.reshape(1, n * c, h, wd), weight.flatten(0, 1), padding=conv.padding, groups=n)
    return out.view(n, -1, h, wd)


@pytest.mark.parametrize("demodulate", [True, False])
def test_modulated_convolution_equals_its_per_sample_weight_form(demodulate):
    from dlcanon.models.stylegan import ModulatedConv2d

    torch.manual_seed(0)
    conv = ModulatedConv2d(5, 7, 3, 16, demodulate=demodulate)
    x, w = torch.randn(4, 5, 6, 6), torch.randn(4, 16)
    fast, grouped = conv(x, w), grouped_modulated_conv(conv, x, w)
    assert fast.shape == (4, 7, 6, 6)
    torch.testing.assert_close(fast, grouped, rtol=1e-4, atol=1e-5)
    if demodulate:  # unit-variance input → demodulated output has about unit variance per channel
        big = conv(torch.randn(256, 5, 6, 6), torch.randn(256, 16))
        assert 0.7 < float(big.detach().var()) < 1.3


@pytest.mark.slow  # ~28 s: four CLI processes; the VAE's and the classifier's round trips stay in the default suite
def test_cli_train_eval_sample_round_trip(tmp_path):

    from helpers import dlcanon

    run = tmp_path / "nsgan"
    common = ["--epochs", "1", "--set", "tensorboard=false", "--json"]
    out = dlcanon("train", "nsgan", "--out", str(run), "--set", "data_args.n_train=2000", *common)
    assert out.returncode == 0, out.stderr
    metrics = json.loads(dlcanon("eval", str(run), "--json").stdout)["metrics"]
    assert set(metrics) == {"test_modes_covered", "test_high_quality_share"}
    assert json.loads(dlcanon("sample", str(run), "--json").stdout)["samples"].endswith(".png")
    assert "conditional" in dlcanon("sample", str(run), "--label", "1").stderr
    style = tmp_path / "style"
    out = dlcanon("train", "stylegan", "--data", "digits", "--out", str(style), *common)
    assert out.returncode == 0, out.stderr
    assert set(json.loads(out.stdout)["metrics"]) >= {"test_frechet_distance", "test_precision", "test_recall"}
    sample = json.loads(dlcanon("sample", str(style), "--truncation", "0.7", "--mixing", "--json").stdout)
    assert Path(sample["mixing"]).read_bytes()[:4] == b"\x89PNG"


def test_lapgan_chain_adds_a_residual_over_each_upsampled_coarser_image():
    from dlcanon.models.lapgan import pyramid, up

    torch.manual_seed(0)
    net = MODELS.build("lapgan", (1, 28, 28), 10).eval()
    z = net.sample_z(3, "cpu")
    torch.manual_seed(1)
    chain = net.generate_pyramid(z)
    assert [tuple(x.shape[1:]) for x in chain] == [(1, 7, 7), (1, 14, 14), (1, 28, 28)]
    torch.manual_seed(1)
    assert torch.equal(net.generate(z), chain[-1])  # the same chain, its last image
    torch.manual_seed(2)
    residual = net.refine(1, chain[0]) - up(chain[0])  # G₁'s band-pass output at 14×14
    assert residual.shape == (3, 1, 14, 14) and residual.abs().sum() > 0
    objective = build_gan(net)
    scales = objective.pyramid(4, seed=0)
    assert [x.shape[-1] for x in scales] == [7, 14, 28] and all(
        0 <= float(x.min()) <= float(x.max()) <= 1 for x in scales
    )
    views = objective.views(None, 4)
    assert set(views) == {"samples", "scales"} and views["scales"].images.shape == (12, 1, 28, 28)
    torch.testing.assert_close(views["scales"].images[:4, ..., ::4, ::4], objective.pyramid(4)[0])  # row 0: 7×7
    lows = pyramid(torch.rand(2, 1, 28, 28), 2)
    assert [x.shape[-1] for x in lows] == [28, 14, 7]
    torch.testing.assert_close(lows[2].mean(), lows[0].mean())  # average pooling keeps the mean


def test_progan_channels_halve_per_resolution_and_phases_end_where_the_next_level_fades_in():
    from dlcanon.experiments.gan_scales import progan_level_ends
    from dlcanon.models.progan import level_channels

    assert level_channels(32, 2) == [32, 16, 8] and level_channels(64, 4) == [64, 32, 16, 8, 8]
    assert level_channels(4, 2) == [4, 4, 4]
    small = MODELS.build("progan", (1, 28, 28), 10, width=4)
    assert small.generate(small.sample_z(2, "cpu")).shape == (2, 1, 28, 28)
    net = MODELS.build("progan", (1, 28, 28), 10, phase_steps=5)
    assert [rgb.weight.shape[1] for rgb in net.generator.to_rgb] == [32, 16, 8]
    assert progan_level_ends(5, 2, 40) == [5, 15, 40]
    with pytest.raises(ValueError, match="before the last"):
        progan_level_ends(5, 2, 20)


def test_at_scale_matches_real_and_generated_images_at_a_coarse_side():
    from dlcanon.experiments.gan_scales import at_scale

    x = torch.rand(2, 1, 28, 28)
    coarse = at_scale(x, 7)
    assert coarse.shape == x.shape and torch.equal(coarse, at_scale(torch.nn.functional.avg_pool2d(x, 4), 7))
    assert torch.equal(at_scale(x, 28), x)


@pytest.mark.slow
@pytest.mark.parametrize(
    "name",
    ["dcgan_digits", "cgan_conditional", "lapgan_pyramid", "progan_growth", "stylegan_styles", "gan_mode_collapse"],
)
def test_gan_experiments_hold_in_quick_mode(tmp_path, name):
    from dlcanon.reproduce import run_one

    record = run_one(name, quick=True, out=tmp_path)
    assert record["holds"] is not bool(record["disagrees"]), (record["verdict"], record["disagrees"])  # as declared


@pytest.mark.slow  # a CLI round trip of ~15-40 s: `make test-slow`
def test_cli_sample_writes_lapgans_chain_at_every_scale(tmp_path):
    from helpers import dlcanon

    run = tmp_path / "lapgan"
    out = dlcanon(
        "train", "lapgan", "--data", "digits", "--epochs", "1", "--out", str(run), "--set", "tensorboard=false"
    )
    assert out.returncode == 0, out.stderr
    sample = json.loads(dlcanon("sample", str(run), "--n", "8", "--json").stdout)
    assert Path(sample["scales"]).read_bytes()[:4] == b"\x89PNG"


def test_wgan_gp_refuses_a_critic_with_batchnorm_and_a_pyramid():
    from dlcanon.errors import UserError

    with pytest.raises(UserError, match="batchnorm=false"):
        GAN(MODELS.build("dcgan", (1, 28, 28), 10), loss="wgan-gp")
    GAN(MODELS.build("dcgan", (1, 28, 28), 10, batchnorm=False), loss="wgan-gp")  # accepted
    with pytest.raises(UserError, match="Wasserstein"):
        GAN(MODELS.build("dcgan", (1, 28, 28), 10), loss="gan", drift=0.001)
    with pytest.raises(UserError, match="lapgan"):
        gan_objective(MODELS.build("lapgan", (1, 28, 28), 10), "wgan-gp")


@pytest.mark.slow  # a CLI round trip of ~15-40 s: `make test-slow`
def test_eval_scores_a_gan_in_a_users_exported_feature_extractor(tmp_path):
    from dlcanon.metrics.feature_net import ExternalFeatures
    from helpers import dlcanon

    class Pooled(torch.nn.Module):  # a stand-in for Inception: [0, 1] RGB images → 12 features
        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return torch.nn.functional.adaptive_avg_pool2d(x, 2).flatten(1)

    path = tmp_path / "features.pt2"
    batch = {"x": {0: torch.export.Dim("batch")}}
    torch.export.save(torch.export.export(Pooled(), (torch.rand(4, 3, 8, 8),), dynamic_shapes=batch), path)
    extractor = ExternalFeatures(path)
    gray = torch.rand(5, 1, 8, 8)
    assert torch.equal(extractor.features(gray), Pooled()(gray.expand(-1, 3, -1, -1)))
    run = tmp_path / "cgan"
    out = dlcanon("train", "cgan", "--data", "digits", "--epochs", "1", "--out", str(run), "--set", "tensorboard=false")
    assert out.returncode == 0, out.stderr
    shipped = json.loads(dlcanon("eval", str(run), "--json").stdout)["metrics"]
    external = json.loads(dlcanon("eval", str(run), "--features", str(path), "--json").stdout)["metrics"]
    assert "test_conditional_accuracy" in shipped and "test_conditional_accuracy" not in external  # no classifier
    assert external["test_frechet_distance"] != shipped["test_frechet_distance"] >= 0
    bad = dlcanon("eval", str(run), "--features", str(tmp_path / "missing.pt2"))
    assert bad.returncode == 2 and "torch.export" in bad.stderr
    fixed = tmp_path / "fixed.pt2"  # exported for 16×16 images only: a one-line error, not a traceback
    torch.export.save(torch.export.export(Pooled(), (torch.rand(4, 3, 16, 16),), dynamic_shapes=batch), fixed)
    bad = dlcanon("eval", str(run), "--features", str(fixed))
    assert bad.returncode == 2 and "rejects images of shape" in bad.stderr and "Traceback" not in bad.stderr


@pytest.mark.parametrize(("shape", "sides"), [((1, 28, 28), [7, 14, 28]), ((3, 32, 32), [4, 8, 16, 32])])
def test_dcgan_doubles_the_side_with_each_fractional_strided_convolution(shape, sides):
    torch.manual_seed(0)
    net = MODELS.build("dcgan", shape, 10)
    seen = []
    hooks = [m.register_forward_hook(lambda m, i, o: seen.append(o.shape[-1])) for m in net.generator.modules()
             if isinstance(m, torch.nn.ConvTranspose2d | torch.nn.Unflatten)]  # fmt: skip
    x = net.generate(net.sample_z(2, "cpu"))
    assert seen == sides and x.shape == (2, *shape) and float(x.detach().abs().max()) <= 1  # tanh output
    assert net.discriminate(x).shape == (2,)
    strided = [m for m in net.discriminator.modules() if isinstance(m, torch.nn.Conv2d)]
    assert all(m.stride == (2, 2) and m.kernel_size == (4, 4) for m in strided) and len(strided) == len(sides) - 1
    convs = [m.weight for m in net.modules() if isinstance(m, torch.nn.Conv2d | torch.nn.ConvTranspose2d)]
    assert all(abs(float(w.detach().std()) - 0.02) < 0.005 for w in convs)  # N(0, 0.02) initialisation
    for h in hooks:
        h.remove()
