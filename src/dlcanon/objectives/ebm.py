"""Energy-based models (G15): p_θ(x) = exp(−E_θ(x))/Z_θ, trained by contrastive divergence on Langevin samples.

The gradient of the negative log-likelihood is ∇_θ(−log p_θ(x⁺)) = ∇_θE_θ(x⁺) − E_{x⁻∼p_θ}[∇_θE_θ(x⁻)]
(Hinton, 2002), so the loss of one batch is

    L = mean E(x⁺) − mean E(x⁻) + α·mean(E(x⁺)² + E(x⁻)²),

with negatives x⁻ from K steps of unadjusted Langevin dynamics on E,

    x ← x − ε∇ₓE(x) + σξ,  ξ ∼ N(0, I),

and the L2 penalty α (Du & Mordatch, 2019, IGEBM, arXiv:1903.08689, who used α = 1; 0.1 here) keeping the
energies near 0 — without it they drift and the run blows up (JEM issues #4 and #8).

Step size ε and noise σ are separate settings, and a pair of them samples a temperature. The Langevin
diffusion dx = −∇E dt + √2 dW has stationary density ∝ exp(−E); its Euler step with dt = ε is
x ← x − ε∇E + √(2ε)ξ. A step with noise σ is that step for the energy E/T, T = σ²/(2ε), with step εT:
so σ² = 2ε samples exp(−E) (T = 1) and any other pair samples exp(−E/T) (up to the discretisation bias of an
unadjusted chain; on E = x²/(2s²) the chain's stationary variance is T·s²/(1 − ε/(2s²)), not T·s²).
IGEBM and JEM take ε = 1 (on [−1, 1] images) and σ = 0.01: T = 5·10⁻⁵, a chain that almost only descends.

Chains: with `buffer_size` > 0 they are persistent (Tieleman, 2008): each batch's chains start from
samples of a replay buffer, a fraction `reinit` (5 %, Du & Mordatch) restarted from uniform noise on the data's
box, and the buffer takes the chains' ends back. The buffer is a module buffer, so it is checkpointed and
resumed with the run. With `buffer_size` = 0 every chain is short-run from noise (Nijkamp et al., 2019,
arXiv:1904.09770). `sample(n)` continues chains from the buffer (from noise without one).

Divergence: when an energy of the batch is non-finite or |E| exceeds `max_energy`, the step raises
`NonFiniteLoss` with one line; the trainer has written checkpoints only after clean steps, so the last one is good.

`jem` (Grathwohl et al., 2020, "Your classifier is secretly an energy based model", arXiv:1912.03263): the
logits f(x) of a classifier define p(y | x) = softmax(f(x))_y, E(x, y) = −f(x)[y] and
E(x) = −log Σ_y exp f(x)[y]; the loss is the cross-entropy of p(y | x) plus the contrastive term above on E(x)
(negatives by SGLD from the replay buffer).

Images are scaled from [0, 1] to [−1, 1] and chains clamped to that box; 2-D points are used as they are.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any, ClassVar, Protocol

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from dlcanon.data.base import Split
from dlcanon.errors import NonFiniteLoss, UserError
from dlcanon.metrics.calibration import expected_calibration_error
from dlcanon.metrics.feature_net import feature_net_for
from dlcanon.metrics.generative import mode_coverage, sample_quality
from dlcanon.objectives.base import Batch
from dlcanon.objectives.gan_protocols import require
from dlcanon.objectives.generative import Generative
from dlcanon.registry import OBJECTIVES


class EnergyNetwork(Protocol):
    """What `ebm` and `jem` read of a network: one sample's `shape`, its data's `data_classes`, `outputs` (1 for
    an energy E(x), C for a classifier's logits), `image`, and `forward(x)`."""

    shape: tuple[int, ...]
    data_classes: int
    outputs: int
    image: bool

    def forward(self, x: Tensor) -> Tensor: ...


def langevin(
    energy: Callable[[Tensor], Tensor],
    x: Tensor,
    *,
    steps: int,
    step_size: float,
    noise: float,
    clamp: tuple[float, float] | None = None,
    generator: torch.Generator | None = None,
) -> Tensor:
    """`steps` of x ← x − ε∇ₓE(x) + σξ from x (N, *shape); E maps (N, *shape) → (N,). Returns the detached end.

    Only ∇ₓ is computed (`autograd.grad` with respect to x), so no parameter's .grad changes."""
    x = x.detach()
    with torch.enable_grad():
        for _ in range(steps):
            x.requires_grad_(True)
            (grad,) = torch.autograd.grad(energy(x).sum(), x)
            xi = torch.randn(x.shape, device=x.device, dtype=x.dtype, generator=generator)
            x = (x - step_size * grad + noise * xi).detach()
            if clamp is not None:
                x = x.clamp(*clamp)
    return x


class EBM(Generative):
    """Contrastive divergence with Langevin negatives on an `EnergyNetwork` whose output is E(x) (N,).

    Settings (None: chosen by the data: 2-D points / [−1, 1] images): `step_size` ε (0.01 / 1.0), `noise` σ
    (0.005 / 0.01), `langevin_steps` K (10 / 20), `buffer_size` (10,000; 0: short-run chains from noise),
    `reinit` (0.05), `alpha` (0.1), `max_energy` (10⁴), `sample_steps` (K) extra steps for `sample`.
    """

    protocol: ClassVar[type] = EnergyNetwork
    # (2-D points, images): ε, σ, K
    DEFAULTS: ClassVar[dict[str, tuple[float, float]]] = {
        "step_size": (0.01, 1.0),
        "noise": (0.005, 0.01),
        "langevin_steps": (10, 20),
    }

    def __init__(
        self,
        network: nn.Module,
        *,
        step_size: float | None = None,
        noise: float | None = None,
        langevin_steps: int | None = None,
        sample_steps: int | None = None,
        buffer_size: int = 10_000,
        reinit: float = 0.05,
        alpha: float = 0.1,
        max_energy: float = 1e4,
        eval_seed: int = 0,
    ) -> None:
        super().__init__()
        require(network, self.protocol, type(self).__name__)
        self.network: Any = network
        self.check_outputs()
        image = int(bool(network.image))
        step_size = self.DEFAULTS["step_size"][image] if step_size is None else step_size
        noise = self.DEFAULTS["noise"][image] if noise is None else noise
        steps = int(self.DEFAULTS["langevin_steps"][image]) if langevin_steps is None else langevin_steps
        if not (step_size > 0 and noise >= 0 and steps >= 1 and buffer_size >= 0 and 0 <= reinit <= 1):
            raise UserError(
                "need step_size > 0, noise ≥ 0, langevin_steps ≥ 1, buffer_size ≥ 0 and reinit in [0, 1]; got "
                f"{step_size}, {noise}, {langevin_steps}, {buffer_size}, {reinit}"
            )
        if not (alpha >= 0 and max_energy > 0 and (sample_steps is None or sample_steps >= 0)):
            raise UserError(
                f"need alpha ≥ 0, max_energy > 0, sample_steps ≥ 0; got {alpha}, {max_energy}, {sample_steps}"
            )
        self.step_size, self.noise, self.langevin_steps = float(step_size), float(noise), int(steps)
        self.sample_steps = self.langevin_steps if sample_steps is None else int(sample_steps)
        self.reinit, self.alpha, self.max_energy = float(reinit), float(alpha), float(max_energy)
        self.eval_seed = eval_seed
        shape, k = tuple(network.shape), int(network.data_classes)
        dim = shape[-1] if not network.image else 0
        # the box of fresh chains: [−1, 1] for images; the data's range, widened by a quarter, for points
        self.register_buffer("low", -torch.ones(shape if network.image else (dim,)))
        self.register_buffer("high", torch.ones(shape if network.image else (dim,)))
        self.register_buffer("replay", self.uniform(int(buffer_size)))  # (buffer_size, *shape)
        self.register_buffer("mode_centres", torch.zeros(k if not network.image else 0, dim))
        self.register_buffer("mode_std", torch.zeros(()))
        self.step = 0

    def check_outputs(self) -> None:
        if self.network.outputs != 1:
            raise UserError(f"ebm needs a network with one output, the energy; this one has {self.network.outputs}")

    @property
    def temperature(self) -> float:
        """T = σ²/(2ε): the chains sample exp(−E/T)."""
        return self.noise**2 / (2 * self.step_size)

    @property
    def clamp(self) -> tuple[float, float] | None:
        return (-1.0, 1.0) if self.network.image else None

    def scale(self, x: Tensor) -> Tensor:
        """Data → the energy's domain: [0, 1] images to [−1, 1]; points unchanged."""
        return x * 2 - 1 if self.network.image else x

    def unscale(self, x: Tensor) -> Tensor:
        return ((x + 1) / 2).clamp(0, 1) if self.network.image else x

    def energy(self, x: Tensor) -> Tensor:
        """E(x) (N,) on the energy's domain."""
        return self.network(x).float()

    # ------------------------------------------------------------------ chains
    def uniform(self, n: int, generator: torch.Generator | None = None) -> Tensor:
        """n fresh starts, uniform on the box [low, high]."""
        shape = tuple(self.network.shape)
        u = torch.rand((n, *shape), device=self.low.device, generator=generator)
        return self.low + (self.high - self.low) * u

    def prepare(self, train: Split) -> None:
        """Points: the box of fresh chains is the data's range widened by 25 % each side, and the buffer is
        refilled there; labelled 2-D mixtures: modes = class means, σ = pooled within-class std (as the GAN's)."""
        if self.network.image:
            return
        x = train.x.float().flatten(1)
        lo, hi = x.min(0).values, x.max(0).values
        margin = 0.25 * (hi - lo)
        self.low.copy_(lo - margin)
        self.high.copy_(hi + margin)
        self.replay.copy_(self.uniform(len(self.replay)))
        if len(self.mode_centres) and train.y is not None:
            for k in range(len(self.mode_centres)):
                self.mode_centres[k] = x[train.y == k].mean(0)
            self.mode_std.fill_((x - self.mode_centres[train.y]).pow(2).mean().sqrt())

    def initial(self, n: int, generator: torch.Generator | None = None) -> tuple[Tensor, Tensor, Tensor]:
        """Starts of n chains (n, *shape), their buffer indices (n,) and which were reinitialised (n,) bool: each
        from a uniformly chosen buffer entry, or, with probability `reinit` (always without a buffer), from noise."""
        device, size = self.replay.device, len(self.replay)
        fresh = self.uniform(n, generator)
        if size == 0:
            none = torch.zeros(0, dtype=torch.long, device=device)
            return fresh, none, torch.ones(n, dtype=torch.bool, device=device)
        index = torch.randint(size, (n,), device=device, generator=generator)
        restart = torch.rand(n, device=device, generator=generator) < self.reinit
        mask = restart.view(-1, *[1] * (fresh.dim() - 1))
        return torch.where(mask, fresh, self.replay[index]), index, restart

    def negatives(self, n: int) -> Tensor:
        """x⁻: K Langevin steps from the replay buffer (or noise); the chains' ends go back into the buffer."""
        start, index, _ = self.initial(n)
        x = langevin(self.energy, start, steps=self.langevin_steps, step_size=self.step_size, noise=self.noise,
                     clamp=self.clamp)  # fmt: skip
        if len(index):
            self.replay[index] = x
        return x

    # ------------------------------------------------------------------ training
    def on_step(self, step: int, total_steps: int) -> None:
        self.step = step

    def contrastive(self, e_pos: Tensor, e_neg: Tensor) -> tuple[Tensor, dict[str, Tensor]]:
        """mean E(x⁺) − mean E(x⁻) + α·mean(E(x⁺)² + E(x⁻)²), after the divergence check."""
        self.check_divergence(torch.cat([e_pos.detach(), e_neg.detach()]))
        cd = e_pos.mean() - e_neg.mean()
        loss = cd + self.alpha * (e_pos.pow(2).mean() + e_neg.pow(2).mean())
        return loss, {"cd": cd.detach(), "energy_data": e_pos.detach().mean(), "energy_samples": e_neg.detach().mean()}

    def check_divergence(self, energies: Tensor) -> None:
        """NonFiniteLoss, one line, when an energy is NaN/∞ or |E| > max_energy (one device sync a step)."""
        worst = float(energies.abs().max()) if energies.numel() else 0.0
        if not worst <= self.max_energy:  # also true for NaN
            raise NonFiniteLoss(
                f"the energies diverged at step {self.step} (max |E| = {worst:.3g}, limit max_energy = "
                f"{self.max_energy:g}): lower the learning rate or the Langevin step size, or raise alpha"
            )

    def forward(self, batch: Batch, update: str = "model") -> tuple[Tensor, dict[str, Tensor]]:
        x, _ = batch
        x_neg = self.negatives(len(x))
        loss, logs = self.contrastive(self.energy(self.scale(x)), self.energy(x_neg))
        return loss, {"loss": loss.detach(), **logs}

    # ------------------------------------------------------------------ sampling and metrics
    @torch.no_grad()
    def sample(self, n: int, label: int | None = None, *, seed: int | None = None, steps: int | None = None) -> Tensor:
        """n samples in data space: `steps` (default `sample_steps`) more Langevin steps from replay-buffer
        entries (from noise without a buffer, or when `steps` is 0 only the entries); `seed` fixes the draw."""
        if label is not None:
            raise UserError(f"--label needs a class-conditional energy (jem); {type(self).__name__} has none")
        return self.draw(n, self.energy, seed=seed, steps=steps)

    def draw(self, n: int, energy: Callable[[Tensor], Tensor], *, seed: int | None, steps: int | None) -> Tensor:
        steps = self.sample_steps if steps is None else steps
        if steps < 0:
            raise UserError(f"--steps must be ≥ 0; got {steps}")
        g = None if seed is None else torch.Generator(self.replay.device).manual_seed(seed)
        start = self.uniform(n, g)
        if len(self.replay):
            start = self.replay[torch.randint(len(self.replay), (n,), device=self.replay.device, generator=g)]
        x = langevin(energy, start, steps=steps, step_size=self.step_size, noise=self.noise, clamp=self.clamp,
                     generator=g)  # fmt: skip
        return self.unscale(x).float()

    @torch.no_grad()
    def evaluate(self, batches: Iterable[Batch]) -> dict[str, float]:
        real = torch.cat([x for x, _ in batches]).float()
        return self.sample_metrics(real)

    def sample_metrics(self, real: Tensor) -> dict[str, float]:
        """Mean energies of the test data and of samples; on labelled 2-D mixtures mode coverage of 2,500
        samples; on points Fréchet distance/precision/recall of the coordinates, on images of the shipped
        metric classifier's features (pixels where none is shipped)."""
        fake = self.sample(max(2500, len(real)) if not self.network.image else len(real), seed=self.eval_seed)
        out = {
            "energy_data": float(self.energy(self.scale(real)).mean()),
            "energy_samples": float(self.energy(self.scale(fake)).mean()),
        }
        if not self.network.image:
            if len(self.mode_centres) and float(self.mode_std) > 0:
                out.update(mode_coverage(fake, self.mode_centres, float(self.mode_std)))
            return out | sample_quality(real.cpu(), fake[: len(real)].cpu())
        net = feature_net_for(tuple(real.shape[1:]))
        if net is None:
            return out | sample_quality(real.flatten(1).cpu(), fake.flatten(1).cpu())
        return out | sample_quality(net.features(real.cpu()), net.features(fake.cpu()))


class JEM(EBM):
    """Joint energy model: cross-entropy of softmax(f(x)) plus `generative` × the contrastive term on
    E(x) = −logsumexp_y f(x)[y]; `sample(n, label=y)` samples E(x, y) = −f(x)[y]."""

    def __init__(self, network: nn.Module, *, generative: float = 1.0, sample_metrics: bool = True,
                 **kwargs: Any) -> None:  # fmt: skip
        if not generative >= 0:
            raise UserError(f"generative (the weight of the contrastive term) must be ≥ 0; got {generative}")
        super().__init__(network, **kwargs)
        self.generative, self.with_samples = float(generative), bool(sample_metrics)

    def check_outputs(self) -> None:
        if self.network.outputs < 2:
            raise UserError(f"jem needs a classifier's logits (≥ 2 outputs); this network has {self.network.outputs}")

    def logits(self, x: Tensor) -> Tensor:
        return self.network(x).float()  # (N, C)

    def energy(self, x: Tensor) -> Tensor:
        """E(x) = −log Σ_y exp f(x)[y] (N,)."""
        return -torch.logsumexp(self.logits(x), dim=1)

    def classify(self, x: Tensor) -> Tensor:
        """p(y | x) = softmax(f(x)) (N, C) for data-space x."""
        return F.softmax(self.logits(self.scale(x)), dim=1)

    def forward(self, batch: Batch, update: str = "model") -> tuple[Tensor, dict[str, Tensor]]:
        x, y = batch
        if y is None:
            raise UserError("jem trains a classifier: it needs labelled data")
        logits = self.logits(self.scale(x))
        ce = F.cross_entropy(logits, y)
        logs = {"cross_entropy": ce.detach(), "accuracy": (logits.argmax(1) == y).float().mean()}
        loss = ce
        if self.generative > 0:
            x_neg = self.negatives(len(x))
            gen, more = self.contrastive(-torch.logsumexp(logits, dim=1), self.energy(x_neg))
            loss, logs = ce + self.generative * gen, logs | more
        return loss, {"loss": loss.detach(), **logs}

    @torch.no_grad()
    def sample(self, n: int, label: int | None = None, *, seed: int | None = None, steps: int | None = None) -> Tensor:
        """n samples of p(x) (or of p(x | y) ∝ exp f(x)[y] for `label` y), chains as in `EBM.sample`."""
        if label is None:
            return self.draw(n, self.energy, seed=seed, steps=steps)
        if not 0 <= label < self.network.outputs:
            raise UserError(f"--label must be a class in 0..{self.network.outputs - 1}; got {label}")
        return self.draw(n, lambda x: -self.logits(x)[:, label], seed=seed, steps=steps)

    @torch.no_grad()
    def evaluate(self, batches: Iterable[Batch]) -> dict[str, float]:
        """accuracy, nll (mean −log p(y | x)), ece (15 bins), and the sample metrics of `EBM` when asked."""
        xs, ys = zip(*batches, strict=True)
        real, y = torch.cat(xs).float(), torch.cat(ys)
        logits = torch.cat([self.logits(self.scale(x.float())) for x in xs])
        out = {
            "accuracy": float((logits.argmax(1) == y).double().mean()),
            "nll": float(F.cross_entropy(logits.double(), y)),
            "ece": expected_calibration_error(F.softmax(logits, 1), y),
        }
        return out | (self.sample_metrics(real) if self.with_samples else {})


@OBJECTIVES.register("ebm", tags=("G15",))
def build_ebm(network: nn.Module, **kwargs: Any) -> EBM:
    """Contrastive divergence with (persistent) Langevin negatives, L2 energy penalty alpha."""
    return EBM(network, **kwargs)


@OBJECTIVES.register("jem", tags=("G15",))
def build_jem(network: nn.Module, **kwargs: Any) -> JEM:
    """JEM: cross-entropy + contrastive divergence on E(x) = −logsumexp f(x), SGLD negatives from a replay buffer."""
    return JEM(network, **kwargs)
