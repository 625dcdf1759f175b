"""Symbolic derivatives as a small straight-line program that gradcalc evaluates itself.

SymPy builds the derivatives once (in the checked child process); `compile_sympy` turns them into
a list of instructions in SSA form, sharing every repeated subexpression (common-subexpression
elimination by hash-consing, so evaluation is linear in the number of distinct subexpressions).
The program is plain JSON data, so it can be cached on disk and evaluated later without SymPy:

- `evaluate_np`: whole numpy columns in float64 (the batch screen);
- judge/reference.py: one point in interval arithmetic (the verdicts).

Instructions (each a JSON list; operands are indices of earlier instructions):
    ["num", "p/q"]  an exact rational (or "p")         ["sym", name]  a bound name
    ["pi"], ["e"]   the constants                       [op, i, j, ...] op from ops_arity()
An op is a primitive whose SymPy counterpart is one SymPy class (ops.Primitive.sympy_class,
named by the primitive's name) or one of SymPy's own forms below.
Nothing here parses or evaluates text: a program is checked by `validate` before use.
"""

from __future__ import annotations

import fractions
import re
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np

from .. import ops

LEAVES = {"num": 1, "sym": 1, "pi": 0, "e": 0}
_RATIONAL = re.compile(r"-?\d{1,4000}(/\d{1,4000})?\Z")

# SymPy's own forms, which are not primitives of ours: Add, Mul and Pow are the structural nodes
# that several primitives become (sub and neg are Add and Mul, div and sqrt are Pow, hypot and
# norm are Pow of an Add), and Heaviside and DiracDelta appear only in SymPy's derivatives (of
# max/min and Heaviside; sign, abs's derivative, is a primitive). Op -> number of operands
# (None: two or more).
SYMPY_ONLY: dict[str, int | None] = {
    "add": None, "mul": None, "pow": 2, "heaviside": 2, "diracdelta": 1,
}
_SYMPY_ONLY_CLASSES = {"Heaviside": "heaviside", "DiracDelta": "diracdelta"}


def ops_arity() -> dict[str, int | None]:
    """Every op a program may use -> its number of operands (None: two or more)."""
    return ops.derived("compiled.ops", lambda: {
        **SYMPY_ONLY, **{p.name: p.arity for p in ops.by_sympy_class().values()}})


def _sympy_ops() -> dict[str, str]:
    """SymPy class name -> op."""
    return ops.derived("compiled.sympy", lambda: {
        **_SYMPY_ONLY_CLASSES, **{c: p.name for c, p in ops.by_sympy_class().items()}})


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
    table = _sympy_ops()
    arity = ops_arity()
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
        op = table.get(name)
        if op is None:
            raise Unsupported(name)
        return op

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
            if arity[op] is None:
                if len(args) < 2:
                    raise Unsupported(f"{op} of {len(args)} argument")
            elif len(args) != arity[op]:
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
    known = ops_arity()
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
        if op not in known:
            raise Invalid(f"op at {i}")
        arity = known[op]
        if (arity is None and len(args) < 2) or (arity is not None and len(args) != arity):
            raise Invalid(f"arity at {i}")
        for a in args:
            if type(a) is not int or not 0 <= a < i:
                raise Invalid(f"operand at {i}")
    for o in outputs:
        if type(o) is not int or not 0 <= o < len(program):
            raise Invalid("output")


# ---------------------------------------------------------------- numpy: whole columns


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


# SymPy-only forms (see SYMPY_ONLY) over columns; the primitives' come from their records
_NP_SYMPY_ONLY: dict[str, Callable[..., Any]] = {
    "add": _np_add, "mul": _np_mul, "pow": np.power, "heaviside": np.heaviside,
    "diracdelta": lambda x: np.where(x == 0, np.nan, 0.0),
}


