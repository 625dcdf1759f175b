"""Syntax tree -> SymPy expression (never from user text), derivatives and their values.

SymPy is imported only when these functions run, so runs without the check start fast.

Literal constants that float64 cannot hold exactly (`0.1`, `pi`, `e`) become symbols standing
for the float64 number the tape computes with: the reference then evaluates the function the
tape was given, and `display` prints them as written. Each domain-restricted primitive of the
tree (division, log, sqrt, pow, asin, ...) leaves a Guard with its SymPy arguments before SymPy
simplifies anything, so `x/x` keeps its domain (x != 0) after SymPy folds it to 1.
"""

from __future__ import annotations

import fractions
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from types import SimpleNamespace
from typing import Any

from .. import ops, ops_matrix
from ..engine.vectors import Grid
from ..errors import Span
from ..lang.interpret import Interpretation, interpret, interpret_expr
from ..lang.syntax import (
    Assign,
    Expr,
    FuncDef,
    Index,
    Name,
    Num,
    Program,
)
from ..lang.syntax import (
    names as used_names,
)

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

    class floor(sympy.Function):  # named as SymPy's, for the op
        """floor(x) whose derivative is 0 (SymPy's own leaves it unevaluated): the step in
        mod's derivative. Named floor, for the compiled programs' op."""

        nargs = 1

        @classmethod
        def eval_numbers(cls, x: Any) -> Any:
            return sympy.floor(x) if x.is_Number else None

        eval = eval_numbers  # SymPy's hook, for numbers

        def fdiff(self, argindex: int = 1) -> Any:
            return sympy.S.Zero

        def _eval_evalf(self, prec: int) -> Any:
            return sympy.floor(self.args[0]._eval_evalf(prec))

        def _eval_is_real(self) -> Any:
            return self.args[0].is_real

    class mod(sympy.Function):  # the language's name
        """x - y*floor(x/y), the language's mod and %: SymPy's Mod has no derivative."""

        nargs = 2

        @classmethod
        def eval_numbers(cls, x: Any, y: Any) -> Any:
            if x.is_Number and y.is_Number and y != 0:
                return x - y * sympy.floor(x / y)
            return None

        eval = eval_numbers  # SymPy's hook, for numbers

        def fdiff(self, argindex: int = 1) -> Any:
            x, y = self.args
            return sympy.S.One if argindex == 1 else -floor(x / y)

        def _eval_evalf(self, prec: int) -> Any:
            x, y = (a._eval_evalf(prec) for a in self.args)
            return x - y * sympy.floor(x / y)

        def _eval_is_real(self) -> Any:
            return self.args[0].is_real and self.args[1].is_real

    class lgamma(sympy.Function):  # the language's name
        """log|gamma(x)|, the language's lgamma (scipy's gammaln): real for negative x too,
        where SymPy's loggamma is complex."""

        nargs = 1

        def fdiff(self, argindex: int = 1) -> Any:
            return sympy.polygamma(0, self.args[0])

        def _eval_evalf(self, prec: int) -> Any:
            return sympy.log(sympy.Abs(sympy.gamma(self.args[0])))._eval_evalf(prec)

        def _eval_is_real(self) -> Any:
            return self.args[0].is_real

    class cbrt(sympy.Function):  # the language's name
        """The real cube root (SymPy's cbrt is the principal root, complex for x < 0)."""

        nargs = 1

        @classmethod
        def eval_numbers(cls, x: Any) -> Any:
            if x.is_Number:
                return sympy.sign(x) * sympy.root(sympy.Abs(x), 3)
            return None

        eval = eval_numbers  # SymPy's hook, for numbers

        def fdiff(self, argindex: int = 1) -> Any:
            return 1 / (3 * self ** 2)

        def _eval_evalf(self, prec: int) -> Any:
            x = self.args[0]._eval_evalf(prec)
            return (sympy.sign(x) * sympy.root(sympy.Abs(x), 3))._eval_evalf(prec)

        def _eval_is_real(self) -> Any:
            return self.args[0].is_real

    # (cbrt replaces SymPy's own)
    return SimpleNamespace(**{**vars(sympy), "StopGradient": StopGradient, "Floor": floor,
                              "mod": mod, "lgamma": lgamma, "cbrt": cbrt})


def symbol(name: str) -> Any:
    """The real SymPy symbol for a bound name."""
    return namespace().Symbol(name, real=True)


