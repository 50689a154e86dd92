"""S4: bicubic resampling, PSNR/SSIM against scikit-image, the `sr` data, SRResNet/SRGAN and the `sr` objective."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from skimage.metrics import peak_signal_noise_ratio, structural_similarity

from dlcanon.data import bicubic
from dlcanon.errors import UserError
from dlcanon.metrics.image_quality import psnr, rgb_to_y, ssim
from dlcanon.models import build_model
from dlcanon.objectives.super_resolution import SuperResolution


def images(n=2, h=40, w=36, seed=0):
    g = torch.Generator().manual_seed(seed)
    smooth = F.interpolate(torch.rand(n, 3, h // 4, w // 4, generator=g, dtype=torch.float64), size=(h, w),
                           mode="bilinear")  # fmt: skip
    return smooth, (smooth + 0.05 * torch.randn(n, 3, h, w, generator=g, dtype=torch.float64)).clamp(0, 1)


# ---------------------------------------------------------------- bicubic
def test_cubic_kernel_is_keys_with_a_minus_half():
    t = torch.tensor([0.0, 0.5, 1.0, 1.5, 2.0, 2.5], dtype=torch.float64)
    # a = −0.5: k(0.5) = 1.5·0.125 − 2.5·0.25 + 1 = 0.5625, k(1.5) = −0.5·3.375 + 2.5·2.25 − 4·1.5 + 2 = −0.0625
    assert torch.allclose(bicubic.cubic(t), torch.tensor([1, 0.5625, 0, -0.0625, 0, 0], dtype=torch.float64))


@pytest.mark.parametrize("size", [(10, 9), (20, 18), (160, 144), (13, 29)])
def test_resize_equals_torch_antialiased_bicubic(size):
    x, _ = images()
    ours = bicubic.resize(x, size)
    torch_aa = F.interpolate(x, size=size, mode="bicubic", antialias=True, align_corners=False)
    assert torch.allclose(ours, torch_aa, atol=1e-12)


def test_downscale_matches_pil_bicubic():
    from PIL import Image

    rng = np.random.default_rng(0)
    image = (rng.random((64, 48, 3)) * 255).astype(np.uint8)
    pil = np.asarray(Image.fromarray(image).resize((12, 16), Image.Resampling.BICUBIC)).astype(np.float64) / 255
    ours = bicubic.quantize(bicubic.downscale(torch.from_numpy(image).permute(2, 0, 1)[None].double() / 255, 4))
    assert np.abs(ours[0].permute(1, 2, 0).numpy() - pil).max() <= 2 / 255  # PIL works in fixed point


def test_resize_preserves_constants_and_flips_commute():
    c = torch.full((1, 3, 32, 32), 0.3, dtype=torch.float64)
    assert torch.allclose(bicubic.downscale(c, 4), torch.full((1, 3, 8, 8), 0.3, dtype=torch.float64))
    x, _ = images(h=32, w=32)
    assert torch.allclose(bicubic.downscale(x.flip(-1), 4), bicubic.downscale(x, 4).flip(-1))
    assert torch.allclose(bicubic.downscale(x.rot90(1, (-2, -1)), 4), bicubic.downscale(x, 4).rot90(1, (-2, -1)))


# ---------------------------------------------------------------- PSNR and SSIM against scikit-image
def test_psnr_and_ssim_on_rgb_match_scikit_image():
    x, y = images()
    for i in range(len(x)):
        a, b = x[i].numpy(), y[i].numpy()
        assert float(psnr(y, x, channel="rgb")[i]) == pytest.approx(peak_signal_noise_ratio(a, b, data_range=1))
        expected = structural_similarity(a, b, data_range=1, channel_axis=0, gaussian_weights=True, sigma=1.5,
                                         use_sample_covariance=False)  # fmt: skip
        assert float(ssim(y, x, channel="rgb")[i]) == pytest.approx(expected, rel=1e-9)


def test_psnr_and_ssim_on_y_with_border_crop_match_scikit_image():
    x, y = images()
    from skimage.color import rgb2ycbcr

    crop = 4
    for i in range(len(x)):
        ya = rgb2ycbcr(x[i].permute(1, 2, 0).numpy())[crop:-crop, crop:-crop, 0]  # BT.601, 16–235
        yb = rgb2ycbcr(y[i].permute(1, 2, 0).numpy())[crop:-crop, crop:-crop, 0]
        assert float(psnr(y, x, crop=crop)[i]) == pytest.approx(peak_signal_noise_ratio(ya, yb, data_range=255))
        expected = structural_similarity(ya, yb, data_range=255, gaussian_weights=True, sigma=1.5,
                                         use_sample_covariance=False)  # fmt: skip
        assert float(ssim(y, x, crop=crop)[i]) == pytest.approx(expected, rel=1e-9)


def test_luma_range_and_identity():
    assert float(rgb_to_y(torch.zeros(1, 3, 1, 1))) == pytest.approx(16)
    assert float(rgb_to_y(torch.ones(1, 3, 1, 1))) == pytest.approx(235, abs=1e-3)
    x, _ = images()
    assert float(ssim(x, x).min()) == pytest.approx(1.0)
    assert torch.isinf(psnr(x, x)).all()


# ---------------------------------------------------------------- models
def test_srresnet_has_the_paper_parameter_count():
    conv = lambda k, i, o: k * k * i * o + o  # noqa: E731  (weights + biases)
    block = 2 * conv(3, 64, 64) + 2 * 2 * 64 + 1  # two convs, two BatchNorms (γ, β), one PReLU slope
    upsample = conv(3, 64, 256) + 1  # conv to 4·64 channels, PixelShuffle, PReLU
    expected = conv(9, 3, 64) + 1 + 16 * block + conv(3, 64, 64) + 2 * 64 + 2 * upsample + conv(9, 64, 3)
    with torch.device("meta"):
        net = build_model("srresnet", (3, 24, 24), None)
        assert net.translate(torch.rand(1, 3, 6, 5)).shape == (1, 3, 24, 20)
    assert expected == 1_549_462
    assert sum(p.numel() for p in net.generator.parameters()) == expected


def test_srgan_discriminator_matches_the_paper():
    with torch.device("meta"):
        net = build_model("srgan", (3, 24, 24), None)
        features = net.discriminator.features(torch.rand(1, 3, 96, 96))
        assert net.discriminate(torch.rand(2, 3, 96, 96)).shape == (2,)
    convs = [m for m in net.discriminator.modules() if isinstance(m, torch.nn.Conv2d)]
    assert [(c.out_channels, c.stride[0]) for c in convs] == [(64, 1), (64, 2), (128, 1), (128, 2), (256, 1),
                                                              (256, 2), (512, 1), (512, 2)]  # fmt: skip
    assert features.shape == (1, 512, 6, 6)  # 96×96 patches → 6×6×512 before the dense layers


def test_small_generator_starts_near_bicubic_through_its_global_skip():
    net = build_model("srresnet_small", (3, 16, 16), None)  # its last convolution starts at zero
    x = torch.rand(2, 3, 8, 8)
    assert torch.allclose(net.translate(x), bicubic.upscale(x, 4), atol=1e-6)


# ---------------------------------------------------------------- objective
def test_sr_objective_steps_and_reports_bicubic_beside_the_model():
    torch.manual_seed(0)
    net = build_model("srgan_small", (3, 8, 8), None, width=8, blocks=1, d_width=8, d_dense=16)
    objective = SuperResolution(net, adversarial_weight=1e-3, content_weight=0.1, adversarial="relativistic",
                                patch=16)  # fmt: skip
    assert [u.name for u in objective.updates()] == ["discriminator", "generator"]
    y = images(2, 32, 32)[0].float()
    x = bicubic.quantize(bicubic.downscale(y.double(), 4)).float()
    for update in ("discriminator", "generator"):
        loss, logs = objective((x, y), update)
        loss.backward()
        assert torch.isfinite(loss)
    assert {"pixel", "content", "adversarial"} <= set(logs)
    objective.eval()
    metrics = objective.evaluate([(x, y)])
    expected = float(psnr(bicubic.upscale(x.double(), 4).clamp(0, 1), y.double(), crop=4).mean())
    assert metrics["psnr_bicubic"] == pytest.approx(expected, rel=1e-5)
    assert {"psnr", "ssim", "ssim_bicubic", "psnr_rgb"} <= set(metrics)
    grid = objective.views(__import__("dlcanon.data", fromlist=["Split"]).Split(x, y), 2)["samples"]
    assert grid.images.shape == (8, 3, 32, 32) and grid.nrow == 4


def test_sr_objective_refusals_are_one_line():
    net = build_model("srresnet_small", (3, 16, 16), None)
    with pytest.raises(UserError, match="discriminator"):
        SuperResolution(net, adversarial_weight=1.0)
    with pytest.raises(UserError, match="patch"):
        SuperResolution(net, patch=30)
    objective = SuperResolution(net)
    with pytest.raises(UserError, match="scale"):
        objective((torch.rand(2, 3, 8, 8), torch.rand(2, 3, 16, 16)))


def export_features(path, size=16):
    """A user's feature network (a 3×3 conv + ReLU), exported with dynamic batch and spatial sizes."""
    net = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3, padding=1), torch.nn.ReLU()).eval()
    dims = {0: torch.export.Dim("batch"), 2: torch.export.Dim("h", min=4), 3: torch.export.Dim("w", min=4)}
    program = torch.export.export(net, (torch.rand(2, 3, size, size),), dynamic_shapes={"input": dims})
    torch.export.save(program, str(path))
    return net


