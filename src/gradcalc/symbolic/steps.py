"""The backward pass written out (`--steps`): for every tape node the reverse sweep visits, its
operation, its local derivative with respect to each input as a formula, and the adjoint it
receives, as a formula and as the tape's numbers.

The numbers are the tape's own. Each contribution is the node's VJP rule applied to the
adjoint, exactly as engine.tape.backward applies it, and a node's adjoint is the sum of its
contributions in the order the sweep adds them, bit for bit. Where a rule only multiplies or
divides its cotangent (most rules: `g * cos(x)`, `g / y`, `-g * (ans / y)`), the arithmetic it
did is recorded as `ops`, so the contribution can be replayed from the adjoint exactly.

The formulas come from the op record's SymPy counterparts, applied as the check's conversion
applies them (convert.apply_primitive): SymPy's derivative of each primitive by each of its
arguments, with the inputs' formulas put in. A named intermediate keeps its name; an unnamed
one is written out while it is short, else called by its tape id. A vector or matrix
operation's contribution is written in matrix notation where SymPy's matrix calculus
(symbolic.matrix_form) gives one with the tape's numbers. All of it is bounded by counts
(INLINE, FORMULA, PAIRS, SHOWN, MAX_STEPS), never by the clock; it runs in a child
(sandbox.start_with_budget) started before the check and collected after it, stopped at the
call's one deadline (--check-timeout), which only ever stops it: the steps then have their
numbers only, and say so (time limit).
"""

from __future__ import annotations

import fractions
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .. import ops, ops_matrix
from ..budget import DEFAULT_SECONDS, Deadline, deadline_of
from ..engine.evaluate import Run
from ..engine.sweep import Const, unbroadcast_value
from ..engine.tape import (
    Node,
    Tensor,
    input_values,
    source_masks,
    unbroadcast,
)
from ..errors import Text
from ..lang.inline import top_calls

INLINE = 24         # an unnamed intermediate is written out up to this many SymPy nodes
FORMULA = 60        # an adjoint's formula beyond this many SymPy nodes is "too long"
PAIRS = 256         # Jacobian entries (output x input components) derived per node
SHOWN = 4           # components listed when a vector formula is not elementwise
MAX_STEPS = 3_000   # formulas are derived for programs of at most this many steps


@dataclass
class Local:
    """A node's local derivative with respect to one input: the input's name, the argument
    (0-based; -1 for an input of a collapsed call), its formula and number (the tape's rule
    with a unit cotangent; None where it is a Jacobian, not a number)."""

    input: int
    name: str
    arg: int
    formula: str | None = None
    value: Any = None


@dataclass
class Received:
    """One contribution to a node's adjoint: from node `source` through its argument `arg`
    (-1: from a collapsed call), the source's adjoint, the local derivative's number and the
    contribution as the tape computed it. ops: the tape's arithmetic on the adjoint, each
    ("*", a), ("/", a), ("neg", None), ("zero", shape) (a flat rule) or ("sum", shape) (summed
    over broadcast axes), that
    gives `value` exactly; None where the rule does more than that. parts: for a collapsed
    call, the contributions of the nodes inside it, in the sweep's order (the tape adds them
    one by one). product: "adjoint * local" as formulas, or the contribution's formula."""

    source: int
    arg: int
    adjoint: Any
    local: Any
    value: Any
    ops: list[tuple[str, Any]] | None = None
    parts: list[Any] | None = None
    product: str | None = None


@dataclass
class Step:
    """One node of the sweep (a collapsed call is one step, named by its result): operation,
    local derivatives, contributions received, the tape's adjoint and its formula."""

    node: int
    first: int
    name: str
    op: str
    operation: str
    locals: list[Local] = field(default_factory=list)
    received: list[Received] = field(default_factory=list)
    adjoint: Any = None
    formula: str | None = None
    mask: int = 0          # the watched names (bits in run.wrt order) this node depends on


@dataclass
class Steps:
    """The written-out backward pass of a run: steps by node id, and per differentiated name
    the ids of its steps in the order the sweep visits them (the output first, the name's
    own node last). note: why formulas are missing, if they are."""

    output: int | None
    steps: dict[int, Step]
    partials: dict[str, list[int]]
    collapse: bool = False
    note: Text = ""     # text, or parts naming a setting (errors.Setting)
    formulas: bool = False
    pending: Callable[[], tuple[str, Any]] | None = field(default=None, repr=False,
                                                          compare=False)
    deadline: Deadline | None = field(default=None, repr=False, compare=False)

    def complete(self) -> Steps:
        """Wait for the formulas being derived (begin) and put them in; returns self."""
        if self.pending is not None:
            status, found = self.pending()
            self.pending = None
            if status == "ok":
                merge(self, found)
            else:
                self.note = (f"no formulas ({self.deadline.reason()}): numbers only"
                             if status == "timeout" and self.deadline is not None
                             else f"no formulas: {found}")
        return self

    def replayed(self) -> dict[str, Any]:
        """Each step's adjoint recomputed from the printed numbers alone: the seed, then per
        contribution its ops applied to the source's adjoint (or its parts), summed in order.
        A test compares it with the tape's partials bit for bit."""
        out: dict[int, Any] = {}
        for j in sorted(self.steps, reverse=True):
            step = self.steps[j]
            if not step.received:
                out[j] = step.adjoint
                continue
            total: Any = None
            for r in step.received:
                for part in r.parts if r.parts is not None else [replay(r.ops, out[r.source])
                                                                 if r.ops is not None
                                                                 else r.value]:
                    total = part if total is None else total + part
            out[j] = total
        return {name: out[ids[-1]] if ids else None for name, ids in self.partials.items()}


