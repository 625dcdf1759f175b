"""Vector variables: shape rules of the evaluator, `--at w=[...]` values, and the per-component
view of a gradient (labels `w[0]`, SymPy symbols `w_0`) shared by the check and the reports.

A vector is a 1-D float64 array. Elementwise operators and functions broadcast a vector with
scalars as numpy does; two vectors must have the same length. Reductions (sum, mean, prod, dot,
norm, max/min of one argument) and indexing take vectors and give scalars.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np

from .. import ops
from ..engine.api import Tensor
from ..errors import InputError, Setting, Span
from ..lang.syntax import Binary, Call, Expr, Index, Name, to_source
from ..ops_matrix import INDEX2, ROW
from . import matrices


def _raw(x: Any) -> Any:
    return x.value if isinstance(x, Tensor) else x


def length(value: Any) -> int | None:
    """The number of components of a vector or matrix value, None for a scalar."""
    v = value.value if isinstance(value, Tensor) else value
    if isinstance(v, float):  # Python floats and numpy float64 scalars
        return None
    shape = np.shape(v)
    return int(np.prod(shape)) if shape else None


def describe(expr: Expr) -> str:
    """A short quotation of a sub-expression for messages."""
    text = to_source(expr)
    return f"'{text}'" if len(text) <= 30 else f"'{text[:27]}...'"


def operands(node: Expr) -> tuple[Expr, ...]:
    """The sub-expressions whose values a node combines."""
    if isinstance(node, Binary):
        return (node.left, node.right)
    if isinstance(node, Call):
        return node.args
    return ()


def check_args(prim: ops.Primitive, node: Any, args: Sequence[Any], source: str | None,
               exprs: Sequence[Expr] | None = None) -> None:
    """Refuse vectors of different lengths (naming both) and reductions of scalars."""
    matrix_prim = matrices.is_matrix_primitive(prim)
    if not prim.reduction and not matrix_prim and \
            all(type(a) is float or length(a) is None for a in args):
        return  # scalars only: nothing to check
    exprs = operands(node) if exprs is None else exprs
    if matrix_prim or any(np.ndim(_raw(a)) == 2 for a in args):
        matrices.check_args(prim, node, args, source, exprs)
        return
    lengths = [length(a) for a in args]
    if not prim.reduction and lengths.count(None) >= len(lengths) - 1:
        return  # at most one vector: nothing to compare
    exprs = operands(node) if exprs is None else exprs
    if prim.reduction:
        what = f"{prim.spelling}()"
        for n, e in zip(lengths, exprs, strict=False):
            if n is None:
                hint = (f"{prim.spelling} of numbers takes 2 or more arguments"
                        if prim.spelling in ("max", "min") else "")
                raise InputError(f"{what} needs a vector, but {describe(e)} is a scalar",
                                 e.span, source, hint)
    sized = [(n, e) for n, e in zip(lengths, exprs, strict=False) if n is not None]
    for n, e in sized[1:]:
        if n != sized[0][0]:
            m, first = sized[0]
            raise InputError(f"vectors of different lengths: {describe(first)} has {m} "
                             f"components, {describe(e)} has {n}", node.span, source)


def index(node: Index, base: Any, source: str | None) -> int:
    """The checked index of `base[k]`."""
    n = length(base)
    if n is None:
        raise InputError(f"{describe(node.base)} is a scalar and cannot be indexed", node.span,
                         source)
    if node.index >= n:
        raise InputError(f"index {node.index} is out of range: {describe(node.base)} has {n} "
                         f"component{'s' if n != 1 else ''} (indices 0 to {n - 1})",
                         node.index_span, source)
    return node.index


def output_error(name: str | None, value: Any, span: Span | None, source: str | None,
                 expr: Expr | None = None) -> InputError:
    """The error for a vector where a gradient needs a scalar output (name: the output's name;
    expr: the output expression when it has no name)."""
    what = f"'{name}'" if name else "the output"
    kind = (f"a {'x'.join(map(str, np.shape(_raw(value))))} matrix" if np.ndim(_raw(value)) == 2
            else f"a vector ({length(value)} components)")
    text = to_source(expr) if expr is not None and not name else ""
    ref = name or (text if len(text) <= 30 else "...")
    item = ref if name or isinstance(expr, (Name, Call)) else f"({ref})"
    return InputError(f"{what} is {kind}, but a gradient needs a scalar output", span, source,
                      (f"reduce it, e.g. sum({ref}), mean({ref}), norm({ref}), or take "
                       f"{item}[0]; for a Jacobian, assign scalar outputs and name them with ",
                       Setting("of", "y1,y2")))


def parse_vector(text: str, element: Callable[[str], float]) -> Any:
    """The vector `[v1, v2, ...]` of an --at value; element(text) evaluates one component.
    Errors are located in text."""

    lead = len(text) - len(text.lstrip())
    body = text.rstrip()
    if not body.endswith("]"):
        raise InputError("a vector needs a closing ']'", Span(lead, lead + 1), text,
                         "write w=[1,2,3]")
    inner = body[lead + 1:-1]
    if not inner.strip():
        raise InputError("an empty vector", Span(lead, len(body)), text,
                         "a vector needs at least one component")
    return np.array(matrices.parse_cells(text, inner, lead + 1, element), dtype=np.float64)


# ---------------------------------------------------------------- components


class Component(str):
    """One component of a bound name as data: name and k (None for a scalar, an int for a
    vector, (i, j) for a matrix). It is also its user-facing label, `x`, `w[k]` or `A[i,j]` (a
    str, so it keys tables and prints as that label); code reads .name and .k instead of
    parsing the label."""

    name: str
    k: int | tuple[int, ...] | None

    def __new__(cls, name: str, k: int | tuple[int, ...] | None = None) -> Component:
        text = name if k is None else f"{name}[{k}]" if isinstance(k, int) else \
            f"{name}[{k[0]},{k[1]}]" if len(k) == 2 else f"{name}[{','.join(map(str, k))}]"
        self = super().__new__(cls, text)
        self.name, self.k = name, k
        return self

    def __reduce__(self) -> tuple[Any, ...]:
        return (Component, (self.name, self.k))


def labels(name: str, value: Any) -> list[Component]:
    """The components of a bound name: [x], [w[0], w[1], ...] or, for a matrix, [A[0,0],
    A[0,1], ...] row by row."""
    shape = np.shape(_raw(value))
    return list(_labels(name, shape if len(shape) == 2 else length(value)))


@functools.lru_cache(maxsize=64)
def _labels(name: str, shape: tuple[int, int] | int | None) -> tuple[Component, ...]:
    # a check asks for the labels of the same binding several times; a 1000x100 matrix has
    # 100,000 of them
    if isinstance(shape, tuple):
        return tuple(Component(name, (i, j)) for i in range(shape[0]) for j in range(shape[1]))
    return (Component(name),) if shape is None else tuple(Component(name, k)
                                                          for k in range(shape))


def owner(label: str) -> str:
    """The bound name a component label belongs to (the name itself for a scalar)."""
    return label.name if isinstance(label, Component) else label


def components(names: Sequence[str], bindings: Mapping[str, Any],
               gradient: Mapping[str, Any]) -> list[tuple[Component, Any]]:
    """(component, partial) per component of each name, in order; None stays None per
    component."""
    out: list[tuple[Component, Any]] = []
    for name in names:
        g = gradient.get(name)
        n = length(bindings[name])
        if n is None:
            out.append((Component(name), g))
        else:
            flat = None if g is None else np.ravel(g)
            out += [(label, None if flat is None else np.float64(flat[k]))
                    for k, label in enumerate(labels(name, bindings[name]))]
    return out


class Grid(list):
    """The component symbol names of a matrix, row by row, with its shape."""

    shape: tuple[int, int]

    def __init__(self, items: Sequence[str], shape: tuple[int, int]):
        super().__init__(items)
        self.shape = shape

    def __reduce__(self) -> Any:
        return (Grid, (list(self), self.shape))


def symbol_names(bindings: Mapping[str, Any]) -> dict[str, list[str] | str]:
    """SymPy symbol names per bound name: the name for a scalar, `w_0, w_1, ...` for a vector,
    a Grid `A_0_0, A_0_1, ...` for a matrix (with more underscores, `w__0`, where `w_0` would
    clash with another name)."""
    taken = {n for n, v in bindings.items() if length(v) is None}
    out: dict[str, list[str] | str] = {}
    for name, value in bindings.items():
        n = length(value)
        if n is None:
            out[name] = name
            continue
        shape = np.shape(_raw(value))
        sep = "_"
        while any(c in taken for c in _component_symbols(name, sep, shape)):
            sep += "_"
        found = _component_symbols(name, sep, shape)
        out[name] = Grid(found, (shape[0], shape[1])) if len(shape) == 2 else found
        taken.update(found)
    return out


def _component_symbols(name: str, sep: str, shape: tuple[int, ...]) -> list[str]:
    if len(shape) == 2:
        return [f"{name}{sep}{i}{sep}{j}" for i in range(shape[0]) for j in range(shape[1])]
    return [f"{name}{sep}{k}" for k in range(shape[0])]


def symbol_list(symbols: str | list[str]) -> list[str]:
    """The symbol names of one bound name as a list (one for a scalar)."""
    return [symbols] if isinstance(symbols, str) else symbols


def influence(nodes: Sequence[Any], start: int, mask: Any) -> dict[int, Any]:
    """Which elements of each earlier node reach the elements of node `start` selected by mask
    (a boolean array shaped like its value), following differentiable inputs backward: node
    id -> boolean array shaped like that node's value. Used to tell which components of a
    vector a kink (abs at 0, a tie in max) actually involves."""
    reach: dict[int, Any] = {start: np.broadcast_to(np.asarray(mask, dtype=bool),
                                                    np.shape(nodes[start].value))}
    for j in range(start, -1, -1):
        g = reach.get(j)
        node = nodes[j]
        if g is None or node.prim is None or not g.any():
            continue
        for i, ref in enumerate(node.inputs):
            if not isinstance(ref, int) or node.prim.vjp(i) is None:
                continue
            shape = np.shape(nodes[ref].value)
            if node.prim is ops.INDEX or node.prim in (ROW, INDEX2):
                c = np.zeros(shape, dtype=bool)
                key = tuple(int(r.value) for r in node.inputs[1:])
                c[key] = True
            elif node.prim.reduction or shape != g.shape:
                c = np.full(shape, bool(g.any()))
            else:
                c = g
            reach[ref] = c if ref not in reach else reach[ref] | c
    return reach
