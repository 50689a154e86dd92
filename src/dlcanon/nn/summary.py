"""Model summary: per-layer output shapes, parameters and FLOPs from one forward pass of a batch of 1.

FLOPs come from `torch.utils.flop_counter.FlopCounterMode`, which counts a multiply-add as 2 FLOPs
(a Linear(n, m) costs 2·n·m per sample, a Conv2d 2·k²·c_in·c_out·m_h·m_w) and counts only matrix
products, convolutions and attention: element-wise work (activations, bias adds, normalisation, pooling)
costs 0 in this convention.

Attribution: one counter spans the whole forward; a forward pre-hook and a forward hook on each leaf module
(a module without children) read the counter's running total before and after the call, and the difference
is that leaf's FLOPs (summed over calls if a leaf runs more than once). This does not depend on the
counter's module naming and also gives each leaf's output shape. Work done outside any leaf (a
`torch.matmul` or `F.relu` written in a parent's `forward`) and parameters held by non-leaf modules
(a class token, a positional embedding) go to one "(other)" row, so the rows always sum to the totals.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

import torch
from rich.table import Table
from torch import nn
from torch.utils._pytree import tree_flatten
from torch.utils.flop_counter import FlopCounterMode

__all__ = ["LayerRow", "Summary", "count_parameters", "summarize", "summarize_meta"]

Shape = tuple[int, ...]


@dataclass(frozen=True)
class LayerRow:
    """One leaf module: its qualified name, class, output shape (batch 1 included), parameters, FLOPs."""

    name: str
    type: str
    output_shape: Shape | list[Shape] | None  # None: the leaf never ran; a list: several output tensors
    params: int
    flops: int


@dataclass(frozen=True)
class Summary:
    """Rows per leaf module and the model's totals; `to_dict()` is JSON-able, `to_table()` is for rich."""

    model: str
    input_shape: Shape
    output_shape: Shape | list[Shape] | None
    rows: tuple[LayerRow, ...]
    params: int
    trainable_params: int
    flops: int

    def to_dict(self) -> dict[str, Any]:
        def plain(shape: Shape | list[Shape] | None) -> Any:
            return (
                None
                if shape is None
                else [list(s) for s in shape]
                if isinstance(shape, list)
                else list(shape)
            )

        layers = [{**asdict(row), "output_shape": plain(row.output_shape)} for row in self.rows]
        return {
            "model": self.model,
            "input_shape": list(self.input_shape),
            "output_shape": plain(self.output_shape),
            "params": self.params,
            "trainable_params": self.trainable_params,
            "flops": self.flops,
            "layers": layers,
        }

    def to_table(self) -> Table:
        table = Table(title=f"{self.model}  input {tuple(self.input_shape)}", caption=_CAPTION)
        for column in ("Layer", "Type", "Output shape"):
            table.add_column(column)
        table.add_column("Params", justify="right")
        table.add_column("FLOPs", justify="right")
        for row in self.rows:
            table.add_row(row.name, row.type, _fmt(row.output_shape), f"{row.params:,}", f"{row.flops:,}")
        table.add_section()
        table.add_row("total", "", _fmt(self.output_shape), f"{self.params:,}", f"{self.flops:,}")
        table.add_row("trainable", "", "", f"{self.trainable_params:,}", "")
        return table


_CAPTION = "FLOPs of one sample; a multiply-add counts 2; element-wise ops count 0"


def _fmt(shape: Shape | list[Shape] | None) -> str:
    if shape is None:
        return "-"
    return ", ".join(map(str, shape)) if isinstance(shape, list) else str(tuple(shape))


def count_parameters(model: nn.Module, trainable_only: bool = False) -> int:
    """Number of scalar parameters (shared ones counted once); only those with requires_grad if asked."""
    params = [p for p in model.parameters() if p.requires_grad or not trainable_only]
    lazy = [p for p in params if isinstance(p, nn.parameter.UninitializedParameter)]
    if lazy:
        raise ValueError("the model has uninitialised lazy parameters: run one forward pass first")
    return sum(p.numel() for p in params)


