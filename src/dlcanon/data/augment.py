"""Batched, on-device image augmentation for x of shape (N, C, H, W): every sample draws its own parameters
from the given `torch.Generator` (on x's device), and geometric transforms resample once with grid_sample.

Coordinates: pixel-centred p = (j + ½ − W/2, i + ½ − H/2) for row i, column j (x right, y down).
A geometric transform is the forward map p_out = M p_in (M 3×3); the output samples the input at M⁻¹ p_out
(bilinear, zero outside). Positive angles rotate counter-clockwise as displayed; positive shifts move
content right/down; scale > 1 enlarges. A range argument is (lo, hi) or a number v meaning
centre ± v (degrees: ±v, scale: 1 ± v, ...).
"""

from __future__ import annotations

import difflib
import inspect
from collections.abc import Callable, Sequence

import torch
import torch.nn.functional as F

from dlcanon.errors import UserError

Range = float | tuple[float, float]

# the curriculum IDs this module implements (read by the report's coverage page)
CURRICULUM = ("C9",)


# ---------------------------------------------------------------- helpers


def _range(value: Range, centre: float, name: str) -> tuple[float, float]:
    """(lo, hi) from a pair, or from a number v as (centre − v, centre + v)."""
    if isinstance(value, (tuple, list)):
        if len(value) != 2:
            raise UserError(f"augment: {name} must be a number or a (lo, hi) pair; got {value!r}")
        lo, hi = float(value[0]), float(value[1])
    else:
        if float(value) < 0:
            raise UserError(f"augment: {name} must be ≥ 0 (a ± range); got {value}")
        lo, hi = centre - float(value), centre + float(value)
    if not lo <= hi:
        raise UserError(f"augment: {name} range needs lo ≤ hi; got ({lo}, {hi})")
    return lo, hi


def _uniform(x: torch.Tensor, g: torch.Generator, lo: float, hi: float, *shape: int) -> torch.Tensor:
    """U[lo, hi] of shape (N, *shape) in float32 on x's device."""
    u = torch.rand(x.shape[0], *shape, generator=g, device=x.device, dtype=torch.float32)
    return lo + (hi - lo) * u


def _images(x: torch.Tensor) -> None:
    if x.dim() != 4:
        raise UserError(f"augmentation works on images (N, C, H, W); got shape {tuple(x.shape)}")


def affine_matrix(
    n: int,
    *,
    angle: torch.Tensor | None = None,
    scale: torch.Tensor | None = None,
    shear: torch.Tensor | None = None,
    shift: torch.Tensor | None = None,
    device: torch.device | str | None = None,
) -> torch.Tensor:
    """Forward maps (N, 3, 3) in pixel-centred coordinates: M = T(shift) · R(angle) · Sh(shear) · S(scale).

    angle, shear: (N,) degrees; R = [[cos, sin], [−sin, cos]] (counter-clockwise on screen, y down);
    Sh = [[1, tan shear], [0, 1]]; S = scale·I (scale (N,)); T translates by shift (N, 2) pixels (dx, dy).
    """
    m = torch.eye(3, device=device).repeat(n, 1, 1)
    if scale is not None:
        m[:, :2, :2] *= scale.view(n, 1, 1).to(m)
    if shear is not None:
        s = torch.eye(3, device=device).repeat(n, 1, 1)
        s[:, 0, 1] = torch.tan(torch.deg2rad(shear.to(m)))
        m = s @ m
    if angle is not None:
        a = torch.deg2rad(angle.to(m))
        r = torch.eye(3, device=device).repeat(n, 1, 1)
        r[:, 0, 0], r[:, 0, 1], r[:, 1, 0], r[:, 1, 1] = a.cos(), a.sin(), -a.sin(), a.cos()
        m = r @ m
    if shift is not None:
        m = m.clone()
        m[:, :2, 2] += shift.to(m)
    return m


