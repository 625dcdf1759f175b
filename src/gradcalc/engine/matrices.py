"""Matrix variables: the shape rules of the evaluator for matrices and the matrix
operations, `--at A=[[1,2],[3,4]]` values and `--at X=@path` files (.npy, headerless .csv).

A matrix is a 2-D float64 array. Elementwise operators broadcast as numpy does; `@` and the
matrix functions (ops_matrix) check their shapes here, with errors that name both shapes.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from .. import ops, ops_matrix
from ..errors import InputError, Span
from ..lang.syntax import (
    Binary,
    Call,
    Expr,
    Index,
    Name,
    Num,
    postorder,
    split_top_level,
    to_source,
)
from . import datafile

# by identity: the records are dataclasses whose == compares every field, far too slow per node
_MATRIX_IDS = frozenset(id(p) for p in ops_matrix.MATRIX_PRIMITIVES)


def is_matrix_primitive(prim: ops.Primitive) -> bool:
    """Whether prim is one of the matrix operations (@, transpose, det, ...)."""
    return id(prim) in _MATRIX_IDS


def _raw(x: Any) -> Any:
    return x.value if hasattr(x, "uid") else x


def shape_text(value: Any) -> str:
    """'scalar', '3 components' or '2x3' for messages."""
    shape = np.shape(_raw(value))
    if not shape:
        return "a scalar"
    if len(shape) == 1:
        return f"a vector of {shape[0]} components"
    return f"{shape[0]}x{shape[1]}"


def _quote(expr: Expr) -> str:
    text = to_source(expr)
    return f"'{text}'" if len(text) <= 30 else f"'{text[:27]}...'"


def _operator(prim: ops.Primitive) -> str:
    return prim.symbol if prim.spelling is None and prim.symbol else f"{prim.spelling}()"


def check_args(prim: ops.Primitive, node: Any, args: Sequence[Any], source: str | None,
               exprs: Sequence[Expr]) -> None:
    """Refuse shapes that do not fit a matrix operation or numpy broadcasting; the message
    names the operator and each operand's shape."""
    shapes = [np.shape(_raw(a)) for a in args]
    span = node.span

    def both() -> str:
        return ", ".join(f"{_quote(e)} is {shape_text(a)}"
                         for e, a in zip(exprs, args, strict=False))

    if prim is ops_matrix.MATMUL:
        a, b = shapes
        if not a or not b:
            raise InputError(f"@ needs vectors or matrices: {both()}", span, source,
                             "multiply by a scalar with *")
        if a[-1] != b[0]:
            raise InputError(f"shapes do not fit for @: {both()} ({a[-1]} against {b[0]})",
                             span, source, "the left's columns must match the right's rows; "
                             "transpose(...) one side?")
        return
    if is_matrix_primitive(prim):
        (a,) = shapes[:1]
        name = prim.spelling
        if prim in _MORE_CHECKS:
            _MORE_CHECKS[prim](prim, node, args, shapes, exprs, source, both)
            return
        if name in ops_matrix.SQUARE or (name == "diag" and len(a) == 2):
            if len(a) != 2 or a[0] != a[1]:
                raise InputError(f"{name}() needs a square matrix, but {both()}", span, source)
        elif name == "transpose" and len(a) != 2:
            raise InputError(f"transpose() needs a matrix, but {both()}", span, source)
        elif name == "outer" and any(len(sh) != 1 for sh in shapes):
            raise InputError(f"outer() needs two vectors, but {both()}", span, source)
        elif not a:
            raise InputError(f"{name}() needs a vector or matrix, but {both()}", span, source)
        return
    if prim.reduction:  # reductions of a vector take a matrix as all its components
        if prim is ops.INDEX:
            return
        for a, e in zip(args, exprs, strict=False):
            if np.ndim(_raw(a)) == 0:
                raise InputError(f"{prim.spelling}() needs a vector or matrix, but "
                                 f"{_quote(e)} is a scalar", e.span, source)
        if prim is ops.DOT and shapes[0] != shapes[1]:
            raise InputError(f"shapes do not fit for dot(): {both()}", span, source)
        return
    try:
        np.broadcast_shapes(*shapes)
    except ValueError:
        op = f"'{node.op}'" if isinstance(node, Binary) else _operator(prim)
        raise InputError(f"shapes do not broadcast for {op}: {both()}", span, source,
                         "elementwise operators need equal shapes (or a scalar); for the "
                         "matrix product write @") from None


def _check_solve(prim: ops.Primitive, node: Any, args: Sequence[Any],
                 shapes: Sequence[tuple[int, ...]], exprs: Sequence[Expr], source: str | None,
                 both: Callable[[], str]) -> None:
    a, b = shapes
    if len(a) != 2 or a[0] != a[1]:
        raise InputError(f"solve() needs a square matrix first, but {both()}", node.span,
                         source)
    if len(b) not in (1, 2) or b[0] != a[0]:
        raise InputError(f"shapes do not fit for solve(): {both()} (the right-hand side needs "
                         f"{a[0]} rows)", node.span, source, "solve(A, b) is inv(A) @ b")


