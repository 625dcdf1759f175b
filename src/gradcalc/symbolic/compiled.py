"""Symbolic derivatives as a small straight-line program that gradcalc evaluates itself.

SymPy builds the derivatives once (in the checked child process); `compile_sympy` turns them into
a list of instructions in SSA form, sharing every repeated subexpression (common-subexpression
elimination by hash-consing, so evaluation is linear in the number of distinct subexpressions).
The program is plain JSON data, so it can be cached on disk and evaluated later without SymPy:

- `evaluate_mp`: one point with mpmath at `DIGITS` significant digits (the single-point check);
- `evaluate_np`: whole numpy columns in float64 (the batch check).

Instructions (each a JSON list; operands are indices of earlier instructions):
    ["num", "p/q"]  an exact rational (or "p")         ["sym", name]  a bound name
    ["pi"], ["e"]   the constants                       [op, i, j, ...] op from OPS
Nothing here parses or evaluates text: a program is checked by `validate` before use.
"""

from __future__ import annotations

import fractions
import re
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np

DIGITS = 40  # significant digits of the mpmath evaluation (the tape has about 16)

# op -> number of operands (None: two or more)
OPS: dict[str, int | None] = {
    "add": None, "mul": None, "max": None, "min": None, "pow": 2, "atan2": 2, "heaviside": 2,
    "sin": 1, "cos": 1, "tan": 1, "asin": 1, "acos": 1, "atan": 1, "sinh": 1, "cosh": 1,
    "tanh": 1, "exp": 1, "log": 1, "abs": 1, "sign": 1, "stop_gradient": 1, "diracdelta": 1,
}
LEAVES = {"num": 1, "sym": 1, "pi": 0, "e": 0}
_RATIONAL = re.compile(r"-?\d{1,4000}(/\d{1,4000})?\Z")

# SymPy class name -> op
_SYMPY_FUNCS = {
    "sin": "sin", "cos": "cos", "tan": "tan", "asin": "asin", "acos": "acos", "atan": "atan",
    "atan2": "atan2", "sinh": "sinh", "cosh": "cosh", "tanh": "tanh", "exp": "exp", "log": "log",
    "Abs": "abs", "sign": "sign", "Heaviside": "heaviside", "Max": "max", "Min": "min",
    "StopGradient": "stop_gradient", "DiracDelta": "diracdelta",
}

Program = list[list[Any]]


class Unsupported(Exception):
    """A SymPy expression uses something the program format cannot express."""


class Invalid(Exception):
    """A program (e.g. read from the cache) is malformed."""


# ---------------------------------------------------------------- SymPy -> program


def compile_sympy(exprs: Sequence[Any], names: Sequence[str],
                  constants: Mapping[str, str] | None = None) -> tuple[Program, list[int]]:
    """The program computing every expression, and the index of each one's result.

    constants: symbols that stand for exact numbers ("p/q"), compiled as those numbers.
    Iterative (no recursion over the expression); identical subexpressions are computed once.
    """
    import sympy

    allowed = set(names)
    constants = constants or {}
    program: Program = []
    memo: dict[Any, int] = {}

    def leaf(e: Any) -> list[Any]:
        if isinstance(e, sympy.Symbol):
            if e.name in constants:
                return ["num", constants[e.name]]
            if e.name not in allowed:
                raise Unsupported(f"symbol {e.name}")
            return ["sym", e.name]
        if isinstance(e, sympy.Rational):  # Integer included
            return ["num", str(e.p) if e.q == 1 else f"{e.p}/{e.q}"]
        if e is sympy.pi:
            return ["pi"]
        if e is sympy.E:
            return ["e"]
        raise Unsupported(type(e).__name__)

    def op_of(e: Any) -> str:
        if isinstance(e, sympy.Add):
            return "add"
        if isinstance(e, sympy.Mul):
            return "mul"
        if isinstance(e, sympy.Pow):
            return "pow"
        name = type(e).__name__
        if name in _SYMPY_FUNCS:
            return _SYMPY_FUNCS[name]
        raise Unsupported(name)

    outputs: list[int] = []
    for root in exprs:
        stack: list[tuple[Any, bool]] = [(root, False)]
        while stack:
            e, expanded = stack.pop()
            if e in memo:
                continue
            if not e.args:
                memo[e] = len(program)
                program.append(leaf(e))
                continue
            if not expanded:
                stack.append((e, True))
                stack.extend((a, False) for a in reversed(e.args) if a not in memo)
                continue
            op = op_of(e)
            args = list(e.args)
            if op == "heaviside" and len(args) == 1:
                args.append(sympy.Rational(1, 2))
                if args[1] not in memo:
                    memo[args[1]] = len(program)
                    program.append(leaf(args[1]))
            if op == "max" or op == "min" or op == "add" or op == "mul":
                if len(args) < 2:
                    raise Unsupported(f"{op} of {len(args)} argument")
            elif len(args) != OPS[op]:
                raise Unsupported(f"{op} of {len(args)} arguments")
            memo[e] = len(program)
            program.append([op, *(memo[a] for a in args)])
        outputs.append(memo[root])
    return program, outputs