def warp_affine(x: torch.Tensor, matrix: torch.Tensor, *, mode: str = "bilinear") -> torch.Tensor:
    """out(p) = x(M⁻¹ p) for forward maps M (N, 3, 3) in pixel-centred coordinates; zero outside.

    grid_sample's normalised coordinates are n = D⁻¹ p with D = diag(W/2, H/2) (align_corners=False),
    so θ = D⁻¹ M⁻¹[:2] (D ⊕ 1): one affine_grid + one grid_sample for the whole batch.
    """
    _images(x)
    n, _, h, w = x.shape
    inv = torch.linalg.inv(matrix.to(device=x.device, dtype=torch.float32))
    d = torch.tensor([w / 2, h / 2], device=x.device)
    theta = torch.empty(n, 2, 3, device=x.device)
    theta[:, :, :2] = inv[:, :2, :2] * d[None, None, :] / d[None, :, None]
    theta[:, :, 2] = inv[:, :2, 2] / d[None, :]
    grid = F.affine_grid(theta.to(x.dtype), list(x.shape), align_corners=False)
    return F.grid_sample(x, grid, mode=mode, padding_mode="zeros", align_corners=False)


CORNERS = ((-1.0, -1.0), (1.0, -1.0), (1.0, 1.0), (-1.0, 1.0))  # TL, TR, BR, BL, normalised (x, y)


def homography(src: torch.Tensor, dst: torch.Tensor) -> torch.Tensor:
    """H (N, 3, 3) with H[8] = 1 mapping 4 points src (N, 4, 2) to dst: (u, v) ↦ ((h0u + h1v + h2)/w,
    (h3u + h4v + h5)/w), w = h6u + h7v + 1; the 8×8 linear systems are solved in one batched call."""
    n = src.shape[0]
    u, v = src[..., 0], src[..., 1]
    X, Y = dst[..., 0], dst[..., 1]
    one, zero = torch.ones_like(u), torch.zeros_like(u)
    rows_x = torch.stack([u, v, one, zero, zero, zero, -u * X, -v * X], -1)
    rows_y = torch.stack([zero, zero, zero, u, v, one, -u * Y, -v * Y], -1)
    a = torch.cat([rows_x, rows_y], 1)  # (N, 8, 8)
    b = torch.cat([X, Y], 1)  # (N, 8)
    h = torch.linalg.solve(a, b)
    return torch.cat([h, torch.ones(n, 1, device=h.device, dtype=h.dtype)], 1).view(n, 3, 3)


def warp_perspective(x: torch.Tensor, corners: torch.Tensor) -> torch.Tensor:
    """Moves the input's corners CORNERS (normalised, ±1 = image edges) to `corners` (N, 4, 2).

    The sampling homography H maps output → input (corners ↦ CORNERS); out(n) = x(H n) for every output
    position n of the normalised grid, zero outside (and where the projective w ≤ 0).
    """
    _images(x)
    n = x.shape[0]
    canon = torch.tensor(CORNERS, device=x.device).expand(n, 4, 2)
    h = homography(corners.to(device=x.device, dtype=torch.float32), canon)
    eye = torch.eye(2, 3, device=x.device).expand(n, 2, 3)
    base = F.affine_grid(eye, list(x.shape), align_corners=False)  # (N, H, W, 2) output positions
    q = torch.einsum("nij,nhwj->nhwi", h[:, :, :2], base) + h[:, None, None, :, 2]
    w = q[..., 2:]
    grid = torch.where(w > 1e-6, q[..., :2] / w.clamp_min(1e-6), torch.full_like(q[..., :2], 2.0))
    return F.grid_sample(x, grid.to(x.dtype), mode="bilinear", padding_mode="zeros", align_corners=False)


def shift_pixels(x: torch.Tensor, dx: torch.Tensor, dy: torch.Tensor) -> torch.Tensor:
    """Exact integer shift: out[n, :, i, j] = x[n, :, i − dy_n, j − dx_n], zero where that is outside."""
    _images(x)
    n, _, h, w = x.shape
    rows = torch.arange(h, device=x.device)[None, :] - dy.view(n, 1).to(x.device)  # (N, H) source rows
    cols = torch.arange(w, device=x.device)[None, :] - dx.view(n, 1).to(x.device)  # (N, W)
    inside = ((rows >= 0) & (rows < h))[:, :, None] & ((cols >= 0) & (cols < w))[:, None, :]  # (N, H, W)
    batch = torch.arange(n, device=x.device)[:, None, None]
    out = x[batch, :, rows.clamp(0, h - 1)[:, :, None], cols.clamp(0, w - 1)[:, None, :]]  # (N, H, W, C)
    out = out.permute(0, 3, 1, 2)
    return torch.where(inside[:, None], out, torch.zeros((), dtype=x.dtype, device=x.device)).contiguous()


