"""Syntax tree -> a forward run on a tape, and the partials from its backward pass."""

from __future__ import annotations

import bisect
import functools
import gc
import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any, TypeVar

import numpy as np

from .. import ops, ops_matrix
from ..engine import matrices, sweep, vectors, views
from ..engine.program import (
    CALL,
    CONSTANT,
    INDEX,
    NAME,
    NUMBER,
    RAVEL,
    UPDATE,
    Code,
    code_of,
)
from ..engine.sweep import (
    Backward,
    SymbolicZero,
    compute,
    quiet,
    scalar_backward,
    scalar_forward,
    seed_of,
)
from ..engine.tape import (
    Node,
    Tape,
    Tensor,
    apply,
    constant,
    first_nonfinite,
    input_values,
    real_value,
)
from ..errors import (
    InputError,
    Setting,
    Span,
    UnboundName,
    foreign_name,
    location,
    number_text,
    unassigned_output,
)
from ..lang.inline import CallRecord, Hooks
from ..lang.interpret import Interpretation, interpret_expr
from ..lang.syntax import (
    Assign,
    Call,
    Expr,
    FuncDef,
    Index,
    Name,
    Num,
    Program,
    check_inf,
    postorder,
    split_top_level,
)

T = TypeVar("T")


class Run:
    """A program run on its flat instructions: the output, the watched names and the partials.

    The slots' values and adjoints are all a run keeps; the tape (nodes with ids and labels,
    tensors, call records) is made from them the first time something reads it (views.py)."""

    def __init__(self, program: Program, code: Code, ex: Executed, out: int,
                 output_name: str | None, bindings: dict[str, Any], wrt: list[str],
                 warnings: list[str]):
        self.program = program
        self.code = code
        self.ex = ex
        self.out = out                    # the output's slot
        self.output_name = output_name
        self.bindings = bindings          # name -> bound value, in binding order
        self.wrt = wrt
        self.warnings = warnings
        self.adjoints: list[Any] | None = None   # per slot, after backprop()
        self._backward: Backward | None = None

    # -------------------------------------------------- numbers

    @property
    def value(self) -> Any:
        """The output's numeric value."""
        v = self.ex.values[self.out]
        return _F64(v) if type(v) is float else v

    def source_slot(self, name: str) -> int | None:
        """The slot of a watched name (None when the program never reads it)."""
        return self.code.by_name.get(name)

    def target_slot(self) -> int | None:
        """The output's slot if it depends on a watched name (else None: no gradient)."""
        out = self.out
        return out if self.ex.tracked(self.code, self.wrt, out) else None

    def backprop(self) -> None:
        """Run the backward pass from the output to the watched names (sets the adjoints)."""
        self._backward = None
        target = self.out
        if not self.ex.scalar and self.target_slot() is None:
            self.adjoints = [None] * len(self.ex.values)
            return
        self.adjoints = self.ex.backward(self.code, target,
                                         [s for n in self.wrt
                                          if (s := self.source_slot(n)) is not None])

    def gradient(self) -> dict[str, Any]:
        """Partial of the output per watched name; None where not connected."""
        assert self.adjoints is not None
        out: dict[str, Any] = {}
        adj = self.adjoints
        for name in self.wrt:
            slot = self.source_slot(name)
            a = None if slot is None else adj[slot]
            out[name] = None if a is None else _F64(a) if np.ndim(a) == 0 else a
        return out

    def retarget(self, name: str) -> Run:
        """The same run with the assigned name as its output, differentiated again (one
        backward pass over the same forward values)."""
        row = Run(self.program, self.code, self.ex, output_slot(self.code, self.ex, name,
                                                                self.bindings),
                  name, self.bindings, self.wrt, self.warnings)
        row.backprop()
        return row

    # -------------------------------------------------- the tape, made on demand

    def view(self) -> views.View:
        """The run's tape and tensors (made once, on first use, and shared by the runs that
        differentiate other outputs of the same forward run)."""
        ex = self.ex
        if ex.view is None or len(ex.view.node_ids) != len(ex.values):
            with quiet():
                ex.view = views.build(self.code, ex.prims, ex.args, ex.values, ex.passes,
                                      self.bindings, self.wrt)
        return ex.view

    @property
    def tape(self) -> Tape:
        return self.view().tape

    @property
    def nodes(self) -> list[Node]:
        return self.view().tape.nodes

    @property
    def output(self) -> Any:
        """The output as recording would have given it: a Tensor, or a float64 literal."""
        return self.view().tensors[self.out]

    @property
    def sources(self) -> dict[str, Tensor]:
        """Watched name -> its tensor."""
        return self.view().sources

    @property
    def env(self) -> dict[str, Any]:
        """Bound and assigned names -> their values as tensors (assigned: the last value)."""
        tensors = self.view().tensors
        env: dict[str, Any] = {}
        for name in self.bindings:
            slot = self.code.by_name.get(name)
            env[name] = tensors[slot] if slot is not None else \
                self.view().sources.get(name) or constant(self.bindings[name], name)
        for name, slot in self.code.env.items():
            env[name] = tensors[slot]
        return env

    @property
    def calls(self) -> list[CallRecord]:
        """The calls of the program's functions (node ranges on the tape)."""
        return self.view().calls

    @property
    def backward(self) -> Backward | None:
        """The backward pass by tape node id (adjoints, first non-finite origin)."""
        if self.adjoints is None:
            return None
        if self._backward is None:
            view = self.view()
            target = self.target_slot()
            if target is None:
                self._backward = Backward([None] * len(view.nodes), None)
            else:
                sources = [s for n in self.wrt if (s := self.source_slot(n)) is not None]
                origin = self.ex.origin(self.code, target, sources, self.adjoints)
                self._backward = views.adjoints(view, self.ex.prims, self.ex.args,
                                                self.adjoints, sources, target, origin)
        return self._backward

    def target_id(self) -> int | None:
        """The tape node of the output, or None if the output depends on nothing watched."""
        target = self.target_slot()
        return None if target is None else self.view().node_ids[target]

    def reasons(self) -> dict[str, Any]:
        """Why each partial that is null or exactly 0 is so, and why a bound name that --wrt
        leaves out has none: name -> why.Reason."""
        from ..engine.why import explain_run

        return explain_run(self)