# ---------------------------------------------------------------- the tape's numbers


class _Cotangent:
    """A stand-in for the adjoint that records what a VJP rule does to it: multiplications,
    divisions and negation (anything else raises TypeError). numpy defers to it."""

    __array_ufunc__ = None
    __slots__ = ("ops",)

    def __init__(self, done: tuple[tuple[str, Any], ...] = ()):
        self.ops = done

    def __mul__(self, other: Any) -> _Cotangent:
        if isinstance(other, _Cotangent):
            raise TypeError("the cotangent times itself")
        return _Cotangent((*self.ops, ("*", other)))

    __rmul__ = __mul__

    def __truediv__(self, other: Any) -> _Cotangent:
        if isinstance(other, _Cotangent):
            raise TypeError("the cotangent over itself")
        return _Cotangent((*self.ops, ("/", other)))

    def __neg__(self) -> _Cotangent:
        return _Cotangent((*self.ops, ("neg", None)))


def replay(chain: Sequence[tuple[str, Any]], g: Any) -> Any:
    """The adjoint g put through a rule's recorded arithmetic (Received.ops)."""
    v = g
    with np.errstate(all="ignore"):
        for op, a in chain:
            if op == "neg":
                v = -v
            elif op == "*":
                v = v * a
            elif op == "/":
                v = v / a
            elif op == "zero":   # a flat rule: exact zeros whatever g is (never g*0)
                v = np.zeros(np.broadcast_shapes(np.shape(v), tuple(a)))[()]
            else:   # "sum": over the axes broadcasting added
                v = unbroadcast_value(v, tuple(a))
    return v


def _same(a: Any, b: Any) -> bool:
    """Bit for bit equal (nan equal to nan)."""
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    return a.shape == b.shape and a.tobytes() == b.tobytes()


def _contribution(rule: Callable[..., Any], g: Any, ans: Any, args: list[Any],
                  shape: tuple[int, ...]) -> tuple[Any, Any, list[tuple[str, Any]] | None]:
    """(the contribution as the sweep computes it, the local derivative's number, the ops
    that replay it from g)."""
    with np.errstate(all="ignore"):
        raw = rule(g, ans, *args)
        c = unbroadcast(raw, shape)
        summed = np.shape(raw) != np.shape(c)
        chain: list[tuple[str, Any]] | None
        try:
            traced = rule(_Cotangent(), ans, *args)
            if isinstance(traced, _Cotangent):
                chain = list(traced.ops)
            elif not np.any(np.asarray(traced, dtype=np.float64)):
                chain = [("zero", list(np.shape(traced)))]    # a flat rule (sign, floor)
            else:
                chain = None
        except Exception:  # noqa: BLE001 - a rule that does more than scale its cotangent
            chain = None
        local: Any = None
        if chain is not None:
            local = replay(chain, np.float64(1.0))
            if summed:
                chain.append(("sum", list(shape)))
            if not _same(replay(chain, g), c):
                chain = None     # (never seen) only arithmetic that gives the tape's bits
        if chain is None and np.ndim(g) == 0 and not shape:
            try:
                local = unbroadcast(rule(np.float64(1.0), ans, *args), shape)
            except Exception:  # noqa: BLE001
                local = None
    return c, local, chain


def _input_text(nodes: Sequence[Node], ref: int | Const) -> str:
    if isinstance(ref, int):
        return nodes[ref].title
    if ref.name is not None:
        return ref.name
    return _number_text(ref.value)


def _number_text(value: Any) -> str:
    if np.ndim(value):
        return "[" + ", ".join(_number_text(v) for v in np.ravel(value)) + "]"
    return f"{float(value):.15g}"