# ---------------------------------------------------------------- validation


def validate(program: Any, outputs: Any, names: Sequence[str]) -> None:
    """Raise Invalid unless program is a well-formed instruction list and outputs index it."""
    if not isinstance(program, list) or not isinstance(outputs, list):
        raise Invalid("not a program")
    allowed = set(names)
    for i, ins in enumerate(program):
        if not isinstance(ins, list) or not ins or not isinstance(ins[0], str):
            raise Invalid(f"instruction {i}")
        op, args = ins[0], ins[1:]
        if op in LEAVES:
            if len(args) != LEAVES[op]:
                raise Invalid(f"instruction {i}")
            if op == "num" and not (isinstance(args[0], str) and _RATIONAL.match(args[0])):
                raise Invalid(f"number at {i}")
            if op == "sym" and args[0] not in allowed:
                raise Invalid(f"symbol at {i}")
            continue
        if op not in OPS:
            raise Invalid(f"op at {i}")
        arity = OPS[op]
        if (arity is None and len(args) < 2) or (arity is not None and len(args) != arity):
            raise Invalid(f"arity at {i}")
        for a in args:
            if type(a) is not int or not 0 <= a < i:
                raise Invalid(f"operand at {i}")
    for o in outputs:
        if type(o) is not int or not 0 <= o < len(program):
            raise Invalid("output")


# ---------------------------------------------------------------- mpmath: one point


def _mp_table(mp: Any) -> dict[str, Callable[..., Any]]:
    def real_only(fn: Callable[..., Any]) -> Callable[..., Any]:
        def wrapped(*a: Any) -> Any:
            if any(isinstance(x, mp.mpc) for x in a):
                raise TypeError("not real")
            return fn(*a)
        return wrapped

    def heaviside(x: Any, h0: Any) -> Any:
        return h0 if x == 0 else (mp.mpf(1) if x > 0 else mp.mpf(0))

    def sign(x: Any) -> Any:
        return mp.mpf((x > 0) - (x < 0))

    def add(*a: Any) -> Any:
        return mp.fsum(a)

    def mul(*a: Any) -> Any:
        out = a[0]
        for x in a[1:]:
            out = out * x
        return out

    return {
        "add": add, "mul": mul, "pow": mp.power, "max": real_only(max),
        "min": real_only(min), "atan2": real_only(mp.atan2),
        "heaviside": real_only(heaviside), "sign": real_only(sign),
        "sin": mp.sin, "cos": mp.cos, "tan": mp.tan, "asin": mp.asin, "acos": mp.acos,
        "atan": mp.atan, "sinh": mp.sinh, "cosh": mp.cosh, "tanh": mp.tanh, "exp": mp.exp,
        "log": mp.log, "abs": abs, "stop_gradient": lambda x: x,
        "diracdelta": real_only(lambda x: mp.mpf(0) if x != 0 else None),
    }