def adjust_intensity(x: torch.Tensor, contrast: torch.Tensor, brightness: torch.Tensor) -> torch.Tensor:
    """x' = clamp(c·(x − μ) + μ + b, 0, 1) per sample, μ = mean of the sample over (C, H, W)."""
    _images(x)
    c = contrast.view(-1, 1, 1, 1).to(x)
    b = brightness.view(-1, 1, 1, 1).to(x)
    mu = x.mean(dim=(1, 2, 3), keepdim=True)
    return (c * (x - mu) + mu + b).clamp(0.0, 1.0)


# ---------------------------------------------------------------- random transforms


def flip(x: torch.Tensor, generator: torch.Generator, *, p: float = 0.5) -> torch.Tensor:
    """Horizontal flip with probability p per sample: x'[..., j] = x[..., W − 1 − j]. Wrong for digits."""
    _images(x)
    if not 0 <= p <= 1:
        raise UserError(f"augment: flip p must be in [0, 1]; got {p}")
    hit = torch.rand(x.shape[0], generator=generator, device=x.device) < p
    return torch.where(hit[:, None, None, None], x.flip(-1), x)


def crop(x: torch.Tensor, generator: torch.Generator, *, pad: int = 2) -> torch.Tensor:
    """Pad by `pad` zeros and crop back to H×W at a random offset: an exact shift by dx, dy ∈ {−pad..pad}."""
    _images(x)
    if int(pad) != pad or pad < 0:
        raise UserError(f"augment: crop pad must be an integer ≥ 0; got {pad}")
    d = torch.randint(-int(pad), int(pad) + 1, (x.shape[0], 2), generator=generator, device=x.device)
    return shift_pixels(x, d[:, 0], d[:, 1])


def _scale_matrix(x: torch.Tensor, g: torch.Generator, *, scale: Range = 0.1) -> torch.Tensor:
    lo, hi = _range(scale, 1.0, "scale")
    if lo <= 0:
        raise UserError(f"augment: scale factors must be > 0; got range ({lo}, {hi})")
    return affine_matrix(x.shape[0], scale=_uniform(x, g, lo, hi), device=x.device)


def _rotate_matrix(x: torch.Tensor, g: torch.Generator, *, degrees: Range = 10.0) -> torch.Tensor:
    lo, hi = _range(degrees, 0.0, "degrees")
    return affine_matrix(x.shape[0], angle=_uniform(x, g, lo, hi), device=x.device)


def _translate_matrix(x: torch.Tensor, g: torch.Generator, *, shift: Range = 2 / 28) -> torch.Tensor:
    lo, hi = _range(shift, 0.0, "shift")
    size = torch.tensor([x.shape[3], x.shape[2]], device=x.device, dtype=torch.float32)
    return affine_matrix(x.shape[0], shift=_uniform(x, g, lo, hi, 2) * size, device=x.device)


def _affine_matrix(
    x: torch.Tensor,
    g: torch.Generator,
    *,
    degrees: Range = 10.0,
    scale: Range = 0.1,
    shear: Range = 5.0,
    shift: Range = 2 / 28,
) -> torch.Tensor:
    (a0, a1), (s0, s1) = _range(degrees, 0.0, "degrees"), _range(scale, 1.0, "scale")
    (h0, h1), (t0, t1) = _range(shear, 0.0, "shear"), _range(shift, 0.0, "shift")
    if s0 <= 0 or max(abs(h0), abs(h1)) >= 90:
        raise UserError(f"augment: affine needs scale > 0 and |shear| < 90°; got ({s0}, {s1}), ({h0}, {h1})")
    size = torch.tensor([x.shape[3], x.shape[2]], device=x.device, dtype=torch.float32)
    return affine_matrix(
        x.shape[0],
        angle=_uniform(x, g, a0, a1),
        scale=_uniform(x, g, s0, s1),
        shear=_uniform(x, g, h0, h1),
        shift=_uniform(x, g, t0, t1, 2) * size,
        device=x.device,
    )


def scale(x: torch.Tensor, generator: torch.Generator, *, scale: Range = 0.1) -> torch.Tensor:
    """Zoom about the centre: p_out = s·p_in, s ~ U(scale) (default 0.9–1.1)."""
    _images(x)
    return warp_affine(x, _scale_matrix(x, generator, scale=scale))


