"""The reference derivatives of a large program as one shared straight-line program.

SymPy's `diff` of one huge expression tree grows with the tree's size times its depth (and a
program whose statements reuse names unfolds into a tree exponentially larger than itself), so
for large programs the reference derivative is built the way a tape is: the program runs once
under the interpretation below, which emits each primitive's SymPy form as instructions of a
compiled program (compiled.py's format), together with SymPy's own derivative of that form with
respect to each argument (`sympy.diff` of the op record's SymPy counterpart, taken once per
primitive on symbols and instantiated per use). Reverse accumulation over those local
derivatives then gives every partial, with common subexpressions shared as registers. The judge
evaluates the result in interval arithmetic like any compiled derivative.

The reference stays independent of the tape: the local derivatives come from SymPy's
differentiation of each primitive's SymPy counterpart, never from the op table's VJPs, so a
wrong VJP still disagrees with it. Only the chain rule (sums of products along the graph) is
shared with the tape's method, and that is plain arithmetic evaluated here with proven
enclosures.
"""

from __future__ import annotations

import fractions
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from .. import ops
from ..engine.vectors import Grid
from ..lang.interpret import Interpretation, interpret
from ..lang.syntax import Assign, Expr, Index, Name, Num, Program
from ..symbolic import compiled
from ..symbolic.convert import is_matrix_op

TOO_LARGE = "(too large to show)"   # the symbolic form of a partial built this way

_SAFE_CONSTANT = {"add", "sub", "mul", "div", "neg"}   # folded exactly when all args are numbers


@dataclass
class Derivatives:
    """The compiled program of the value, the partials, the true partials (stop_gradient read
    as the identity, only when the program uses it) and the arguments of every domain guard,
    as compiled.compile_sympy returns it; forms: "0" for a partial with no path to the output,
    TOO_LARGE otherwise; guards: each guard's [kind, op, start, end, argument count]."""

    program: compiled.Program
    outputs: list[int]
    forms: dict[str, str]
    true_forms: dict[str, str]
    guards: list[list[Any]]
    nodes: int


@dataclass
class _Node:
    out: int
    edges: list[tuple[int, int]]   # (argument register, local derivative register)
    stop: bool                     # a stop_gradient: its true local derivative is 1


