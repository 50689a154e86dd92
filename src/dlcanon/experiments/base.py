"""An experiment measures one claim of the notes and returns a Result: tables, figures and a verdict."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import torch
from matplotlib.figure import Figure

from dlcanon.registry import EXPERIMENTS


@dataclass
class Table:
    title: str
    columns: list[str]
    rows: list[list[Any]]

    def to_dict(self) -> dict[str, Any]:
        return {"title": self.title, "columns": self.columns, "rows": self.rows}


@dataclass
class Result:
    """What an experiment measured. `verdict` is one sentence stating the measurement; `holds` says whether
    the claim was reproduced by it."""

    verdict: str
    holds: bool
    tables: list[Table] = field(default_factory=list)
    figures: dict[str, Figure] = field(default_factory=dict)  # file stem -> figure
    captions: dict[str, str] = field(default_factory=dict)
    numbers: dict[str, Any] = field(default_factory=dict)  # headline numbers, machine-readable


ExperimentFn = Callable[[bool], Result]


def experiment(name: str, *, tags: tuple[str, ...], claim: str) -> Callable[[ExperimentFn], ExperimentFn]:
    """Register `fn(quick: bool) -> Result` as experiment `name` verifying `claim` (curriculum IDs in tags)."""
    return EXPERIMENTS.register(name, tags=tags, claim=claim)


@contextlib.contextmanager
def threads(n: int) -> Iterator[None]:
    """Run the block on `n` intra-op threads. Tiny networks are faster on one thread: with a few thousand
    multiply-adds per op, waking a second thread costs more than it saves, and far more on a busy machine."""
    previous = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(previous)