def _check_kron(prim: ops.Primitive, node: Any, args: Sequence[Any],
                shapes: Sequence[tuple[int, ...]], exprs: Sequence[Expr], source: str | None,
                both: Callable[[], str]) -> None:
    if any(len(sh) == 0 for sh in shapes):
        raise InputError(f"kron() needs vectors or matrices, but {both()}", node.span, source,
                         "multiply by a scalar with *")


def _check_stack(prim: ops.Primitive, node: Any, args: Sequence[Any],
                 shapes: Sequence[tuple[int, ...]], exprs: Sequence[Expr], source: str | None,
                 both: Callable[[], str]) -> None:
    fn = np.hstack if prim is ops_matrix.HSTACK else np.vstack
    try:
        fn([np.zeros(sh) for sh in shapes])
    except ValueError:
        along = "rows" if prim is ops_matrix.HSTACK else "columns"
        raise InputError(f"shapes do not fit for {prim.spelling}(): {both()}", node.span,
                         source, f"every part needs the same number of {along}") from None


def _check_norm(prim: ops.Primitive, node: Any, args: Sequence[Any],
                shapes: Sequence[tuple[int, ...]], exprs: Sequence[Expr], source: str | None,
                both: Callable[[], str]) -> None:
    order = exprs[1] if len(exprs) > 1 else None
    if not (isinstance(order, Num) or isinstance(order, Name) and order.id == "inf"):
        span = order.span if order is not None else node.span
        raise InputError("norm(x, p) takes a number or inf for p", span, source,
                         "write e.g. norm(x, 1), norm(x, 3) or norm(x, inf)")
    p = float(_raw(args[1]))
    x = shapes[0]
    if len(x) == 1 and not p >= 1:
        raise InputError(f"norm(x, p) of a vector takes p >= 1 or inf, not {p:g}", order.span,
                         source)
    if len(x) == 2 and p not in (1.0, np.inf):
        raise InputError(f"norm(A, p) of a matrix takes p = 1 (the largest column sum) or "
                         f"inf (the largest row sum), not {p:g}", order.span, source,
                         "norm(A) is the Frobenius norm; the spectral norm (p = 2) has no "
                         "closed form SymPy can check: np.linalg.norm(A, 2) in the Python API")
    if len(x) not in (1, 2):
        raise InputError(f"norm() needs a vector or matrix, but {both()}", node.span, source)


_MORE_CHECKS: dict[ops.Primitive, Callable[..., None]] = {
    ops_matrix.SOLVE: _check_solve, ops_matrix.KRON: _check_kron,
    ops_matrix.HSTACK: _check_stack, ops_matrix.VSTACK: _check_stack,
    ops_matrix.NORM_P: _check_norm,
}


def index(node: Index, base: Any, source: str | None) -> tuple[int, ...]:
    """The checked indices of `A[i]` or `A[i, j]` for a matrix base."""
    shape = np.shape(_raw(base))
    if node.column is not None and len(shape) != 2:
        raise InputError(f"{_quote(node.base)} is {shape_text(base)}, not a matrix: it takes "
                         "one index", node.span, source, f"write {to_source(node.base)}"
                         f"[{node.index}]" if shape else "")
    if node.index >= shape[0]:
        raise InputError(f"row {node.index} is out of range: {_quote(node.base)} is "
                         f"{shape_text(base)} (rows 0 to {shape[0] - 1})", node.index_span,
                         source)
    if node.column is None:
        return (node.index,)
    if node.column >= shape[1]:
        assert node.column_span is not None
        raise InputError(f"column {node.column} is out of range: {_quote(node.base)} is "
                         f"{shape_text(base)} (columns 0 to {shape[1] - 1})", node.column_span,
                         source)
    return (node.index, node.column)


def parse_cells(text: str, inner: str, start: int, element: Callable[[str], float]
                ) -> list[float]:
    """The comma-separated components of inner, which stands at offset start of text (an
    --at value); element(cell) evaluates one. Errors are located in text."""
    values: list[float] = []
    for offset, cell in split_top_level(inner):
        at = start + offset
        if not cell.strip():
            raise InputError("an empty component", Span(at, at + max(1, len(cell))), text)
        try:
            values.append(element(cell))
        except InputError as exc:
            span = exc.span or Span(0, len(cell))
            raise InputError(exc.parts, Span(at + span.start, at + span.end), text,
                             exc.hint_parts) from None
    return values