def operation(nodes: Sequence[Node], node: Node, names: Sequence[str] | None = None) -> str:
    """A node's operation in the input language, its inputs by name (or by the names given):
    `tax * t7`, `sin(x)`, `w[1]`, `sum(t3)`."""
    prim = node.prim
    if prim is None:
        return "input"
    args = list(names) if names is not None else [_input_text(nodes, r) for r in node.inputs]
    if prim is ops.NEG:
        return f"-{args[0]}"
    if prim is ops.INDEX or prim is ops_matrix.ROW:
        return f"{args[0]}[{args[1]}]"
    if prim is ops_matrix.INDEX2:
        return f"{args[0]}[{args[1]},{args[2]}]"
    if prim.symbol and prim.arity == 2 and prim.spelling in (None, "pow"):
        return f"{args[0]} {prim.symbol} {args[1]}"
    return f"{prim.spelling or prim.name}({', '.join(args)})"


def derive(run: Run, collapse: bool = False, deadline: Deadline | None = None,
           cache: bool = False) -> Steps:
    """The run's backward pass written out: the tape's numbers, and the formulas (derived in a
    child stopped at the deadline: the call's, else one of budget.DEFAULT_SECONDS from now).
    collapse: each top-level call of a program's function is one step. cache: read and fill
    the disk cache (symbolic.cache) of the formulas."""
    return begin(run, collapse, deadline, cache).complete()


def begin(run: Run, collapse: bool = False, deadline: Deadline | None = None,
          cache: bool = False) -> Steps:
    """derive, with the formulas still being derived in the child when it returns
    (the check can run meanwhile): Steps.complete() waits for them. A cache hit needs no
    SymPy."""
    steps = numbers(run, collapse)
    if not steps.steps:
        return steps
    if len(steps.steps) > MAX_STEPS:
        steps.note = (f"formulas are derived for at most {MAX_STEPS:,} steps; this pass has "
                      f"{len(steps.steps):,}: numbers only")
        return steps
    key = _cache_key(run, steps) if cache else None
    if key is not None:
        from .cache import load_other

        found = _from_json(load_other(key), steps)
        if found is not None:
            merge(steps, found)
            return steps
    from .convert import namespace
    from .sandbox import start_with_budget

    namespace()   # SymPy imported once, here: the check's child inherits it too
    steps.deadline = deadline_of(deadline, DEFAULT_SECONDS)
    wait = start_with_budget(lambda: formulas(run, steps), steps.deadline)

    def pending() -> tuple[str, Any]:
        status, found = wait()
        if status == "ok" and key is not None:
            from .cache import store_other

            store_other(key, {"formulas": _to_json(found)})
        return status, found

    steps.pending = pending
    return steps


def _cache_key(run: Run, steps: Steps) -> dict[str, Any]:
    """What the formulas depend on: the tape's structure (each node's op, inputs, label and
    its constants' names and values), the steps' nodes and what each depends on, the output
    and whether calls are collapsed. Not the point's values, which only the numbers read."""
    import hashlib
    import json

    from .cache import other_material

    tape = []
    for node in run.nodes:
        inputs = [r if type(r) is int else [r.name, repr(np.asarray(r.value).tolist())]
                  for r in node.inputs]
        tape.append([node.op, inputs, node.label, list(np.shape(node.value))])
    shape = [tape, [[j, s.first, s.mask] for j, s in sorted(steps.steps.items())],
             steps.output, steps.collapse]
    digest = hashlib.sha256(json.dumps(shape, separators=(",", ":")).encode()).hexdigest()
    return other_material("steps", {"source": run.program.source, "tape": digest})


def _to_json(found: dict[int, dict[str, Any]]) -> list[Any]:
    return [[j, e["formula"], [[k, v] for k, v in e["locals"].items()],
             [[*k, v] for k, v in e["products"].items()]] for j, e in found.items()]


def _from_json(data: dict[str, Any] | None, steps: Steps) -> dict[int, dict[str, Any]] | None:
    """The formulas of a cache entry, if it holds text for exactly these steps."""
    if data is None:
        return None

    def text(x: Any) -> bool:
        return x is None or isinstance(x, str)

    out: dict[int, dict[str, Any]] = {}
    try:
        for j, formula, locals_, products in data["formulas"]:
            if type(j) is not int or j not in steps.steps or not text(formula):
                return None
            out[j] = {"formula": formula,
                      "locals": {k: v for k, v in locals_ if type(k) is int and text(v)},
                      "products": {(a, b, c): v for a, b, c, v in products
                                   if type(a) is int and type(b) is int and type(c) is int
                                   and text(v)}}
    except (TypeError, ValueError, KeyError):
        return None
    return out if set(out) == set(steps.steps) else None


