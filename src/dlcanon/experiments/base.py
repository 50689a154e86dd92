"""An experiment measures one claim of the notes and returns a Result: tables, figures and a verdict.

It is registered as `fn(ctx: Context) -> Result` (`experiments.context.Context`: quick or full, device, seed,
threads, settings) and run with `run_experiment(name, ctx)`, which applies the context's threads and seed."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from matplotlib.figure import Figure

from dlcanon.experiments.context import Context, threads  # noqa: F401  (threads: re-exported)
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
    # image sets kept beside the figures as `<stem>.npz` (`experiments.full_samples.Samples`): what a full-mode
    # run ships for the quick report to show
    samples: dict[str, Any] = field(default_factory=dict)


ExperimentFn = Callable[[Context], Result]


def experiment(
    name: str, *, tags: tuple[str, ...], claim: str, disagrees: str = ""
) -> Callable[[ExperimentFn], ExperimentFn]:
    """Register `fn(ctx: Context) -> Result` as experiment `name` verifying `claim` (curriculum IDs in tags).

    By default the claim is expected to hold in quick mode. An experiment whose quick-mode measurement
    disagrees with the notes says so in `disagrees`, with the reason; `dlcanon reproduce --check` fails when
    the verdict differs from the declaration, in either direction."""
    return EXPERIMENTS.register(name, tags=tags, claim=claim, disagrees=disagrees)


def run_experiment(name: str, ctx: Context) -> Result:
    """Registered experiment `name` under `ctx`, on its threads, the global generator seeded with its seed."""
    fn = EXPERIMENTS.entry(name).builder
    with ctx.applied():
        return fn(ctx)