def rotate(x: torch.Tensor, generator: torch.Generator, *, degrees: Range = 10.0) -> torch.Tensor:
    """Rotate about the centre: p_out = R(θ)·p_in, θ ~ U(degrees) (default ±10°), counter-clockwise > 0."""
    _images(x)
    return warp_affine(x, _rotate_matrix(x, generator, degrees=degrees))


def translate(x: torch.Tensor, generator: torch.Generator, *, shift: Range = 2 / 28) -> torch.Tensor:
    """Random translation (pad-and-crop with zero fill): p_out = p_in + (t_x·W, t_y·H), t ~ U(shift) per axis.

    The default 2/28 is ±2 px on 28×28 digits; sub-pixel shifts interpolate bilinearly.
    """
    _images(x)
    return warp_affine(x, _translate_matrix(x, generator, shift=shift))


def affine(
    x: torch.Tensor,
    generator: torch.Generator,
    *,
    degrees: Range = 10.0,
    scale: Range = 0.1,
    shear: Range = 5.0,
    shift: Range = 2 / 28,
) -> torch.Tensor:
    """Random affine map p_out = T(shift·size) R(θ) Sh(φ) S(s) p_in, each parameter uniform per sample."""
    _images(x)
    return warp_affine(x, _affine_matrix(x, generator, degrees=degrees, scale=scale, shear=shear, shift=shift))


def perspective(x: torch.Tensor, generator: torch.Generator, *, distortion: float = 0.2) -> torch.Tensor:
    """Random perspective: each corner c_k (normalised ±1) moves to c_k + δ_k, δ_k ~ U[−d, d]², i.e. by up to
    d·(W/2, H/2) pixels; the output is the homography warp taking the four corners there (zero fill)."""
    _images(x)
    if not 0 <= distortion < 1:
        raise UserError(f"augment: perspective distortion must be in [0, 1); got {distortion}")
    delta = _uniform(x, generator, -distortion, distortion, 4, 2)
    return warp_perspective(x, torch.tensor(CORNERS, device=x.device) + delta)


def intensity(
    x: torch.Tensor, generator: torch.Generator, *, brightness: Range = 0.1, contrast: Range = 0.2
) -> torch.Tensor:
    """x' = clamp(c·(x − μ) + μ + b, 0, 1), μ the sample mean, c ~ U(contrast: 1 ± v), b ~ U(brightness)."""
    _images(x)
    c0, c1 = _range(contrast, 1.0, "contrast")
    b0, b1 = _range(brightness, 0.0, "brightness")
    c = _uniform(x, generator, c0, c1)
    return adjust_intensity(x, c, _uniform(x, generator, b0, b1))


def noise(x: torch.Tensor, generator: torch.Generator, *, std: float = 0.05, clip: bool = False) -> torch.Tensor:
    """Additive Gaussian noise x' = x + σ·ε, ε ~ N(0, I); clamped to [0, 1] only with clip=True."""
    _images(x)
    if std < 0:
        raise UserError(f"augment: noise std must be ≥ 0; got {std}")
    eps = torch.randn(x.shape, generator=generator, device=x.device, dtype=x.dtype)
    out = x + std * eps
    return out.clamp(0.0, 1.0) if clip else out


# ---------------------------------------------------------------- composition

# Application order, whatever order the names are given in: geometry first, photometry, then noise.
TRANSFORMS: dict[str, Callable[..., torch.Tensor]] = {
    "flip": flip,
    "crop": crop,
    "scale": scale,
    "rotate": rotate,
    "affine": affine,
    "translate": translate,
    "perspective": perspective,
    "intensity": intensity,
    "noise": noise,
}
# Consecutive affine transforms are fused into one warp (one interpolation, less blur).
_MATRICES: dict[str, Callable[..., torch.Tensor]] = {
    "scale": _scale_matrix,
    "rotate": _rotate_matrix,
    "affine": _affine_matrix,
    "translate": _translate_matrix,
}
PRESETS: dict[str, tuple[tuple[str, ...], dict[str, Range]]] = {
    # digits: no flip (a mirrored 2 is not a 2); ±10°, ±2 px at 28×28, 0.9–1.1.
    "digits": (("scale", "rotate", "translate"), {"degrees": 10.0, "shift": 2 / 28, "scale": 0.1}),
    # natural images (CIFAR-style): flip, pad-4 random crop, mild brightness/contrast.
    "natural": (("flip", "crop", "intensity"), {"pad": 4, "brightness": 0.1, "contrast": 0.1}),
}