def _close_matches(word: str, possibilities: Sequence[str], n: int = 1) -> list[str]:
    """difflib's close matches, imported only on this error path (start-up cost)."""
    import difflib

    return difflib.get_close_matches(word, possibilities, n=n)


class _Tape(Interpretation):
    """The program run forward on numpy values, every primitive recorded on the active tapes;
    the values of a run are tensors. With a tape, each assigned value is named on it."""

    def __init__(self, source: str | None, hooks: Hooks | None = None, tape: Tape | None = None,
                 bindings: Mapping[str, Any] = {}):  # noqa: B006 - read only
        self.source = source
        self.hooks = hooks
        self.tape = tape
        self.bindings = bindings
        self.counts: dict[str, int] = {}

    def number(self, node: Num) -> Any:
        return np.float64(node.value)

    def free_name(self, node: Name, scope: Mapping[str, Any]) -> Any:
        if node.id in ops.CONSTANTS:
            return constant(ops.CONSTANTS[node.id][0], node.id)
        raise _unbound(node, scope, self.source)

    def apply(self, prim: ops.Primitive, node: Expr, args: list[Any]) -> Any:
        if prim is not ops.NEG and not _scalars(prim, args):
            vectors.check_args(prim, node, args, self.source)
            if type(node) is Call:
                args = matrices.reduce_args(prim, args, apply)
        return apply(prim, *args, span=node.span)

    def index(self, node: Index, value: Any) -> Any:
        if node.column is not None or np.ndim(_value(value)) == 2:
            key = matrices.index(node, value, self.source)
            prim = ops_matrix.ROW if len(key) == 1 else ops_matrix.INDEX2
            return apply(prim, value, *map(np.float64, key), span=node.span)
        k = vectors.index(node, value, self.source)
        return apply(ops.INDEX, value, np.float64(k), span=node.span)

    def update(self, stmt: Assign, old: Any, value: Any) -> Any:
        name = stmt.target
        if old is None:
            raise InputError(f"'{name}' is not defined yet", stmt.target_span, self.source,
                             f"write {name} = ... first")
        prim = ops.BINARY[stmt.op[0]]
        vectors.check_args(prim, stmt, [old, value], self.source,
                           (Name(name, stmt.target_span), stmt.value))
        return apply(prim, old, value, span=stmt.span)

    def assigned(self, stmt: Assign, value: Any) -> Any:
        tape = self.tape
        if tape is not None and isinstance(value, Tensor):
            n = self.counts[stmt.target] = self.counts.get(stmt.target, 0) + 1
            node = tape.node_of(value)
            if node is not None and node.label and "/" in node.label:
                node.label = None  # a call's result takes the assigned name
            tape.name(value, stmt.target if n == 1 else f"{stmt.target}#{n}")
        return value

    def check(self, i: int, stmt: Assign | Expr) -> None:
        """Before statement i: a bound name cannot be assigned to."""
        if isinstance(stmt, Assign) and stmt.target in self.bindings:
            raise InputError((f"cannot assign to '{stmt.target}': it is bound with ",
                              Setting("at")),
                             stmt.target_span, self.source)