def _shapes(output: Any) -> Shape | list[Shape] | None:
    tensors = [t for t in tree_flatten(output)[0] if isinstance(t, torch.Tensor)]
    if not tensors:
        return None
    return tuple(tensors[0].shape) if len(tensors) == 1 else [tuple(t.shape) for t in tensors]


def _check_device(model: nn.Module, device: torch.device) -> None:
    for name, tensor in [*model.named_parameters(), *model.named_buffers()]:
        if tensor.device.type != device.type or (device.index is not None and tensor.device != device):
            raise ValueError(
                f"summarize runs on {device} but {name!r} is on {tensor.device}: move the model first"
            )


def summarize(
    model: nn.Module,
    input_shape: tuple[int, ...],
    *,
    device: str | torch.device = "cpu",
    dtype: torch.dtype = torch.float32,
) -> Summary:
    """Summarise `model` on one input of shape (1, *input_shape): `input_shape` excludes the batch dim.

    Runs one forward in eval mode under no_grad (each module's train/eval flag is restored afterwards).
    The model must already live on `device`; with device="meta" nothing is computed, only shapes and
    FLOPs (see `summarize_meta`). Integer `dtype`s (token ids) get a zero input.
    """
    device = torch.device(device)
    _check_device(model, device)
    if dtype.is_floating_point and device.type != "meta":
        x = torch.randn((1, *input_shape), generator=torch.Generator().manual_seed(0)).to(device, dtype)
    else:
        x = torch.zeros((1, *input_shape), dtype=dtype, device=device)

    leaves = [(name, m) for name, m in model.named_modules() if next(m.children(), None) is None]
    flops = {name: 0 for name, _ in leaves}
    shapes: dict[str, Shape | list[Shape] | None] = {name: None for name, _ in leaves}
    counter = FlopCounterMode(display=False)
    started: dict[str, int] = {}

    def hooks(name: str) -> tuple[Callable[..., None], Callable[..., None]]:
        def before(module: nn.Module, args: Any) -> None:
            started[name] = counter.get_total_flops()

        def after(module: nn.Module, args: Any, output: Any) -> None:
            flops[name] += counter.get_total_flops() - started.pop(name)
            shapes[name] = _shapes(output)

        return before, after

    handles = []
    for name, module in leaves:
        before, after = hooks(name)
        handles += [module.register_forward_pre_hook(before), module.register_forward_hook(after)]
    modes = {m: m.training for m in model.modules()}
    try:
        model.eval()
        with torch.no_grad(), counter:
            output = model(x)
    finally:
        for handle in handles:
            handle.remove()
        for m, mode in modes.items():
            m.training = mode

    seen: set[int] = set()
    rows = []
    for name, module in leaves:
        own = [p for p in module.parameters() if id(p) not in seen]
        seen.update(id(p) for p in own)
        label = name or type(module).__name__
        rows.append(
            LayerRow(label, type(module).__name__, shapes[name], sum(p.numel() for p in own), flops[name])
        )
    total_params, total_flops = count_parameters(model), counter.get_total_flops()
    other_params = total_params - sum(r.params for r in rows)
    other_flops = total_flops - sum(r.flops for r in rows)
    if other_params or other_flops:
        rows.append(LayerRow("(other)", "-", None, other_params, other_flops))
    return Summary(
        model=type(model).__name__,
        input_shape=tuple(x.shape),
        output_shape=_shapes(output),
        rows=tuple(rows),
        params=total_params,
        trainable_params=count_parameters(model, trainable_only=True),
        flops=total_flops,
    )


def summarize_meta(build: Callable[[], nn.Module], input_shape: tuple[int, ...], **kwargs: Any) -> Summary:
    """`summarize` a model built on the meta device: shapes, parameters and FLOPs without allocating or
    computing anything, for models too large or too slow for a real forward.

    `build` is called under `torch.device("meta")` (so a registry builder works as is). Models whose
    forward depends on tensor values (`.item()`, data-dependent shapes) cannot run on meta.
    """
    with torch.device("meta"):
        model = build()
    return summarize(model, input_shape, device="meta", **kwargs)
