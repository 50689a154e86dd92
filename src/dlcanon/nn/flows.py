"""Invertible layers with exact log-determinants, the parts of normalizing flows (G13).

Every layer maps x to z = f(x) and back, and each direction returns the log-determinant of its own Jacobian,
one per sample:

    forward(x) -> (z, log|det ∂z/∂x|)        inverse(z) -> (x, log|det ∂x/∂z|),

so the two log-dets of a round trip cancel. Tensors are (N, C, *spatial): (N, D) vectors (no spatial axes) or
(N, C, H, W) images; a per-channel parameter acts on every position, so its log-det counts prod(spatial) times.

* Affine coupling (Dinh, Sohl-Dickstein & Bengio, 2017, "Density estimation using Real NVP", arXiv:1605.08803):
  with a binary mask b, y = b⊙x + (1 − b)⊙(x⊙exp(s(b⊙x)) + t(b⊙x)), log-det = Σ (1 − b)⊙s. Masks: checkerboard
  or channel halves (images), alternating halves (vectors). Here s = tanh(ŝ)·scale, a bounded log-scale (the
  paper bounds it with tanh and a learned scale too).
* Squeeze (RealNVP): (C, H, W) → (4C, H/2, W/2), each 2×2 block to channels; a permutation, log-det 0.
* ActNorm (Kingma & Dhariwal, 2018, "Glow", arXiv:1807.03039): y = (x + b)⊙exp(log s) per channel, log-det =
  HW·Σ log s; b and log s are initialised from the first batch so that y has zero mean and unit variance per
  channel (data-dependent initialisation), then trained.
* Invertible 1×1 convolution in LU form (Glow §3.2): W = P·L·(U + diag(sign(s)·exp(log|s|))), P a fixed
  permutation, L unit lower-triangular, U strictly upper-triangular: log-det = HW·Σ log|s|, O(C) instead of
  O(C³). On vectors it is an invertible linear map (H = W = 1).
* MADE (Germain et al., 2015, arXiv:1502.03509) and the MAF layer (Papamakarios, Pavlakou & Murray, 2017,
  "Masked Autoregressive Flow", arXiv:1705.07057): u_i = (x_i − μ_i(x_<i))·exp(−α_i(x_<i)), log-det = −Σ α_i;
  density evaluation is one pass, the inverse (sampling) D sequential passes.
"""

from __future__ import annotations

import abc
import itertools
import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

CURRICULUM = ("G13",)


def _positions(x: Tensor) -> int:
    """prod(spatial) of (N, C, *spatial): how many times a per-channel map acts on one sample."""
    return math.prod(x.shape[2:])


def _per_channel(p: Tensor, x: Tensor) -> Tensor:
    """A (C,) parameter shaped to broadcast against x (N, C, *spatial)."""
    return p.view(1, -1, *[1] * (x.dim() - 2))


class FlowLayer(nn.Module, abc.ABC):
    """An invertible map; subclasses implement `forward(x) -> (z, logdet)` and `inverse(z) -> (x, logdet)`."""

    @abc.abstractmethod
    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """z = f(x) and log|det ∂z/∂x|, one per sample."""

    @abc.abstractmethod
    def inverse(self, z: Tensor) -> tuple[Tensor, Tensor]:
        """x = f⁻¹(z) and log|det ∂x/∂z|, one per sample."""


class FlowSequence(FlowLayer):
    """f = f_K ∘ … ∘ f_1: log-dets add; the inverse runs the layers backwards."""

    def __init__(self, layers: list[nn.Module]) -> None:
        super().__init__()
        self.layers = nn.ModuleList(layers)

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        total = x.new_zeros(x.shape[0])
        for layer in self.layers:
            x, logdet = layer(x)
            total = total + logdet
        return x, total

    def inverse(self, z: Tensor) -> tuple[Tensor, Tensor]:
        total = z.new_zeros(z.shape[0])
        for layer in reversed(self.layers):
            z, logdet = layer.inverse(z)
            total = total + logdet
        return z, total