def parse_matrix(text: str, element: Callable[[str], float]) -> Any:
    """The matrix `[[a, b], [c, d]]` of an --at value (rows of equal length); element(text)
    evaluates one component. Errors are located in text."""
    lead = len(text) - len(text.lstrip())
    body = text.rstrip()
    if not body.endswith("]"):
        raise InputError("a matrix needs a closing ']'", Span(lead, lead + 1), text,
                         "write A=[[1,2],[3,4]]")
    inner = body[lead + 1:-1]
    rows: list[list[float]] = []
    for offset, piece in split_top_level(inner):
        at = lead + 1 + offset
        row = piece.strip()
        start = at + len(piece) - len(piece.lstrip())
        if not (row.startswith("[") and row.endswith("]")):
            raise InputError("every row of a matrix is written [..]", Span(start, start + max(
                1, len(row))), text, "write A=[[1,2],[3,4]]")
        if not row[1:-1].strip():
            raise InputError("an empty row", Span(start, start + len(row)), text,
                             "every row of a matrix needs at least one component")
        values = parse_cells(text, row[1:-1], start + 1, element)
        if rows and len(values) != len(rows[0]):
            raise InputError(f"rows of different lengths: row 0 has {len(rows[0])} "
                             f"components, row {len(rows)} has {len(values)}",
                             Span(start, start + len(row)), text,
                             "every row of a matrix needs the same number of components")
        rows.append(values)
    return np.array(rows, dtype=np.float64)


def load(path_text: str) -> Any:
    """A vector or matrix from a .npy file or a headerless .csv of numbers (one row per
    line); InputError naming the file (and line and column) when it cannot be read."""
    path = Path(path_text)
    try:
        if path.suffix.lower() == ".npy":
            try:
                data = np.load(path, allow_pickle=False)
            except ValueError as exc:
                raise InputError(f"cannot read {path_text}: {exc}") from None
            if data.dtype.kind not in "biuf":
                raise InputError(f"{path_text} holds {data.dtype} values, not numbers")
            value = np.asarray(data, dtype=np.float64)
        else:
            value = _read_csv(path, path_text)
    except OSError as exc:
        raise InputError(f"cannot read {path_text}: {exc.strerror or exc}",
                         hint="give the path of a .npy or headerless .csv file") from None
    if value.ndim not in (1, 2) or value.size == 0:
        raise InputError(f"{path_text} holds an array of shape {value.shape}; a binding "
                         "takes a vector or a matrix")
    if not np.all(np.isfinite(value)):
        k = int(np.flatnonzero(~np.isfinite(value.ravel()))[0])
        where = np.unravel_index(k, value.shape)
        raise InputError(f"{path_text} has a non-finite number at "
                         f"[{','.join(map(str, where))}]")
    return value


def _read_csv(path: Path, path_text: str) -> Any:
    """A headerless table of numbers (datafile's syntax, separator and decoding)."""
    with open(path, "rb") as fh:
        if stat.S_ISCHR(os.fstat(fh.fileno()).st_mode):  # /dev/zero would never end
            raise InputError(f"cannot read {path_text}: a device, not a file")
        text = datafile.decode(fh.read(), path_text)
    rows: list[list[float]] = []
    sep = None
    for line_no, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        sep = sep or datafile.separator(line)
        row: list[float] = []
        for col, cell in enumerate(line.split(sep), 1):
            value = datafile.number(cell)
            if value is None:
                problem, hint = datafile.number_problem(
                    cell, hint="a .csv binding is numbers only, no header row")
                raise InputError(f"{path_text}, line {line_no}, column {col}: {problem}",
                                 hint=hint)
            row.append(value)
        if rows and len(row) != len(rows[0]):
            raise InputError(f"{path_text}, line {line_no}: {len(row)} numbers, but the "
                             f"first row has {len(rows[0])}",
                             hint="every row of a matrix needs the same number of values")
        rows.append(row)
    if not rows:
        raise InputError(f"{path_text} holds no numbers")
    value = np.array(rows, dtype=np.float64)
    return value[:, 0] if value.shape[1] == 1 else value  # one column: a vector


def reduce_args(prim: ops.Primitive, args: Sequence[Any], apply: Callable[..., Any]
                ) -> list[Any]:
    """The arguments of a reduction over vectors, matrices raveled into their components."""
    if not prim.reduction or is_matrix_primitive(prim) or prim is ops.INDEX:
        return list(args)
    return [apply(ops_matrix.RAVEL, a) if np.ndim(_raw(a)) == 2 else a for a in args]



def matrix_operation(exprs: Sequence[Expr]) -> Expr | None:
    """The first use of `@`, a matrix function or `A[i, j]` in these expressions, or None."""
    for root in exprs:
        for node in postorder(root):
            if isinstance(node, Binary) and node.op == "@" or isinstance(node, Call) and \
                    _matrix_call(node) or isinstance(node, Index) and node.column is not None:
                return node
    return None


def _matrix_call(node: Call) -> bool:
    prim = ops.resolve(node.func, len(node.args))
    return prim is not None and is_matrix_primitive(prim)