def _to_python(v: Any, mp: Any) -> float | complex:
    """An mpmath result as symbolic.evaluate reports it: float, complex or nan."""
    if v is None:
        return float("nan")
    if isinstance(v, mp.mpc):
        if v.imag != 0:
            re_, im = float(v.real), float(v.imag)
            if re_ != re_ or im != im:
                return float("nan")
            return complex(re_, im)
        v = v.real
    return float(v)


def evaluate_mp(program: Program, outputs: Sequence[int], point: Mapping[str, float],
                deadline: float | None = None) -> list[float | complex]:
    """Each output's value at the point, computed with mpmath at DIGITS digits.

    An instruction that fails (division by zero, a non-real argument where only reals make
    sense) makes its dependents nan; a complex result with nonzero imaginary part is returned
    as a Python complex. Raises TimeoutError past the deadline (time.monotonic()).
    """
    import mpmath

    with mpmath.workdps(DIGITS):
        mp = mpmath.mp
        table = _mp_table(mpmath)
        regs: list[Any] = []
        for i, ins in enumerate(program):
            if deadline is not None and i & 255 == 0 and time.monotonic() > deadline:
                raise TimeoutError
            op = ins[0]
            if op == "num":
                f = fractions.Fraction(ins[1])
                regs.append(mp.mpf(f.numerator) / f.denominator)
            elif op == "sym":
                regs.append(mp.mpf(point[ins[1]]))
            elif op == "pi":
                regs.append(+mp.pi)
            elif op == "e":
                regs.append(mp.e + 0)
            else:
                args = [regs[a] for a in ins[1:]]
                if any(a is None for a in args):
                    regs.append(None)
                    continue
                try:
                    v = table[op](*args)
                except (ArithmeticError, ValueError, TypeError):
                    v = None
                if v is not None and not isinstance(v, (mp.mpf, mp.mpc)):
                    v = mp.mpf(v)
                if isinstance(v, mp.mpf) and mpmath.isnan(v):
                    v = None
                regs.append(v)
        return [_to_python(regs[o], mpmath) for o in outputs]


# ---------------------------------------------------------------- numpy: whole columns


def _np_max(*a: Any) -> Any:
    out = a[0]
    for x in a[1:]:
        out = np.maximum(out, x)
    return out


def _np_min(*a: Any) -> Any:
    out = a[0]
    for x in a[1:]:
        out = np.minimum(out, x)
    return out


def _np_add(*a: Any) -> Any:
    out = a[0]
    for x in a[1:]:
        out = out + x
    return out


def _np_mul(*a: Any) -> Any:
    out = a[0]
    for x in a[1:]:
        out = out * x
    return out


_NP: dict[str, Callable[..., Any]] = {
    "add": _np_add, "mul": _np_mul, "pow": np.power, "max": _np_max, "min": _np_min,
    "atan2": np.arctan2, "heaviside": np.heaviside, "sign": np.sign, "sin": np.sin,
    "cos": np.cos, "tan": np.tan, "asin": np.arcsin, "acos": np.arccos, "atan": np.arctan,
    "sinh": np.sinh, "cosh": np.cosh, "tanh": np.tanh, "exp": np.exp, "log": np.log,
    "abs": np.abs, "stop_gradient": lambda x: x,
    "diracdelta": lambda x: np.where(x == 0, np.nan, 0.0),
}


