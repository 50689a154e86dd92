"""`load_data(spec)`: a registered dataset name, or `FORMAT:PATH` for data on disk."""

from __future__ import annotations

import inspect
from collections.abc import Callable

from dlcanon.data.base import DataBundle
from dlcanon.data.formats import FORMATS, load_format
from dlcanon.errors import UserError
from dlcanon.registry import DATASETS


def _check_kwargs(fn: Callable, what: str, kwargs: dict[str, object], *, skip: int = 0) -> None:
    """A user's data argument that the builder does not take is a UserError listing the ones it does."""
    params = list(inspect.signature(fn).parameters.values())[skip:]
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params):
        return
    names = [p.name for p in params if p.kind is inspect.Parameter.KEYWORD_ONLY]
    unknown = sorted(set(kwargs) - set(names))
    if unknown:
        takes = f"it takes: {', '.join(names)}" if names else "it takes none"
        raise UserError(f"{what} takes no argument {unknown[0]!r}; {takes}")


def load_data(spec: str, **kwargs: object) -> DataBundle:
    """`spec` is a registered name (see `DATASETS.names()`) or FORMAT:PATH (see `FORMATS`); kwargs go to
    the builder (e.g. n_train=500 for a toy, test_fraction=0.1 for folder:)."""
    fmt, sep, path = spec.partition(":")
    if sep and spec not in DATASETS:
        if fmt not in FORMATS:
            known = ", ".join(sorted(FORMATS))
            raise UserError(f"unknown data format {fmt!r} in {spec!r}; formats: {known} (as FORMAT:PATH)")
        if not path:
            raise UserError(f"data {spec!r} needs a path after the colon: {fmt}:PATH")
        _check_kwargs(FORMATS[fmt][0], f"data format {fmt!r}", kwargs, skip=2)
        return load_format(fmt, path, **kwargs)
    if spec in FORMATS and spec not in DATASETS:
        similar = [n for n in DATASETS.names() if n.startswith(spec.split("-")[0])]
        also = f"; embedded: {', '.join(similar)}" if similar else ""
        raise UserError(f"{spec!r} is a file format: give {spec}:PATH ({FORMATS[spec][1]}){also}")
    entry = DATASETS.entry(spec)
    _check_kwargs(entry.builder, f"dataset {spec!r}", kwargs)
    return entry.builder(**kwargs)
