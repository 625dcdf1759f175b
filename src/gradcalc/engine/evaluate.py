"""Syntax tree -> a forward run on a tape, and the partials from its backward pass."""

from __future__ import annotations

import functools
import gc
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

import numpy as np

from .. import ops, ops_matrix
from ..engine import matrices, vectors
from ..engine.tape import (
    Backward,
    Node,
    Tape,
    Tensor,
    apply,
    backward,
    constant,
    first_nonfinite,
    input_values,
    quiet,
    seed_of,
)
from ..errors import (
    InputError,
    Setting,
    UnboundName,
    foreign_name,
    location,
    number_text,
    unassigned_output,
)
from ..lang.inline import CallRecord, CallRecorder, Hooks
from ..lang.interpret import Interpretation, interpret, interpret_expr
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


@dataclass
class Run:
    """A program run on a tape: its output, the watched sources and the partials."""

    program: Program
    tape: Tape
    output: Any                       # Tensor or plain value
    output_name: str | None
    bindings: dict[str, Any]          # name -> bound value, in binding order
    wrt: list[str]
    sources: dict[str, Tensor]        # watched name -> tensor
    env: dict[str, Any] = field(default_factory=dict)
    backward: Backward | None = None
    warnings: list[str] = field(default_factory=list)
    calls: list[CallRecord] = field(default_factory=list)  # calls of the program's functions

    @property
    def value(self) -> Any:
        """The output's numeric value."""
        return self.output.value if isinstance(self.output, Tensor) else np.float64(self.output)

    @property
    def nodes(self) -> list[Node]:
        return self.tape.nodes

    def backprop(self) -> None:
        """Run the backward pass from the output to the watched names (sets self.backward)."""
        target = self.target_id()
        if target is None:
            self.backward = Backward([None] * len(self.nodes), None)
            return
        seed = seed_of(self.nodes[target].value)
        self.backward = backward(self.nodes, target,
                                 [self.tape.node_of(self.sources[n]).id  # type: ignore[union-attr]
                                  for n in self.wrt], seed)

    def target_id(self) -> int | None:
        """The tape node of the output, or None if the output depends on nothing watched."""
        node = self.tape.node_of(self.output) if isinstance(self.output, Tensor) else None
        return None if node is None else node.id

    def gradient(self) -> dict[str, Any]:
        """Partial of the output per watched name; None where not connected."""
        assert self.backward is not None
        out: dict[str, Any] = {}
        for name in self.wrt:
            node = self.tape.node_of(self.sources[name])
            adj = None if node is None else self.backward.adjoints[node.id]
            out[name] = None if adj is None else np.float64(adj) if np.ndim(adj) == 0 else adj
        return out

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


@pausing_gc
def run(program: Program, bindings: Mapping[str, Any], wrt: Sequence[str] | None = None,
        of: str | None = None) -> Run:
    """Run a program forward on a fresh tape with the given bindings, then backward.

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
    for name in names:
        if name in program.functions:
            raise InputError((f"'{name}' is bound with ", Setting("at"),
                              " but the program defines it as a function"),
                             program.functions[name].name_span, source)
    tape = Tape(persistent=True, watch_accessed_variables=False)
    recorder = CallRecorder(tape)
    env: dict[str, Any] = {}
    sources: dict[str, Tensor] = {}
    for name in names:
        t = constant(bindings[name], name)
        env[name] = t
        if name in wrt:
            sources[name] = t
    tape.watch(*(sources[n] for n in wrt))
    interp = _Tape(source, recorder, tape, bindings)
    with tape:
        output = interpret(program, env, interp, before=interp.check)
    last = program.statements[-1]
    output_name = last.target if isinstance(last, Assign) else None
    if of is not None:
        if of not in env:
            known = [n for n in env]
            close = _close_matches(of, known, n=1)
            raise unassigned_output(of, hint=f"did you mean {close[0]}?" if close else
                             "assigned names: " + (", ".join(n for n in env if n not in bindings)
                                                   or "none"))
        output, output_name = env[of], of
    if vectors.length(output) is not None:
        last = program.statements[-1]
        raise vectors.output_error(output_name, output, None if of is not None else last.span,
                                   source, None if isinstance(last, Assign) else last)
    result = Run(program, tape, output, output_name, dict(bindings), list(wrt), sources, env,
                 warnings=warnings, calls=recorder.calls)
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
    nodes = run.nodes
    if not np.all(np.isfinite(run.value)):
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
            node = nodes[origin[0]]
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