class _Emit(Interpretation):
    """Values are registers (ints), or tuples of registers for vectors."""

    def __init__(self) -> None:
        from ..symbolic.convert import namespace

        self.sp = namespace()
        self.program: compiled.Program = []
        self.memo: dict[tuple[Any, ...], int] = {}
        self.const: dict[int, Any] = {}      # register -> its exact SymPy number
        self.var: list[bool] = []            # register depends on a bound name
        self.nodes: dict[int, _Node] = {}
        self.templates: dict[tuple[Any, ...], tuple[compiled.Program, list[int]]] = {}
        self.guards: list[list[Any]] | None = None
        self.guard_args: list[int] = []
        self.one = self.number_reg(fractions.Fraction(1))
        self.zero = self.number_reg(fractions.Fraction(0))

    # ------------------------------------------------------------ registers

    def emit(self, ins: list[Any]) -> int:
        key = tuple(ins)
        reg = self.memo.get(key)
        if reg is None:
            reg = self.memo[key] = len(self.program)
            self.program.append(ins)
            self.var.append(ins[0] == "sym" or (
                ins[0] not in compiled.LEAVES and any(self.var[a] for a in ins[1:])))
        return reg

    def number_reg(self, f: fractions.Fraction) -> int:
        reg = self.emit(["num", str(f.numerator) if f.denominator == 1
                         else f"{f.numerator}/{f.denominator}"])
        sp = self.sp
        self.const[reg] = sp.Integer(f.numerator) if f.denominator == 1 else \
            sp.Rational(f.numerator, f.denominator)
        return reg

    def symbol(self, name: str) -> int:
        return self.emit(["sym", name])

    # ------------------------------------------------------------ the interpretation

    def number(self, node: Num) -> Any:
        return self.number_reg(fractions.Fraction(float(node.value)))

    def free_name(self, node: Name, scope: Mapping[str, Any]) -> Any:
        value = ops.CONSTANTS[node.id][0]
        if not math.isfinite(value):  # inf, norm's order: the tree handles norm(x, inf)
            raise compiled.Unsupported("a non-finite constant")
        return self.number_reg(fractions.Fraction(value))

    def index(self, node: Index, value: Any) -> Any:
        if node.column is not None:
            raise compiled.Unsupported("a matrix (the tree handles matrices)")
        return value[node.index]

    def update(self, stmt: Assign, old: Any, value: Any) -> Any:
        guards, self.guards = self.guards, None   # (as the tree conversion: no guard here)
        try:
            return self.apply(ops.BINARY[stmt.op[0]], stmt, [old, value])
        finally:
            self.guards = guards

    def apply(self, prim: ops.Primitive, node: Expr, args: list[Any]) -> Any:
        if is_matrix_op(prim):
            raise compiled.Unsupported("a matrix (the tree handles matrices)")
        if self.guards is not None and prim.guards:
            self._guard(prim, node, args)
        if not prim.reduction and any(isinstance(a, tuple) for a in args):
            n = max(len(a) for a in args if isinstance(a, tuple))
            return tuple(self._apply(prim, [a[k] if isinstance(a, tuple) else a for a in args])
                         for k in range(n))
        return self._apply(prim, args)

    def _guard(self, prim: ops.Primitive, node: Expr, args: list[Any]) -> None:
        assert self.guards is not None
        n = max((len(a) for a in args if isinstance(a, tuple)), default=0)
        rows = [[a[k] if isinstance(a, tuple) else a for a in args] for k in range(n)] if n \
            else [list(args)]
        span = node.span
        for row in rows:
            for index, kind in prim.guards:
                chosen = row if index is None else [row[index]]
                self.guards.append([kind, prim.name, None if span is None else span.start,
                                    None if span is None else span.end, len(chosen)])
                self.guard_args.extend(chosen)

    def _apply(self, prim: ops.Primitive, args: list[Any]) -> int:
        flat: list[int] = []
        sig: list[Any] = []
        for a in args:
            if isinstance(a, tuple):
                sig.append(("t", len(a)))
                flat.extend(a)
            elif a in self.const and not self.var[a]:
                sig.append(("c", self.const[a]))
            elif a in flat:   # the same value twice: one symbol, as SymPy sees x - x or
                sig.append(("s", flat.index(a)))   # min(y, y) in the tree
            else:
                sig.append(("v",))
                flat.append(a)
        key = (prim.name, *sig)
        template = self.templates.get(key)
        if template is None:
            template = self.templates[key] = self._template(prim, sig)
        prog, outs = template
        regs: list[int] = []
        k = 0
        for ins in prog:
            if ins[0] == "sym":
                regs.append(flat[int(ins[1][1:])])
                k += 1
            elif ins[0] in compiled.LEAVES:
                regs.append(self.emit(list(ins)))
            else:
                regs.append(self.emit([ins[0], *(regs[i] for i in ins[1:])]))
        out = regs[outs[0]]
        if out in flat:   # the identity (x^1, +x): nothing to record
            return out
        if all(not isinstance(a, tuple) and a in self.const and not self.var[a] for a in args) \
                and prim.name in _SAFE_CONSTANT:
            values = [self.const[a] for a in args]
            self.const[out] = prim.sympy(self.sp, *values)
        if self.var[out] and out not in self.nodes:
            edges = [(a, regs[o]) for a, o in zip(flat, outs[1:], strict=True) if self.var[a]]
            for a, local in edges:
                if a >= out and local != self.zero:
                    raise compiled.Unsupported(f"{prim.name}: result not after its arguments")
            self.nodes[out] = _Node(out, edges, prim is ops.STOP_GRADIENT)
        return out

    def _template(self, prim: ops.Primitive, sig: Sequence[Any]
                  ) -> tuple[compiled.Program, list[int]]:
        """prim's SymPy form and its derivative by each variable argument, compiled over
        placeholder symbols u0, u1, ... (in the order of the flattened variable arguments)."""
        sp = self.sp
        dummies: list[Any] = []
        call: list[Any] = []

        def dummy() -> Any:
            d = sp.Symbol(f"u{len(dummies)}", real=True)
            dummies.append(d)
            return d

        for s in sig:
            if s[0] == "c":
                call.append(s[1])
            elif s[0] == "v":
                call.append(dummy())
            elif s[0] == "s":
                call.append(dummies[s[1]])
            else:
                call.append(tuple(dummy() for _ in range(s[1])))
        f = prim.sympy(sp, *call)
        parts = [sp.diff(f, d) for d in dummies]
        return compiled.compile_sympy([f, *parts], [d.name for d in dummies])


_CAP = 10 ** 12   # unfolded sizes stop growing here (a program can unfold exponentially)