def evaluate_np(program: Program, outputs: Sequence[int], columns: Mapping[str, Any],
                n: int, deadline: float | None = None, bounds: bool = False) -> list[Any]:
    """Each output as a float64 array of length n, evaluating over whole columns at once.

    Non-real results are nan (numpy's real arithmetic). Registers are freed after their last
    use, so memory stays proportional to the live values, not the program length. With
    bounds=True each output is a pair (values, error bound): a first-order running bound on the
    rounding error of the float64 evaluation (inf where it cannot be trusted: a step function
    whose argument is within its own error of 0, a non-finite intermediate).
    """
    last = [-1] * len(program)
    for i, ins in enumerate(program):
        if ins[0] not in LEAVES:
            for a in ins[1:]:
                last[a] = i
    keep = set(outputs)
    regs: list[Any] = [None] * len(program)
    errs: list[Any] = [None] * len(program)
    with np.errstate(all="ignore"):
        for i, ins in enumerate(program):
            if deadline is not None and i & 255 == 0 and time.monotonic() > deadline:
                raise TimeoutError
            op = ins[0]
            if op == "num":
                f = fractions.Fraction(ins[1])
                regs[i] = np.float64(float(f))
                errs[i] = 0.0 if fractions.Fraction(float(f)) == f else _EPS * abs(regs[i])
            elif op == "sym":
                regs[i] = columns[ins[1]]
                errs[i] = 0.0
            elif op == "pi":
                regs[i] = np.float64(np.pi)
                errs[i] = _EPS * np.pi
            elif op == "e":
                regs[i] = np.float64(np.e)
                errs[i] = _EPS * np.e
            else:
                args = [regs[a] for a in ins[1:]]
                regs[i] = _NP[op](*args)
                if bounds:
                    errs[i] = _error(op, regs[i], args, [errs[a] for a in ins[1:]])
                for a in ins[1:]:
                    if last[a] == i and a not in keep:
                        regs[a] = None
                        errs[a] = None
    values = [np.broadcast_to(np.asarray(regs[o], dtype=np.float64), (n,)) for o in outputs]
    if not bounds:
        return values
    out = []
    for o, v in zip(outputs, values, strict=True):
        e = np.broadcast_to(np.asarray(errs[o], dtype=np.float64), (n,))
        out.append((v, np.where(np.isfinite(v), e, np.inf)))
    return out


_EPS = 2.0 ** -53   # unit roundoff


def _error(op: str, out: Any, args: Sequence[Any], errs: Sequence[Any]) -> Any:
    """First-order bound on the absolute error of one instruction's float64 result, from its
    arguments' bounds (propagated through the derivative) plus its own rounding."""
    a = np.abs(out)
    own = 4 * _EPS * a
    if op == "add":
        terms = sum(np.abs(x) for x in args)
        return sum(errs) + len(args) * _EPS * terms
    if op == "mul":
        total = 0.0
        for k, e in enumerate(errs):
            others = 1.0
            for j, x in enumerate(args):
                if j != k:
                    others = others * np.abs(x)
            total = total + e * others
        return total + len(args) * _EPS * a
    x, ex = args[0], errs[0]
    if op == "pow":
        y, ey = args[1], errs[1]
        with np.errstate(all="ignore"):
            dx = np.where(ex == 0, 0.0, np.abs(y * out / np.where(x == 0, np.inf, x)) * ex)
            dy = np.where(ey == 0, 0.0, a * np.abs(np.log(np.abs(x))) * ey)
        near = (x != 0) & (np.abs(x) <= ex)   # a base within its error of 0
        return np.where(near, np.inf, dx + dy + own)
    if op in ("sign", "heaviside", "diracdelta"):
        return np.where(np.abs(x) <= ex, np.inf, 0.0)
    if op in ("max", "min"):
        return np.maximum.reduce([np.broadcast_to(e, np.shape(out)) for e in errs])
    if op == "atan2":
        y, x = args
        ey, ex = errs
        r2 = x * x + y * y
        return (np.abs(x) * ey + np.abs(y) * ex) / r2 + own
    rule = _SLOPES.get(op)
    if rule is None:
        return np.full(np.shape(out), np.inf)   # no bound known: the screen cannot vouch
    return np.abs(rule(x, out)) * ex + own


_SLOPES: dict[str, Callable[[Any, Any], Any]] = {
    "sin": lambda x, out: np.cos(x), "cos": lambda x, out: np.sin(x),
    "tan": lambda x, out: 1 + out * out, "asin": lambda x, out: 1 / np.sqrt(1 - x * x),
    "acos": lambda x, out: 1 / np.sqrt(1 - x * x), "atan": lambda x, out: 1 / (1 + x * x),
    "sinh": lambda x, out: np.cosh(x), "cosh": lambda x, out: np.sinh(x),
    "tanh": lambda x, out: 1 - out * out, "exp": lambda x, out: out,
    "log": lambda x, out: 1 / x, "abs": lambda x, out: 1.0,
    "stop_gradient": lambda x, out: 1.0,
}