class _Sweep:
    """The tape's numbers, node by node from the output back: what each step received."""

    def __init__(self, run: Run, collapse: bool):
        self.run = run
        self.nodes = run.nodes
        assert run.backward is not None
        self.adj = run.backward.adjoints
        self.target = run.target_id()
        bits: dict[int, int] = {}
        for k, name in enumerate(run.wrt):
            src = run.tape.node_of(run.sources[name])
            if src is not None:
                bits[src.id] = bits.get(src.id, 0) | 1 << k
        assert self.target is not None
        self.masks = source_masks(self.nodes, bits, self.target)
        self.calls = top_calls(run.calls) if collapse else {}
        self.received: dict[int, list[Received]] = {}

    def inputs(self, node: Node) -> list[tuple[int, int, Callable[..., Any]]]:
        """(argument, input node, rule) of each input the sweep sends a contribution to."""
        out = []
        for i, ref in enumerate(node.inputs):
            rule = node.prim.vjp(i) if node.prim is not None else None
            if type(ref) is int and self.masks[ref] and rule is not None:
                out.append((i, ref, rule))
        return out

    def node_step(self, j: int) -> Step:
        nodes, adj = self.nodes, self.adj
        node = nodes[j]
        step = Step(j, j, node.title, node.op, operation(nodes, node), adjoint=adj[j],
                    mask=self.masks[j])
        args = input_values(nodes, node)
        for i, ref, rule in self.inputs(node):
            c, local, chain = _contribution(rule, adj[j], node.value, args,
                                            np.shape(nodes[ref].value))
            step.locals.append(Local(ref, nodes[ref].title, i, value=local))
            self.received.setdefault(ref, []).append(Received(j, i, adj[j], local, c, chain))
        return step

    def call_step(self, first: int, end: int, func: str, values: list[Any]) -> Step:
        """A collapsed call: its result's adjoint, the derivative of its result with respect
        to each outside input (the rules with a unit seed, swept over the call's nodes), and
        its contributions to them (the tape's, part by part)."""
        nodes, adj = self.nodes, self.adj
        r = end - 1
        label = nodes[r].label
        name = f"t{first}..t{r}" + (f" {label}" if label and "/" not in label else "") \
            if r > first else nodes[r].title
        step = Step(r, first, name, func, f"{func}({', '.join(map(self.value_text, values))})",
                    adjoint=adj[r], mask=self.masks[r])
        unit: dict[int, Any] = {r: np.float64(1.0)}
        outside: dict[int, Received] = {}
        for j in range(r, first - 1, -1):
            node = nodes[j]
            if node.prim is None or adj[j] is None:
                continue
            args = input_values(nodes, node)
            for _, ref, rule in self.inputs(node):
                shape = np.shape(nodes[ref].value)
                c, _, _ = _contribution(rule, adj[j], node.value, args, shape)
                u = _contribution(rule, unit[j], node.value, args, shape)[0] \
                    if j in unit else None
                if first <= ref < end:
                    if u is not None:
                        unit[ref] = u if ref not in unit else unit[ref] + u
                    continue
                got = outside.get(ref)
                if got is None:
                    got = outside[ref] = Received(r, -1, adj[r], None, None, parts=[])
                    step.locals.append(Local(ref, nodes[ref].title, -1))
                assert got.parts is not None
                got.parts.append(c)
                got.value = c if got.value is None else got.value + c
                if u is not None:
                    got.local = u if got.local is None else got.local + u
        step.locals.sort(key=lambda loc: loc.input)
        for loc in step.locals:
            loc.value = outside[loc.input].local
        for ref, got in outside.items():
            self.received.setdefault(ref, []).append(got)
        return step

    def value_text(self, value: Any) -> str:
        """A call's argument by name: its node's, its own (an unwatched binding), or its
        number."""
        if not isinstance(value, Tensor):
            return _number_text(value)
        node = self.run.tape.node_of(value)
        return node.title if node is not None else value.name or _number_text(value.value)


def numbers(run: Run, collapse: bool = False) -> Steps:
    """The steps with the tape's numbers (no SymPy): every node the sweep reaches that
    depends on a differentiated name, and each contribution it received, in the order the
    sweep added them."""
    if run.target_id() is None or run.backward is None:
        return Steps(None, {}, {n: [] for n in run.wrt}, collapse)
    sweep = _Sweep(run, collapse)
    steps: dict[int, Step] = {}
    assert sweep.target is not None
    for j in range(sweep.target, -1, -1):
        if sweep.adj[j] is None or not sweep.masks[j]:
            continue
        call = sweep.calls.get(j)
        if call is None:
            steps[j] = sweep.node_step(j)
        elif j == call.end - 1:
            steps[j] = sweep.call_step(call.first, call.end, call.func, call.args)
    for ref, got in sweep.received.items():
        if ref in steps:
            steps[ref].received = got
    partials = {name: [j for j in steps if steps[j].mask >> k & 1]
                for k, name in enumerate(run.wrt)}
    return Steps(sweep.target, steps, partials, collapse)


# ---------------------------------------------------------------- formulas (SymPy)


_INDEXED = r"^(.+)\[(\d+(?:,\d+)?)\]$"


