"""The data contract: a dataset is two splits of tensors plus what a model needs to know about them."""

from __future__ import annotations

from dataclasses import dataclass, field

import torch

KINDS = ("image", "volume", "signal", "points")
TARGET_KINDS = ("class", "mask", "image", "regression", "none")


@dataclass
class Split:
    """One split, whole, as tensors.

    x: images (N, C, H, W) or volumes (N, C, D, H, W) float32 in [0, 1]; signals (N, L) or (N, C, L);
       points (N, D).
    y: None; (N,) int64 class labels; a label map (N, H, W) / (N, D, H, W) int64; or a float target: a paired
       image (N, C, H, W) / (N, C, D, H, W) or any regression target (N, ...). Integer y are labels
       (augmented with nearest-neighbour sampling), float y are values (the input's interpolation).
    """

    x: torch.Tensor
    y: torch.Tensor | None = None

    def __len__(self) -> int:
        return self.x.shape[0]

    def to(self, device: torch.device | str) -> Split:
        return Split(self.x.to(device), None if self.y is None else self.y.to(device))

    def subset(self, index: torch.Tensor | slice) -> Split:
        return Split(self.x[index], None if self.y is None else self.y[index])


@dataclass(frozen=True)
class Target:
    """What y holds, and its per-sample shape.

    class: () int labels · mask: spatial (H, W) / (D, H, W) int labels, one per input pixel/voxel ·
    image: (C, *spatial) float, a paired image aligned with the input · regression: any float shape ·
    none: no y.
    """

    kind: str
    shape: tuple[int, ...] = ()

    def __post_init__(self) -> None:
        if self.kind not in TARGET_KINDS:
            raise ValueError(f"target kind must be one of {', '.join(TARGET_KINDS)}; got {self.kind!r}")
        object.__setattr__(self, "shape", tuple(int(s) for s in self.shape))

    @property
    def labels(self) -> bool:
        """Integer targets: class labels or label maps."""
        return self.kind in ("class", "mask")


def infer_target(split: Split) -> Target:
    """The target a split's y implies: integer (N,) → class; integer (N, *spatial of x) → mask; float
    (N, C, *spatial of x) for images/volumes x → image; any other float → regression; None → none."""
    x, y = split.x, split.y
    if y is None:
        return Target("none")
    shape, spatial = tuple(y.shape[1:]), tuple(x.shape[2:])
    if not torch.is_floating_point(y):
        if y.dim() == 1:
            return Target("class")
        if x.dim() >= 4 and shape == spatial:
            return Target("mask", shape)
        raise ValueError(
            f"cannot infer the target of integer y {tuple(y.shape)} for x {tuple(x.shape)}: expected (N,) labels or "
            f"a label map (N, {', '.join(map(str, spatial))}); declare it with DataBundle(..., target=Target(...))"
        )
    if x.dim() >= 4 and y.dim() == x.dim() and shape[1:] == spatial:
        return Target("image", shape)
    return Target("regression", shape)


def check_target(target: Target, split: Split, what: str) -> None:
    """ValueError unless `split.y` is what `target` declares (presence, integer vs float, per-sample shape)."""
    y = split.y
    if (target.kind == "none") != (y is None):
        got = "no y" if y is None else f"y {tuple(y.shape)}"
        raise ValueError(f"{what}: target {target.kind!r} but the split holds {got}")
    if y is None:
        return
    if target.labels == torch.is_floating_point(y):
        need = "integer" if target.labels else "float"
        raise ValueError(f"{what}: target {target.kind!r} needs {need} y; got {y.dtype}")
    if tuple(y.shape[1:]) != target.shape:
        raise ValueError(f"{what}: target {target.kind!r} has shape {target.shape}; y is {tuple(y.shape)}")
    aligned = {"mask": target.shape, "image": target.shape[1:]}.get(target.kind, tuple(split.x.shape[2:]))
    if aligned != tuple(split.x.shape[2:]):
        raise ValueError(f"{what}: {target.kind} target {tuple(y.shape)} is not aligned with x {tuple(split.x.shape)}")


@dataclass
class DataBundle:
    """A named dataset: train and test splits, per-sample shape, class count, input kind and target.

    kind describes the input: "image" (C, H, W), "volume" (C, D, H, W), "signal" (C, L) or (L,), "points" (D,).
    target is inferred from train.y when not given (see `infer_target`) and checked against both splits.
    num_classes: the class count of "class" and "mask" targets, else None.
    """

    name: str
    train: Split
    test: Split
    num_classes: int | None
    kind: str
    target: Target = field(default=None)  # type: ignore[assignment]  (None: inferred in __post_init__)

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"data kind must be one of {', '.join(KINDS)}; got {self.kind!r}")
        if self.target is None:
            self.target = infer_target(self.train)
        check_target(self.target, self.train, f"{self.name} train")
        check_target(self.target, self.test, f"{self.name} test")

    @property
    def input_shape(self) -> tuple[int, ...]:
        return tuple(self.train.x.shape[1:])

    @property
    def in_channels(self) -> int:
        multi = self.kind in ("image", "volume", "signal") and len(self.input_shape) > 1
        return self.input_shape[0] if multi else 1

    def describe(self) -> dict:
        return {
            "name": self.name,
            "kind": self.kind,
            "input_shape": list(self.input_shape),
            "num_classes": self.num_classes,
            "target": {"kind": self.target.kind, "shape": list(self.target.shape)},
            "train_size": len(self.train),
            "test_size": len(self.test),
        }