# symbol name -> (the SymPy number it displays as, the exact value of its float64)
CONSTANT_VALUES: dict[str, tuple[Any, fractions.Fraction]] = {}


def _rational(f: fractions.Fraction) -> Any:
    sp = namespace()
    return sp.Integer(f.numerator) if f.denominator == 1 else sp.Rational(f.numerator,
                                                                          f.denominator)


def _constant_symbol(key: str, display: Any, value: float) -> Any:
    """A symbol for a constant whose float64 value differs from its exact value."""
    name = "#" + key
    CONSTANT_VALUES[name] = (display, fractions.Fraction(value))
    return namespace().Symbol(name, real=True, positive=value > 0 or None,
                              negative=value < 0 or None)


def _number(node: Num) -> Any:
    exact = fractions.Fraction(node.text)
    as_float = float(node.value)
    if exact == fractions.Fraction(as_float):
        return _rational(exact)
    return _constant_symbol(repr(as_float), _rational(exact), as_float)


ZERO = "#zero"


def _zero_base() -> Any:
    """0 as the base of a power with a symbolic exponent: a symbol standing for the exact 0,
    so that SymPy keeps 0^y and the derivatives' 0^y*log(0) as forms instead of folding them
    to nan (the reference evaluates them at the point: judge.reference)."""
    return _constant_symbol(ZERO[1:], namespace().S.Zero, 0.0)


def _named_constant(name: str) -> Any:
    value, counterpart = ops.CONSTANTS[name]
    if not math.isfinite(value):  # inf (norm's order): SymPy's oo itself, never a float
        return counterpart(namespace())
    return _constant_symbol(name, counterpart(namespace()), value)


def constants_of(exprs: Sequence[Any]) -> dict[str, str]:
    """Exact values ("p/q") of the constant symbols in these expressions."""
    out: dict[str, str] = {}
    for e in exprs:
        for s in e.free_symbols:
            if s.name in CONSTANT_VALUES:
                f = CONSTANT_VALUES[s.name][1]
                out[s.name] = f"{f.numerator}/{f.denominator}"
    return out


def display(expr: Any) -> Any:
    """The expression with each constant symbol replaced by the number as written."""
    syms = {s: CONSTANT_VALUES[s.name][0] for s in expr.free_symbols
            if s.name in CONSTANT_VALUES}
    return expr.xreplace(syms) if syms else expr


def form(expr: Any, names: Mapping[str, Any] | Sequence[str] | None = None) -> str:
    """The printed form of a SymPy result in the input language, constants as written (names:
    as for program_to_sympy, so vector components print as w[0])."""
    from ..symbolic.printer import to_text

    zero = [s for s in expr.free_symbols if s.name == ZERO]
    if zero:   # printed 0, but kept a symbol: 0^y*log(0) must not fold to nan on the way
        expr = expr.xreplace({zero[0]: namespace().Symbol("0", real=True)})
    return to_text(display(expr), names)


# ---------------------------------------------------------------- domain guards

@dataclass(frozen=True)
class Guard:
    """A domain condition of one primitive in the tree: kind (one of judge.guards.KINDS), the
    primitive's name, where it is, and its SymPy arguments."""

    kind: str
    op: str
    span: Span | None
    args: tuple[Any, ...]


def _guards_of(prim: ops.Primitive, node: Expr, args: Sequence[Any],
               out: list[Guard]) -> None:
    rules = prim.guards
    if not rules:
        return
    for row in _broadcast_rows(args)[1]:
        for index, kind in rules:
            chosen = tuple(row) if index is None else (row[index],)
            out.append(Guard(kind, prim.name, node.span, chosen))


