"""Imports flow one way through the layers of docs/design.md, and no two units import each other.

A unit is a top-level module (`train`, `runs`, ...) or a subpackage (`models`, `objectives`, ...). Every unit
belongs to exactly one layer; a unit may import units of its own layer and of the layers before it, and the
import graph between units has no cycle. `from dlcanon import X` counts as an import of unit X.
"""

import ast
import subprocess
import sys
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src" / "dlcanon"
LAYERS: list[tuple[str, set[str]]] = [
    ("foundation", {"errors", "registry", "runtime", "progress", "checkpoint", "distributed", "plots"}),
    ("settings", {"optim", "schedules", "ema", "config"}),
    ("mathematics", {"nn", "losses"}),
    ("data", {"data"}),
    ("models", {"models"}),
    ("metrics", {"metrics"}),
    ("objectives", {"objectives"}),
    ("training", {"train", "runs", "presets"}),
    ("tools", {"evaluate", "modelinfo", "bench", "plan", "predict"}),
    ("experiments", {"experiments"}),
    ("report", {"report"}),
    ("reproduce", {"reproduce"}),
    ("cli", {"cli", "__main__", "listing"}),
]
RANK = {unit: i for i, (_, units) in enumerate(LAYERS) for unit in units}
UNITS = sorted(
    p.stem if p.is_file() else p.name
    for p in SRC.iterdir()
    if (p.suffix == ".py" and p.stem != "__init__") or (p.is_dir() and (p / "__init__.py").exists())
)


def unit_of(path: Path) -> str:
    return path.relative_to(SRC).with_suffix("").parts[0]


def imported_units(path: Path) -> set[str]:
    """The units a file imports, `from dlcanon import X` resolved to unit X (the root's own names, such as
    `__version__`, belong to no unit)."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            assert node.level == 0, f"{path}: relative import; write dlcanon.… in full"
            if node.module == "dlcanon":
                names |= {f"dlcanon.{a.name}" for a in node.names}
            elif node.module:
                names.add(node.module)
    parts = (name.split(".") for name in names)
    return {p[1] for p in parts if p[0] == "dlcanon" and len(p) > 1 and p[1] in UNITS}


def graph() -> dict[str, set[str]]:
    edges: dict[str, set[str]] = {unit: set() for unit in UNITS}
    for path in SRC.rglob("*.py"):
        own = unit_of(path)
        if own != "__init__":
            edges[own] |= imported_units(path) - {own}
    return edges


def test_every_unit_has_a_layer():
    assert not set(UNITS) - set(RANK), f"give these modules a layer in LAYERS: {sorted(set(UNITS) - set(RANK))}"


@pytest.mark.parametrize("path", sorted(SRC.rglob("*.py")), ids=lambda p: str(p.relative_to(SRC)))
def test_imports_flow_one_way(path):
    own = unit_of(path)
    if own == "__init__" or own not in RANK:
        return
    later = {u for u in imported_units(path) if RANK.get(u, -1) > RANK[own]}
    assert not later, f"{path.relative_to(SRC)} ({LAYERS[RANK[own]][0]}) imports later layers: {sorted(later)}"


def test_no_import_cycles_between_units():
    edges, state, cycle = graph(), {}, []

    def visit(unit: str, stack: list[str]) -> bool:
        state[unit] = "open"
        for nxt in sorted(edges[unit]):
            if state.get(nxt) == "open":
                cycle.extend([*stack[stack.index(nxt) :], unit, nxt] if nxt in stack else [unit, nxt])
                return True
            if nxt not in state and visit(nxt, [*stack, unit]):
                return True
        state[unit] = "done"
        return False

    assert not any(visit(u, []) for u in UNITS if u not in state), f"import cycle: {' → '.join(cycle)}"


def test_the_checker_sees_from_dlcanon_imports(tmp_path):
    """The hole the old test had: `from dlcanon import train` inside a model must be seen."""
    file = tmp_path / "probe.py"
    file.write_text("from dlcanon import train, __version__\nfrom dlcanon.nn import activations\n")
    assert imported_units(file) == {"train", "nn"}


def test_importing_the_library_leaves_matplotlib_alone():
    """A notebook that imports dlcanon keeps its backend and its rcParams."""
    code = (
        "import matplotlib; matplotlib.use('svg'); before = dict(matplotlib.rcParams)\n"
        "import dlcanon.cli, dlcanon.experiments, dlcanon.evaluate, dlcanon.plots\n"
        "after = dict(matplotlib.rcParams)\n"
        "changed = sorted(k for k in before if before[k] != after[k])\n"
        "assert matplotlib.get_backend() == 'svg', matplotlib.get_backend()\n"
        "assert not changed, changed\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]