class _Formulas:
    """The SymPy side of the sweep: a formula per node value, local derivatives from SymPy's
    derivative of each primitive's counterpart, and adjoints as sums of products."""

    def __init__(self, run: Run):
        import re

        from .convert import namespace

        self.sp = namespace()
        self.run = run
        self.nodes = run.nodes
        self.values: dict[int, Any] = {}
        self.shapes: dict[str, tuple[int, ...]] = {}
        self.templates: dict[tuple[Any, ...], Any] = {}
        self.indexed = re.compile(_INDEXED)
        # a name assigned more than once (c, c#2, ...) stands for no one value: its nodes are
        # written out like unnamed ones
        self.reassigned = {n.label.split("#")[0] for n in run.nodes if n.label and "#" in n.label}

    # ---------------------------------------------------------- values

    def symbols(self, name: str, shape: tuple[int, ...]) -> Any:
        """A name's symbol, or a tuple (of rows) of its components' symbols `w[0]`."""
        sym = self.sp.Symbol
        if not shape:
            return sym(name, real=True)
        self.shapes[name] = shape
        if len(shape) == 1:
            return tuple(sym(f"{name}[{k}]", real=True) for k in range(shape[0]))
        return tuple(tuple(sym(f"{name}[{i},{j}]", real=True) for j in range(shape[1]))
                     for i in range(shape[0]))

    def literal(self, value: Any) -> Any:
        """A number of the tape as SymPy writes it: an integer, a short fraction (0.1 as
        1/10), else a symbol named by its digits."""
        sp = self.sp
        if np.ndim(value):
            rows = [self.literal(v) for v in np.asarray(value)]
            return tuple(rows)
        v = float(value)
        if not math.isfinite(v):
            return sp.Symbol(f"{v}")
        if v == int(v) and abs(v) < 1e15:
            return sp.Integer(int(v))
        f = fractions.Fraction(repr(v))
        if f.numerator < 10 ** 12 and f.denominator < 10 ** 12:
            return sp.Rational(f.numerator, f.denominator)
        return sp.Symbol(repr(v), real=True, positive=v > 0 or None, negative=v < 0 or None)

    def const(self, ref: Const) -> Any:
        if ref.name in ops.CONSTANTS and np.ndim(ref.value) == 0 \
                and float(ref.value) == ops.CONSTANTS[ref.name][0]:
            return ops.CONSTANTS[ref.name][1](self.sp)
        if ref.name is not None:
            return self.symbols(ref.name, np.shape(ref.value))
        return self.literal(ref.value)

    def value(self, j: int) -> Any:
        """Node j's formula: its name's symbol, or (unnamed) its operation on its inputs'
        formulas while at most INLINE long, else the symbol of its id."""
        got = self.values.get(j)
        if got is not None:
            return got
        node = self.nodes[j]
        label = node.label
        shape = np.shape(node.value)
        if node.prim is not None and (label is None or "/" in label or "#" in label
                                      or label in self.reassigned):
            args = [self.value(r) if type(r) is int else self.const(r) for r in node.inputs]
            from .convert import apply_primitive

            try:
                e = apply_primitive(node.prim, args)
                whole = self.elementwise(e) if isinstance(e, tuple) else e
                if whole is not None and _size(whole, INLINE) <= INLINE:
                    self.values[j] = e
                    return e
            except Exception:  # noqa: BLE001 - SymPy refused: the node is named by its id
                pass
            got = self.symbols(node.ref, shape)
        else:
            got = self.symbols(node.title, shape)
        self.values[j] = got
        return got

    # ---------------------------------------------------------- local derivatives

    def jacobian(self, j: int, args: Sequence[int]) -> dict[int, Any]:
        """For each argument index in args: the Jacobian of node j with respect to it, as a
        list of rows (one per output component) of SymPy entries; None beyond PAIRS."""
        node = self.nodes[j]
        sig: list[Any] = []
        values: list[Any] = []
        for r in node.inputs:
            if type(r) is int:
                sig.append(("v", np.shape(self.nodes[r].value)))
                values.append(self.value(r))
            else:
                sig.append(("c", repr(np.asarray(r.value).tolist()), r.name))
                values.append(self.const(r))
        key = (node.prim.name if node.prim else "", *sig)
        template = self.templates.get(key)
        if template is None:
            template = self.templates[key] = self.template(node.prim, sig, values)
        dummies, _, parts = template
        put: dict[Any, Any] = {}
        for d, v in zip(dummies, values, strict=True):
            if d is not None:
                for a, b in zip(_flat(d), _flat(v), strict=True):
                    put[a] = b
        out: dict[int, Any] = {}
        for i in args:
            rows = parts.get(i)
            out[i] = None if rows is None else [[e.xreplace(put) for e in row] for row in rows]
        return out

    def template(self, prim: ops.Primitive | None, sig: Sequence[Any], values: Sequence[Any]
                 ) -> tuple[list[Any], Any, dict[int, Any]]:
        """prim applied to placeholder symbols (constants as they are), and its derivative by
        each placeholder argument: (placeholders per argument or None, outputs, argument ->
        Jacobian rows)."""
        from .convert import apply_primitive

        sp = self.sp
        dummies: list[Any] = []
        call: list[Any] = []
        for k, (s, v) in enumerate(zip(sig, values, strict=True)):
            if s[0] == "c":
                dummies.append(None)
                call.append(v)
                continue
            shape = s[1]
            if not shape:
                d: Any = sp.Dummy(f"u{k}", real=True)
            elif len(shape) == 1:
                d = tuple(sp.Dummy(f"u{k}_{i}", real=True) for i in range(shape[0]))
            else:
                d = tuple(tuple(sp.Dummy(f"u{k}_{i}_{m}", real=True) for m in range(shape[1]))
                          for i in range(shape[0]))
            dummies.append(d)
            call.append(d)
        assert prim is not None
        f = apply_primitive(prim, call)
        outs = _flat(f)
        parts: dict[int, Any] = {}
        for k, d in enumerate(dummies):
            if d is None:
                continue
            ins = _flat(d)
            if len(outs) * len(ins) > PAIRS:
                continue
            parts[k] = [[sp.diff(o, u) if u in o.free_symbols else sp.S.Zero for u in ins]
                        for o in outs]
        return dummies, f, parts

    # ---------------------------------------------------------- printing

    def text(self, value: Any) -> tuple[str, bool] | None:
        """A formula in the input language and whether it needs parentheses as a factor; a
        vector or matrix elementwise where it can be (`cos(w)`), else its components when
        few; None beyond FORMULA or SHOWN."""
        from .convert import form

        if not isinstance(value, tuple):
            if _size(value, FORMULA) > FORMULA:
                return None
            text = form(value)
            return text, _needs_parens(text)
        whole = self.elementwise(value)
        if whole is not None:
            if _size(whole, FORMULA) > FORMULA:
                return None
            text = form(whole)
            return text, _needs_parens(text)
        flat = _flat(value)
        if len(flat) > SHOWN or any(_size(e, FORMULA) > FORMULA for e in flat):
            return None
        if isinstance(value[0], tuple):
            return "[" + ", ".join("[" + ", ".join(form(e) for e in row) + "]"
                                   for row in value) + "]", False
        return "[" + ", ".join(form(e) for e in value) + "]", False

    def elementwise(self, value: tuple[Any, ...]) -> Any | None:
        """One formula for all components, where component k uses only components k of
        vectors of the same shape (written by their names), else None."""
        sp = self.sp
        shape = (len(value), len(value[0])) if isinstance(value[0], tuple) else (len(value),)
        keys = [f"{i},{m}" for i in range(shape[0]) for m in range(shape[1])] \
            if len(shape) == 2 else [str(k) for k in range(shape[0])]
        common = None
        for key, e in zip(keys, _flat(value), strict=True):
            put = {}
            for s in e.free_symbols:
                m = self.indexed.match(s.name)
                if m is None:
                    continue
                if m.group(2) != key or self.shapes.get(m.group(1)) != shape:
                    return None
                put[s] = sp.Symbol(m.group(1), real=True)
            e = e.xreplace(put)
            if common is None:
                common = e
            elif e != common:
                return None
        return common


