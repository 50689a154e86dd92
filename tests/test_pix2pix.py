"""S5: pix2pix's networks (parameter counts, receptive fields, any image size), its objective and paired data."""

import numpy as np
import pytest
import torch

from dlcanon.errors import UserError
from dlcanon.models import build_model
from dlcanon.models.pix2pix import receptive_field
from dlcanon.objectives import gan_losses as L
from dlcanon.objectives.pix2pix import Pix2PixObjective


def conv(k, i, o, bias=True):
    return k * k * i * o + (o if bias else 0)


def test_pix2pix_at_256_has_the_facades_parameter_counts():
    with torch.device("meta"):
        net = build_model("pix2pix", (3, 256, 256), None)
        assert net.translate(torch.rand(1, 3, 256, 256)).shape == (1, 3, 256, 256)
        assert net.discriminate(torch.rand(1, 3, 256, 256), torch.rand(1, 3, 256, 256)).shape == (1, 1, 30, 30)
    # PatchGAN on 6 channels: C64 (bias), C128, C256, C512 (no bias, BatchNorm γ, β), 4×4 conv to 1 (bias)
    d = conv(4, 6, 64) + conv(4, 64, 128, False) + 256 + conv(4, 128, 256, False) + 512
    d += conv(4, 256, 512, False) + 1024 + conv(4, 512, 1)
    assert d == 2_768_705  # "2.769 M", as the authors' code reports
    assert sum(p.numel() for p in net.discriminator.parameters()) == d
    # U-Net 256: encoder 64-128-256-512×5 (4×4/2); decoder transposed convs on the concatenated skips
    w = [64, 128, 256, 512, 512, 512, 512, 512]
    g = conv(4, 3, 64, False)  # outermost down: no norm follows, but no bias either (the authors' convention)
    g += sum(conv(4, w[i - 1], w[i], False) + 2 * w[i] for i in range(1, 7))  # down conv + BatchNorm
    g += conv(4, 512, 512, False)  # innermost down, no norm
    g += conv(4, 512, 512, False) + 2 * 512  # innermost up (from 512), BatchNorm
    g += sum(conv(4, 2 * w[i], w[i - 1], False) + 2 * w[i - 1] for i in range(1, 7))  # ups on 2·w channels
    g += conv(4, 2 * 64, 3)  # outermost up to RGB, bias, tanh
    assert g == 54_413_955  # "54.414 M", as the authors' code reports
    assert sum(p.numel() for p in net.generator.parameters()) == g


def test_receptive_fields_of_the_ablation_discriminators():
    with torch.device("meta"):
        assert receptive_field(build_model("pix2pix", (3, 256, 256), None).discriminator) == 70
        assert receptive_field(build_model("pix2pix_small", (1, 28, 28), None, patch_layers=1).discriminator) == 16
        pixel = build_model("pix2pix_small", (1, 28, 28), None, discriminator="pixel")
        assert receptive_field(pixel.discriminator) == 1
        whole = build_model("pix2pix_small", (1, 28, 28), None, discriminator="image")
        assert receptive_field(whole.discriminator) >= 28
        assert whole.discriminate(torch.rand(2, 1, 28, 28), torch.rand(2, 1, 28, 28)).shape == (2, 1, 1, 1)


