"""Which code implements and verifies each curriculum topic, read from the registries' tags.

Registered models, datasets, objectives, activations, losses and experiments carry curriculum IDs in
their `tags`; a module declares the IDs it implements with a module-level `CURRICULUM = ("F4", ...)`
tuple, found by walking `MODULE_ROOTS` with pkgutil. Nothing here is a hand-written list of what exists,
so a topic that nothing carries shows up as a gap.
"""

from __future__ import annotations

import importlib
import json
import pkgutil
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from types import ModuleType

MODULE_ROOTS = ("dlcanon.nn", "dlcanon.losses", "dlcanon.metrics", "dlcanon.data")
KINDS = ("modules", "models", "datasets", "objectives", "activations", "losses", "experiments")


@dataclass(frozen=True)
class Topic:
    """One notion of the notes: `id` (e.g. "F5"), its section, a short title and one sentence."""

    id: str
    section: str
    title: str
    description: str


@dataclass
class Coverage:
    """A topic with the names of what carries its ID, one list per kind (see `KINDS`)."""

    topic: Topic
    items: dict[str, list[str]] = field(default_factory=lambda: {kind: [] for kind in KINDS})

    @property
    def status(self) -> str:
        """'verified' (an experiment measures it), 'implemented' (code only) or 'gap' (nothing)."""
        if self.items["experiments"]:
            return "verified"
        return "implemented" if any(self.items.values()) else "gap"


@cache
def load_curriculum() -> tuple[Topic, ...]:
    """The topics in the notes' order, from the package data file `curriculum.json`."""
    text = resources.files("dlcanon.report").joinpath("curriculum.json").read_text(encoding="utf-8")
    return tuple(Topic(**topic) for topic in json.loads(text)["topics"])


def curriculum_order() -> dict[str, int]:
    """ID -> position in the notes' order."""
    return {topic.id: i for i, topic in enumerate(load_curriculum())}


def _modules(root: str) -> list[ModuleType]:
    """`root` and, if it is a package, every module below it (imported, which also fills the registries).

    A root that does not exist yet (a package still to be written) contributes nothing.
    """
    try:
        module = importlib.import_module(root)
    except ModuleNotFoundError as exc:
        if exc.name == root:
            return []
        raise
    found = [module]
    if hasattr(module, "__path__"):
        for info in pkgutil.walk_packages(module.__path__, prefix=f"{root}."):
            found.append(importlib.import_module(info.name))
    return found


def module_tags(roots: tuple[str, ...] = MODULE_ROOTS) -> dict[str, tuple[str, ...]]:
    """Module name -> the IDs of its `CURRICULUM` tuple, for every module under `roots` that has one."""
    tags = {}
    for root in roots:
        for module in _modules(root):
            ids = getattr(module, "CURRICULUM", ())
            if ids:
                tags[module.__name__] = tuple(ids)
    return tags


def registry_tags() -> dict[str, dict[str, tuple[str, ...]]]:
    """Kind -> {registered name -> tags}, after importing every package that registers something."""
    import dlcanon.data
    import dlcanon.experiments
    import dlcanon.losses
    import dlcanon.models
    import dlcanon.nn.activations
    import dlcanon.objectives  # noqa: F401  (registrations)
    from dlcanon.registry import ACTIVATIONS, DATASETS, EXPERIMENTS, LOSSES, MODELS, OBJECTIVES

    registries = {
        "models": MODELS,
        "datasets": DATASETS,
        "objectives": OBJECTIVES,
        "activations": ACTIVATIONS,
        "losses": LOSSES,
        "experiments": EXPERIMENTS,
    }
    return {kind: {entry.name: entry.tags for entry in registry} for kind, registry in registries.items()}


def coverage(topics: tuple[Topic, ...] | None = None) -> tuple[list[Coverage], dict[str, list[str]]]:
    """One `Coverage` per topic in the notes' order, and the tags that name no topic (ID -> carriers)."""
    topics = load_curriculum() if topics is None else topics
    rows = {topic.id: Coverage(topic) for topic in topics}
    unknown: dict[str, list[str]] = {}
    tagged = {"modules": module_tags(), **registry_tags()}
    for kind, names in tagged.items():
        for name, ids in sorted(names.items()):
            for tag in dict.fromkeys(ids):
                if tag in rows:
                    rows[tag].items[kind].append(name)
                else:
                    unknown.setdefault(tag, []).append(f"{kind[:-1]} {name}")
    return list(rows.values()), unknown
