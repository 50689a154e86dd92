""".npz archives as `npz:PATH`: inputs of every kind (points, signals, images, volumes) and targets of every
kind (class labels, label maps, paired images, regression targets). Read by `npyfile`: nothing is unpickled,
declared sizes are checked against the file before anything is allocated, and a malformed archive is a
`UserError` naming the file.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from dlcanon.data.base import KINDS, TARGET_KINDS, DataBundle, Split, Target
from dlcanon.data.npyfile import load_npz as load_npz_arrays
from dlcanon.data.sources import stratified_split
from dlcanon.errors import UserError


def _npz_arrays(path: Path) -> dict[str, np.ndarray]:
    """Every array of the archive, sizes checked before reading (`npyfile`): object arrays are refused."""
    return {key: _npz_member(a, key, path) for key, a in load_npz_arrays(path).items()}


def _npz_member(a: np.ndarray, key: str, path: Path) -> np.ndarray:
    if not (np.issubdtype(a.dtype, np.integer) or np.issubdtype(a.dtype, np.floating) or a.dtype == np.bool_):
        raise UserError(f"{path}: array {key!r} has dtype {a.dtype}; expected integers, floats or booleans")
    return a


def _npz_x(x: np.ndarray, kind: str, path: Path, key: str) -> torch.Tensor:
    """Images: uint8 → /255; (N, H, W) → (N, 1, H, W); (N, H, W, C) with C ∈ {1, 3} → (N, C, H, W).
    Volumes: uint8 → /255; (N, D, H, W) → (N, 1, D, H, W). Float images and volumes must lie in [0, 1]; no
    input may hold NaN or ±∞."""
    if np.issubdtype(x.dtype, np.floating) and not np.isfinite(x).all():
        raise UserError(f"{path}: {key!r} holds NaN or infinite values")
    if kind in ("image", "volume"):
        rank = 4 if kind == "image" else 5
        if x.ndim == rank - 1:
            x = x[:, None]
        if x.ndim != rank:
            need = "(N, C, H, W) or (N, H, W[, C])" if kind == "image" else "(N, C, D, H, W) or (N, D, H, W)"
            raise UserError(f"{path}: {key!r} has shape {x.shape}; {kind}s need {need}")
        if kind == "image" and x.shape[-1] in (1, 3) and x.shape[1] not in (1, 3):
            x = x.transpose(0, 3, 1, 2)
        if x.dtype == np.uint8:
            return torch.from_numpy(np.ascontiguousarray(x)).float().div_(255.0)
        t = torch.tensor(x, dtype=torch.float32)
        if t.numel() and not (t.min() >= 0 and t.max() <= 1):
            raise UserError(f"{path}: {key!r} float {kind}s must lie in [0, 1]; got [{t.min():g}, {t.max():g}]")
        return t
    return torch.tensor(x, dtype=torch.float32)


def image_from_array(a: np.ndarray, path: Path) -> torch.Tensor:
    """One image (C, H, W) from an array (C, H, W), (H, W) or (H, W, C), by the rules of `npz:` inputs: numeric
    dtype, uint8 → /255, floats in [0, 1], no NaN or ±∞; a UserError otherwise."""
    return _npz_x(_npz_member(a, "array", path)[None], "image", path, "array")[0]


def _npz_target_kind(y: np.ndarray, x: torch.Tensor, target: str | None) -> str:
    """The declared target, else: (N,) class labels; integers shaped like x's spatial axes a mask; other
    arrays of rank ≥ 3 a paired image; anything else a regression target."""
    if target is not None:
        if target not in TARGET_KINDS[:-1]:
            raise UserError(f"npz: target must be one of {', '.join(TARGET_KINDS[:-1])}; got {target!r}")
        return target
    integral = np.issubdtype(y.dtype, np.integer) or y.dtype == np.bool_
    if y.ndim == 1:
        return "class"
    if integral and x.dim() >= 4 and y.shape[1:] == tuple(x.shape[2:]):
        return "mask"
    return "image" if y.ndim >= 3 else "regression"


def _npz_y(y: np.ndarray, n: int, target: str, kind: str, path: Path, key: str) -> torch.Tensor:
    """y of the given target kind as a tensor: labels int64 ≥ 0, images converted like x, regression float32."""
    if len(y) != n or (target == "class" and y.ndim != 1):
        expected = f"({n},)" if target == "class" else f"({n}, ...)"
        raise UserError(f"{path}: {key!r} has shape {y.shape}; expected {expected} to match the samples")
    if target == "image":
        return _npz_x(y, kind, path, key)
    if target == "regression":
        return torch.tensor(y, dtype=torch.float32)
    integral = np.issubdtype(y.dtype, np.floating) and bool(np.all(np.mod(y, 1) == 0))
    if not (np.issubdtype(y.dtype, np.integer) or y.dtype == np.bool_ or integral):
        what = "class labels" if target == "class" else "mask labels"
        raise UserError(f"{path}: {key!r} must hold integer {what}; got dtype {y.dtype}")
    if y.size and y.min() < 0:
        raise UserError(f"{path}: {key!r} must hold labels ≥ 0; found {y.min()}")
    return torch.tensor(y.astype(np.int64))


def load_npz(
    fmt: str,
    path: Path,
    *,
    kind: str | None = None,
    target: str | None = None,
    test_fraction: float = 0.2,
    seed: int = 0,
) -> DataBundle:
    """x_train, y_train, x_test, y_test; or x[, y] split (stratified when y are class labels) by test_fraction.

    kind: volume (5-D), image (4-D, or 3-D uint8), signal (other 3-D), points (2-D) unless given.
    target: class (y (N,)), mask (integer y (N, *spatial)), image (y converted like x) or regression (float y)
    unless given (see `_npz_target_kind`).
    """
    a = _npz_arrays(path)
    if "x_train" in a and "x_test" in a:
        parts = [(a["x_train"], a.get("y_train"), "x_train", "y_train")]
        parts.append((a["x_test"], a.get("y_test"), "x_test", "y_test"))
    elif "x" in a:
        x, y = a["x"], a.get("y")
        if x.ndim < 2:
            raise UserError(f"{path}: 'x' has shape {x.shape}; expected (N, ...) with features")
        if y is not None and y.shape[:1] != x.shape[:1]:
            raise UserError(f"{path}: 'y' has shape {y.shape}; expected ({len(x)},)")
        if y is not None and np.issubdtype(y.dtype, np.floating) and not np.isfinite(y).all():
            raise UserError(f"{path}: 'y' holds NaN or infinite values")
        if not 0 <= test_fraction < 1:
            raise UserError(f"npz: test_fraction must be in [0, 1); got {test_fraction}")
        n_test = round(test_fraction * len(x))
        if y is not None and y.ndim == 1 and target in (None, "class"):
            tr, te = stratified_split(y, n_test, seed=seed)
        else:
            perm = np.random.default_rng(seed).permutation(len(x))
            tr, te = perm[n_test:], perm[:n_test]
        parts = [(x[i], None if y is None else y[i], "x", "y") for i in (tr, te)]
    else:
        raise UserError(f"{path}: expected arrays x, y or x_train, y_train, x_test, y_test; found {sorted(a)}")
    x0 = parts[0][0]
    if kind is None and x0.ndim > 5:
        raise UserError(f"{path}: x has shape {x0.shape}; expected (N, d) points, (N, C, L) signals, "
                        "(N, C, H, W) images or (N, C, D, H, W) volumes")  # fmt: skip
    if kind is None:
        image = x0.ndim == 4 or (x0.ndim == 3 and x0.dtype == np.uint8)
        kind = "volume" if x0.ndim == 5 else "image" if image else "signal" if x0.ndim == 3 else "points"
    if kind not in KINDS:
        raise UserError(f"npz: kind must be {', '.join(KINDS[:-1])} or {KINDS[-1]}; got {kind!r}")
    splits, resolved = [], "none"
    for x, y, kx, ky in parts:
        if x.ndim < 2:
            raise UserError(f"{path}: {kx!r} has shape {x.shape}; expected (N, ...) with features")
        xt = _npz_x(x, kind, path, kx)
        if y is not None and resolved == "none":  # the train split's y decides; the test split must agree
            resolved = _npz_target_kind(y, xt, target)
        splits.append(Split(xt, None if y is None else _npz_y(y, len(x), resolved, kind, path, ky)))
    if len(splits[0].x) == 0:
        raise UserError(f"{path}: holds no training samples")
    if splits[0].x.shape[1:] != splits[1].x.shape[1:]:
        raise UserError(
            f"{path}: train samples are {tuple(splits[0].x.shape[1:])}, test {tuple(splits[1].x.shape[1:])}"
        )
    if (splits[0].y is None) != (splits[1].y is None):
        raise UserError(f"{path}: labels given for one split only")
    declared = Target(resolved, () if splits[0].y is None else tuple(splits[0].y.shape[1:]))
    ys = [s.y for s in splits if s.y is not None and len(s.y)]
    num_classes = int(max(int(y.max()) for y in ys)) + 1 if ys and declared.labels else None
    try:
        return DataBundle(f"{fmt}:{path}", splits[0], splits[1], num_classes, kind, declared)
    except ValueError as e:  # the test split's y, or a dense y that is not aligned with x
        raise UserError(f"{path}: {e}") from None