def _flat(x: Any) -> list[Any]:
    if not isinstance(x, tuple):
        return [x]
    if x and isinstance(x[0], tuple):
        return [c for row in x for c in row]
    return list(x)


def _shaped(flat: list[Any], shape: tuple[int, ...]) -> Any:
    if not shape:
        return flat[0]
    if len(shape) == 1:
        return tuple(flat)
    return tuple(tuple(flat[i * shape[1]:(i + 1) * shape[1]]) for i in range(shape[0]))


def _size(e: Any, limit: int) -> int:
    """The number of nodes of a SymPy expression (or of all components), counting no further
    than limit + 1."""
    from sympy import Basic

    n = 0
    stack = list(_flat(e))
    while stack:
        x = stack.pop()
        n += 1
        if n > limit:
            return n
        if isinstance(x, Basic):
            stack.extend(x.args)
    return n


def _needs_parens(text: str) -> bool:
    """Whether a printed formula needs parentheses as a factor of a product: it has an
    operator outside parentheses (other than ^), or starts with a minus."""
    depth = 0
    for ch in text:
        if ch in "([":
            depth += 1
        elif ch in ")]":
            depth -= 1
        elif depth == 0 and ch in "+-*/ ":
            return True
    return False


def formulas(run: Run, steps: Steps) -> dict[int, dict[str, Any]]:
    """In the budgeted child: per step, its adjoint's formula, each local derivative's and
    each contribution's ("adjoint * local"), keyed as in the steps. Plain strings, so the
    result crosses back from the child."""
    fx = _Formulas(run)
    sp = fx.sp
    nodes = run.nodes
    adjoint: dict[int, Any] = {}          # node id -> SymPy adjoint (None: too long)
    sums: dict[int, list[Any]] = {}        # node id -> contributions received (None: unknown)
    out: dict[int, dict[str, Any]] = {}
    for j in sorted(steps.steps, reverse=True):
        step = steps.steps[j]
        if j == steps.output:
            a: Any = sp.S.One
        else:
            got = sums.pop(j, [])
            a = None if not got or any(c is None for c in got) or sum(
                _size(c, 2 * FORMULA) for c in got) > 2 * FORMULA else _add(got)
            if a is not None and _size(a, FORMULA) > FORMULA:
                a = None   # (contributions twice as long in all are not even added up)
        adjoint[j] = a
        shown = None if a is None else fx.text(a)
        entry: dict[str, Any] = {"formula": None if shown is None else shown[0],
                                 "locals": {}, "products": {}}
        out[j] = entry
        if step.first != j:
            _call_formulas(fx, step, a, shown, entry, sums)
            continue
        if not step.locals:
            continue
        jac = fx.jacobian(j, [loc.arg for loc in step.locals])
        node = nodes[j]
        for loc in step.locals:
            rows = jac.get(loc.arg)
            in_shape = np.shape(nodes[loc.input].value)
            local, product, contribution = _local(fx, node, rows, in_shape, a, shown)
            if in_shape and (local is None or local.startswith("[")):
                # a Jacobian, or a gradient by a vector or matrix: the Matrix Cookbook's form
                local, product = _cookbook(fx, node, loc, shown, steps.steps[loc.input],
                                           local, product)
            entry["locals"][loc.input] = local
            entry["products"][(j, loc.arg, loc.input)] = product
            sums.setdefault(loc.input, []).append(contribution)
    return out