def _np_ops() -> dict[str, Callable[..., Any]]:
    return ops.derived("compiled.numpy", lambda: {
        **_NP_SYMPY_ONLY,
        **{p.name: p.compiled or p.forward for p in ops.by_sympy_class().values()}})


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
    table = _np_ops()
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
                regs[i] = table[op](*args)
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
    if op in ("heaviside", "diracdelta"):
        return np.where(np.abs(x) <= ex, np.inf, 0.0)
    prim = ops.BY_NAME.get(op)
    if prim is not None and prim.screen is not None:
        return prim.screen(out, args, errs)
    if prim is None or prim.arity != 1 or prim.vjps[0] is None:
        return np.full(np.shape(out), np.inf)   # no bound known: the screen cannot vouch
    # one argument: |f'(x)| (the VJP of a unit cotangent) times its error, plus rounding
    return np.abs(prim.vjps[0](1.0, out, x)) * ex + own


# ---------------------------------------------------------------- numpy: level by level


class Levels:
    """A program prepared for evaluate_levels: its leaves (numbers parsed once) and its other
    instructions in groups that run as one numpy operation each: (op, destination registers,
    operand registers as a matrix with one row per destination), every operand computed
    before it is used."""

    def __init__(self, program: Program):
        self.size = len(program)
        depth = [0] * len(program)
        keyed: dict[tuple[int, str, int], tuple[list[int], list[list[int]]]] = {}
        nums: list[int] = []
        values: list[float] = []
        inexact: list[int] = []
        self.syms: list[tuple[int, str]] = []
        self.constants: list[tuple[int, float]] = []
        get = depth.__getitem__
        for i, ins in enumerate(program):
            op = ins[0]
            if op == "num":
                x = ins[1]
                if type(x) is float:   # an exact value already (symbolic/trace.py)
                    nums.append(i)
                    values.append(x)
                    continue
                if isinstance(x, str):
                    p, _, q = x.partition("/")
                    num, den = int(p), int(q or 1)
                else:
                    num, den = fractions.Fraction(x).as_integer_ratio()
                v = num / den
                nums.append(i)
                values.append(v)
                if v.as_integer_ratio() != (num, den):
                    inexact.append(len(nums) - 1)
                continue
            if op == "sym":
                self.syms.append((i, ins[1]))
                continue
            if op in ("pi", "e"):
                self.constants.append((i, np.pi if op == "pi" else np.e))
                continue
            args = ins[1:]
            d = 1 + max(map(get, args))
            depth[i] = d
            group = keyed.get((d, op, len(args)))
            if group is None:
                group = keyed[(d, op, len(args))] = ([], [])
            group[0].append(i)
            group[1].append(args)
        self.nums = np.asarray(nums, dtype=np.intp)
        self.values = np.asarray(values, dtype=np.float64)
        self.num_errs = np.zeros(len(values))
        self.num_errs[inexact] = _EPS * np.abs(self.values[inexact])
        self.groups = [(op, np.asarray(dest, dtype=np.intp), np.asarray(args, dtype=np.intp))
                       for (_, op, _), (dest, args) in sorted(keyed.items())]


def evaluate_levels(levels: Levels, outputs: Sequence[int], columns: Mapping[str, Any],
                    n: int) -> list[tuple[Any, Any]]:
    """Each output as (values, error bounds), float64 arrays of length n, as evaluate_np with
    bounds=True computes them, but one numpy operation per group of the prepared program: a
    program of 300,000 instructions runs in a few dozen operations."""
    table = _np_ops()
    vals = np.zeros((levels.size, n))
    errs = np.zeros((levels.size, n))
    vals[levels.nums] = levels.values[:, None]
    errs[levels.nums] = levels.num_errs[:, None]
    for i, name in levels.syms:
        vals[i] = columns[name]
    for i, v in levels.constants:
        vals[i], errs[i] = v, _EPS * v
    with np.errstate(all="ignore"):
        for op, dest, args in levels.groups:
            if op == "add":   # one gather for every operand; _error's bound for a sum
                operands = vals[args]
                vals[dest] = np.sum(operands, axis=1)
                errs[dest] = np.sum(errs[args], axis=1) + args.shape[1] * _EPS * np.sum(
                    np.abs(operands), axis=1)
                continue
            operands = [vals[args[:, k]] for k in range(args.shape[1])]
            out = table[op](*operands)
            vals[dest] = out
            errs[dest] = _error(op, np.asarray(out), operands,
                                [errs[args[:, k]] for k in range(args.shape[1])])
    out = []
    for o in outputs:
        v = vals[o]
        out.append((v, np.where(np.isfinite(v), errs[o], np.inf)))
    return out
