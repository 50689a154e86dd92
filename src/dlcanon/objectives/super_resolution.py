"""Single-image super-resolution (S4): SRResNet's pixel loss, a content loss and SRGAN's adversarial loss.

For LR x and HR y, the generator's loss (Ledig et al. 2017, arXiv:1609.04802, eq. 3, every weight explicit):

    L_G = w_pixel · ℓ(G(x), y) + w_content · mean‖φ(G(x)) − φ(y)‖² + w_adv · L_adv,

ℓ = MSE (the paper's SRResNet) or L1 (`pixel`); φ a feature network. The paper's φ is VGG19's conv5_4, trained
on ImageNet; nothing is downloaded here, so φ is a small shipped stand-in: a fixed, seeded random 3-layer
3×3 convolutional ReLU network (32 → 64 → 64 channels, the middle layer strided), whose features are a
generic multi-scale edge/texture response — a weaker perceptual signal than VGG's, stated as such.
Adversarial (`adversarial`):
  - "gan": the discriminator minimises E[softplus(−d(y))] + E[softplus(d(G(x)))], the generator the
    non-saturating −E[log D(G(x))] (SRGAN; `gan_losses`);
  - "relativistic" (ESRGAN, Wang et al. 2018, arXiv:1809.00219): d_r − E[d_f] and d_f − E[d_r] take the places of
    d(y) and d(G(x)) in the same loss pair, for both players (the generator's with real and fake swapped).
SRGAN's perceptual loss is w_content = 1 (VGG features rescaled by 1/12.75), w_adv = 10⁻³. A feature network of
one's own (VGG, exported locally with `torch.export` as for `dlcanon eval --features`, taking images in [0, 1])
replaces the stand-in with `--set objective_args.content_features=PATH.pt2`; its output is differentiated
through, and the run's configuration names the file, which must stay where it is for `--resume` and `eval`.

Training patches: the dataset holds aligned (LR, HR) crops; every step cuts a random aligned `patch`×`patch`
HR window (patch/s on the LR side) from each and applies one random flip and 90° rotation (they commute
exactly with a bicubic downscale), so `data.augment` (which moves only targets aligned with the input) is not
needed. Evaluation: PSNR and SSIM on the Y channel (BT.601) with `scale` pixels cropped from each border, and
on RGB, of the clamped output and of the bicubic upscaling of the same LR input (`metrics.image_quality`),
averaged over the test images.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from dlcanon.data.base import Split
from dlcanon.data.bicubic import upscale
from dlcanon.errors import UserError
from dlcanon.metrics.feature_net import ExternalFeatures
from dlcanon.metrics.image_quality import psnr, ssim
from dlcanon.objectives import gan_losses as L
from dlcanon.objectives.base import Batch, Objective, Update
from dlcanon.objectives.gan import frozen
from dlcanon.objectives.translation_protocols import SuperResolver, generator_and_critic, require
from dlcanon.objectives.views import Grid, View, device_of
from dlcanon.registry import OBJECTIVES

PIXEL_LOSSES = {"mse": F.mse_loss, "l1": F.l1_loss}
ADVERSARIAL = ("gan", "relativistic")


class RandomFeatures(nn.Module):
    """φ: a frozen, seeded random conv net 3 → 32 → 64 (stride 2) → 64, ReLU after each; He-normal weights."""

    def __init__(self, channels: int = 3, *, seed: int = 0) -> None:
        super().__init__()
        g = torch.Generator().manual_seed(seed)
        shapes = ((32, channels), (64, 32), (64, 64))
        for i, (c_out, c_in) in enumerate(shapes):
            w = torch.randn(c_out, c_in, 3, 3, generator=g) * (2.0 / (9 * c_in)) ** 0.5
            self.register_buffer(f"w{i}", w)

    def forward(self, x: Tensor) -> Tensor:
        h = F.relu(F.conv2d(x, self.w0, padding=1))
        h = F.relu(F.conv2d(h, self.w1, stride=2, padding=1))
        return F.relu(F.conv2d(h, self.w2, padding=1))


def dihedral(t: Tensor, k: int, flip: bool) -> Tensor:
    """t rotated by k·90° in its last two axes, then flipped left–right if `flip`."""
    t = torch.rot90(t, k, (-2, -1))
    return t.flip(-1) if flip else t


def adversarial_pair(d_real: Tensor, d_fake: Tensor, kind: str) -> tuple[Tensor, Tensor]:
    """(discriminator's loss, generator's loss) of logits on real and fake images (see the module docstring)."""
    if kind == "relativistic":
        r, f = d_real - d_fake.mean(), d_fake - d_real.mean()
        return L.discriminator_loss(r, f), L.discriminator_loss(f, r)
    return L.discriminator_loss(d_real, d_fake), L.nonsaturating_generator_loss(d_fake)


class SuperResolution(Objective):
    """Pixel + content + adversarial losses for a `SuperResolver` (see the module docstring)."""

    def __init__(
        self,
        network: nn.Module,
        *,
        pixel: str = "mse",
        pixel_weight: float = 1.0,
        content_weight: float = 0.0,
        adversarial_weight: float = 0.0,
        adversarial: str = "gan",
        patch: int = 64,
        augment: bool = True,
        content_features: str = "",
    ) -> None:
        super().__init__()
        require(network, SuperResolver, "sr")
        if pixel not in PIXEL_LOSSES:
            raise UserError(f"pixel must be one of {', '.join(PIXEL_LOSSES)}; got {pixel!r}")
        if adversarial not in ADVERSARIAL:
            raise UserError(f"adversarial must be one of {', '.join(ADVERSARIAL)}; got {adversarial!r}")
        weights = (pixel_weight, content_weight, adversarial_weight)
        if any(not isinstance(w, int | float) or w < 0 for w in weights) or not any(weights):
            raise UserError(f"the loss weights must be ≥ 0 and not all 0; got {weights}")
        if not isinstance(patch, int) or patch < 0 or patch % network.scale:
            raise UserError(f"patch must be 0 (whole crops) or a positive multiple of {network.scale}; got {patch!r}")
        if adversarial_weight and network.discriminator is None:
            raise UserError("adversarial_weight > 0 needs a network with a discriminator (srgan, srgan_small)")
        self.network: Any = network
        self.pixel, self.adversarial, self.patch, self.augment = pixel, adversarial, patch, bool(augment)
        self.pixel_weight, self.content_weight, self.adversarial_weight = map(float, weights)
        if content_features and not self.content_weight:
            raise UserError("content_features sets φ of the content loss: it needs content_weight > 0")
        self.content_features = str(content_features)
        # φ: the user's exported network (kept out of the state dict: the run names its file) or the shipped one
        self.external = ExternalFeatures(content_features) if content_features else None
        self.features = RandomFeatures() if self.content_weight and self.external is None else None

    # ------------------------------------------------------------------ players
    def updates(self) -> list[Update]:
        return generator_and_critic(self.network, adversarial=bool(self.adversarial_weight))

    def ema_modules(self) -> list[str]:
        return ["network.generator"]

    def patches(self, x: Tensor, y: Tensor) -> tuple[Tensor, Tensor]:
        """Random aligned windows (patch/s on the LR side, patch on the HR side) and one random dihedral map."""
        s = self.network.scale
        if y.shape[-1] != s * x.shape[-1] or y.shape[-2] != s * x.shape[-2]:
            raise UserError(f"sr: the network upscales ×{s} but the data pairs {tuple(x.shape[1:])} with "
                            f"{tuple(y.shape[1:])}; set model_args.scale to the data's scale")  # fmt: skip
        p = self.patch // s
        if p and (p < x.shape[-2] or p < x.shape[-1]):
            p = min(p, x.shape[-2], x.shape[-1])
            rows = torch.randint(0, x.shape[-2] - p + 1, (len(x),)).tolist()
            cols = torch.randint(0, x.shape[-1] - p + 1, (len(x),)).tolist()
            x = torch.stack([t[:, r : r + p, c : c + p] for t, r, c in zip(x, rows, cols, strict=True)])
            y = torch.stack([t[:, s * r : s * (r + p), s * c : s * (c + p)]
                             for t, r, c in zip(y, rows, cols, strict=True)])  # fmt: skip
        if self.augment:
            k, flip = int(torch.randint(0, 4, ())), bool(torch.randint(0, 2, ()))
            x, y = dihedral(x, k, flip), dihedral(y, k, flip)
        return x.contiguous(), y.contiguous()

    def forward(self, batch: Batch, update: str = "generator") -> tuple[Tensor, dict[str, Tensor]]:
        x, y = batch
        if y is None:
            raise UserError("sr needs paired data: LR x and HR y (e.g. --data sr)")
        x, y = self.patches(x, y)
        net = self.network
        if update == "discriminator":
            with torch.no_grad():
                fake = net.translate(x)
            d_loss, _ = adversarial_pair(net.discriminate(y).float(), net.discriminate(fake).float(), self.adversarial)
            return d_loss, {"loss": d_loss.detach()}
        if update != "generator":
            raise ValueError(f"unknown update {update!r}; expected generator or discriminator")
        sr = net.translate(x).float()
        pixel = PIXEL_LOSSES[self.pixel](sr, y)
        loss = self.pixel_weight * pixel
        logs = {"pixel": pixel.detach()}
        phi = self.external.maps if self.external is not None else self.features
        if phi is not None:
            content = (phi(sr) - phi(y)).pow(2).mean()
            loss = loss + self.content_weight * content
            logs["content"] = content.detach()
        if self.adversarial_weight:
            with frozen(net.discriminator):
                d_real = net.discriminate(y).float().detach() if self.adversarial == "relativistic" else None
                d_fake = net.discriminate(sr).float()
            g_adv = adversarial_pair(d_real if d_real is not None else d_fake, d_fake, self.adversarial)[1]
            loss = loss + self.adversarial_weight * g_adv
            logs["adversarial"] = g_adv.detach()
        return loss, {"loss": loss.detach(), **logs}

    # ------------------------------------------------------------------ evaluation
    @torch.no_grad()
    def super_resolve(self, x: Tensor) -> Tensor:
        """HR estimates in [0, 1] for LR images x."""
        return self.network.translate(x).float().clamp(0, 1)

    def predict(self, x: Tensor) -> Tensor:
        return self.super_resolve(x)

    @torch.no_grad()
    def evaluate(self, batches: Iterable[Batch]) -> dict[str, float]:
        """psnr, ssim (Y channel, `scale`-pixel border cropped), psnr_rgb, and the same for bicubic upscaling;
        means over the test images; loss = the pixel loss."""
        s = self.network.scale
        sums: dict[str, float] = {}
        n = 0
        for x, y in batches:
            if y is None:
                raise UserError("sr evaluation needs paired data (HR targets)")
            out = {"": self.super_resolve(x), "_bicubic": upscale(x.double(), s).clamp(0, 1).float()}
            if out[""].shape != y.shape:
                raise UserError(f"sr: output {tuple(out[''].shape[1:])} does not match the target {tuple(y.shape[1:])}")
            for suffix, z in out.items():
                values = {f"psnr{suffix}": psnr(z, y, crop=s), f"ssim{suffix}": ssim(z, y, crop=s),
                          f"psnr_rgb{suffix}": psnr(z, y, channel="rgb", crop=s)}  # fmt: skip
                for k, v in values.items():
                    sums[k] = sums.get(k, 0.0) + float(v.sum())
            sums["loss"] = sums.get("loss", 0.0) + float(PIXEL_LOSSES[self.pixel](out[""], y)) * len(x)
            n += len(x)
        if not n:
            raise UserError("evaluate: the split is empty")
        return {k: v / n for k, v in sums.items()}

    def views(self, split: Split, n: int, **options: Any) -> dict[str, View]:
        """The view "samples": rows of (input, nearest-upsampled; bicubic; model; target), first n test images."""
        if options:
            raise UserError(f"--{next(iter(options))} is not an option of super-resolution views; they take none")
        if split.y is None or len(split) == 0:
            raise UserError("super-resolution views need a split of (LR, HR) pairs")
        s = self.network.scale
        x, y = split.x[:n].to(device_of(self)), split.y[:n].to(device_of(self))
        was_training = self.training
        self.eval()
        sr = self.super_resolve(x)
        self.train(was_training)
        nearest = F.interpolate(x, scale_factor=s, mode="nearest")
        bicubic = upscale(x.double(), s).clamp(0, 1).float()
        rows = torch.stack([nearest, bicubic, sr, y], 1)  # (N, 4, C, H, W)
        return {"samples": Grid(rows.flatten(0, 1).cpu(), nrow=4)}


@OBJECTIVES.register("sr", tags=("S4",))
def build_sr(network: nn.Module, **kwargs) -> SuperResolution:
    """Super-resolution: pixel (MSE/L1) + content + adversarial losses; PSNR/SSIM beside bicubic."""
    return SuperResolution(network, **kwargs)
