"""The gradient in matrix notation: the program as a SymPy matrix expression (MatrixSymbol for
each vector and matrix binding, vectors as columns), differentiated by SymPy's matrix calculus,
and shown only where the formula's numbers equal the tape's gradient at the point.

Covered: + - on equal shapes, products with scalars, `@`, transpose, trace, inv, det, logdet,
logabsdet, solve(A, b) (as inv(A) @ b), outer, sum(E^2) and norm(E) (as trace(E^T E)), sum and
mean of a vector or matrix (as 1^T E 1, ones(m,n) in the printed formula), and scalar functions
of scalars.
Anything else (elementwise products of matrices, indexing, softmax, user functions) falls back
to the per-component check, with the reason.
"""

from __future__ import annotations

import fractions
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from .. import ops
from ..lang.syntax import Assign, Binary, Call, Expr, Name, Num, Program, Unary


class Unsupported(Exception):
    """The program leaves the part of the language SymPy's matrix calculus covers."""


@dataclass
class MatrixForm:
    """One gradient in matrix notation: gradcalc's notation, LaTeX and a numpy expression."""

    name: str
    text: str
    latex: str
    python: str


def _sp() -> Any:
    import sympy

    return sympy


def _value(kind: str, expr: Any) -> tuple[str, Any]:
    return kind, expr


def to_matrix_expr(program: Program, bindings: Mapping[str, Any], of: str | None = None
                   ) -> tuple[Any, dict[str, Any]]:
    """The program's output as a SymPy (scalar) expression of MatrixSymbols, and the symbol
    of each bound name. Raises Unsupported outside the covered part of the language."""
    sp = _sp()
    if program.functions:
        raise Unsupported("the program defines functions")
    symbols: dict[str, Any] = {}
    env: dict[str, tuple[str, Any]] = {}
    for name, value in bindings.items():
        shape = np.shape(value)
        if len(shape) == 2:
            symbols[name] = sp.MatrixSymbol(name, *shape)
            env[name] = ("m", symbols[name])
        elif len(shape) == 1:
            symbols[name] = sp.MatrixSymbol(name, shape[0], 1)
            env[name] = ("v", symbols[name])
        else:
            symbols[name] = sp.Symbol(name, real=True)
            env[name] = ("s", symbols[name])
    out: tuple[str, Any] | None = None
    for stmt in program.statements:
        if isinstance(stmt, Assign):
            if stmt.op != "=":
                raise Unsupported("compound assignment")
            env[stmt.target] = out = _convert(stmt.value, env)
        else:
            out = _convert(stmt, env)
    if of is not None:
        out = env[of]
    if out is None or out[0] != "s":
        raise Unsupported("the output is not a scalar")
    return out[1], symbols


def _scalar(kind: str, e: Any) -> Any:
    if kind != "s":
        raise Unsupported("a scalar is needed")
    return e


def _convert(node: Expr, env: Mapping[str, tuple[str, Any]]) -> tuple[str, Any]:
    sp = _sp()
    if isinstance(node, Num):
        f = fractions.Fraction(node.text)
        return "s", sp.Rational(f.numerator, f.denominator)
    if isinstance(node, Name):
        if node.id in env:
            return env[node.id]
        if node.id in ops.CONSTANTS:
            return "s", ops.CONSTANTS[node.id][1](sp)
        raise Unsupported(f"unbound {node.id}")
    if isinstance(node, Unary):
        kind, e = _convert(node.operand, env)
        return kind, (e if node.op == "+" else -e)
    if isinstance(node, Binary):
        (lk, le), (rk, re) = _convert(node.left, env), _convert(node.right, env)
        if node.op in "+-":
            if lk != rk:
                raise Unsupported("a scalar added to a vector or matrix")
            return lk, (le + re if node.op == "+" else le - re)
        if node.op == "*":
            if lk != "s" and rk != "s":
                raise Unsupported("an elementwise product of vectors or matrices")
            return (rk if lk == "s" else lk), le * re
        if node.op == "/":
            return lk, le / _scalar(rk, re)
        if node.op == "^":
            return "s", _scalar(lk, le) ** _scalar(rk, re)
        if node.op == "@":
            if lk == "v" and rk == "v":
                return "s", sp.Trace(le.T * re)
            if lk == "v":
                return "v", re.T * le
            if lk == "m" and rk in "vm":
                return rk, le * re
        raise Unsupported(f"operator {node.op}")
    if isinstance(node, Call):
        return _call(node, env)
    raise Unsupported("indexing" if type(node).__name__ == "Index" else "user functions")


def _ones(rows: int, cols: int) -> Any:
    return _sp().OneMatrix(rows, cols)


def _total(kind: str, e: Any) -> Any:
    """The sum of all components of a vector or matrix: 1^T e 1."""
    sp = _sp()
    if kind == "v":
        return sp.Trace(_ones(1, e.shape[0]) * e)
    return sp.Trace(_ones(1, e.shape[0]) * e * _ones(e.shape[1], 1))


