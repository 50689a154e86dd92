"""Pure GAN losses on critic outputs (logits or scores), the gradient penalty and the optimal discriminator.

With D(x) = σ(d(x)) for a logit d, log D = −softplus(−d) and log(1 − D) = −softplus(d), stable for any d.

- Minimax value (Goodfellow et al., 2014): V(D, G) = E_x[log D(x)] + E_z[log(1 − D(G(z)))]; D ascends V,
  G descends it. For fixed G the optimal discriminator is D*(x) = p_data(x)/(p_data(x) + p_θ(x)) and
  V(D*, G) = 2·JS(p_data ‖ p_θ) − 2 log 2.
- Non-saturating generator loss (same paper, §3): G minimises −E_z[log D(G(z))], whose gradient does not
  vanish when D confidently rejects early samples.
- Wasserstein (Arjovsky, Chintala & Bottou, 2017): the critic f maximises E_x[f(x)] − E_z[f(G(z))] over
  1-Lipschitz f (approximated by clipping weights to [−c, c]); G minimises −E_z[f(G(z))].
- Gradient penalty (Gulrajani et al., 2017): λ·E_x̂[(‖∇_x̂ f(x̂)‖₂ − 1)²] at x̂ = εx + (1 − ε)x̃, ε ~ U[0, 1]
  drawn per sample.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, replace

import torch
import torch.nn.functional as F
from torch import Tensor

from dlcanon.errors import UserError


def discriminator_loss(real: Tensor, fake: Tensor) -> Tensor:
    """−V(D, G) = E[softplus(−d(x))] + E[softplus(d(G(z)))]: the discriminator's minimised loss."""
    return F.softplus(-real).mean() + F.softplus(fake).mean()


def minimax_generator_loss(fake: Tensor) -> Tensor:
    """E_z[log(1 − D(G(z)))] = −E[softplus(d(G(z)))]: the part of V that G minimises (it saturates)."""
    return -F.softplus(fake).mean()


def nonsaturating_generator_loss(fake: Tensor) -> Tensor:
    """−E_z[log D(G(z))] = E[softplus(−d(G(z)))]."""
    return F.softplus(-fake).mean()


def wasserstein_critic_loss(real: Tensor, fake: Tensor) -> Tensor:
    """−(E[f(x)] − E[f(G(z))]): minimised by the critic; its negative estimates W₁ for a 1-Lipschitz f."""
    return fake.mean() - real.mean()


def wasserstein_generator_loss(fake: Tensor) -> Tensor:
    """−E_z[f(G(z))]."""
    return -fake.mean()


def drift_penalty(real: Tensor) -> Tensor:
    """E[f(x)²] on real samples: Progressive GAN's term that stops a Wasserstein critic's values drifting."""
    return real.pow(2).mean()


def interpolates(real: Tensor, fake: Tensor, *, generator: torch.Generator | None = None) -> Tensor:
    """x̂ = εx + (1 − ε)x̃ with one ε ~ U[0, 1] per sample, broadcast over the sample's other dims."""
    eps = torch.rand((real.shape[0],) + (1,) * (real.dim() - 1), device=real.device, generator=generator)
    return eps * real + (1 - eps) * fake


def gradient_penalty(critic: Callable[[Tensor], Tensor], points: Tensor, *, target: float = 1.0) -> Tensor:
    """E_x̂[(‖∇_x̂ f(x̂)‖₂ − target)²] over the rows of `points` (N, ...); differentiable (create_graph)."""
    points = points.detach().requires_grad_(True)
    scores = critic(points)
    (grad,) = torch.autograd.grad(scores.sum(), points, create_graph=True)
    return (grad.flatten(1).norm(dim=1) - target).pow(2).mean()


