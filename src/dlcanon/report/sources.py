"""Which files of the package an experiment can run: the scope of its cache key (`report.cache`).

An experiment's sources are its own module, the dlcanon modules it imports, transitively, and the modules of
every registered name (model, dataset, objective, preset) written as a string in the experiment's files, with
the names their registrations refer to (a preset's model, a model's default objective and data); an
experiment file that imports a registry may walk it, so it uses every entry. A package's `__init__.py` that
imports its submodules only to register them (`from dlcanon.models import (alexnet, ...)`) does not make
them sources: a model is a source when an experiment names it.
"""

from __future__ import annotations

import ast
import functools
import hashlib
import inspect
from pathlib import Path
from typing import Any

import dlcanon
from dlcanon.registry import DATASETS, EXPERIMENTS, MODELS, OBJECTIVES, PRESETS

# registries an experiment refers to by a string, by the name it imports them under
NAMED = {"MODELS": MODELS, "DATASETS": DATASETS, "OBJECTIVES": OBJECTIVES, "PRESETS": PRESETS}


def package_root() -> Path:
    return Path(dlcanon.__file__).resolve().parent


def package_files() -> list[str]:
    """Every .py file of the package, relative to its root ('models/lenet.py'), sorted."""
    root = package_root()
    return sorted(p.relative_to(root).as_posix() for p in root.rglob("*.py") if "__pycache__" not in p.parts)


@functools.cache
def file_hash(rel: str) -> str:
    """sha256 of the package file `rel` (relative to the package root)."""
    return hashlib.sha256((package_root() / rel).read_bytes()).hexdigest()


def digest(files: list[str]) -> str:
    """sha256 over the relative paths and contents' hashes of `files`, in sorted order."""
    h = hashlib.sha256()
    for rel in sorted(files):
        h.update(f"{rel}\0{file_hash(rel)}\0".encode())
    return h.hexdigest()


def module_file(module: str) -> str | None:
    """The package file of dotted `module` ('dlcanon.models' -> 'models/__init__.py'), None outside it."""
    parts = module.split(".")
    if parts[0] != "dlcanon":
        return None
    rel = Path(*parts[1:]) if len(parts) > 1 else Path()
    for candidate in (rel / "__init__.py", rel.with_suffix(".py") if parts[1:] else None):
        if candidate is not None and (package_root() / candidate).is_file():
            return candidate.as_posix()
    return None


def module_name(rel: str) -> str:
    """'models/lenet.py' -> 'dlcanon.models.lenet'; 'models/__init__.py' -> 'dlcanon.models'."""
    parts = Path(rel).with_suffix("").parts
    return ".".join(("dlcanon", *(parts[:-1] if parts[-1] == "__init__" else parts)))


@functools.cache
def parsed(rel: str) -> ast.Module:
    return ast.parse((package_root() / rel).read_text(encoding="utf-8"))


@functools.cache
def imports_of(rel: str) -> frozenset[str]:
    """The package files that importing or running file `rel` executes directly: each imported module and its
    parent packages. An `__init__.py`'s imports of its own submodules (registrations) are left out."""
    own = module_name(rel)
    is_package = rel.endswith("__init__.py")
    modules: set[str] = set()
    for node in ast.walk(parsed(rel)):
        if isinstance(node, ast.Import):
            modules |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            modules.add(node.module)
            for alias in node.names:
                registration = is_package and node.module == own
                if not registration and module_file(f"{node.module}.{alias.name}") is not None:
                    modules.add(f"{node.module}.{alias.name}")
    files: set[str] = set()
    for module in modules:
        parts = module.split(".")
        files |= {f for i in range(1, len(parts) + 1) if (f := module_file(".".join(parts[:i])))}
    return frozenset(files - {rel})


def closure(files: set[str]) -> set[str]:
    """`files` and every package file they import, transitively."""
    seen, todo = set(), list(files)
    while todo:
        rel = todo.pop()
        if rel not in seen:
            seen.add(rel)
            todo.extend(imports_of(rel) - seen)
    return seen


@functools.cache
def strings_of(rel: str) -> frozenset[str]:
    return frozenset(n.value for n in ast.walk(parsed(rel)) if isinstance(n, ast.Constant) and isinstance(n.value, str))


@functools.cache
def registries_imported(rel: str) -> frozenset[str]:
    """Which of `NAMED` file `rel` imports from `dlcanon.registry`."""
    return frozenset(
        a.name
        for n in ast.walk(parsed(rel))
        if isinstance(n, ast.ImportFrom) and n.module == "dlcanon.registry"
        for a in n.names
        if a.name in NAMED
    )


def builder_module(builder: Any) -> str:
    """The module defining a registered builder: a function, a class, an instance (a preset) or a
    `functools.partial` of one (a model's variant)."""
    while isinstance(builder, functools.partial):
        builder = builder.func
    return builder.__module__


def named_sources(names: set[str]) -> set[str]:
    """The files registering `names` in the model, dataset, objective and preset registries, following the
    names their registrations refer to (a preset's model, a model's default objective and data)."""
    files: set[str] = set()
    seen, todo = set(), list(names)
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        for registry in NAMED.values():
            if name in registry:
                entry = registry.entry(name)
                files.add(module_file(builder_module(entry.builder)) or "")
                todo.extend(v for v in entry.meta.values() if isinstance(v, str))
    return files - {""}


def experiment_sources(name: str) -> list[str] | None:
    """The package files registered experiment `name` can run (see the module's docstring); None for an
    experiment registered outside the package."""
    own = module_file(builder_module(EXPERIMENTS.entry(name).builder))
    if own is None:
        return None
    files = closure({own})
    experiment_files = {f for f in files if f.startswith("experiments/")}
    names = set().union(*(strings_of(f) for f in experiment_files))
    for registry in set().union(*(registries_imported(f) for f in experiment_files)):
        names |= set(NAMED[registry].names())  # an experiment that walks a registry may run any of its entries
    return sorted(closure(files | named_sources(names)))


def source_root() -> Path:
    """The root of the source tree holding the package: the repository for a `src/dlcanon` layout."""
    root = package_root()
    return root.parent.parent if root.parent.name == "src" else root.parent


def source_path(name: str) -> str:
    """Where experiment `name` is declared, as a path in the source tree ('src/dlcanon/experiments/x.py')."""
    path = Path(inspect.getsourcefile(EXPERIMENTS.entry(name).builder) or "?").resolve()
    base = source_root()
    return path.relative_to(base).as_posix() if path.is_relative_to(base) else path.name
