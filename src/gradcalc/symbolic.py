"""Syntax tree -> SymPy expression (never from user text), derivatives and their values.

SymPy is imported only when these functions run, so runs without the check start fast.
"""

from __future__ import annotations

import fractions
from collections.abc import Mapping, Sequence
from functools import lru_cache
from types import SimpleNamespace
from typing import Any

from . import ops
from .inline import fold_calls
from .syntax import Assign, Binary, Call, Expr, FuncDef, Index, Name, Num, Program, Unary

PRECISION = 30  # significant digits for evaluating symbolic results


@lru_cache(maxsize=1)
def namespace() -> Any:
    """The namespace the op table's SymPy counterparts use: sympy plus StopGradient."""
    import sympy

    class StopGradient(sympy.Function):
        """Identity in value, zero derivative: the SymPy counterpart of stop_gradient."""

        nargs = 1

        def fdiff(self, argindex: int = 1) -> Any:
            return sympy.S.Zero

        def _eval_evalf(self, prec: int) -> Any:
            return self.args[0]._eval_evalf(prec)

        def _eval_is_real(self) -> Any:
            return self.args[0].is_real

        def _sympystr(self, printer: Any) -> str:
            return f"stop_gradient({printer._print(self.args[0])})"

    return SimpleNamespace(**vars(sympy), StopGradient=StopGradient)


def symbol(name: str) -> Any:
    """The real SymPy symbol for a bound name."""
    return namespace().Symbol(name, real=True)


def _number(node: Num) -> Any:
    sp = namespace()
    f = fractions.Fraction(node.text)
    return sp.Integer(f.numerator) if f.denominator == 1 else sp.Rational(f.numerator,
                                                                          f.denominator)


def expr_to_sympy(expr: Expr, env: Mapping[str, Any],
                  functions: Mapping[str, FuncDef] | None = None) -> Any:
    """The SymPy expression of one syntax tree; env maps names to SymPy expressions, or to
    tuples of them for vectors (the result is then a tuple where it is a vector). Calls of the
    program's functions are inlined.

    Chains of + and - become one Add and chains of * and / one Mul, so long sums stay flat.
    """
    sp = namespace()

    def visit(node: Expr, args: list[Any], scope: Mapping[str, Any]) -> Any:
        if isinstance(node, Num):
            return _number(node)
        if isinstance(node, Name):
            if node.id in scope:
                return scope[node.id]
            return ops.CONSTANTS[node.id][1](sp)
        if isinstance(node, Index):
            return ops.INDEX.sympy(sp, args[0], node.index)
        if any(isinstance(a, tuple) for a in args) and not (
                isinstance(node, Call) and _prim(node, args).reduction):
            return _elementwise(node, [_done(a) for a in args])
        if isinstance(node, Unary):
            return args[0] if node.op == "+" else -args[0]
        if isinstance(node, Binary):
            left, right = args
            if node.op in "+-":
                terms = _terms(left, sp.Add) + _terms(-right if node.op == "-" else right, sp.Add)
                return _Chain(sp.Add, terms)
            if node.op in "*/":
                factors = _terms(left, sp.Mul) + _terms(
                    sp.Pow(_done(right), -1) if node.op == "/" else right, sp.Mul)
                return _Chain(sp.Mul, factors)
            return ops.POW.sympy(sp, _done(left), _done(right))
        if isinstance(node, Call):
            return _prim(node, args).sympy(sp, *(_done(a) for a in args))
        raise TypeError(f"unknown syntax node {type(node).__name__}")

    return _done(fold_calls(expr, env, functions or {}, visit, bind=_done))


def _prim(node: Call, args: list[Any]) -> ops.Primitive:
    prim = ops.resolve(node.func, len(args))
    assert prim is not None
    return prim


def _elementwise(node: Expr, args: list[Any]) -> tuple[Any, ...]:
    """An elementwise node applied per component, broadcasting scalars over vectors."""
    sp = namespace()
    n = max(len(a) for a in args if isinstance(a, tuple))
    rows = [[a[k] if isinstance(a, tuple) else a for a in args] for k in range(n)]
    if isinstance(node, Unary):
        return tuple(row[0] if node.op == "+" else -row[0] for row in rows)
    prim = ops.BINARY[node.op] if isinstance(node, Binary) else _prim(node, args)
    return tuple(prim.sympy(sp, *row) for row in rows)


class _Chain:
    """A pending flat Add or Mul, built in one go when its parent needs it."""

    __slots__ = ("kind", "items")

    def __init__(self, kind: Any, items: list[Any]):
        self.kind, self.items = kind, items

    def __neg__(self) -> Any:
        return -_done(self)


def _terms(x: Any, kind: Any) -> list[Any]:
    if isinstance(x, _Chain):
        if x.kind is kind:
            return x.items
        return [_done(x)]
    return [x]


def _done(x: Any) -> Any:
    return x.kind(*x.items) if isinstance(x, _Chain) else x


def program_to_sympy(program: Program, names: Sequence[str] | Mapping[str, str | list[str]],
                     of: str | None = None) -> Any:
    """The SymPy expression of a program's output, with assignments and calls inlined.

    names: the bound names; or a mapping from each bound name to its symbol's name, or to the
    list of its components' symbol names for a vector (see vectors.symbol_names).
    """
    if not isinstance(names, Mapping):
        names = {n: n for n in names}
    env: dict[str, Any] = {n: symbol(s) if isinstance(s, str) else tuple(symbol(c) for c in s)
                           for n, s in names.items()}
    out = None
    for stmt in program.statements:
        if isinstance(stmt, Assign):
            value = expr_to_sympy(stmt.value, env, program.functions)
            if stmt.op != "=":
                old, op = env[stmt.target], stmt.op[0]
                if isinstance(old, tuple) or isinstance(value, tuple):
                    value = _elementwise(Binary(op, stmt.value, stmt.value, stmt.span),
                                         [old, value])
                else:
                    value = {"+": old + value, "-": old - value, "*": old * value,
                             "/": old / value}[op]
            env[stmt.target] = out = value
        else:
            out = expr_to_sympy(stmt, env, program.functions)
    return env[of] if of is not None else out


def evaluate(expr: Any, point: Mapping[str, float]) -> complex | float:
    """A SymPy expression's value at a point, to PRECISION digits: a float, a complex if it is
    not real there, or nan where it is undefined (e.g. zoo)."""
    sp = namespace()
    subs = {symbol(n): sp.Float(v, PRECISION) for n, v in point.items()}
    try:
        value = expr.evalf(PRECISION, subs=subs)
    except (ArithmeticError, ValueError, TypeError):
        try:  # evalf's substitution can fail where plain substitution is fine (e.g. 0^0)
            value = expr.xreplace(subs).evalf(PRECISION)
        except (ArithmeticError, ValueError, TypeError):
            return float("nan")
    if value.has(sp.zoo, sp.nan):
        return float("nan")
    if value == sp.oo:
        return float("inf")
    if value == -sp.oo:
        return float("-inf")
    if not value.is_number:
        return float("nan")
    re, im = value.as_real_imag()
    re_f, im_f = float(re), float(im)
    if im_f != 0.0:
        return complex(re_f, im_f)
    return re_f


def without_stop_gradient(expr: Any) -> Any | None:
    """The expression with every stop_gradient(e) replaced by e (the function it computes),
    or None if it has no stop_gradient."""
    sg = namespace().StopGradient
    if not expr.has(sg):
        return None
    return expr.replace(sg, lambda arg: arg)


def derivative(expr: Any, name: str) -> Any:
    """d expr / d name."""
    return expr.diff(symbol(name))