def _scalars(prim: ops.Primitive, args: list[Any]) -> bool:
    """Whether prim is an elementwise op on float64 scalars only (nothing for vectors.check_args
    or matrices.reduce_args to refuse or reshape)."""
    if prim.reduction:
        return False
    for a in args:
        if type(a) is Tensor:
            a = a.value
        if type(a) is not _F64:
            return False
    return not matrices.is_matrix_primitive(prim)


_F64 = np.float64


def evaluate_expr(expr: Expr, env: Mapping[str, Any], source: str | None = None,
                  functions: Mapping[str, FuncDef] | None = None,
                  hooks: Hooks | None = None) -> Any:
    """Run one expression forward (recording on active tapes); env maps names to values.
    Calls of the program's own functions are expanded inline (hooks see each call)."""
    return interpret_expr(expr, env, functions or {}, _Tape(source, hooks), source)


def _value(x: Any) -> Any:
    return x.value if isinstance(x, Tensor) else x


def _unbound(node: Name, env: Mapping[str, Any], source: str | None) -> InputError:
    known = [n for n in env] + list(ops.CONSTANTS)
    close = _close_matches(node.id, known, n=1)
    hint = foreign_name(node.id) or (f"did you mean {close[0]}?" if close
                                     else ("bind it with ", Setting("at", f"{node.id}=VALUE")))
    return UnboundName(node.id, f"unbound name '{node.id}'", node.span, source, hint)