class _Shape(Interpretation):
    """The SymPy tree a program unfolds into (names replaced by their values): values are
    (size, depth, kind, components), the size counting every vector component, the depth
    counting a chain of + and - (or of * and /) as one level, as the conversion flattens it."""

    def number(self, node: Num) -> Any:
        return (1, 0, None, 1)

    def free_name(self, node: Name, scope: Mapping[str, Any]) -> Any:
        return (1, 0, None, 1)

    def index(self, node: Index, value: Any) -> Any:
        size, depth, kind, comps = value
        return (max(1, size // comps), depth, kind, 1)

    def apply(self, prim: ops.Primitive, node: Expr, args: list[Any]) -> Any:
        kind = "add" if prim is ops.ADD or prim is ops.SUB else \
            "mul" if prim is ops.MUL or prim is ops.DIV else None
        comps = 1 if prim.reduction else max(a[3] for a in args)
        size = min(_CAP, sum(a[0] for a in args) + comps)
        depth = max(a[1] if kind is not None and a[2] == kind else a[1] + 1 for a in args)
        return (size, depth, kind, comps)


def tree_shape(program: Program, sizes: Mapping[str, int], of: str | None = None
               ) -> tuple[int, int]:
    """The size and depth of the SymPy tree of the program's output (see _Shape); sizes:
    bound name -> component count, 1 for a scalar."""
    env: dict[str, Any] = {n: (k, 0, None, k) for n, k in sizes.items()}
    out = interpret(program, env, _Shape())
    size, depth, _, _ = env[of] if of is not None else out
    return size, depth


def derive(program: Program, names: Mapping[str, str | list[str]], wrt: Sequence[str],
           of: str | None, needed: Sequence[bool]) -> Derivatives:
    """The value, the partials by each symbol in wrt and the guards of the needed statements
    (see convert.needed_statements), by reverse accumulation over each primitive's SymPy derivative.
    names: bound name -> its symbol's name, or its components' for a vector."""
    if any(isinstance(s, Grid) for s in names.values()):
        raise compiled.Unsupported("a matrix (the tree handles matrices)")
    em = _Emit()
    env: dict[str, Any] = {n: em.symbol(s) if isinstance(s, str) else
                           tuple(em.symbol(c) for c in s) for n, s in names.items()}
    guards: list[list[Any]] = []

    def before(i: int, stmt: Any) -> None:
        em.guards = guards if needed[i] else None

    out = interpret(program, env, em, before=before)
    if of is not None:
        out = env[of]
    if isinstance(out, tuple):
        raise compiled.Unsupported("a vector output")
    partials, reached = _backward(em, out, wrt, stop_is_identity=False)
    has_stop = any(n.stop for n in em.nodes.values() if n.out <= out)
    true_partials: list[int] = []
    true_forms: dict[str, str] = {}
    if has_stop:
        true_partials, true_reached = _backward(em, out, wrt, stop_is_identity=True)
        true_forms = {s: TOO_LARGE if r else "0"
                      for s, r in zip(wrt, true_reached, strict=True)}
    forms = {s: TOO_LARGE if r else "0" for s, r in zip(wrt, reached, strict=True)}
    outputs = [out, *partials, *true_partials, *em.guard_args]
    program_, outputs_ = prune(em.program, outputs)
    return Derivatives(program_, outputs_, forms, true_forms, guards, len(em.nodes))


def _backward(em: _Emit, out: int, wrt: Sequence[str], stop_is_identity: bool
              ) -> tuple[list[int], list[bool]]:
    """The register of each partial d out / d symbol, and whether any path reaches it."""
    contributions: dict[int, list[int]] = {out: [em.one]}
    for reg in sorted((r for r in em.nodes if r <= out), reverse=True):
        parts = contributions.pop(reg, None)
        if parts is None:
            continue
        node = em.nodes[reg]
        adj = parts[0] if len(parts) == 1 else em.emit(["add", *parts])
        for arg, local in node.edges:
            if node.stop and stop_is_identity:
                local = em.one
            if local == em.zero:
                continue
            term = adj if local == em.one else local if adj == em.one else \
                em.emit(["mul", adj, local])
            contributions.setdefault(arg, []).append(term)
    regs, reached = [], []
    for s in wrt:
        sym = em.memo.get(("sym", s))
        parts = contributions.get(sym, []) if sym is not None else []
        reached.append(bool(parts))
        regs.append(em.zero if not parts else parts[0] if len(parts) == 1
                    else em.emit(["add", *parts]))
    return regs, reached


def prune(program: compiled.Program, outputs: list[int]
           ) -> tuple[compiled.Program, list[int]]:
    """Only the instructions the outputs need, renumbered in order."""
    need = [False] * len(program)
    for o in outputs:
        need[o] = True
    for i in range(len(program) - 1, -1, -1):
        if need[i] and program[i][0] not in compiled.LEAVES:
            for a in program[i][1:]:
                need[a] = True
    new: list[int] = [-1] * len(program)
    out: compiled.Program = []
    for i, ins in enumerate(program):
        if need[i]:
            new[i] = len(out)
            out.append(ins if ins[0] in compiled.LEAVES else [ins[0], *(new[a] for a in ins[1:])])
    return out, [new[o] for o in outputs]