def _call(node: Call, env: Mapping[str, tuple[str, Any]]) -> tuple[str, Any]:
    sp = _sp()
    func = node.func
    if func == "norm" and len(node.args) == 2 and isinstance(node.args[1], Num) \
            and node.args[1].value == 2:
        kind, e = _convert(node.args[0], env)
        if kind == "v":
            return "s", sp.sqrt(sp.Trace(e.T * e))
        raise Unsupported("norm(A, 2) of a matrix")
    if func in ("sum", "mean") and len(node.args) == 1:
        arg = node.args[0]
        if not (func == "sum" and isinstance(arg, Binary) and arg.op == "^"):
            kind, e = _convert(arg, env)
            if kind in "vm":
                count = e.shape[0] * e.shape[1]
                return "s", _total(kind, e) / (count if func == "mean" else 1)
    if func in ("sum", "norm") and len(node.args) == 1:
        arg = node.args[0]
        if isinstance(arg, Binary) and arg.op == "^" and isinstance(arg.right, Num) \
                and arg.right.value == 2 and func == "sum":
            kind, e = _convert(arg.left, env)
            if kind in "vm":
                return "s", sp.Trace(e.T * e)
        kind, e = _convert(arg, env)
        if func == "norm" and kind in "vm":
            return "s", sp.sqrt(sp.Trace(e.T * e))
        if func == "sum" and kind == "v":
            return "s", sp.Trace(sp.OneMatrix(1, e.shape[0]) * e)
        raise Unsupported(f"{func}() of " + ("a matrix" if kind == "m" else "this argument"))
    args = [_convert(a, env) for a in node.args]
    if func in ("transpose", "trace", "inv", "det", "logdet", "logabsdet") and len(args) == 1 \
            and args[0][0] == "m":
        e = args[0][1]
        return {"transpose": lambda: ("m", e.T), "trace": lambda: ("s", sp.Trace(e)),
                "inv": lambda: ("m", sp.Inverse(e)), "det": lambda: ("s", sp.Determinant(e)),
                "logdet": lambda: ("s", sp.log(sp.Determinant(e))),
                "logabsdet": lambda: ("s", sp.log(sp.Abs(sp.Determinant(e))))}[func]()
    if func == "solve" and len(args) == 2 and args[0][0] == "m" and args[1][0] in "vm":
        return args[1][0], sp.Inverse(args[0][1]) * args[1][1]
    if func == "outer" and len(args) == 2 and args[0][0] == "v" and args[1][0] == "v":
        return "m", args[0][1] * args[1][1].T
    scalar = {"exp": sp.exp, "log": sp.log, "sqrt": sp.sqrt, "sin": sp.sin, "cos": sp.cos,
              "tanh": sp.tanh}
    if func in scalar and len(args) == 1:
        return "s", scalar[func](_scalar(*args[0]))
    raise Unsupported(f"{func}()")


def gradients(program: Program, bindings: Mapping[str, Any], wrt: Sequence[str],
              gradient: Mapping[str, Any], of: str | None = None
              ) -> tuple[dict[str, MatrixForm], str]:
    """Matrix-notation gradients for the vector and matrix names of wrt that SymPy derives and
    whose numbers equal the tape's `gradient` at `bindings` (rtol 1e-9), and a note on the
    names left to the per-component check (empty when none are)."""
    sp = _sp()
    wanted = [n for n in wrt if np.ndim(bindings[n]) >= 1]
    try:
        expr, symbols = to_matrix_expr(program, bindings, of)
    except Unsupported as exc:
        return {}, f"not available ({exc}); checked component by component"
    out: dict[str, MatrixForm] = {}
    left: list[str] = []
    order = list(bindings)
    for name in wanted:
        try:
            d = _diff(expr, symbols[name])
            if not isinstance(d, sp.MatrixExpr) or d.shape != symbols[name].shape \
                    or d.has(sp.Derivative) or not _agrees(d, symbols, bindings, order,
                                                           gradient.get(name)):
                left.append(name)
                continue
        except Exception:  # noqa: BLE001 - SymPy's matrix calculus raises many kinds
            left.append(name)
            continue
        out[name] = MatrixForm(name, to_text(d), sp.latex(d), _python(d, bindings, order, name))
    note = "" if not left else (
        f"{', '.join(left)}: SymPy's matrix calculus gave no formula that matches; checked "
        "component by component")
    return out, note


def _diff(e: Any, x: Any) -> Any:
    """d e / d x, term by term, with the log-determinant and determinant rules of The Matrix
    Cookbook (49), (57) where SymPy has none."""
    sp = _sp()
    if isinstance(e, sp.Add):
        terms = [_diff(t, x) for t in e.args if t.has(x)]
        if not terms:
            return sp.ZeroMatrix(*x.shape)
        return sp.MatAdd(*terms).doit() if len(terms) > 1 else terms[0]
    if isinstance(e, sp.Mul):
        const = [a for a in e.args if not a.has(x)]
        rest = [a for a in e.args if a.has(x)]
        if len(rest) == 1 and const:
            return sp.Mul(*const) * _diff(rest[0], x)
    if isinstance(e, sp.log) and isinstance(e.args[0], sp.Determinant) \
            and e.args[0].arg == x:
        return sp.Inverse(x).T
    if isinstance(e, sp.log) and isinstance(e.args[0], sp.Abs) \
            and isinstance(e.args[0].args[0], sp.Determinant) and e.args[0].args[0].arg == x:
        return sp.Inverse(x).T  # log|det(X)|: the same rule (Cookbook (57))
    if isinstance(e, sp.Determinant) and e.arg == x:
        return sp.Determinant(x) * sp.Inverse(x).T
    return e.diff(x)


