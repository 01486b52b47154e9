"""Imports flow one way: each package (or top-level module) of cxrbench imports only from layers below it.

The layers, lowest first, are docs/architecture.md's "Import direction" table. Every import is read
from the source (module level and inside functions alike), so a lazy import cannot hide a cycle.
"""

from __future__ import annotations

import ast
from pathlib import Path

import cxrbench

PACKAGE = Path(cxrbench.__file__).parent
# lowest first; a unit is a subpackage or a top-level module of cxrbench
LAYERS = (
    (
        "__init__",
        "errors",
        "files",
        "names",
        "registry",
        "cache",
        "checkpoint",
        "metric_ids",
        "results",
        "seeds",
        "zoo",
    ),
    ("tasks",),
    ("data",),
    ("metrics",),
    ("models",),
    ("config",),
    ("run_dir", "run_lock", "sample_sets"),
    ("leaderboard",),
    ("benchmark",),
    ("reader_study",),
    ("cli", "__main__"),
)
LAYER = {unit: depth for depth, units in enumerate(LAYERS) for unit in units}
ALLOWED_UPWARD: set[tuple[str, str]] = set()  # (file, unit) pairs allowed to import upward: none


def unit_of(module: str) -> str:
    """'cxrbench.metrics.kid' -> 'metrics', 'cxrbench.config' -> 'config', 'cxrbench' -> '__init__'."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "__init__"


def imports(path: Path) -> set[str]:
    """Every cxrbench module ``path`` imports."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
    return {m for m in found if m == "cxrbench" or m.startswith("cxrbench.")}


def upward_imports() -> list[tuple[str, str, str]]:
    """(file, its unit, the higher unit it imports) for every import that goes up a layer."""
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        relative = path.relative_to(PACKAGE)
        source = relative.parts[0].removesuffix(".py")
        for module in imports(path):
            target = unit_of(module)
            if LAYER[target] > LAYER[source] and (relative.as_posix(), target) not in ALLOWED_UPWARD:
                found.append((relative.as_posix(), source, target))
    return found


def test_every_unit_has_a_layer():
    units = {
        p.name.removesuffix(".py")
        for p in PACKAGE.iterdir()
        if (p.suffix == ".py" or (p.is_dir() and (p / "__init__.py").is_file()))
    }
    assert units == set(LAYER), "give each new package or top-level module a layer here and in docs/architecture.md"


def test_no_import_goes_up_a_layer():
    assert upward_imports() == []


def test_the_check_sees_an_upward_import(tmp_path, monkeypatch):
    # a metrics module importing the runner would be a cycle: the check must name it
    fake = tmp_path / "cxrbench"
    (fake / "metrics").mkdir(parents=True)
    for unit in LAYER:
        if unit not in ("metrics", "benchmark"):
            (fake / f"{unit}.py").write_text("")
    (fake / "benchmark").mkdir()
    (fake / "benchmark" / "__init__.py").write_text("")
    (fake / "metrics" / "__init__.py").write_text("")
    (fake / "metrics" / "bad.py").write_text("def f():\n    from cxrbench.benchmark.runner import run_benchmark\n")
    monkeypatch.setattr("test_import_direction.PACKAGE", fake)
    assert upward_imports() == [("metrics/bad.py", "metrics", "benchmark")]