def _keywords(fn: Callable) -> dict[str, object]:
    return {
        k: p.default for k, p in inspect.signature(fn).parameters.items() if p.kind is inspect.Parameter.KEYWORD_ONLY
    }


class Augment:
    """A fixed-order composition of named transforms, called as `augment(x, generator)`.

    `strengths` are keyword arguments of the chosen transforms (e.g. degrees=15, shift=0.1, std=0.02);
    a key shared by two chosen transforms (degrees for rotate and affine) sets both.
    """

    def __init__(self, names: Sequence[str], **strengths: object) -> None:
        for name in names:
            if name not in TRANSFORMS:
                close = difflib.get_close_matches(name, list(TRANSFORMS) + list(PRESETS), n=3, cutoff=0.5)
                hint = f"did you mean {', '.join(close)}?" if close else f"known: {', '.join(TRANSFORMS)}"
                raise UserError(f"unknown augmentation {name!r}; {hint}")
        chosen = [n for n in TRANSFORMS if n in names]
        known = {k for n in chosen for k in _keywords(TRANSFORMS[n])}
        unknown = sorted(set(strengths) - known)
        if unknown:
            raise UserError(
                f"augmentation strength {unknown[0]!r} fits none of {', '.join(chosen) or 'no transforms'}; "
                f"strengths: {', '.join(sorted(known)) or 'none'}"
            )
        self.steps: list[tuple[str, dict[str, object]]] = [
            (n, {k: v for k, v in strengths.items() if k in _keywords(TRANSFORMS[n])}) for n in chosen
        ]
        self(torch.zeros(1, 1, 4, 4), torch.Generator().manual_seed(0))  # bad strengths fail now, not mid-run

    @classmethod
    def parse(cls, spec: str) -> Augment:
        """From "rotate,translate,degrees=15,shift=0.1" (names, presets and key=value; lo:hi for a range)."""
        names: list[str] = []
        strengths: dict[str, object] = {}
        for item in (s.strip() for s in spec.split(",")):
            if not item or item == "none":
                continue
            if "=" in item:
                key, value = (s.strip() for s in item.split("=", 1))
                strengths[key] = _value(key, value)
            elif item in PRESETS:
                preset_names, preset_strengths = PRESETS[item]
                names += [n for n in preset_names if n not in names]
                strengths = {**preset_strengths, **strengths}
            else:
                names.append(item)
        return cls(names, **strengths)

    @classmethod
    def preset(cls, name: str, **strengths: object) -> Augment:
        """A preset ("digits", "natural") with optional strength overrides."""
        if name not in PRESETS:
            raise UserError(f"unknown augmentation preset {name!r}; presets: {', '.join(PRESETS)}")
        names, defaults = PRESETS[name]
        return cls(names, **{**defaults, **strengths})

    def __call__(self, x: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        if not self.steps:
            return x
        _images(x)
        matrix = None
        for name, kw in self.steps:
            if name in _MATRICES:
                m = _MATRICES[name](x, generator, **kw)
                matrix = m if matrix is None else m @ matrix  # later transforms apply after earlier ones
                continue
            if matrix is not None:
                x, matrix = warp_affine(x, matrix), None
            x = TRANSFORMS[name](x, generator, **kw)
        return x if matrix is None else warp_affine(x, matrix)

    def __repr__(self) -> str:
        parts = [f"{n}({', '.join(f'{k}={v!r}' for k, v in kw.items())})" for n, kw in self.steps]
        return f"Augment({', '.join(parts)})"


def _value(key: str, text: str) -> object:
    """'3' → 3, '0.1' → 0.1, '0.9:1.1' → (0.9, 1.1), 'true'/'false' → bool."""
    if text.lower() in ("true", "false"):
        return text.lower() == "true"
    try:
        if ":" in text:
            lo, hi = text.split(":", 1)
            return float(lo), float(hi)
        return int(text) if text.lstrip("+-").isdigit() else float(text)
    except ValueError:
        raise UserError(f"augmentation strength {key}={text!r}: expected a number, lo:hi or true/false") from None