def pausing_gc(fn: Callable[..., T]) -> Callable[..., T]:
    """Run fn with Python's cyclic garbage collector paused. A tape of n nodes allocates O(n)
    objects that form no cycles to reclaim; the collector's repeated scans of them made a
    100,000-node run superlinear (about 1.4x per decade of size). Restores the previous state."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> T:
        was = gc.isenabled()
        gc.disable()
        try:
            with quiet():  # numpy's warnings off once, not per recorded operation
                return fn(*args, **kwargs)
        finally:
            if was:
                gc.enable()

    return wrapper


class _NotScalar(Exception):
    """An instruction of a run on Python floats gave an array: run it on numpy values."""


class Executed:
    """One forward run of a flat program: each slot's value, and the primitives and arguments
    as they ran (a copy of the program's where the run resolved an index by its base's shape or
    passed a reduction's argument through: passes, slot -> the slot it passes on). scalar:
    the values are Python floats (the program's arithmetic inlined, sweep.Plan)."""

    def __init__(self, values: list[Any], prims: list[Any], args: list[Any],
                 passes: dict[int, int], scalar: bool):
        self.values = values
        self.prims = prims
        self.args = args
        self.passes = passes
        self.scalar = scalar
        self._tracked: bytearray | None = None
        self.view: views.View | None = None   # the tape, once something reads it

    def tracked(self, code: Code, wrt: Sequence[str], k: int) -> bool:
        """Whether slot k depends on a watched name through any argument (a tape node)."""
        if self._tracked is None:
            tracked = bytearray(len(self.values))
            for name in wrt:
                slot = code.by_name.get(name)
                if slot is not None:
                    tracked[slot] = 1
            prims, args = self.prims, self.args
            for j in range(len(tracked)):
                if prims[j] is not None:
                    for r in args[j]:
                        if tracked[r]:
                            tracked[j] = 1
                            break
            self._tracked = tracked
        return bool(self._tracked[k])

    def backward(self, code: Code, target: int, sources: list[int]) -> list[Any]:
        """The adjoints per slot of one backward pass from the target slot."""
        if self.scalar:
            if not code.dep[target]:
                return [None] * len(self.values)
            plan, slots = code.plan()
            cut = plan[:bisect.bisect_right(slots, target)]
            try:
                with quiet():   # a rule at a non-finite value (log' at 0) warns otherwise
                    return scalar_backward(cut, self.prims, self.args, self.values, code.dep,
                                           target)
            except SymbolicZero:
                pass
        with quiet():
            return sweep.backward(self.prims, self.args, self.numpy_values(), target, sources,
                                  seed_of(self.values[target]), origins=False).adjoints

    def numpy_values(self) -> list[Any]:
        """The values as numpy computes with them (float64 scalars, not Python floats)."""
        if not self.scalar:
            return self.values
        f64 = _F64
        return [f64(v) if type(v) is float else v for v in self.values]

    def origin(self, code: Code, target: int, sources: list[int], adjoints: list[Any]
               ) -> tuple[int, int] | None:
        """Where the backward pass first made a non-finite contribution from a finite adjoint:
        (slot, argument index), or None (the sweep again, looking for it)."""
        with quiet():
            return sweep.backward(self.prims, self.args, self.numpy_values(), target, sources,
                                  seed_of(self.values[target])).nonfinite


def _first_error(code: Code, bindings: Mapping[str, Any], source: str | None
                 ) -> tuple[int, InputError | None]:
    """The first error that depends on the bindings (see Code) and the slot before which it
    is raised, or (len(code), None): by slot, then statement; within a statement its target's
    check comes first, then its names, then `+=` of a name not assigned yet."""
    found = []
    bound = next((b for b in code.bound_targets if b[2] in bindings), None)
    if bound is not None:
        at, stmt, target, start, end = bound
        found.append((at, stmt, 0, lambda: InputError(
            (f"cannot assign to '{target}': it is bound with ", Setting("at")),
            code.span(start, end), source)))
    free = next((f for f in code.free_names if code.names[f[0]] not in bindings
                 and code.names[f[0]] not in ops.CONSTANTS), None)
    if free is not None:
        slot, stmt, count = free
        known = dict.fromkeys([*bindings, *(t for _, t in code.assigns[:count])])
        name = Name(code.names[slot], code.span(code.starts[slot], code.ends[slot]))
        found.append((slot, stmt, 1, lambda: _unbound(name, known, source)))
    if code.undefined:
        at, stmt, target, start, end = code.undefined[0]
        found.append((at, stmt, 2, lambda: InputError(
            f"'{target}' is not defined yet", code.span(start, end), source,
            f"write {target} = ... first")))
    if not found:
        return len(code), None
    first = min(found, key=lambda f: f[:3])
    return first[0], first[3]()


def _leaf(code: Code, k: int, bindings: Mapping[str, Any]) -> Any:
    """The value of a leaf slot (a float64, or a binding's array)."""
    if code.kinds[k] == NAME:
        name = code.names[k]
        if name in bindings:
            return real_value(bindings[name], "constant")
        return _F64(ops.CONSTANTS[name][0])
    return _F64(code.numbers[k])


def _check(code: Code, k: int, xs: list[Any], source: str | None, originals: list[Any]) -> None:
    """The checks of instruction k before it runs on xs (originals: the values its arguments
    had before a reduction ravelled them): vector lengths, reductions of scalars, matrix
    shapes."""
    kind, prim = code.kinds[k], code.prims[k]
    assert prim is not None
    if kind == UPDATE:
        if all(type(x) is _F64 for x in xs):
            return  # scalars: nothing to check
        stmt = code.expr(k)
        vectors.check_args(prim, stmt, xs, source, (Name(stmt.target, stmt.target_span),
                                                   stmt.value))
    elif prim is not ops.NEG and not _scalars(prim, originals):
        vectors.check_args(prim, code.expr(k), originals, source)


def _index(code: Code, k: int, base: Any, source: str | None) -> tuple[ops.Primitive, int]:
    """The primitive of `base[i]` or `base[i, j]` by the base's shape, and how many of the
    instruction's index slots it takes."""
    node = code.expr(k)
    if node.column is not None or np.ndim(base) == 2:
        key = matrices.index(node, base, source)
        return (ops_matrix.ROW if len(key) == 1 else ops_matrix.INDEX2), len(key)
    vectors.index(node, base, source)
    return ops.INDEX, 1


def _scalar_forward(code: Code, bindings: Mapping[str, Any], stop: int,
                    source: str | None) -> Executed:
    """The forward run on Python floats (every binding a scalar)."""
    n = len(code)
    vals: list[Any] = [None] * n
    for k, v in code.numbers.items():
        vals[k] = v
    for k, name in code.names.items():
        vals[k] = float(bindings[name]) if name in bindings else \
            ops.CONSTANTS[name][0] if name in ops.CONSTANTS else None
    kinds, prims, args = code.kinds, code.prims, code.args

    def general(k: int) -> float:
        kind = kinds[k]
        xs = [_F64(vals[r]) for r in args[k]]   # numpy's semantics, as the rules expect
        if kind == INDEX:
            _index(code, k, xs[0], source)   # raises: a scalar has no components
            raise _NotScalar
        if kind == RAVEL:
            raise _NotScalar  # (a reduction's argument: the reduction refuses a scalar)
        prim = prims[k]
        assert prim is not None
        if kind == UPDATE or prim.reduction or matrices.is_matrix_primitive(prim):
            _check(code, k, xs, source, xs)
        value = compute(prim, xs)
        if np.ndim(value):
            raise _NotScalar
        return float(value)

    plan, slots = code.plan()
    scalar_forward(plan[:bisect.bisect_left(slots, stop)], vals, general)
    return Executed(vals, prims, args, {}, True)


def _array_forward(code: Code, bindings: Mapping[str, Any], stop: int,
                   source: str | None) -> Executed:
    """The forward run on numpy values (float64 scalars and arrays)."""
    n = len(code)
    values: list[Any] = [None] * n
    kinds = code.kinds
    prims, args = list(code.prims), list(code.args)
    passes: dict[int, int] = {}
    for k in range(stop):
        kind = kinds[k]
        if kind in (NUMBER, NAME, CONSTANT):
            values[k] = _leaf(code, k, bindings)
            continue
        refs = args[k]
        if kind == RAVEL:
            a = refs[0]
            if np.ndim(values[a]) == 2:
                values[k] = compute(ops_matrix.RAVEL, [values[a]])
            else:
                values[k] = values[a]
                passes[k] = a
                prims[k] = None
            continue
        if kind == INDEX:
            base = values[refs[0]]
            prim, keys = _index(code, k, base, source)
            refs = args[k] = refs[:1 + keys]
            prims[k] = prim
            values[k] = compute(prim, [values[r] for r in refs])
            continue
        prim = prims[k]
        assert prim is not None
        originals = [values[passes.get(r, r)] for r in refs]
        if kind == CALL and any(r in passes for r in refs):
            refs = args[k] = tuple(passes.get(r, r) for r in refs)
        xs = [values[r] for r in refs]
        _check(code, k, xs, source, originals if kind == CALL else xs)
        values[k] = compute(prim, xs)
    return Executed(values, prims, args, passes, False)


def execute(code: Code, bindings: Mapping[str, Any], source: str | None) -> Executed:
    """Run the flat program forward at the bindings; raises the first input error (a name
    bound nowhere, a shape that does not fit) as running it statement by statement would."""
    stop, error = _first_error(code, bindings, source)
    ex = None
    if all(np.ndim(v) == 0 for v in bindings.values()):
        try:
            ex = _scalar_forward(code, bindings, stop, source)
        except _NotScalar:
            ex = None
    if ex is None:
        ex = _array_forward(code, bindings, stop, source)
    if error is not None:
        raise error
    return ex


def output_slot(code: Code, ex: Executed, name: str, bindings: Mapping[str, Any]) -> int:
    """The slot of an assigned or bound name taken as the output (a bound name the program
    never reads gets a leaf of its own, at the end)."""
    if name in code.env:
        return code.env[name]
    k = code.name_slot(name)
    while len(ex.values) < len(code):
        j = len(ex.values)
        ex.values.append(_leaf(code, j, bindings))
        if ex.scalar:
            ex.values[j] = float(ex.values[j])
        if ex.prims is not code.prims:
            ex.prims.append(None)
            ex.args.append(())
    return k


@pausing_gc
def run(program: Program, bindings: Mapping[str, Any], wrt: Sequence[str] | None = None,
        of: str | None = None) -> Run:
    """Run a program forward on its flat instructions with the given bindings, then backward.

    wrt: names to differentiate with respect to (default: every binding); the others are
    constants. of: the named intermediate to take as output (default: the program's output).
    """
    source = program.source
    names = list(bindings)
    wrt = names if wrt is None else list(wrt)
    for name in wrt:
        if name not in bindings:
            close = _close_matches(name, names, n=1)
            hint = f"did you mean {close[0]}?" if close else "bound names: " + (
                ", ".join(names) or "none")
            raise InputError((Setting("wrt"), f" names '{name}', which is not bound"),
                             hint=hint)
    warnings = [f"warning: binding '{n}' shadows the constant {n}" for n in names
                if n in ops.CONSTANTS]
    check_inf(program, bindings)
    code = code_of(program)
    for name in names:
        if name in code.functions:
            raise InputError((f"'{name}' is bound with ", Setting("at"),
                              " but the program defines it as a function"),
                             program.functions[name].name_span, source)
    ex = execute(code, bindings, source)
    out = code.output
    output_name = code.output_name
    if of is not None:
        if of not in code.env and of not in bindings:
            known = [*bindings, *(n for n in code.env if n not in bindings)]
            close = _close_matches(of, known, n=1)
            raise unassigned_output(of, hint=f"did you mean {close[0]}?" if close else
                                    "assigned names: " + (", ".join(
                                        n for n in code.env if n not in bindings) or "none"))
        out, output_name = output_slot(code, ex, of, bindings), of
    result = Run(program, code, ex, out, output_name, dict(bindings), list(wrt), warnings)
    if vectors.length(result.value) is not None:
        last = program.statements[-1]
        raise vectors.output_error(output_name, result.value,
                                   None if of is not None else last.span, source,
                                   None if isinstance(last, Assign) else last)
    result.backprop()
    return result


def constant_value(expr: Expr, source: str | None = None) -> float:
    """The value of a constant expression (numbers, pi, e): for bound values."""
    value = evaluate_expr(expr, {}, source)
    return float(value.value if isinstance(value, Tensor) else value)


_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")


def _constant_text(text: str) -> float:
    """The value of a constant expression given as text; errors are located in that text."""
    from ..lang.syntax import parse_expression

    expr = parse_expression(text)
    check_inf(Program((expr,), text))
    for node in postorder(expr):
        if isinstance(node, Name) and node.id not in ops.CONSTANTS:
            raise InputError(f"'{node.id}' is not a constant", node.span, text,
                             "a value may use numbers, pi, e, operators and functions")
    return constant_value(expr, text)


def parse_bindings(options: Sequence[str], setting: str = "at") -> dict[str, Any]:
    """Bindings from texts `NAME=VALUE[,NAME=VALUE...]` (--at options), in order; errors
    name `setting` (an errors.SETTINGS key) as where the text was given.

    VALUE is a constant expression (numbers, pi, e, operators and functions), a vector
    `[v1, v2, ...]` of them (a 1-D float array), a matrix `[[a, b], [c, d]]` (2-D), or
    `@path` of a .npy or headerless .csv file holding a vector or matrix.
    """
    from ..errors import Span

    out: dict[str, Any] = {}
    for text in options:
        for offset, piece in split_top_level(text):
            lead = len(piece) - len(piece.lstrip())
            item = piece.strip()
            at = Span(offset + lead, offset + lead + max(1, len(item)))

            def fail(message: str, span: Span = at, hint: str = "", text: str = text
                     ) -> InputError:
                return InputError((Setting(setting), f": {message}"), span, text, hint)

            if not item:
                raise fail("empty binding", hint="expected NAME=VALUE")
            name, eq, value_text = item.partition("=")
            name = name.strip()
            if not eq:
                raise fail(f"binding '{item}' has no '='", hint="expected NAME=VALUE")
            if not _IDENT.match(name):
                raise fail(f"'{name}' is not a valid name", hint="names look like x, w_1, tax")
            if name in ops.FUNCTIONS:
                raise fail(f"'{name}' is a function and cannot be bound")
            if name in out:
                raise fail(f"duplicate binding for '{name}'")
            value_at = offset + lead + item.index("=") + 1
            if not value_text.strip():
                raise fail(f"no value for '{name}'", Span(value_at - 1, value_at))
            try:
                stripped = value_text.strip()
                if stripped.startswith("@"):
                    value: Any = matrices.load(stripped[1:].strip())
                elif stripped.startswith("[") and stripped[1:].lstrip().startswith("["):
                    value = matrices.parse_matrix(value_text, _constant_text)
                elif stripped.startswith("["):
                    value = vectors.parse_vector(value_text, _constant_text)
                else:
                    value = _constant_text(value_text)
            except InputError as exc:
                span = exc.span or Span(0, len(value_text))
                raise InputError((Setting(setting), ": ", *exc.parts,
                                  f" in the value of '{name}'"),
                                 Span(value_at + span.start, value_at + span.end), text,
                                 exc.hint_parts) from None
            if not np.all(np.isfinite(value)):
                raise fail(f"the value of '{name}' is not finite ({value_text.strip()} = "
                           f"{number_text(value)})")
            out[name] = value
    return out


def where(run: Run, node: Node) -> str:
    """How an error names a tape node: `node t5 (y) = sqrt at line 2, column 5`."""
    where = f"node {node.ref}"
    if node.label:
        where += f" ({node.label})"
    where += f" = {node.op}"
    if node.span is not None:
        where += f" at {location(run.program.source, node.span.start)}"
    return where


def nonfinite(run: Run) -> list[str]:
    """Messages naming where a non-finite value or partial first appeared (empty if none)."""
    messages: list[str] = []
    if not np.all(np.isfinite(run.value)):
        nodes = run.nodes   # (the tape is made only to say where)
        node = first_nonfinite(nodes)
        what = f"the value is {kind_of_nonfinite(run.value)}"
        if node is None:
            messages.append(what)
        else:
            values = input_values(nodes, node)
            note = ""
            prim = node.prim
            if prim is not None and prim.domain is not None and np.any(prim.domain(*values)):
                note = f": {prim.domain_note}"
            elif node.op == "div" and np.any(np.asarray(values[1]) == 0):
                note = ": division by zero"
            elif np.any(np.isinf(node.value)):
                note = ": overflow"
            messages.append(f"{what}; it first appears at {where(run, node)}{note}")
    bad = [n for n, g in run.gradient().items()
           if g is not None and not np.all(np.isfinite(g))]
    if bad:
        what = ", ".join(f"d/d{n}" for n in bad)
        origin = run.backward.nonfinite if run.backward else None
        if origin is None:
            messages.append(f"partial {what} is not finite")
        else:
            node = run.nodes[origin[0]]
            messages.append(f"partial {what} is not finite; it first appears in the backward "
                            f"pass at {where(run, node)}, in the derivative with respect to "
                            f"its argument {origin[1] + 1}")
    return messages


def kind_of_nonfinite(x: Any) -> str:
    """"nan", "inf" or "-inf": which non-finite value x holds (nan if any component is)."""
    v = np.asarray(x)
    if np.any(np.isnan(v)):
        return "nan"
    return "inf" if np.all(v[~np.isfinite(v)] > 0) else "-inf"


