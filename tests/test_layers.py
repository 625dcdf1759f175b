"""The package's layout: every import goes down the layers, and no modules import each other in
a circle. Read from the source with `ast`, so an import hidden inside a function counts too
(only `if TYPE_CHECKING:` blocks are exempt: they never run)."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parent.parent / "src" / "gradcalc"

# lowest first; a module may import its own layer or any lower one
LAYERS = ["root", "lang", "engine", "symbolic", "judge", "batch", "render", "cli"]


def _module(path: Path) -> str:
    parts = path.relative_to(SRC).with_suffix("").parts
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(("gradcalc",) + parts)


def _layer(module: str) -> str:
    parts = module.split(".")
    if len(parts) >= 2 and parts[1] in LAYERS:
        return parts[1]
    return "root"


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def _imports(path: Path) -> list[tuple[str, list[str], int]]:
    """(imported module, names, line) for every gradcalc import in the file that can run."""
    me = _module(path)
    package = me if path.name == "__init__.py" else me.rsplit(".", 1)[0]
    tree = ast.parse(path.read_text(), str(path))
    found: list[tuple[str, list[str], int]] = []

    def visit(node: ast.AST) -> None:
        if isinstance(node, ast.If) and _is_type_checking(node):
            for child in node.orelse:
                visit(child)
            return
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - (node.level - 1)]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            if target.split(".")[0] == "gradcalc":
                names = [a.name for a in node.names]
                if node.module is None or _is_package(target):
                    for name in names:  # `from . import tape` imports the module gradcalc.tape
                        sub = f"{target}.{name}"
                        found.append((sub if _exists(sub) else target, [name], node.lineno))
                else:
                    found.append((target, names, node.lineno))
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] == "gradcalc":
                    found.append((alias.name, [], node.lineno))
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(tree)
    return found


def _exists(module: str) -> bool:
    rel = Path(*module.split(".")[1:])
    return (SRC / rel).with_suffix(".py").exists() or (SRC / rel / "__init__.py").exists()


def _is_package(module: str) -> bool:
    return (SRC / Path(*module.split(".")[1:]) / "__init__.py").exists()


FILES = sorted(p for p in SRC.rglob("*.py") if p.name != "__main__.py")
GRAPH = {_module(p): _imports(p) for p in FILES}


@pytest.mark.parametrize("path", FILES, ids=lambda p: str(p.relative_to(SRC)))
def test_imports_go_down_the_layers(path: Path) -> None:
    me = _module(path)
    if me == "gradcalc":  # the package's front door re-exports the Python API
        return
    mine = LAYERS.index(_layer(me))
    upward = [f"line {line}: {target} ({_layer(target)})" for target, _, line in GRAPH[me]
              if target != "gradcalc" and LAYERS.index(_layer(target)) > mine]
    assert not upward, f"{me} ({_layer(me)}) imports a higher layer: " + "; ".join(upward)


@pytest.mark.parametrize("path", FILES, ids=lambda p: str(p.relative_to(SRC)))
def test_no_private_names_cross_modules(path: Path) -> None:
    me = _module(path)
    private = [f"line {line}: {name} from {target}" for target, names, line in GRAPH[me]
               if target != me for name in names
               if name.startswith("_") and not name.startswith("__")]
    assert not private, f"{me} imports private names: " + "; ".join(private)


def test_no_import_cycles() -> None:
    edges = {m: sorted({t for t, _, _ in imps if t in GRAPH and t != m and not _is_package(t)})
             for m, imps in GRAPH.items() if m != "gradcalc" and not m.endswith("__init__")}
    cycles: list[list[str]] = []
    state: dict[str, int] = {}
    stack: list[str] = []

    def walk(m: str) -> None:
        state[m] = 1
        stack.append(m)
        for t in edges.get(m, []):
            if state.get(t) == 1:
                cycles.append(stack[stack.index(t):] + [t])
            elif t not in state:
                walk(t)
        stack.pop()
        state[m] = 2

    for m in sorted(edges):
        if m not in state:
            walk(m)
    assert not cycles, "import cycles: " + "; ".join(" -> ".join(c) for c in cycles)


def test_batch_does_not_speak_to_the_terminal() -> None:
    # batch/ yields rows of the result; the CLI renders them and picks the exit status
    for path in SRC.glob("batch/*.py"):
        assert not any(t == "click" for t in _third_party(path)), path.name


def _third_party(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    names = {a.name.split(".")[0] for n in ast.walk(tree) if isinstance(n, ast.Import)
             for a in n.names}
    names |= {n.module.split(".")[0] for n in ast.walk(tree)
              if isinstance(n, ast.ImportFrom) and not n.level and n.module}
    return names


# ---------------------------------------------------------------- the command line's words
BELOW_CLI = [p for p in FILES if _layer(_module(p)) not in ("cli", "render")]


def _strings(path: Path) -> list[tuple[int, str]]:
    """Every string constant of a module that is not a docstring, with its line."""
    tree = ast.parse(path.read_text())
    docs = {id(node.body[0].value) for node in ast.walk(tree)
            if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef,
                                 ast.AsyncFunctionDef))
            and node.body and isinstance(node.body[0], ast.Expr)
            and isinstance(node.body[0].value, ast.Constant)}
    return [(node.lineno, node.value) for node in ast.walk(tree)
            if isinstance(node, ast.Constant) and isinstance(node.value, str)
            and id(node) not in docs]


@pytest.mark.parametrize("path", BELOW_CLI, ids=lambda p: str(p.relative_to(SRC)))
def test_only_the_command_line_spells_its_options(path: Path) -> None:
    # below cli/ and render/ a message names a setting as data (errors.Setting), and the CLI
    # words it as its option (render.words): the Python API's user never typed --at
    spelled = [f"line {line}: {text!r}" for line, text in _strings(path)
               if re.search(r"--[A-Za-z]", text)]
    assert not spelled, f"{_module(path)} spells command-line options: " + "; ".join(spelled)
