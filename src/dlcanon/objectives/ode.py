"""Continuous-time change of variables (G14), solved by `torchdiffeq` (Chen et al., 2018, arXiv:1806.07366).

For dz/dt = f(z, t), the instantaneous change of variables (Chen et al., 2018, Thm. 1) is
d log p(z(t))/dt = −tr(∂f/∂z), so carrying x = z(t_0) to z(t_1) and Δ = ∫_{t_0}^{t_1} tr(∂f/∂z(t)) dt,

    log p_{t_0}(x) = log p_{t_1}(z(t_1)) + Δ.

The trace is exact (D backward passes; fine in 2-D) or Hutchinson's estimator tr(A) = E[εᵀAε] with
Rademacher ε, one vector–Jacobian product, the noise fixed over a solve (Grathwohl et al., 2019, FFJORD,
arXiv:1810.01367). Its variance for Rademacher noise is 2(‖A_s‖²_F − Σ_i A_ii²), A_s = (A + Aᵀ)/2.
The solver is torchdiffeq's: adaptive dopri5 by default, `odeint_adjoint` for O(1) memory in the depth;
no solver is written here.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
from torch import Tensor, nn

Field = Callable[[Tensor, Tensor], Tensor]  # f(t (scalar), z (N, …)) → (N, …)
TRACES = ("exact", "hutchinson")


def exact_trace(f: Tensor, z: Tensor, *, create_graph: bool = False) -> Tensor:
    """Σ_i ∂f_i/∂z_i per sample by one backward pass per dimension: f, z (N, D) → (N,)."""
    flat_f = f.flatten(1)
    total = torch.zeros(f.shape[0], device=f.device, dtype=f.dtype)
    for i in range(flat_f.shape[1]):
        (grad,) = torch.autograd.grad(flat_f[:, i].sum(), z, create_graph=create_graph, retain_graph=True)
        total = total + grad.flatten(1)[:, i]
    return total


def hutchinson_trace(f: Tensor, z: Tensor, noise: Tensor, *, create_graph: bool = False) -> Tensor:
    """εᵀ(∂f/∂z)ε per sample from one vector–Jacobian product εᵀJ: an unbiased estimate of tr J when E[εεᵀ] = I."""
    (vjp,) = torch.autograd.grad(f, z, noise, create_graph=create_graph, retain_graph=True)
    return (vjp * noise).flatten(1).sum(1)


def rademacher(shape: tuple[int, ...], *, device=None, generator: torch.Generator | None = None) -> Tensor:
    """±1 with probability ½ each."""
    return torch.randint(0, 2, shape, generator=generator, device=device).float() * 2 - 1


class TraceDynamics(nn.Module):
    """The augmented field (z, Δ) ↦ (f(z, t), tr ∂f/∂z) for torchdiffeq; `field` an nn.Module f(t, z)."""

    def __init__(self, field: nn.Module, *, trace: str = "exact") -> None:
        super().__init__()
        if trace not in TRACES:
            raise ValueError(f"trace must be one of {', '.join(TRACES)}; got {trace!r}")
        self.field, self.trace = field, trace
        self.noise: Tensor | None = None
        self.evaluations = 0

    def forward(self, t: Tensor, state: tuple[Tensor, Tensor]) -> tuple[Tensor, Tensor]:
        z = state[0]
        self.evaluations += 1
        with torch.enable_grad():
            if not z.requires_grad:
                z = z.detach().requires_grad_(True)
            f = self.field(t, z)
            create = torch.is_grad_enabled() and self.training
            if self.trace == "exact":
                tr = exact_trace(f, z, create_graph=create)
            else:
                tr = hutchinson_trace(f, z, self.noise, create_graph=create)
        if not create:
            f, tr = f.detach(), tr.detach()
        return f, tr


def log_standard_normal(z: Tensor) -> Tensor:
    """log N(z; 0, I) summed over each sample's dimensions: (N, …) → (N,)."""
    return (-0.5 * (math.log(2 * math.pi) + z**2)).flatten(1).sum(1)


def cnf_log_likelihood(
    field: nn.Module,
    x: Tensor,
    *,
    trace: str = "exact",
    t0: float = 0.0,
    t1: float = 1.0,
    method: str = "dopri5",
    rtol: float = 1e-5,
    atol: float = 1e-5,
    step_size: float | None = None,
    adjoint: bool = False,
    base: Callable[[Tensor], Tensor] = log_standard_normal,
    noise: Tensor | None = None,
) -> tuple[Tensor, Tensor]:
    """log p_{t_0}(x) = base(z(t_1)) + ∫ tr ∂f/∂z dt, and z(t_1): x (N, …) → (N,), (N, …).

    `method`, `rtol`, `atol` go to torchdiffeq (`step_size` for its fixed-grid solvers such as rk4);
    `adjoint` uses `odeint_adjoint`. Hutchinson's noise is drawn once (Rademacher) unless given."""
    from torchdiffeq import odeint, odeint_adjoint

    dynamics = field if isinstance(field, TraceDynamics) else TraceDynamics(field, trace=trace)
    dynamics.train(torch.is_grad_enabled() and field.training)
    dynamics.noise = rademacher(tuple(x.shape), device=x.device) if noise is None else noise
    options = {"step_size": step_size} if step_size is not None else None
    times = torch.tensor([t0, t1], device=x.device, dtype=x.dtype)
    state = (x, torch.zeros(x.shape[0], device=x.device, dtype=x.dtype))
    kwargs = dict(rtol=rtol, atol=atol, method=method, options=options)
    if adjoint:
        z, delta = odeint_adjoint(dynamics, state, times, adjoint_params=tuple(dynamics.parameters()), **kwargs)
    else:
        z, delta = odeint(dynamics, state, times, **kwargs)
    return base(z[-1]) + delta[-1], z[-1]


def integrate(
    field: nn.Module, z: Tensor, *, t0: float, t1: float, method: str = "dopri5", rtol: float = 1e-5,
    atol: float = 1e-5, step_size: float | None = None,
) -> Tensor:  # fmt: skip
    """z(t_1) from z(t_0) under dz/dt = field(t, z) (sampling: run a flow from the base back to the data)."""
    from torchdiffeq import odeint

    options = {"step_size": step_size} if step_size is not None else None
    times = torch.tensor([t0, t1], device=z.device, dtype=z.dtype)
    return odeint(field, z, times, rtol=rtol, atol=atol, method=method, options=options)[-1]
