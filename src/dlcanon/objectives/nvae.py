"""The NVAE objective (G5; Vahdat & Kautz, 2020): a hierarchical ELBO with KL warm-up, KL balancing and
spectral regularisation, evaluated like every VAE (ELBO, IWAE NLL, bits per dimension).

With groups z = (z_1, …, z_L), p(z) = Π_l p(z_l | z_<l) and q(z|x) = Π_l q(z_l | x, z_<l):

    log p(x) ≥ E_q[log p(x|z)] − Σ_l E_q(z_<l|x)[KL(q(z_l | x, z_<l) ‖ p(z_l | z_<l))],

each KL analytic between diagonal Gaussians, at the sampled z_<l. Training minimises

    −log p(x|z) + c_t·Σ_l γ_l KL_l + λ·Σ_i s(W_i),

c_t = max(min(1, (t/T)/kl_warmup), c_min) the KL warm-up over the first `kl_warmup` fraction of the run's T
steps (0.3, the paper's kl_anneal_portion; the trainer tells the objective t and T through `on_step`); γ_l the
KL balancing coefficients (during warm-up only; 1 after); s(W_i) the largest singular value of conv layer i
(spectral regularisation, λ = 10⁻² the paper's MNIST value).
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from dlcanon.errors import UserError
from dlcanon.losses import kl_normal_normal
from dlcanon.metrics.likelihood import log_normal
from dlcanon.objectives.base import Batch
from dlcanon.objectives.vae import VAE, full, lerp
from dlcanon.registry import OBJECTIVES


def kl_balance_coefficients(kl: Tensor, sizes: Tensor) -> Tensor:
    """γ_l ∝ (E_batch|KL_l| + 0.01)/α_l, normalised to mean 1 over the L groups; kl (N, L), sizes α (L,).

    NVAE's balancing: a group that carries more KL per latent unit pays more, so during warm-up no group is
    switched off early (posterior collapse); α_l is the group's number of latent units (the paper's code
    uses α ∝ spatial area / groups per scale, the same up to a constant factor).
    """
    weight = (kl.abs().mean(0) + 0.01) / sizes  # (L,)
    return weight / weight.mean()


@torch.no_grad()
def power_iteration(weight: Tensor, u: Tensor, *, iterations: int = 1) -> tuple[Tensor, Tensor]:
    """Left/right singular vectors of W = weight.view(out, −1) by power iteration (Miyato et al., 2018):
    v ← Wᵀu/‖Wᵀu‖, u ← Wv/‖Wv‖, started from the stored `u` (out,)."""
    w = weight.flatten(1)
    for _ in range(iterations):
        v = F.normalize(w.T @ u, dim=0)
        u = F.normalize(w @ v, dim=0)
    return u, v


def spectral_norm(weight: Tensor, u: Tensor, v: Tensor) -> Tensor:
    """s(W) ≈ uᵀ W v, differentiable in W (u and v are constants)."""
    return u @ weight.flatten(1) @ v


def nvae_kl_weight(progress: float, warmup: float, minimum: float) -> float:
    """c = max(min(1, p/warmup), c_min) at progress p = t/T of the run: NVAE's linear KL warm-up over the first
    `warmup` fraction of the steps (c_min = 10⁻⁴ in the paper's code); 1 without warm-up."""
    return 1.0 if warmup <= 0 else max(min(1.0, progress / warmup), minimum)


class NVAE(VAE):
    """Hierarchical VAE objective for an `NVAENetwork` (Bernoulli decoder on dynamically binarised pixels).

    IWAE uses k = 20 by default (the flat VAE: 100) so that evaluating the 1,000 test images stays near 20 s
    on a CPU; `--set objective_args.iwae_k=100` gives the tighter bound.
    """

    def __init__(
        self,
        network: nn.Module,
        *,
        kl_warmup: float = 0.3,
        min_kl_weight: float = 1e-4,
        kl_balance: bool = True,
        spectral_weight: float = 1e-2,
        power_iterations: int = 1,
        iwae_k: int = 20,
        iwae_batch: int = 2_000,
        **kwargs,
    ) -> None:
        if kwargs.get("kl", "analytic") != "analytic":
            raise UserError("objective nvae uses the analytic KL of each group; kl must be 'analytic'")
        super().__init__(network, iwae_k=iwae_k, iwae_batch=iwae_batch, **kwargs)
        if not 0 <= kl_warmup <= 1:
            raise UserError(f"objective nvae: kl_warmup is a fraction of the run in [0, 1]; got {kl_warmup}")
        self.kl_warmup, self.min_kl_weight, self.kl_balance = float(kl_warmup), min_kl_weight, kl_balance
        self.progress = 1.0  # t/T of the training run (`on_step`); 1 outside training: the full KL
        self.spectral_weight, self.power_iterations = spectral_weight, power_iterations
        self.register_buffer("group_sizes", torch.tensor(network.group_sizes, dtype=torch.float32))
        self.convs = [m for m in network.modules() if isinstance(m, nn.Conv2d)]
        for i, conv in enumerate(self.convs):  # persistent power-iteration vectors, saved with the run
            self.register_buffer(f"sr_u{i}", F.normalize(torch.randn(conv.out_channels), dim=0))

    def on_step(self, step: int, total_steps: int) -> None:
        self.progress = step / max(1, total_steps)

    def group_kls(self, groups: list[dict[str, Tensor]]) -> Tensor:
        """KL(q(z_l|x, z_<l) ‖ p(z_l|z_<l)) per sample and group, (N, L)."""
        keys = ("mu_q", "logvar_q", "mu_p", "logvar_p")
        return torch.stack([kl_normal_normal(*(full(g[k]).flatten(1) for k in keys)) for g in groups], dim=1)

    def spectral_loss(self) -> Tensor:
        """Σ_i s(W_i) over the network's convolutions, advancing each stored u by `power_iterations` steps."""
        total = torch.zeros((), device=self.step.device)
        for i, conv in enumerate(self.convs):
            u = getattr(self, f"sr_u{i}")
            u_new, v = power_iteration(conv.weight.float(), u, iterations=self.power_iterations)
            if self.training:
                u.copy_(u_new)
            total = total + spectral_norm(conv.weight.float(), u_new, v)
        return total

    def forward(self, batch: Batch, update: str = "model") -> tuple[Tensor, dict[str, Tensor]]:
        x = self.observe(batch[0])
        logits, groups = self.network.top_down(self.network.encode(x))
        log_px = self.log_px(x, logits)  # (N,)
        kls = self.group_kls(groups)  # (N, L)
        c = nvae_kl_weight(self.progress, self.kl_warmup, self.min_kl_weight) if self.training else 1.0
        gamma = kl_balance_coefficients(kls.detach(), self.group_sizes) if self.kl_balance and c < 1 else 1.0
        spectral = self.spectral_loss() if self.spectral_weight > 0 else torch.zeros((), device=x.device)
        kl = kls.sum(1)
        loss = (c * (kls * gamma).sum(1) - log_px).mean() + self.spectral_weight * spectral
        logs = {"loss": loss, "reconstruction": -log_px.mean(), "kl": kl.mean(), "elbo": (log_px - kl).mean()}
        logs.update(spectral=spectral, kl_weight=torch.tensor(c))
        return loss, {k: v.detach() for k, v in logs.items()}

    def importance_terms(self, x: Tensor, y: Tensor | None) -> Callable[[int], tuple[Tensor, Tensor, Tensor]]:
        """log w = log p(x|z) + Σ_l [log p(z_l|z_<l) − log q(z_l|x, z_<l)]; KL = Σ_l KL_l at the sampled z_<l."""
        feats = self.network.encode(x)  # once per batch; repeated for the c samples
        n = x.shape[0]

        def draw(c: int) -> tuple[Tensor, Tensor, Tensor]:
            xs = x.repeat(c, 1, 1, 1)
            logits, groups = self.network.top_down([f.repeat(c, 1, 1, 1) for f in feats])
            log_px = self.log_px(xs, logits)
            log_w = log_px
            for g in groups:
                z, mu_p, logvar_p, mu_q, logvar_q = (
                    full(g[k]).flatten(1) for k in ("z", "mu_p", "logvar_p", "mu_q", "logvar_q")
                )
                log_w = log_w + log_normal(z, mu_p, logvar_p) - log_normal(z, mu_q, logvar_q)
            kl = self.group_kls(groups).sum(1)
            return log_w.view(c, n), log_px.view(c, n), kl.view(c, n)

        return draw

    def latents(self, x: Tensor, y: Tensor | None = None) -> list[Tensor]:
        """Every group's z at its posterior mean, top-down."""
        return [g["z"] for g in self.network.top_down(self.network.encode(full(x)), use_mean=True)[1]]

    def decode_mean(self, z: list[Tensor], y: Tensor | None = None) -> Tensor:
        return self.mean(self.network.top_down(latents=z)[0])

    @torch.no_grad()
    def sample(self, n: int, label: int | None = None, *, temperature: float = 1.0) -> Tensor:
        """Ancestral sampling z_l ~ p(z_l | z_<l) (σ scaled by `temperature`), then E[x|z]."""
        self.sample_labels(n, label)
        return self.mean(self.network.top_down(n=n, temperature=temperature)[0])

    @torch.no_grad()
    def interpolate(self, xa: Tensor, xb: Tensor, steps: int = 8, y: Tensor | None = None) -> Tensor:
        """Every group's posterior mean interpolated linearly, (P·steps, C, H, W)."""
        z = [lerp(a, b, steps) for a, b in zip(self.latents(xa), self.latents(xb), strict=True)]
        return self.decode_mean(z)


@OBJECTIVES.register("nvae", tags=("G5", "G16"))
def build_nvae(network: nn.Module, **kwargs) -> NVAE:
    """NVAE: hierarchical ELBO with KL warm-up and balancing, spectral regularisation; ELBO and IWAE NLL."""
    return NVAE(network, **kwargs)