# ---------------------------------------------------------------------------------------------- masks
def checkerboard_mask(shape: tuple[int, ...], *, parity: int = 0) -> Tensor:
    """1 where (i + j + parity) is even, broadcast over channels: (1, C, H, W) for shape (C, H, W)."""
    c, h, w = shape
    ij = torch.arange(h)[:, None] + torch.arange(w)[None, :]
    return ((ij + parity) % 2 == 0).float().expand(c, h, w).unsqueeze(0).clone()


def channel_mask(shape: tuple[int, ...], *, parity: int = 0) -> Tensor:
    """1 on the first ⌈C/2⌉ channels (parity 0) or on the rest (parity 1): (1, C, *spatial); vectors (D,) too."""
    c = shape[0]
    m = (torch.arange(c) < (c + 1) // 2).float()
    m = m if parity == 0 else 1 - m
    return m.view(1, c, *[1] * (len(shape) - 1)).expand(1, *shape).clone()


# ---------------------------------------------------------------------------------------------- layers
class AffineCoupling(FlowLayer):
    """RealNVP's masked affine coupling: y = b⊙x + (1 − b)⊙(x⊙e^s + t), (s, t) = split(net(b⊙x)).

    `net` maps (N, C, *spatial) to (N, 2C, *spatial); its last layer should start at zero so the layer starts as
    the identity. s = scale·tanh(ŝ) with a learned per-channel `scale` (initialised to 1)."""

    def __init__(self, mask: Tensor, net: nn.Module) -> None:
        super().__init__()
        self.register_buffer("mask", mask)
        self.net = net
        self.scale = nn.Parameter(torch.ones(mask.shape[1]))

    def _st(self, x_masked: Tensor) -> tuple[Tensor, Tensor]:
        s, t = self.net(x_masked).chunk(2, dim=1)
        inv = 1 - self.mask
        s = _per_channel(self.scale, s) * torch.tanh(s) * inv
        return s, t * inv

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        s, t = self._st(x * self.mask)
        return x * torch.exp(s) + t, s.flatten(1).sum(1)

    def inverse(self, z: Tensor) -> tuple[Tensor, Tensor]:
        s, t = self._st(z * self.mask)  # b⊙z = b⊙x: the conditioner sees the same input
        return (z - t) * torch.exp(-s), -s.flatten(1).sum(1)


class Squeeze(FlowLayer):
    """(N, C, H, W) → (N, 4C, H/2, W/2) by `pixel_unshuffle`: a permutation of the entries, log-det 0."""

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        return F.pixel_unshuffle(x, 2), x.new_zeros(x.shape[0])

    def inverse(self, z: Tensor) -> tuple[Tensor, Tensor]:
        return F.pixel_shuffle(z, 2), z.new_zeros(z.shape[0])


class Permute(FlowLayer):
    """A fixed permutation of the channels (of a vector's entries): log-det 0. Default: reversal (MAF)."""

    def __init__(self, channels: int, *, order: Tensor | None = None) -> None:
        super().__init__()
        order = torch.arange(channels - 1, -1, -1) if order is None else order
        self.register_buffer("order", order.long())
        self.register_buffer("inverse_order", torch.argsort(order).long())

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        return x[:, self.order], x.new_zeros(x.shape[0])

    def inverse(self, z: Tensor) -> tuple[Tensor, Tensor]:
        return z[:, self.inverse_order], z.new_zeros(z.shape[0])


class ActNorm(FlowLayer):
    """Glow's activation normalisation y = (x + b)⊙e^{log s} per channel; log-det = prod(spatial)·Σ log s.

    The first forward pass while `initialized` is 0 sets b = −mean and log s = −log std (per channel, over the
    batch and the positions), so that batch's output has zero mean and unit variance; the flag is a buffer, so a
    checkpoint carries it and a resumed run does not initialise again. `initialize(x)` does it explicitly."""

    def __init__(self, channels: int, *, eps: float = 1e-6) -> None:
        super().__init__()
        self.bias = nn.Parameter(torch.zeros(channels))
        self.log_scale = nn.Parameter(torch.zeros(channels))
        self.register_buffer("initialized", torch.zeros((), dtype=torch.uint8))
        self.eps = eps
        self._ready = False  # caches `initialized` once it reads 1: no device sync per step afterwards

    @torch.no_grad()
    def initialize(self, x: Tensor) -> None:
        """b = −E[x], log s = −log √Var[x] per channel, over (N, *spatial) of x (N, C, *spatial)."""
        flat = x.transpose(0, 1).flatten(1)  # (C, N·positions)
        mean, std = flat.mean(1), flat.std(1, unbiased=False)
        self.bias.copy_(-mean)
        self.log_scale.copy_(-torch.log(std + self.eps))
        self.initialized.fill_(1)

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        if not self._ready:
            if not self.initialized.item():
                self.initialize(x)
            self._ready = True
        y = (x + _per_channel(self.bias, x)) * torch.exp(_per_channel(self.log_scale, x))
        return y, self.log_scale.sum().expand(x.shape[0]) * _positions(x)

    def inverse(self, z: Tensor) -> tuple[Tensor, Tensor]:
        x = z * torch.exp(-_per_channel(self.log_scale, z)) - _per_channel(self.bias, z)
        return x, -self.log_scale.sum().expand(z.shape[0]) * _positions(z)


class InvertibleConv1x1(FlowLayer):
    """Glow's invertible 1×1 convolution in LU form, W = P·L·(U + diag(sign_s·e^{log|s|})) (C, C).

    Initialised from a random rotation (QR of a Gaussian matrix, as Glow), so it starts volume-preserving.
    log-det = prod(spatial)·Σ log|s|. On (N, D) vectors it is the invertible linear map x ↦ Wx."""

    def __init__(self, channels: int, *, seed: int = 0) -> None:
        super().__init__()
        g = torch.Generator().manual_seed(seed)
        q, _ = torch.linalg.qr(torch.randn(channels, channels, generator=g, device="cpu"))
        p, lower, upper = torch.linalg.lu(q)
        s = torch.diagonal(upper)
        self.register_buffer("P", p)
        self.register_buffer("sign_s", torch.sign(s))
        self.register_buffer("lower_mask", torch.tril(torch.ones(channels, channels), -1))
        self.register_buffer("eye", torch.eye(channels))
        self.L = nn.Parameter(lower)
        self.U = nn.Parameter(torch.triu(upper, 1))
        self.log_s = nn.Parameter(torch.log(s.abs()))

    def weight(self) -> Tensor:
        """W = P·L·(U + diag(sign_s·e^{log|s|})), (C_out, C_in)."""
        lower = self.L * self.lower_mask + self.eye
        upper = self.U * self.lower_mask.T + torch.diag(self.sign_s * torch.exp(self.log_s))
        return self.P @ lower @ upper

    @staticmethod
    def _mix(w: Tensor, x: Tensor) -> Tensor:
        return torch.einsum("oc,nc...->no...", w, x)

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        return self._mix(self.weight(), x), self.log_s.sum().expand(x.shape[0]) * _positions(x)

    def inverse(self, z: Tensor) -> tuple[Tensor, Tensor]:
        w_inv = torch.linalg.inv(self.weight().double()).to(z.dtype)
        return self._mix(w_inv, z), -self.log_s.sum().expand(z.shape[0]) * _positions(z)


class Split(FlowLayer):
    """Multi-scale architecture (RealNVP §3.6): keep channels [C/2:] as transformed by `rest`, factor out the first
    half straight into the latent. (N, C, H, W) → flat (N, C·H·W): the factored half, then `rest`'s output,
    flattened. `rest` maps (N, C − C/2, H, W) to a flat (N, ·) latent (itself a `Split` or a `Flatten`)."""

    def __init__(self, shape: tuple[int, int, int], rest: nn.Module) -> None:
        super().__init__()
        c, h, w = shape
        self.keep = c // 2  # channels factored out here
        self.shape, self.rest = (c, h, w), rest

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        out, carry = x[:, : self.keep], x[:, self.keep :]
        z, logdet = self.rest(carry)
        return torch.cat([out.flatten(1), z], 1), logdet

    def inverse(self, z: Tensor) -> tuple[Tensor, Tensor]:
        _c, h, w = self.shape
        n_out = self.keep * h * w
        carry, logdet = self.rest.inverse(z[:, n_out:])
        return torch.cat([z[:, :n_out].view(-1, self.keep, h, w), carry], 1), logdet


class Flatten(FlowLayer):
    """(N, *shape) ↔ (N, prod(shape)): a reshape, log-det 0."""

    def __init__(self, shape: tuple[int, ...]) -> None:
        super().__init__()
        self.shape = tuple(shape)

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        return x.flatten(1), x.new_zeros(x.shape[0])

    def inverse(self, z: Tensor) -> tuple[Tensor, Tensor]:
        return z.view(-1, *self.shape), z.new_zeros(z.shape[0])


# ---------------------------------------------------------------------------------------------- MADE / MAF
def made_masks(dims: int, hidden: list[int]) -> list[Tensor]:
    """MADE's masks with degrees m(input i) = i (1 … D), hidden degrees cycling through 1 … D − 1, and output
    degree i: a hidden unit of degree k sees inputs ≤ k (M = [m_out ≥ m_in]); an output i sees hidden units of
    degree < i (M = [m_out > m_in]), so output i depends on x_<i only. Returns one (out, in) mask per layer."""
    degrees = [torch.arange(1, dims + 1)]
    for h in hidden:
        degrees.append(torch.arange(h) % max(1, dims - 1) + 1)
    masks = [(d_out[:, None] >= d_in[None, :]).float() for d_in, d_out in itertools.pairwise(degrees)]
    masks.append((degrees[0][:, None] > degrees[-1][None, :]).float())
    return masks


class MaskedLinear(nn.Linear):
    """A linear layer whose weight is multiplied by a fixed binary mask (out, in)."""

    def __init__(self, mask: Tensor) -> None:
        super().__init__(mask.shape[1], mask.shape[0])
        self.register_buffer("mask", mask)

    def forward(self, x: Tensor) -> Tensor:
        return F.linear(x, self.weight * self.mask, self.bias)


class MADE(nn.Module):
    """Masked autoencoder: (N, D) → (μ, α), each (N, D), with μ_i, α_i functions of x_<i only (ReLU hidden)."""

    def __init__(self, dims: int, hidden: list[int]) -> None:
        super().__init__()
        masks = made_masks(dims, hidden)
        layers: list[nn.Module] = []
        for m in masks[:-1]:
            layers += [MaskedLinear(m), nn.ReLU()]
        out_mask = masks[-1].repeat(2, 1)  # μ and α share the output mask
        head = MaskedLinear(out_mask)
        nn.init.zeros_(head.weight)
        nn.init.zeros_(head.bias)
        self.net = nn.Sequential(*layers, head)

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        mu, alpha = self.net(x).chunk(2, dim=1)
        return mu, alpha


class MAFLayer(FlowLayer):
    """u = (x − μ(x))⊙e^{−α(x)} (density direction, one pass), log-det = −Σ α; the inverse x_i = u_i e^{α_i} + μ_i
    takes D passes, each fixing one more coordinate. α is bounded to (−`bound`, `bound`) by a tanh."""

    def __init__(self, dims: int, hidden: list[int], *, bound: float = 5.0) -> None:
        super().__init__()
        self.made, self.dims, self.bound = MADE(dims, hidden), dims, bound

    def _params(self, x: Tensor) -> tuple[Tensor, Tensor]:
        mu, alpha = self.made(x)
        return mu, self.bound * torch.tanh(alpha / self.bound)

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        mu, alpha = self._params(x)
        return (x - mu) * torch.exp(-alpha), -alpha.sum(1)

    def inverse(self, z: Tensor) -> tuple[Tensor, Tensor]:
        x = torch.zeros_like(z)
        alpha = torch.zeros_like(z)
        for i in range(self.dims):  # x_i depends on x_<i, already final
            mu, alpha = self._params(x)
            x = x.clone()
            x[:, i] = z[:, i] * torch.exp(alpha[:, i]) + mu[:, i]
        return x, alpha.sum(1)