def r1_penalty(critic: Callable[[Tensor], Tensor], real: Tensor) -> Tensor:
    """E_x[‖∇_x D(x)‖₂²] over real samples (N, ...): Mescheder et al. (2018)'s R1, weighted γ/2 in the critic's
    loss (StyleGAN: γ = 10); differentiable (create_graph). D's logits, before any sigmoid."""
    points = real.detach().requires_grad_(True)
    (grad,) = torch.autograd.grad(critic(points).sum(), points, create_graph=True)
    return grad.flatten(1).pow(2).sum(1).mean()


def optimal_discriminator(p_data: Tensor, p_model: Tensor) -> Tensor:
    """D*(x) = p_data(x)/(p_data(x) + p_θ(x)) (0.5 where both densities vanish)."""
    total = p_data + p_model
    return torch.where(total > 0, p_data / total.clamp_min(1e-300), torch.full_like(total, 0.5))


def js_divergence(p: Tensor, q: Tensor, dx: float) -> Tensor:
    """JS(p ‖ q) = ½KL(p ‖ m) + ½KL(q ‖ m), m = (p + q)/2, by the Riemann sum on a grid of spacing dx."""
    m = (p + q) / 2

    def kl(a: Tensor) -> Tensor:
        return torch.where(a > 0, a * (a.clamp_min(1e-300).log() - m.clamp_min(1e-300).log()), 0.0).sum() * dx

    return (kl(p) + kl(q)) / 2


def value_on_grid(d: Tensor, p_data: Tensor, p_model: Tensor, dx: float) -> Tensor:
    """V(D, G) = ∫ p_data log D + ∫ p_θ log(1 − D) on a grid, for D given as probabilities."""
    eps = 1e-12
    return ((p_data * (d + eps).log()).sum() + (p_model * (1 - d + eps).log()).sum()) * dx


LOG4 = 2 * math.log(2)


@dataclass(frozen=True)
class LossPair:
    """The critic's loss on (d(x), d(G(z))), the generator's on d(G(z)), and the critic's constraint.

    `wasserstein`: the critic outputs values f(x), not logits (its loss estimates −W₁, a drift term applies).
    `clip`: weights clipped to [−c, c] before every use of the critic (WGAN). `penalty`: the gradient penalty
    on per-sample interpolates (WGAN-GP). `n_critic`: the paper's critic steps per generator step.
    """

    critic: Callable[[Tensor, Tensor], Tensor]
    generator: Callable[[Tensor], Tensor]
    n_critic: int = 1
    wasserstein: bool = False
    clip: bool = False
    penalty: bool = False


LOSS_PAIRS = {
    "gan": LossPair(discriminator_loss, nonsaturating_generator_loss),
    "wgan": LossPair(wasserstein_critic_loss, wasserstein_generator_loss, n_critic=5, wasserstein=True, clip=True),
    "wgan-gp": LossPair(
        wasserstein_critic_loss, wasserstein_generator_loss, n_critic=5, wasserstein=True, penalty=True
    ),
}
GENERATOR_LOSSES = {"nonsaturating": nonsaturating_generator_loss, "minimax": minimax_generator_loss}


def loss_pair(name: str, generator_loss: str | None = None) -> LossPair:
    """The pair `name` ∈ {gan, wgan, wgan-gp}; `generator_loss` ∈ {nonsaturating, minimax} chooses the GAN
    generator's loss (a Wasserstein pair has one generator loss, −E[f(G(z))])."""
    if name not in LOSS_PAIRS:
        raise UserError(f"loss must be one of {', '.join(LOSS_PAIRS)}; got {name!r}")
    pair = LOSS_PAIRS[name]
    if generator_loss is None:
        return pair
    if pair.wasserstein or generator_loss not in GENERATOR_LOSSES:
        raise UserError(
            f"generator_loss ∈ {{{', '.join(GENERATOR_LOSSES)}}} chooses a GAN's (not a Wasserstein critic's) "
            f"generator loss; got {generator_loss!r} with loss {name!r}"
        )
    return replace(pair, generator=GENERATOR_LOSSES[generator_loss])
