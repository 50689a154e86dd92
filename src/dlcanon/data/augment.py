"""Batched, on-device augmentation of an input and its target together: `Augment(names, **strengths)`.

x: images (N, C, H, W) or volumes (N, C, D, H, W). Every sample draws its own parameters from the given
`torch.Generator` (on x's device). Geometric transforms (`dlcanon.data.geometric`) move the input and an
aligned target with the same parameters: integer label maps y (N, *spatial) by nearest-neighbour sampling,
float dense targets y (N, C', *spatial) (paired images, regression maps) with the input's interpolation.
Photometric transforms (`dlcanon.data.photometric`) change the input only. Other targets (class labels (N,),
per-sample values (N, K)) pass through. Consecutive affine transforms fuse into one resampling.
"""

from __future__ import annotations

import difflib
import inspect
from collections.abc import Callable, Sequence

import torch

from dlcanon.data.geometric import GEOMETRIC, Affine, Range, Warp
from dlcanon.data.photometric import PHOTOMETRIC
from dlcanon.data.warp import spatial_dims
from dlcanon.errors import UserError

__all__ = ["PRESETS", "TRANSFORMS", "Augment"]

# the curriculum IDs this module implements (read by the report's coverage page)
CURRICULUM = ("C9",)

# Application order, whatever order the names are given in: geometry first, photometry, then noise.
TRANSFORMS: dict[str, Callable[..., Warp | torch.Tensor]] = {**GEOMETRIC, **PHOTOMETRIC}
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


def _dense(x: torch.Tensor, y: torch.Tensor | None) -> bool:
    """Whether y is aligned with x and must move with it: (N, *spatial) or (N, C', *spatial)."""
    if y is None:
        return False
    spatial = tuple(x.shape[2:])
    if tuple(y.shape[1:]) == spatial or (y.dim() == x.dim() and tuple(y.shape[2:]) == spatial):
        return True
    if y.dim() > 2:
        raise UserError(
            f"augmentation moves dense targets with the input: y must be (N, *{spatial}) or (N, C, *{spatial}) "
            f"for x {tuple(x.shape)}; got y {tuple(y.shape)}"
        )
    return False


def _move(warp: Warp, x: torch.Tensor, y: torch.Tensor | None, dense: bool) -> tuple[torch.Tensor, torch.Tensor | None]:
    """The same warp on x (bilinear) and on a dense y: nearest for integer label maps, bilinear for float."""
    x = warp(x, mode="bilinear")
    if not dense:
        return x, y
    t = y if y.dim() == x.dim() else y.unsqueeze(1)  # (N, C', *spatial)
    labels = not torch.is_floating_point(t)
    t = warp(t.float(), mode="nearest").round().to(y.dtype) if labels else warp(t, mode="bilinear")
    return x, t if y.dim() == x.dim() else t.squeeze(1)


class Augment:
    """A fixed-order composition of named transforms, called as `augment(x, y, generator=g) -> (x', y')`.

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
        self(torch.zeros(1, 1, 4, 4), None, generator=torch.Generator().manual_seed(0))  # bad strengths fail now

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

    def __call__(
        self, x: torch.Tensor, y: torch.Tensor | None, *, generator: torch.Generator
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """x (N, C, *spatial) and its target y, both transformed; the draws depend on x's shape alone."""
        if not self.steps:
            return x, y
        spatial_dims(x)
        dense = _dense(x, y)
        pending: Affine | None = None  # affine warps wait to be fused with the next ones
        for name, kw in self.steps:
            if name in PHOTOMETRIC:
                if pending is not None:
                    (x, y), pending = _move(pending, x, y, dense), None
                x = PHOTOMETRIC[name](x, generator, **kw)
                continue
            warp = GEOMETRIC[name](x, generator, **kw)
            if isinstance(warp, Affine):
                pending = warp if pending is None else pending.then(warp)  # later transforms apply after earlier
                continue
            if pending is not None:
                (x, y), pending = _move(pending, x, y, dense), None
            x, y = _move(warp, x, y, dense)
        return (x, y) if pending is None else _move(pending, x, y, dense)

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
