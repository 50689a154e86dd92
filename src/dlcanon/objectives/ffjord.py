"""FFJORD (G14): a continuous normalizing flow trained by maximum likelihood (Grathwohl et al., 2019,
arXiv:1810.01367). x = z(0) flows under dz/dt = f_θ(t, z) to z(1) ~ N(0, I), and

    log p(x) = log N(z(1); 0, I) + ∫₀¹ tr(∂f_θ/∂z(t)) dt

(see `objectives.ode`): the exact trace on points (D backward passes), Hutchinson's estimator on images (one
Rademacher vector per solve). The ODE is solved by torchdiffeq (adaptive dopri5 with `rtol`, `atol` by
default, FFJORD's 1e-5; `method="rk4"` with `step_size` for fixed-step training; `adjoint=True` for the
adjoint method). Sampling solves from t = 1 back to 0.

Likelihood bookkeeping: points are divided by their training standard deviation s (+ D log s nats);
`evaluate` reports `nll` in nats per point. Images with L levels are dequantised uniformly, y = (k + u)/L,
mapped to x = 2y − 1 (+ D log 2 nats for the Jacobian), and `bpd` is the bits/dim of the discrete data with
the offset log₂ L of `metrics.likelihood.bits_per_dim` (digits 4.087, 256 levels 8). Evaluation uses the
first `eval_points` test points or `eval_images` test images, its noise seeded with `eval_seed`.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

import torch
from torch import Tensor, nn

from dlcanon.data.base import Split
from dlcanon.errors import UserError
from dlcanon.metrics.likelihood import bits_per_dim, dequantize, grid_levels
from dlcanon.objectives.base import Batch
from dlcanon.objectives.generative import Generative
from dlcanon.objectives.ode import TRACES, cnf_log_likelihood, integrate
from dlcanon.registry import OBJECTIVES

METHODS = ("dopri5", "rk4", "euler", "midpoint", "bosh3", "adaptive_heun")


class FFJORD(Generative):
    """Maximum likelihood of a CNF whose `network(t, z)` is the vector field and declares `shape` and `image`."""

    def __init__(
        self,
        network: nn.Module,
        *,
        trace: str | None = None,
        method: str = "dopri5",
        rtol: float = 1e-5,
        atol: float = 1e-5,
        step_size: float | None = None,
        adjoint: bool = False,
        levels: int | None = None,
        eval_points: int = 2000,
        eval_images: int = 64,
        eval_seed: int = 0,
    ) -> None:
        super().__init__()
        self.network = network
        self.shape, self.image = tuple(network.shape), bool(network.image)
        trace = trace or ("hutchinson" if self.image else "exact")
        if trace not in TRACES or method not in METHODS:
            raise UserError(f"trace must be one of {', '.join(TRACES)} and method one of {', '.join(METHODS)}; "
                            f"got {trace!r}, {method!r}")  # fmt: skip
        if not (0 < rtol < 1 and 0 < atol < 1) or (step_size is not None and not 0 < step_size <= 1):
            raise UserError(f"need 0 < rtol, atol < 1 and 0 < step_size ≤ 1; got {rtol}, {atol}, {step_size}")
        if method in ("rk4", "euler", "midpoint") and step_size is None:
            raise UserError(f"the fixed-step method {method} needs step_size")
        for name, value in (("eval_points", eval_points), ("eval_images", eval_images)):
            if not isinstance(value, int) or value < 1:
                raise UserError(f"{name} must be a positive integer; got {value!r}")
        self.trace, self.method, self.rtol, self.atol, self.step_size = trace, method, rtol, atol, step_size
        self.adjoint, self.levels_arg = adjoint, levels
        self.eval_points, self.eval_images, self.eval_seed = eval_points, eval_images, eval_seed
        self.register_buffer("levels", torch.tensor(levels or 0))
        self.register_buffer("scale", torch.ones(()))

    @property
    def dims(self) -> int:
        return math.prod(self.shape)

    def prepare(self, train: Split) -> None:
        if self.image and self.levels_arg is None:
            self.levels.fill_(grid_levels(train.x))
        if not self.image:
            self.scale.fill_(float(train.x.float().std()))

    def observe(self, x: Tensor) -> tuple[Tensor, float]:
        """(model-space data, log-Jacobian in nats per sample to add to its log-density): points x/s (−D log s);
        images 2·dequantise(x) − 1 (+ D log 2: the density of y = (x + 1)/2 is 2^D p(x))."""
        x = x.float()
        if not self.image:
            return x / self.scale, -self.dims * math.log(float(self.scale))
        levels = int(self.levels)
        y = dequantize(x, levels) if levels > 1 else x
        return 2 * y - 1, self.dims * math.log(2)

    def log_likelihood(self, x: Tensor) -> Tensor:
        """log p of model-space data (N,) by one ODE solve."""
        ll, _ = cnf_log_likelihood(self.network, x, trace=self.trace, method=self.method, rtol=self.rtol,
                                   atol=self.atol, step_size=self.step_size, adjoint=self.adjoint)  # fmt: skip
        return ll

    def forward(self, batch: Batch, update: str = "model") -> tuple[Tensor, dict[str, Tensor]]:
        x, log_jac = self.observe(batch[0])
        nll = -(self.log_likelihood(x) + log_jac).mean()  # nats per sample of the (scaled/dequantised) data
        return nll / self.dims, {"loss": nll.detach() / self.dims, "nll": nll.detach()}

    @torch.no_grad()
    def evaluate(self, batches: Iterable[Batch]) -> dict[str, float]:
        real = torch.cat([b[0] for b in batches])
        device = self.levels.device
        real = real[: self.eval_images if self.image else self.eval_points].to(device)
        with torch.random.fork_rng(devices=[device] if device.type == "cuda" else []):
            torch.manual_seed(self.eval_seed)
            nll = 0.0
            for chunk in real.split(500):
                x, log_jac = self.observe(chunk)
                nll += float(-(self.log_likelihood(x) + log_jac).sum())
        nll /= len(real)
        if self.image:
            return {"bpd": float(bits_per_dim(nll, self.dims, levels=int(self.levels)))}
        return {"nll": nll}

    @torch.no_grad()
    def sample(self, n: int, label: int | None = None, *, seed: int | None = None) -> Tensor:
        """Solve z(1) ~ N(0, I) back to t = 0: points (n, D) or [0, 1] images (n, C, H, W)."""
        if label is not None:
            raise UserError("--label needs a conditional model; ffjord is unconditional")
        device = self.levels.device
        gen = torch.Generator(device=device).manual_seed(seed) if seed is not None else None
        z = torch.randn(n, *self.shape, device=device, generator=gen)
        x = integrate(self.network, z, t0=1.0, t1=0.0, method=self.method, rtol=self.rtol, atol=self.atol,
                      step_size=self.step_size)  # fmt: skip
        return ((x + 1) / 2).clamp(0, 1) if self.image else x * self.scale


@OBJECTIVES.register("ffjord", tags=("G14",))
def build_ffjord_objective(network: nn.Module, **kwargs: Any) -> FFJORD:
    """FFJORD: maximum likelihood of a continuous normalizing flow (exact trace in 2-D, Hutchinson on images)."""
    return FFJORD(network, **kwargs)