def test_a_users_exported_feature_network_drives_the_content_loss(tmp_path):
    path = tmp_path / "phi.pt2"
    phi = export_features(path)
    torch.manual_seed(0)
    net = build_model("srresnet_small", (3, 4, 4), None, width=8, blocks=1)
    objective = SuperResolution(net, content_weight=1.0, pixel_weight=0.0, content_features=str(path), patch=16,
                                 augment=False)  # fmt: skip
    y = images(2, 16, 16)[0].float()
    x = bicubic.quantize(bicubic.downscale(y.double(), 4)).float()
    loss, logs = objective((x, y), "generator")
    with torch.no_grad():
        sr = objective.network.translate(x).float()
        expected = (phi(sr) - phi(y)).pow(2).mean()
    torch.testing.assert_close(logs["content"], expected, rtol=1e-4, atol=1e-6)  # φ is the user's network
    loss.backward()
    assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in objective.network.parameters())
    assert not any(k.startswith("external") for k in objective.state_dict())  # the run names the file instead
    with pytest.raises(UserError, match="content_weight"):
        SuperResolution(net, content_features=str(path))
    with pytest.raises(UserError, match=r"local torch\.export archive"):
        SuperResolution(net, content_weight=1.0, content_features=str(tmp_path / "missing.pt2"))