def _columns(bindings: Mapping[str, Any], order: Sequence[str]) -> list[Any]:
    return [np.reshape(np.asarray(bindings[n], dtype=float), (-1, 1))
            if np.ndim(bindings[n]) == 1 else np.asarray(bindings[n], dtype=float)
            for n in order]


def _agrees(d: Any, symbols: Mapping[str, Any], bindings: Mapping[str, Any],
            order: Sequence[str], tape: Any) -> bool:
    """The formula's numbers at the point (numpy) equal the tape's gradient."""
    sp = _sp()
    if tape is None:
        return False
    fn = sp.lambdify([symbols[n] for n in order], d, modules="numpy",
                     printer=_numpy_printer()({"fully_qualified_modules": False}))
    with np.errstate(all="ignore"):
        got = np.asarray(fn(*_columns(bindings, order)), dtype=float)
    want = np.asarray(tape, dtype=float)
    if got.size != want.size:
        return False
    got = got.reshape(want.shape)
    scale = float(np.max(np.abs(want))) if want.size else 0.0
    return bool(np.all(np.isfinite(got)) and np.all(np.abs(got - want) <= 1e-9 * scale + 1e-300))


def _numpy_printer() -> Any:
    """numpy's printer, with the determinant and the trace it lacks."""
    from sympy.printing.numpy import NumPyPrinter

    class Printer(NumPyPrinter):
        def _print_Determinant(self, expr: Any) -> str:
            return f"{self._module_format(self._module + '.linalg.det')}({self._print(expr.arg)})"

        def _print_Trace(self, expr: Any) -> str:
            return f"{self._module_format(self._module + '.trace')}({self._print(expr.arg)})"

    return Printer


def _python(d: Any, bindings: Mapping[str, Any], order: Sequence[str], name: str) -> str:
    """A numpy function of the bindings computing the gradient."""
    from .printer import python_name, to_numpy

    body = to_numpy(d)
    args = [python_name(n) for n in order]
    lines = [f"def grad_{name}({', '.join(args)}):",
             '    """d/d' + name + ' in matrix notation (vectors are columns inside)."""']
    lines += [f"    {a} = numpy.reshape({a}, (-1, 1))" for n, a in zip(order, args, strict=True)
              if np.ndim(bindings[n]) == 1]
    result = f"numpy.ravel({body})" if np.ndim(bindings[name]) == 1 else body
    lines.append(f"    return {result}")
    return "\n".join(lines)


def to_text(d: Any) -> str:
    """A matrix expression in gradcalc's notation: `@` for products, transpose(...), inv(...),
    outer(u, v) for a column times a transposed column."""
    sp = _sp()
    from sympy.printing.precedence import PRECEDENCE
    from sympy.printing.str import StrPrinter

    class Printer(StrPrinter):
        def _print_MatMul(self, expr: Any) -> str:
            coeff, factors = expr.as_coeff_matrices()
            parts, k = [], 0
            while k < len(factors):  # a column times a transposed column: outer(u, v)
                f = factors[k]
                if k + 1 < len(factors) and f.shape[1] == 1 and factors[k + 1].shape[0] == 1 \
                        and isinstance(factors[k + 1], sp.Transpose):
                    parts.append(f"outer({self._print(f)}, {self._print(factors[k + 1].arg)})")
                    k += 2
                    continue
                parts.append(self.parenthesize(f, PRECEDENCE["Mul"]))
                k += 1
            text = "@".join(parts)
            if coeff == 1:
                return text
            sign = "-" if coeff.is_number and coeff < 0 else ""
            coeff = -coeff if sign else coeff
            if coeff == 1:
                return sign + text
            return f"{sign}{self.parenthesize(coeff, PRECEDENCE['Mul'])}*{text}"

        def _print_Transpose(self, expr: Any) -> str:
            return f"transpose({self._print(expr.arg)})"

        def _print_Inverse(self, expr: Any) -> str:
            return f"inv({self._print(expr.arg)})"

        def _print_Determinant(self, expr: Any) -> str:
            return f"det({self._print(expr.arg)})"

        def _print_Trace(self, expr: Any) -> str:
            return f"trace({self._print(expr.arg)})"

        def _print_OneMatrix(self, expr: Any) -> str:
            rows, cols = expr.shape
            return f"ones({rows})" if cols == 1 else f"ones({rows},{cols})"

        def _print_Pow(self, expr: Any, rational: bool = False) -> str:
            return super()._print_Pow(expr, rational).replace("**", "^")

    return Printer().doprint(d)
