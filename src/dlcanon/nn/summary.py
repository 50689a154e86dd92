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

__all__ = ["LayerRow", "Networks", "Summary", "count_parameters", "summarize", "summarize_meta", "summarize_networks"]

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
    input_shape: Shape | list[Shape] | None  # a list: a network of several inputs (a conditional critic's pair)
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
            "input_shape": plain(self.input_shape),
            "output_shape": plain(self.output_shape),
            "params": self.params,
            "trainable_params": self.trainable_params,
            "flops": self.flops,
            "layers": layers,
        }

    def to_table(self) -> Table:
        table = _table(f"{self.model}  input {_fmt(self.input_shape)}")
        self.add_rows(table)
        table.add_row("trainable", "", "", f"{self.trainable_params:,}", "")
        return table

    def add_rows(self, table: Table, *, total: str = "total") -> None:
        for row in self.rows:
            table.add_row(row.name, row.type, _fmt(row.output_shape), f"{row.params:,}", f"{row.flops:,}")
        table.add_section()
        table.add_row(total, "", _fmt(self.output_shape), f"{self.params:,}", f"{self.flops:,}")


@dataclass(frozen=True)
class Networks:
    """Networks trained together (a GAN's generator and critic): a Summary of each, named by its attribute
    (`model` of each Summary: "generator", "discriminator"), and the totals."""

    model: str
    networks: tuple[Summary, ...]

    @property
    def params(self) -> int:
        return sum(n.params for n in self.networks)

    @property
    def flops(self) -> int:
        return sum(n.flops for n in self.networks)

    def to_dict(self) -> dict[str, Any]:
        networks = [{"name": n.model, **n.to_dict()} for n in self.networks]
        trainable = sum(n.trainable_params for n in self.networks)
        return {"model": self.model, "params": self.params, "trainable_params": trainable, "flops": self.flops,
                "networks": [{k: v for k, v in n.items() if k != "model"} for n in networks]}  # fmt: skip

    def to_table(self) -> Table:
        inputs = ", ".join(f"{n.model} from {_fmt(n.input_shape)}" for n in self.networks)
        table = _table(f"{self.model}: {inputs}")
        for network in self.networks:
            network.add_rows(table, total=f"{network.model} total")
            table.add_section()
        table.add_row("total", "", "", f"{self.params:,}", f"{self.flops:,}")
        return table


def _table(title: str) -> Table:
    table = Table(title=title, caption=_CAPTION)
    table.add_column("Layer", no_wrap=True, overflow="fold")  # a name a user types (freeze patterns): whole
    for column in ("Type", "Output shape"):
        table.add_column(column, overflow="fold")
    table.add_column("Params", justify="right")
    table.add_column("FLOPs", justify="right")
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


class _Recorder:
    """Hooks on leaf modules (and on whole networks) reading one FlopCounterMode's running total before and
    after each call: FLOPs summed over calls, the output shape of the last call, the input shape of the first."""

    def __init__(self, modules: dict[str, nn.Module]) -> None:
        self.counter = FlopCounterMode(display=False)
        self.flops = {name: 0 for name in modules}
        self.outputs: dict[str, Shape | list[Shape] | None] = {name: None for name in modules}
        self.inputs: dict[str, Shape | list[Shape] | None] = {}
        self.order: list[str] = []  # names in the order of their first call
        self._started: dict[str, int] = {}
        self._handles = []
        for name, module in modules.items():
            before, after = self._hooks(name)
            self._handles += [module.register_forward_pre_hook(before), module.register_forward_hook(after)]

    def _hooks(self, name: str) -> tuple[Callable[..., None], Callable[..., None]]:
        def before(module: nn.Module, args: Any) -> None:
            self._started[name] = self.counter.get_total_flops()
            if name not in self.inputs:
                self.inputs[name] = _shapes(args)
                self.order.append(name)

        def after(module: nn.Module, args: Any, output: Any) -> None:
            self.flops[name] += self.counter.get_total_flops() - self._started.pop(name)
            self.outputs[name] = _shapes(output)

        return before, after

    def run(self, model: nn.Module, fn: Callable[[], Any]) -> Any:
        """`fn()` in eval mode under no_grad, parameters excluded from autograd (a view of a parameter taken under
        no_grad would still require grad, which the counter's module tracker refuses), the counter on; hooks,
        train/eval and requires_grad flags are restored afterwards."""
        modes = {m: m.training for m in model.modules()}
        flags = [(p, p.requires_grad) for p in model.parameters()]
        try:
            model.eval()
            for p, _ in flags:
                p.requires_grad_(False)
            with torch.no_grad(), self.counter:
                return fn()
        finally:
            for handle in self._handles:
                handle.remove()
            for m, mode in modes.items():
                m.training = mode
            for p, flag in flags:
                p.requires_grad_(flag)


