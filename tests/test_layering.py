"""Imports flow one way: nn ← models ← objectives ← train ← experiments ← cli (DESIGN.md)."""

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src" / "dlcanon"
LAYERS = ["nn", "losses", "data", "models", "objectives", "train", "experiments", "cli"]
# a module may import only from its own layer and the layers before it
FORBIDDEN = {layer: set(LAYERS[i + 1 :]) for i, layer in enumerate(LAYERS)}


def layer_of(module: str) -> str | None:
    parts = module.split(".")
    if parts[0] != "dlcanon" or len(parts) < 2:
        return None
    return parts[1] if parts[1] in LAYERS else None


def imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return names


@pytest.mark.parametrize("path", sorted(SRC.rglob("*.py")), ids=lambda p: str(p.relative_to(SRC)))
def test_imports_flow_one_way(path):
    own = layer_of("dlcanon." + ".".join(path.relative_to(SRC).with_suffix("").parts))
    if own is None:
        return
    bad = {m for m in imports(path) if layer_of(m) in FORBIDDEN[own]}
    assert not bad, f"{path.name} ({own}) imports later layers: {bad}"
