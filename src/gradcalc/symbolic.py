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
from .syntax import Assign, Binary, Call, Expr, Name, Num, Program, Unary, fold

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


def expr_to_sympy(expr: Expr, env: Mapping[str, Any]) -> Any:
    """The SymPy expression of one syntax tree; env maps names to SymPy expressions.

    Chains of + and - become one Add and chains of * and / one Mul, so long sums stay flat.
    """
    sp = namespace()

    def visit(node: Expr, args: list[Any]) -> Any:
        if isinstance(node, Num):
            return _number(node)
        if isinstance(node, Name):
            if node.id in env:
                return env[node.id]
            return ops.CONSTANTS[node.id][1](sp)
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
            prim = ops.resolve(node.func, len(args))
            assert prim is not None
            return prim.sympy(sp, *(_done(a) for a in args))
        raise TypeError(f"unknown syntax node {type(node).__name__}")

    return _done(fold(expr, visit))


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


def program_to_sympy(program: Program, names: Sequence[str], of: str | None = None) -> Any:
    """The SymPy expression of a program's output, with assignments inlined."""
    env: dict[str, Any] = {n: symbol(n) for n in names}
    out = None
    for stmt in program.statements:
        if isinstance(stmt, Assign):
            value = expr_to_sympy(stmt.value, env)
            if stmt.op != "=":
                old = env[stmt.target]
                value = {"+": old + value, "-": old - value, "*": old * value,
                         "/": old / value}[stmt.op[0]]
            env[stmt.target] = out = value
        else:
            out = expr_to_sympy(stmt, env)
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