def _leaves(model: nn.Module) -> list[tuple[str, nn.Module]]:
    return [(name, m) for name, m in model.named_modules() if next(m.children(), None) is None]


def _rows(leaves: list[tuple[str, nn.Module]], recorder: _Recorder) -> list[LayerRow]:
    """One row per leaf: parameters it holds (shared ones counted at their first leaf), FLOPs, output shape."""
    seen: set[int] = set()
    rows = []
    for name, module in leaves:
        own = [p for p in module.parameters() if id(p) not in seen]
        seen.update(id(p) for p in own)
        label = name or type(module).__name__
        flops, shape = recorder.flops[name], recorder.outputs[name]
        rows.append(LayerRow(label, type(module).__name__, shape, sum(p.numel() for p in own), flops))
    return rows


def _with_other(rows: list[LayerRow], params: int, flops: int) -> tuple[LayerRow, ...]:
    """`rows` plus an "(other)" row for what no leaf holds or computes, so the rows sum to the totals."""
    other_params, other_flops = params - sum(r.params for r in rows), flops - sum(r.flops for r in rows)
    if other_params or other_flops:
        rows = [*rows, LayerRow("(other)", "-", None, other_params, other_flops)]
    return tuple(rows)


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
    leaves = _leaves(model)
    recorder = _Recorder(dict(leaves))
    output = recorder.run(model, lambda: model(x))
    total_params, total_flops = count_parameters(model), recorder.counter.get_total_flops()
    return Summary(
        model=type(model).__name__,
        input_shape=tuple(x.shape),
        output_shape=_shapes(output),
        rows=_with_other(_rows(leaves, recorder), total_params, total_flops),
        params=total_params,
        trainable_params=count_parameters(model, trainable_only=True),
        flops=total_flops,
    )


def summarize_networks(
    model: nn.Module, networks: dict[str, nn.Module], run: Callable[[], Any], *, name: str | None = None
) -> Networks:
    """A summary of each of several networks of `model` (a GAN's generator and critic) while `run()` uses them.

    `run()` should call each network once on one sample (a generator step: G(z), then D(G(z))). A network's
    input is what its first call received (z for a generator, an image or a pair for a critic; for a list of
    networks, its first leaf's input); FLOPs are those of its leaves, plus its own work outside them when it
    is called as a whole."""
    leaves = _leaves(model)
    members = {key: {id(m) for m in net.modules()} for key, net in networks.items()}
    recorder = _Recorder({**dict(leaves), **{f"network:{key}": net for key, net in networks.items()}})
    recorder.run(model, run)
    parts = []
    owner = {n: key for key in networks for n, m in leaves if id(m) in members[key]} | {
        f"network:{key}": key for key in networks
    }
    called = [owner[n] for n in recorder.order if n in owner]
    for key in sorted(networks, key=lambda k: called.index(k) if k in called else len(called)):  # as first run
        net = networks[key]
        own = [(n, m) for n, m in leaves if id(m) in members[key]]
        rows = _rows(own, recorder)
        called = f"network:{key}" in recorder.inputs
        first = next((n for n in recorder.order if n in dict(own)), None)
        flops = recorder.flops[f"network:{key}"] if called else sum(r.flops for r in rows)
        source = f"network:{key}" if called else first
        parts.append(
            Summary(
                model=key,
                input_shape=recorder.inputs.get(source) if source else None,
                output_shape=recorder.outputs[f"network:{key}"] if called else None,
                rows=_with_other(rows, count_parameters(net), flops),
                params=count_parameters(net),
                trainable_params=count_parameters(net, trainable_only=True),
                flops=flops,
            )
        )
    return Networks(name or type(model).__name__, tuple(parts))


def summarize_meta(build: Callable[[], nn.Module], input_shape: tuple[int, ...], **kwargs: Any) -> Summary:
    """`summarize` a model built on the meta device: shapes, parameters and FLOPs without allocating or
    computing anything, for models too large or too slow for a real forward.

    `build` is called under `torch.device("meta")` (so a registry builder works as is). Models whose
    forward depends on tensor values (`.item()`, data-dependent shapes) cannot run on meta.
    """
    with torch.device("meta"):
        model = build()
    return summarize(model, input_shape, device="meta", **kwargs)
