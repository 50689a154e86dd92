"""The probability-flow ODE of a variance-preserving diffusion (Song et al., 2021, arXiv:2011.13456, eq. 13):

    dx/du = −½ β(u) [x + ∇_x log p_u(x)],   u ∈ [0, 1],

whose solution has the marginals p_u of the SDE dx = −½β x du + √β dw. With ᾱ(u) = exp(−∫₀ᵘ β) the marginal is
q(x_u | x_0) = N(√ᾱ(u) x_0, (1 − ᾱ(u)) I), and an ε-predicting denoiser gives the score
∇ log p_u(x) ≈ −ε_θ(x, uT)/√(1 − ᾱ(u)) (the network's step is t = uT). Run as a CNF (`objectives.ode`), it gives
the model's exact log-density log p_{u_0}(x) = log p_1(x(1)) + ∫_{u_0}^1 tr ∂f/∂x du, with p_1 ≈ N(0, I).
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
from torch import Tensor, nn

from dlcanon.objectives.diffusion import continuous_log_alpha_bar

EpsFn = Callable[[Tensor, Tensor], Tensor]  # ε(x (N, …), u (N,)) → (N, …)


def continuous_beta(schedule: str, u: Tensor, *, s: float = 0.008) -> Tensor:
    """β(u) = −d log ᾱ(u)/du: linear 0.1 + 19.9u; cosine π/(1 + s)·tan(π/2·(u + s)/(1 + s))."""
    if schedule == "linear":
        return 0.1 + (20.0 - 0.1) * u
    return math.pi / (1 + s) * torch.tan((u + s) / (1 + s) * math.pi / 2)


class ProbabilityFlow(nn.Module):
    """f(u, x) = −½β(u)[x − ε(x, u)/√(1 − ᾱ(u))], the PF-ODE drift; `eps` a module or function ε(x, u)."""

    def __init__(self, eps: EpsFn, schedule: str) -> None:
        super().__init__()
        self.eps, self.schedule = eps, schedule

    def forward(self, u: Tensor, x: Tensor) -> Tensor:
        uu = u.expand(x.shape[0]).to(x.dtype)
        sigma = torch.sqrt(-torch.expm1(continuous_log_alpha_bar(self.schedule, u.double()))).to(x.dtype)
        beta = continuous_beta(self.schedule, u.double()).to(x.dtype)
        return -0.5 * beta * (x - self.eps(x, uu) / sigma)
