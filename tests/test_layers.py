"""The layer rule for the batch and render packages: a module imports only from its own layer
or lower ones (root < lang < engine < symbolic < judge < batch < render < cli), lazy imports
inside functions included, and batch/ does not speak to the terminal (no click)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).parent.parent / "src" / "gradcalc"
LAYERS = ["lang", "engine", "symbolic", "judge", "batch", "render", "cli"]


def _imports(path: Path) -> set[str]:
    """Every module a file imports (relative imports resolved to gradcalc.*)."""
    package = ["gradcalc", *path.relative_to(SRC).parts[:-1]]
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = package[: len(package) - node.level + 1] if node.level else []
            module = ".".join([*base, *(node.module.split(".") if node.module else [])])
            found.add(module)
            found |= {f"{module}.{a.name}" for a in node.names}
    return found


def _layer(module: str) -> int:
    parts = module.split(".")
    if parts[0] != "gradcalc" or len(parts) < 2 or parts[1] not in LAYERS:
        return -1  # the root modules, or not ours
    return LAYERS.index(parts[1])


@pytest.mark.parametrize("path", sorted([*SRC.glob("batch/*.py"), *SRC.glob("render/*.py")]),
                         ids=lambda p: f"{p.parent.name}/{p.name}")
def test_no_upward_imports(path: Path) -> None:
    own = LAYERS.index(path.parent.name)
    upward = sorted(m for m in _imports(path) if _layer(m) > own)
    assert upward == [], f"{path.name} imports from a higher layer: {upward}"


def test_batch_does_not_render() -> None:
    for path in SRC.glob("batch/*.py"):
        assert "click" not in _imports(path), path.name


@pytest.mark.parametrize(("low", "high"), [("render/graph.py", "gradcalc.render.svg"),
                                           ("render/graph.py", "gradcalc.render.figure"),
                                           ("batch/rows.py", "gradcalc.batch.cluster")])
def test_no_cycles_within_a_layer(low: str, high: str) -> None:
    assert not any(m == high or m.startswith(high + ".") for m in _imports(SRC / low))
