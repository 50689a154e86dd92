"""One small registry of named builders: models, datasets, objectives, experiments, activations, losses,
optimisers, learning-rate schedules and presets (named training configurations)."""

from __future__ import annotations

import difflib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from dlcanon.errors import UserError


@dataclass(frozen=True)
class Entry:
    """A registered builder with the metadata the CLI and the report read (tags are curriculum IDs)."""

    name: str
    builder: Callable[..., Any]
    tags: tuple[str, ...] = ()
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def doc(self) -> str:
        """The first line of the builder's docstring, or of a `doc` given at registration (presets are data)."""
        return (self.meta.get("doc") or self.builder.__doc__ or "").strip().split("\n")[0]


class Registry:
    """Builders registered by name; an unknown name is a `UserError` that suggests close matches."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self._entries: dict[str, Entry] = {}

    def register(self, name: str, *, tags: tuple[str, ...] = (), **meta: Any) -> Callable:
        """Decorator: `@MODELS.register("lenet5", tags=("C1",), data="mnist5k")`."""

        def add(builder: Callable) -> Callable:
            self.add(name, builder, tags=tags, **meta)
            return builder

        return add

    def add(self, name: str, builder: Callable, *, tags: tuple[str, ...] = (), **meta: Any) -> None:
        if name in self._entries:
            raise ValueError(f"{self.kind} {name!r} is registered twice")
        self._entries[name] = Entry(name, builder, tuple(tags), dict(meta))

    def entry(self, name: str) -> Entry:
        if name not in self._entries:
            raise UserError(f"unknown {self.kind} {name!r}{suggest(name, self.names(), listing=self.listing)}")
        return self._entries[name]

    @property
    def listing(self) -> str:
        """The command that lists every name: `dlcanon list data`, `dlcanon list losses`, ..."""
        plural = {"dataset": "data", "loss": "losses"}.get(self.kind, f"{self.kind}s")
        return f"dlcanon list {plural}"

    def build(self, name: str, /, *args: Any, **kwargs: Any) -> Any:
        return self.entry(name).builder(*args, **kwargs)

    def names(self) -> list[str]:
        return sorted(self._entries)

    def __contains__(self, name: object) -> bool:
        return name in self._entries

    def __iter__(self) -> Iterator[Entry]:
        return iter(self._entries[n] for n in self.names())

    def __len__(self) -> int:
        return len(self._entries)


def suggest(name: str, known: list[str], *, listing: str = "", few: int = 12) -> str:
    """The tail of an unknown name's error: close matches ("; did you mean a, b?"), else the known names when
    they are few, or the command that lists them (an unknown dataset must not print all forty)."""
    close = difflib.get_close_matches(name, known, n=3, cutoff=0.5)
    if close:
        return f"; did you mean {', '.join(close)}?"
    if len(known) <= few or not listing:
        return f"; known: {', '.join(known)}"
    return f"; `{listing}` shows all {len(known)}"


MODELS = Registry("model")
DATASETS = Registry("dataset")
OBJECTIVES = Registry("objective")
EXPERIMENTS = Registry("experiment")
ACTIVATIONS = Registry("activation")
LOSSES = Registry("loss")
OPTIMIZERS = Registry("optimizer")
SCHEDULES = Registry("schedule")
PRESETS = Registry("preset")