def test_sr_data_splits_by_image_and_pairs_by_bicubic():
    from dlcanon.data import load_data
    from dlcanon.data.super_resolution import TEST_IMAGES, TRAIN_IMAGES

    assert not set(TEST_IMAGES) & set(TRAIN_IMAGES)
    bundle = load_data("sr", n_train=24, crop=64, scale=2)
    assert bundle.train.x.shape == (24, 3, 32, 32) and bundle.train.y.shape == (24, 3, 64, 64)
    assert bundle.test.y.shape == (5 * 16, 3, 64, 64)  # the central 256² of each held-out image in 64² tiles
    lr = bicubic.quantize(bicubic.downscale(bundle.test.y.double(), 2)).float()
    assert torch.allclose(bundle.test.x, lr, atol=1e-6)
    with pytest.raises(UserError):
        load_data("sr", scale=3)


@pytest.mark.slow
def test_srresnet_small_beats_bicubic_by_one_db_in_its_default_budget():
    """The done-when of S4: `dlcanon train srresnet_small --data sr` (1,000 steps, about 200 s of one CPU core)."""
    from dlcanon.data import load_data
    from dlcanon.runs import build_objective, default_config
    from dlcanon.train import fit

    cfg = default_config("srresnet_small", device="cpu", tensorboard=False)
    data = load_data(cfg.data, **cfg.data_args)
    torch.manual_seed(cfg.seed)
    metrics = fit(build_objective(cfg, data), data, cfg)["metrics"]
    assert metrics["test_psnr"] - metrics["test_psnr_bicubic"] >= 1.0, metrics
    assert metrics["test_ssim"] > metrics["test_ssim_bicubic"], metrics