def _cookbook(fx: _Formulas, node: Node, loc: Local, shown: tuple[str, bool] | None,
              into: Step, local: str | None, product: str | None
              ) -> tuple[str | None, str | None]:
    """(local, product) in matrix notation where SymPy's matrix calculus (symbolic.matrix_form)
    gives them and their numbers are the tape's here: for a scalar result, its gradient by a
    vector or matrix argument (`inv(transpose(A))`), times the adjoint; for a vector or matrix
    result, the adjoint's product with it differentiated (`transpose(X)@(2*t2 - 2*y)`). Else
    the (local, product) given."""
    import re

    from ..lang.syntax import parse
    from .matrix_form import gradients

    nodes = fx.nodes
    names = [f"u{k}" for k in range(len(node.inputs))]
    bindings: dict[str, Any] = {n: nodes[r].value if type(r) is int else r.value
                                for n, r in zip(names, node.inputs, strict=True)}
    op = operation(nodes, node, names)
    scalar = np.ndim(node.value) == 0
    if scalar:   # the gradient itself: its numbers are the rule's with a unit cotangent
        text, want = op, loc.value
    else:
        bindings["adj"] = fx.run.backward.adjoints[node.id] if fx.run.backward else None
        want = next((r.value for r in into.received if r.source == node.id and r.arg == loc.arg),
                    None)
        text = {1: f"adj@({op})", 2: f"trace(transpose(adj)@({op}))"}[np.ndim(node.value)]
    if want is None or shown is None and not scalar:
        return local, product
    try:
        forms, _ = gradients(parse(text), bindings, [names[loc.arg]], {names[loc.arg]: want})
    except Exception:  # noqa: BLE001 - outside what the matrix calculus covers
        return local, product
    form = forms.get(names[loc.arg])
    if form is None or re.search(r"\bI\b", form.text):   # (SymPy's identity matrix: no
        return local, product                             # spelling in the language)
    titles = {n: nodes[r].title if type(r) is int else _input_text(nodes, r)
              for n, r in zip(names, node.inputs, strict=True)}
    bare = "" if shown is None else shown[0]
    adj = f"({bare})" if shown is not None and shown[1] else bare

    def put(m: re.Match[str]) -> str:
        if m.group(1) != "adj":
            return titles[m.group(1)]
        alone = m.string[m.start() - 1:m.start()] in "(" and m.string[m.end():m.end() + 1] in ",)" \
            or m.string[m.start() - 2:m.start()] == ", " and m.string[m.end():m.end() + 1] in ",)"
        return bare if alone else adj   # an argument by itself needs no parentheses

    found = re.sub(r"\b(u\d+|adj)\b", put, form.text)
    if not scalar:
        return local, found
    wrapped = f"({found})" if _needs_parens(found) else found
    return found, None if shown is None else f"{adj if shown[1] else shown[0]} * {wrapped}"