class _SymPy(Interpretation):
    """The program as SymPy expressions: a name's value is its symbol (a tuple of component
    symbols for a vector), and each primitive its op record's SymPy counterpart. Chains of +
    and - stay pending as one flat Add (and * and / as one Mul) until a parent needs them, so
    long sums stay flat. guards, when set, receives every domain-restricted primitive."""

    def __init__(self, guards: list[Guard] | None = None):
        self.sp = namespace()
        self.guards = guards

    def number(self, node: Num) -> Any:
        return _number(node)

    def free_name(self, node: Name, scope: Mapping[str, Any]) -> Any:
        return _named_constant(node.id)

    def index(self, node: Index, value: Any) -> Any:
        sp = self.sp
        if node.column is not None:
            return ops_matrix.INDEX2.sympy(sp, value, node.index, node.column)
        if ops_matrix.sym_ndim(value) == 2:
            return ops_matrix.ROW.sympy(sp, value, node.index)
        return ops.INDEX.sympy(sp, value, node.index)

    def bind(self, value: Any) -> Any:
        return _done(value)

    def apply(self, prim: ops.Primitive, node: Expr, args: list[Any]) -> Any:
        sp = self.sp
        guards = self.guards
        if guards is not None and prim.reduction and prim.domain is not None:
            # the domain of a matrix function (det(A) != 0, > 0, leading minors > 0)
            for kind, expr in ops_matrix.sym_domain(prim, sp, [_done(a) for a in args]):
                guards.append(Guard(kind, prim.name, node.span, (expr,)))
        if guards is not None and prim.guards:
            # (finishing a pending chain only where a guard needs it)
            _guards_of(prim, node, [_done(a) for a in args], guards)
        if prim.reduction or any(isinstance(a, tuple) for a in args):
            return apply_primitive(prim, [_done(a) for a in args])
        if prim is ops.NEG:
            return -args[0]
        if prim is ops.ADD or prim is ops.SUB:
            left, right = args
            return _Chain(sp.Add, _terms(left, sp.Add) + _terms(
                -right if prim is ops.SUB else right, sp.Add))
        if prim is ops.MUL or prim is ops.DIV:
            left, right = args
            return _Chain(sp.Mul, _terms(left, sp.Mul) + _terms(
                sp.Pow(_done(right), -1) if prim is ops.DIV else right, sp.Mul))
        done = [_done(a) for a in args]
        if prim is ops.POW and done[0] == 0 and not done[1].is_number:
            done[0] = _zero_base()
        return apply_primitive(prim, done)

    def update(self, stmt: Assign, old: Any, value: Any) -> Any:
        value = _done(value)
        if isinstance(old, tuple) or isinstance(value, tuple):
            return _elementwise(ops.BINARY[stmt.op[0]], [old, value])
        return {"+": old + value, "-": old - value, "*": old * value, "/": old / value}[
            stmt.op[0]]

    def assigned(self, stmt: Assign, value: Any) -> Any:
        return _done(value)


_MATRIX_IDS = frozenset(id(p) for p in ops_matrix.MATRIX_PRIMITIVES)


def is_matrix_op(prim: ops.Primitive) -> bool:
    """Whether prim is one of the matrix operations (asked by identity: comparing records
    field by field would cost more than the conversion of a node)."""
    return id(prim) in _MATRIX_IDS


def apply_primitive(prim: ops.Primitive, args: Sequence[Any]) -> Any:
    """prim's SymPy counterpart applied to SymPy values (a scalar, a tuple of components for a
    vector, a tuple of rows for a matrix) as the conversion applies it: an elementwise
    primitive component by component with numpy's broadcasting, a reduction other than the
    matrix operations over all components of a matrix."""
    sp = namespace()
    if prim.reduction:
        if not is_matrix_op(prim):  # over all components of a matrix
            args = [ops_matrix.RAVEL.sympy(sp, a) if ops_matrix.sym_ndim(a) == 2 else a
                    for a in args]
        return prim.sympy(sp, *args)
    if any(isinstance(a, tuple) for a in args):
        return _elementwise(prim, list(args))
    return prim.sympy(sp, *args)


def expr_to_sympy(expr: Expr, env: Mapping[str, Any],
                  functions: Mapping[str, FuncDef] | None = None,
                  guards: list[Guard] | None = None) -> Any:
    """The SymPy expression of one syntax tree; env maps names to SymPy expressions, or to
    tuples of them for vectors (the result is then a tuple where it is a vector). Calls of the
    program's functions are inlined. guards, if given, receives the domain condition of every
    domain-restricted primitive in the tree.

    Chains of + and - become one Add and chains of * and / one Mul, so long sums stay flat.
    """
    return _done(interpret_expr(expr, env, functions or {}, _SymPy(guards)))


def _shape(x: Any) -> tuple[int, ...]:
    if not isinstance(x, tuple):
        return ()
    return (len(x), len(x[0])) if x and isinstance(x[0], tuple) else (len(x),)