@pytest.mark.parametrize("shape", [(1, 28, 28), (3, 32, 48), (1, 20, 13)])
def test_generator_depth_follows_the_image_size(shape):
    net = build_model("pix2pix_small", shape, None)
    assert net.generator.depth == min(8, -(-torch.tensor(min(shape[1:])).log2().item() // 1))
    net.eval()
    out = net.translate(torch.rand(2, *shape) * 2 - 1)
    assert out.shape == (2, *shape) and out.abs().max() <= 1


def test_discriminator_loss_is_halved_and_l1_is_weighted_by_lambda():
    torch.manual_seed(0)
    net = build_model("pix2pix_small", (1, 16, 16), None, ngf=4, ndf=4, patch_layers=1)
    objective = Pix2PixObjective(net)
    assert [u.name for u in objective.updates()] == ["discriminator", "generator"]
    a, b = torch.rand(2, 1, 16, 16), torch.rand(2, 1, 16, 16)
    state = torch.get_rng_state()
    d_loss, _ = objective((a, b), "discriminator")
    torch.set_rng_state(state)
    with torch.no_grad():
        fake = net.translate(a * 2 - 1)
        expected = 0.5 * L.discriminator_loss(net.discriminate(a * 2 - 1, b * 2 - 1), net.discriminate(a * 2 - 1, fake))
    assert float(d_loss.detach()) == pytest.approx(float(expected), rel=1e-5)
    g_loss, logs = objective((a, b), "generator")
    assert float(g_loss.detach()) == pytest.approx(100 * float(logs["l1"]) + float(logs["adversarial"]), rel=1e-5)
    only_l1 = Pix2PixObjective(build_model("pix2pix_small", (1, 16, 16), None, discriminator="none"), gan_weight=0.0)
    assert [u.name for u in only_l1.updates()] == ["generator"]
    with pytest.raises(UserError):
        Pix2PixObjective(build_model("pix2pix_small", (1, 16, 16), None, discriminator="none"))
    metrics = objective.evaluate([(a, b)])
    assert {"l1", "psnr", "ssim"} <= set(metrics)


def test_edges_are_sobel_edges_of_the_digit():
    from dlcanon.data.paired import sobel_edges

    square = torch.zeros(1, 1, 9, 9)
    square[..., 3:6, 3:6] = 1
    edges = sobel_edges(square)
    assert edges[0, 0, 4, 4] == 0 and edges[0, 0, 3, 3] == 1 and edges[0, 0, 0, 0] == 0
    from scipy import ndimage

    x = torch.rand(1, 1, 12, 12, dtype=torch.float64)
    gx, gy = ndimage.sobel(x[0, 0].numpy(), 1, mode="constant"), ndimage.sobel(x[0, 0].numpy(), 0, mode="constant")
    magnitude = (gx**2 + gy**2) ** 0.5
    expected = torch.from_numpy(magnitude / magnitude.max() > 0.5).double()
    assert torch.equal(sobel_edges(x, threshold=0.5)[0, 0], expected)


def _save(path, array):
    from PIL import Image

    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(array).save(path)


def test_pairs_and_ab_folders_load_and_refuse_mismatches(tmp_path):
    from dlcanon.data import load_data

    rng = np.random.default_rng(0)
    a = [(rng.random((8, 6, 3)) * 255).astype(np.uint8) for _ in range(5)]
    b = [(rng.random((8, 6)) * 255).astype(np.uint8) for _ in range(5)]
    for i in range(5):
        _save(tmp_path / "p" / "A" / f"{i}.png", a[i])
        _save(tmp_path / "p" / "B" / f"{i}.png", b[i])
        _save(tmp_path / "ab" / f"{i}.png", np.concatenate([a[i], a[(i + 1) % 5]], 1))
    bundle = load_data(f"pairs:{tmp_path / 'p'}", test_fraction=0.4)
    assert bundle.train.x.shape == (3, 3, 8, 6) and bundle.train.y.shape == (3, 1, 8, 6) and len(bundle.test) == 2
    assert bundle.target.kind == "image"
    both = torch.cat([bundle.train.x, bundle.test.x])
    sums = torch.tensor([x.astype(np.float32).sum() / 255 for x in a])
    assert torch.allclose(torch.sort(both.flatten(1).sum(1)).values, torch.sort(sums).values, rtol=1e-5)
    ab = load_data(f"ab:{tmp_path / 'ab'}", test_fraction=0.0)
    assert ab.train.x.shape == (5, 3, 8, 6)
    originals = [torch.from_numpy(x.astype(np.float32) / 255).permute(2, 0, 1) for x in a]
    for x, y in zip(ab.train.x, ab.train.y, strict=True):  # each file is a[i] | a[i + 1]
        i = next(i for i, o in enumerate(originals) if torch.equal(o, x))
        assert torch.equal(y, originals[(i + 1) % 5])
    _save(tmp_path / "p" / "B" / "4.png", (rng.random((9, 6)) * 255).astype(np.uint8))
    with pytest.raises(UserError, match=r"4\.png"):
        load_data(f"pairs:{tmp_path / 'p'}")
    (tmp_path / "p" / "B" / "4.png").unlink()
    with pytest.raises(UserError, match="no file of that name"):
        load_data(f"pairs:{tmp_path / 'p'}")
    _save(tmp_path / "odd" / "0.png", a[0][:, :5])
    with pytest.raises(UserError, match="odd"):
        load_data(f"ab:{tmp_path / 'odd'}")