def _add(parts: list[Any]) -> Any:
    if not isinstance(parts[0], tuple):
        from .convert import namespace

        return namespace().Add(*parts)
    flat = [_flat(p) for p in parts]
    total = [sum(col[1:], col[0]) for col in zip(*flat, strict=True)]
    first = parts[0]
    shape = (len(first), len(first[0])) if isinstance(first[0], tuple) else (len(first),)
    return _shaped(total, shape)


def _local(fx: _Formulas, node: Node, rows: Any, in_shape: tuple[int, ...], a: Any,
           shown: tuple[str, bool] | None) -> tuple[str | None, str | None, Any]:
    """(the local derivative's text, the contribution as "adjoint * local", the
    contribution's SymPy value) of one argument of a node, from its Jacobian rows."""
    if rows is None:
        return None, None, None
    sp = fx.sp
    out_shape = np.shape(node.value)
    n_out, n_in = len(rows), len(rows[0])
    local: Any = None
    how = ""
    if n_out == 1 and n_in == 1:
        local, how = rows[0][0], "times"
    elif n_out == 1:
        local, how = _shaped(list(rows[0]), in_shape), "times"
    elif n_in == 1:
        local, how = _shaped([r[0] for r in rows], out_shape), "sum"
    elif n_out == n_in and not (node.prim and node.prim.reduction) and all(
            rows[p][q] == 0 for p in range(n_out) for q in range(n_in) if p != q):
        local, how = _shaped([rows[k][k] for k in range(n_out)], out_shape), "times"
    local_text = None if local is None else fx.text(local)
    contribution = None
    if a is not None:
        flat_a = _flat(a)
        total = [sp.Add(*(flat_a[p] * rows[p][q] for p in range(n_out) if rows[p][q] != 0))
                 for q in range(n_in)]
        contribution = _shaped(total, in_shape)
    product = None
    if shown is not None and local_text is not None:
        pa = f"({shown[0]})" if shown[1] else shown[0]
        pl = f"({local_text[0]})" if local_text[1] else local_text[0]
        product = f"{pa} * {pl}" if how == "times" else f"sum({pa} * {pl})"
    elif contribution is not None:
        got = fx.text(contribution)
        product = None if got is None else got[0]
    return None if local_text is None else local_text[0], product, contribution


def _call_formulas(fx: _Formulas, step: Step, a: Any, shown: tuple[str, bool] | None,
                   entry: dict[str, Any], sums: dict[int, list[Any]]) -> None:
    """A collapsed call: the derivative of its result with respect to each outside input
    (a sweep of formulas over the call's nodes from a unit seed), and its contributions."""
    sp = fx.sp
    nodes = fx.nodes
    unit: dict[int, list[Any] | None] = {step.node: [sp.S.One]}
    outside: dict[int, list[Any] | None] = {}
    inputs = {loc.input for loc in step.locals}
    for j in range(step.node, step.first - 1, -1):
        node = nodes[j]
        parts = unit.pop(j, None)
        if node.prim is None or parts is None:
            continue
        u = _add(parts)
        args = [i for i, r in enumerate(node.inputs)
                if type(r) is int and node.prim.vjp(i) is not None
                and (step.first <= r <= step.node or r in inputs)]
        jac = fx.jacobian(j, args)
        for i in args:
            ref = node.inputs[i]
            assert type(ref) is int
            rows = jac.get(i)
            c = None if rows is None else \
                _local(fx, node, rows, np.shape(nodes[ref].value), u, None)[2]
            into = unit if step.first <= ref <= step.node else outside
            prev = into.get(ref, [])
            into[ref] = None if c is None or prev is None else [*prev, c]
    for loc in step.locals:
        parts = outside.get(loc.input)
        local = None if not parts else _add(parts)
        local_text = None if local is None else fx.text(local)
        entry["locals"][loc.input] = None if local_text is None else local_text[0]
        contribution = None if a is None or local is None else _times(a, local)
        product = None
        if shown is not None and local_text is not None:
            pa = f"({shown[0]})" if shown[1] else shown[0]
            pl = f"({local_text[0]})" if local_text[1] else local_text[0]
            product = f"{pa} * {pl}"
        entry["products"][(step.node, -1, loc.input)] = product
        sums.setdefault(loc.input, []).append(contribution)


def _times(a: Any, local: Any) -> Any:
    if not isinstance(local, tuple):
        return a * local
    shape = (len(local), len(local[0])) if isinstance(local[0], tuple) else (len(local),)
    return _shaped([a * e for e in _flat(local)], shape)


def merge(steps: Steps, found: dict[int, dict[str, Any]]) -> None:
    """Put the formulas from the child into the steps."""
    steps.formulas = True
    for j, entry in found.items():
        step = steps.steps[j]
        step.formula = entry["formula"]
        for loc in step.locals:
            loc.formula = entry["locals"].get(loc.input)
    for j, step in steps.steps.items():
        for r in step.received:
            r.product = found.get(r.source, {}).get("products", {}).get((r.source, r.arg, j))