def _broadcast_rows(args: Sequence[Any]) -> tuple[tuple[int, ...], list[list[Any]]]:
    """The broadcast shape of scalars, vectors (tuples) and matrices (tuples of rows), and
    one row of scalar arguments per component of it (numpy's broadcasting rules)."""
    import numpy as np

    shapes = [_shape(a) for a in args]
    shape = tuple(np.broadcast_shapes(*shapes))
    rows: list[list[Any]] = []
    for at in np.ndindex(*shape) if shape else [()]:
        row = []
        for a, sh in zip(args, shapes, strict=True):
            key = [0 if d == 1 else k for d, k in zip(sh, at[len(at) - len(sh):], strict=True)]
            for k in key:
                a = a[k]
            row.append(a)
        rows.append(row)
    return shape, rows


def _elementwise(prim: ops.Primitive, args: list[Any]) -> tuple[Any, ...]:
    """An elementwise primitive applied per component, broadcasting as numpy does."""
    sp = namespace()
    shape, rows = _broadcast_rows(args)
    flat = [prim.sympy(sp, *row) for row in rows]
    if len(shape) == 2:
        return tuple(tuple(flat[i * shape[1]:(i + 1) * shape[1]]) for i in range(shape[0]))
    return tuple(flat)


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


def needed_statements(program: Program, of: str | None) -> list[bool]:
    """Per statement, whether the output depends on it."""
    stmts = program.statements
    last = len(stmts) - 1
    if of is not None:   # (-1: a bound name that no statement assigns; it needs none)
        last = max((i for i, s in enumerate(stmts) if isinstance(s, Assign) and s.target == of),
                   default=-1)
    need: set[str] = set()
    out = [False] * len(stmts)
    for i in range(last, -1, -1):
        stmt = stmts[i]
        expr = stmt.value if isinstance(stmt, Assign) else stmt
        if i == last or (isinstance(stmt, Assign) and stmt.target in need):
            out[i] = True
            if isinstance(stmt, Assign) and stmt.op == "=":
                need.discard(stmt.target)
            need.update(used_names(expr))
    return out


def program_to_sympy(program: Program, names: Sequence[str] | Mapping[str, str | list[str]],
                     of: str | None = None, guards: list[Guard] | None = None) -> Any:
    """The SymPy expression of a program's output, with assignments and calls inlined.

    names: the bound names; or a mapping from each bound name to its symbol's name, or to the
    list of its components' symbol names for a vector (see vectors.symbol_names). guards, if
    given, receives the domain conditions of the statements the output depends on.
    """
    if not isinstance(names, Mapping):
        names = {n: n for n in names}
    env: dict[str, Any] = {n: bound_symbols(s) for n, s in names.items()}
    needed = needed_statements(program, of) if guards is not None else []
    interp = _SymPy()

    def before(i: int, stmt: Any) -> None:
        interp.guards = guards if guards is not None and needed[i] else None

    out = _done(interpret(program, env, interp, before=before))
    return env[of] if of is not None else out


def bound_symbols(s: Any) -> Any:
    """A bound name's SymPy value: its symbol, a tuple of component symbols for a vector, a
    tuple of rows for a matrix (a list of names with a 2-D `shape`, vectors.Grid)."""
    if isinstance(s, str):
        return symbol(s)
    if isinstance(s, Grid):
        shape = s.shape
        cols = shape[1]
        return tuple(tuple(symbol(c) for c in s[i * cols:(i + 1) * cols])
                     for i in range(shape[0]))
    return tuple(symbol(c) for c in s)


def evaluate(expr: Any, point: Mapping[str, float]) -> complex | float:
    """A SymPy expression's value at a point, to PRECISION digits: a float, a complex if it is
    not real there, or nan where it is undefined (e.g. zoo)."""
    sp = namespace()
    subs = {symbol(n): sp.Float(v, PRECISION) for n, v in point.items()}
    subs.update({s: _rational(CONSTANT_VALUES[s.name][1]) for s in expr.free_symbols
                 if s.name in CONSTANT_VALUES})
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
    try:
        re_f, im_f = float(re), float(im)
    except (TypeError, ValueError):
        return float("nan")
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


def tree_size(expr: Any, cap: int) -> int:
    """The number of nodes of an expression as a tree (shared subexpressions counted each
    time they occur, as SymPy's diff and printing visit them), counted up to cap."""
    n, stack = 0, [expr]
    while stack and n <= cap:
        e = stack.pop()
        n += 1
        stack.extend(e.args)
    return n


def derivative(expr: Any, name: str) -> Any:
    """d expr / d name."""
    return expr.diff(symbol(name))
