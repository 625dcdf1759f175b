"""Per-slot cost of the flat engine at 100k instructions against a minimal pure-Python tape.

The yardstick (MiniTape below, about 70 lines) is the least a reverse-mode tape can do in
Python: Python floats, one list of (inputs, local gradients) records appended as each operation
runs, one reverse loop. gradcalc is measured on the same computation four ways:

- parse: the program text to flat instructions (engine.program.parse_flat, the CLI's parse).
- engine: run() on the parsed program (the forward loop over the instructions, then the
  backward loop); parsing is outside.
- API: Variables on a Tape, the operations written in Python, then tape.gradient.
- whole CLI: `gradcalc -f PROG --no-check` on that program, against the tiny call
  `gradcalc x*y --at x=1,y=2 --no-check` (start-up, parse, report).

Memory: bytes per slot held by the parsed program and its run() result (tracemalloc), at two
sizes (linear when the two agree).

Then where the time goes, each part against the same yardstick: the syntax tree's parse (made
only when something reads it), the forward run alone, the backward pass alone, the tape's
nodes made from a run (only when something reads them), and the API's three parts: its
operations on tensors with no tape recording, the same recorded on a Tape, and tape.gradient
alone.

Last, the floors: the least any design that keeps the API's tensors and the op table's rules
can cost, each against the same yardstick.
- API dispatch: the API's code on a tensor class that records nothing (Python's operator
  overloading and numpy's __array_ufunc__ dispatch; the values computed, nothing else).
- API tape: the leanest tensor that records: each operation appends (primitive, argument
  positions, values) to one list, and one reverse loop calls the op table's VJP rules; no
  nested tapes, Variables, structures or checks.
- engine: the program flattened (outside the timing) to a list of instructions, run forward
  with the op table's forwards and backward with its rules; no tensors, nodes, spans or checks.
- whole CLI: the tiny call, plus the one C regular-expression pass that splits the program
  text into tokens, plus the engine floor; against the tiny call alone.
"""

from __future__ import annotations

import contextlib
import gc
import math
import os
import tempfile
import tracemalloc

import numpy as np

from common import REPEATS, Row, gradcalc_argv, paired_command_times, paired_times, print_table
from gradcalc import ops
from gradcalc.engine.api import _ufuncs

_F64 = np.float64
_UFUNCS = _ufuncs()  # numpy ufunc -> the op table's primitive, as the API's tensors map them
NODES = 100_000
STEPS = NODES // 5  # five tape nodes per step


class MiniTape:
    """The yardstick: a Wengert list of (input ids, local gradients) over Python floats."""

    def __init__(self) -> None:
        self.records: list[tuple[tuple[int, ...], tuple[float, ...]]] = []
        self.values: list[float] = []

    def leaf(self, v: float) -> int:
        self.records.append(((), ()))
        self.values.append(v)
        return len(self.values) - 1

    def _push(self, v: float, inputs: tuple[int, ...], grads: tuple[float, ...]) -> int:
        self.records.append((inputs, grads))
        self.values.append(v)
        return len(self.values) - 1

    def add(self, a: int, b: int) -> int:
        return self._push(self.values[a] + self.values[b], (a, b), (1.0, 1.0))

    def mul(self, a: int, b: int) -> int:
        va, vb = self.values[a], self.values[b]
        return self._push(va * vb, (a, b), (vb, va))

    def mulc(self, a: int, c: float) -> int:
        return self._push(self.values[a] * c, (a,), (c,))

    def div(self, a: int, b: int) -> int:
        va, vb = self.values[a], self.values[b]
        return self._push(va / vb, (a, b), (1.0 / vb, -va / (vb * vb)))

    def sin(self, a: int) -> int:
        va = self.values[a]
        return self._push(math.sin(va), (a,), (math.cos(va),))

    def gradient(self, target: int, sources: list[int]) -> list[float]:
        adj = [0.0] * len(self.values)
        adj[target] = 1.0
        records = self.records
        for j in range(target, -1, -1):
            g = adj[j]
            if g == 0.0:
                continue
            inputs, grads = records[j]
            for i, d in zip(inputs, grads, strict=True):
                adj[i] += g * d
        return [adj[s] for s in sources]


def mini(x0: float, y0: float) -> list[float]:
    """The computation below on the yardstick tape: its two partials."""
    t = MiniTape()
    x, y = t.leaf(x0), t.leaf(y0)
    acc = y
    for k in range(STEPS):
        u = t.sin(t.mulc(x, 1.0 + k % 7))   # sin(x*c)
        acc = t.add(t.div(t.mul(u, acc), y), x)  # acc = sin(x*c)*acc/y + x
    return t.gradient(acc, [x, y])


def api(x0: float, y0: float) -> list[object]:
    """The same computation through gradcalc's Python API."""
    from gradcalc.engine.tape import Tape, Variable

    x, y = Variable(x0), Variable(y0)
    with Tape() as tape:
        acc = y
        for k in range(STEPS):
            acc = np.sin(x * (1.0 + k % 7)) * acc / y + x
    return tape.gradient(acc, [x, y])


def api_parts(x0: float, y0: float, repeats: int) -> list[Row]:
    """Where the API's time goes, against the minimal tape: the same operations on tensors with
    no tape recording (computing values, making tensors), the same recorded on a Tape, and
    tape.gradient called again on a persistent tape (its backward sweep over the flat list; the
    first call also makes the sweep's plan, so the API row's gradient costs a little more)."""
    from gradcalc.engine.tape import Tape, Variable

    def operations(record: bool) -> tuple[object, object, list[object]]:
        x, y = Variable(x0), Variable(y0)
        with Tape(persistent=True) as tape, tape.stop_recording() if not record \
                else contextlib.nullcontext():
            acc = y
            for k in range(STEPS):
                acc = np.sin(x * (1.0 + k % 7)) * acc / y + x
        return tape, acc, [x, y]

    tape, acc, sources = operations(True)
    tape.gradient(acc, sources)
    mini_run = _paused(lambda: mini(x0, y0))
    rows = []
    for label, fn in (("API: the operations on tensors, no tape recording",
                       lambda: operations(False)),
                      ("API: the operations recorded on a Tape (no gradient)",
                       lambda: operations(True)),
                      ("API: tape.gradient again, on a persistent tape",
                       lambda: tape.gradient(acc, sources))):
        t, t_mini = paired_times(_paused(fn), mini_run, repeats)
        rows.append(Row(f"{label} ({t / NODES * 1e6:.2f} µs/node)", t,
                        "minimal Python tape (forward and backward)", t_mini, ""))
    return rows


class Inert:
    """The API floor: a tensor that computes its value and records nothing."""

    __slots__ = ("value",)
    __array_priority__ = 1000

    def __init__(self, value: object) -> None:
        self.value = value

    def __add__(self, o: object) -> Inert:
        return Inert(self.value + (o.value if type(o) is Inert else o))  # type: ignore

    def __mul__(self, o: object) -> Inert:
        return Inert(self.value * (o.value if type(o) is Inert else o))  # type: ignore

    def __truediv__(self, o: object) -> Inert:
        return Inert(self.value / (o.value if type(o) is Inert else o))  # type: ignore

    def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):  # noqa: ANN001, ANN002, ANN003, ANN204
        return Inert(ufunc(*[i.value if type(i) is Inert else i for i in inputs]))


def inert(x0: float, y0: float) -> object:
    """The API's computation on tensors that record nothing: operator dispatch alone."""
    x, y = Inert(_F64(x0)), Inert(_F64(y0))
    acc = y
    for k in range(STEPS):
        acc = np.sin(x * (1.0 + k % 7)) * acc / y + x
    return acc


class Recorded:
    """The API tape floor: a tensor that records each operation on one flat list, TAPE, as
    (primitive, argument positions, argument values, value); see reverse()."""

    __slots__ = ("value", "at")
    __array_priority__ = 1000
    TAPE: list[tuple] = []

    def __init__(self, value: object, at: int) -> None:
        self.value = value
        self.at = at

    def _binary(self, prim: ops.Primitive, o: object) -> Recorded:
        tape = Recorded.TAPE
        x = self.value
        if type(o) is Recorded:
            y = o.value
            v = _F64(prim.scalar(x, y))  # type: ignore[misc]
            tape.append((prim, self.at, o.at, x, y, v))
        else:
            v = _F64(prim.scalar(x, o))  # type: ignore[misc]
            tape.append((prim, self.at, -1, x, o, v))
        return Recorded(v, len(tape) - 1)

    def __add__(self, o: object) -> Recorded:
        return self._binary(ops.ADD, o)

    def __mul__(self, o: object) -> Recorded:
        return self._binary(ops.MUL, o)

    def __truediv__(self, o: object) -> Recorded:
        return self._binary(ops.DIV, o)

    def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):  # noqa: ANN001, ANN002, ANN003, ANN204
        prim, x = _UFUNCS[ufunc], inputs[0]
        v = prim.forward(x.value)
        tape = Recorded.TAPE
        tape.append((prim, x.at, None, x.value, None, v))
        return Recorded(v, len(tape) - 1)


def reverse(tape: list[tuple], out: int, inputs: int) -> list[object]:
    """The floors' reverse loop: the op table's VJP rules over a flat tape of (primitive or None,
    argument positions a and b, argument values, value) records, b None for one argument and a
    position -1 for a constant; the partials of record `out` with respect to the first
    `inputs` records."""
    adj: list[object] = [None] * len(tape)
    adj[out] = _F64(1.0)
    for j in range(out, inputs - 1, -1):
        g = adj[j]
        prim, a, b, x, y, ans = tape[j]
        if g is None or prim is None:
            continue
        if b is None:
            d = prim.vjps[0](g, ans, x)
            adj[a] = d if adj[a] is None else adj[a] + d  # type: ignore[operator]
            continue
        rule_x, rule_y = prim.vjps
        if a >= 0:
            d = rule_x(g, ans, x, y)
            adj[a] = d if adj[a] is None else adj[a] + d  # type: ignore[operator]
        if b >= 0:
            d = rule_y(g, ans, x, y)
            adj[b] = d if adj[b] is None else adj[b] + d  # type: ignore[operator]
    return adj[:inputs]


def recorded(x0: float, y0: float) -> list[object]:
    """The API's computation on the API tape floor, then its reverse loop: the two partials."""
    tape = Recorded.TAPE
    tape.clear()
    x, y = Recorded(_F64(x0), 0), Recorded(_F64(y0), 1)
    tape += [(None, -1, -1, None, None, x.value), (None, -1, -1, None, None, y.value)]
    acc = y
    for k in range(STEPS):
        acc = np.sin(x * (1.0 + k % 7)) * acc / y + x
    return reverse(tape, acc.at, 2)


def flatten(program: object, names: list[str]) -> tuple[list[tuple], int]:
    """A program of assignments of +, -, *, /, calls, names and numbers as a flat list of
    instructions (primitive or None for a number, argument slots, number), and the output's
    slot; slot k holds the value of instruction k - len(names), the first slots the inputs."""
    from gradcalc.lang.syntax import Binary, Call, Name, Num

    code: list[tuple] = []
    slot = dict(zip(names, range(len(names)), strict=True))

    def visit(e: object) -> int:
        kind = type(e)
        if kind is Name:
            return slot[e.id]  # type: ignore[attr-defined]
        if kind is Num:
            code.append((None, (), float(e.value)))  # type: ignore[attr-defined]
        elif kind is Binary:
            a, b = visit(e.left), visit(e.right)  # type: ignore[attr-defined]
            code.append((ops.BINARY[e.op], (a, b), None))  # type: ignore[attr-defined]
        elif kind is Call:
            args = tuple(visit(a) for a in e.args)  # type: ignore[attr-defined]
            code.append((ops.resolve(e.func, len(args)), args, None))  # type: ignore
        else:
            raise TypeError(kind.__name__)
        return len(names) + len(code) - 1

    out = -1
    for stmt in program.statements:  # type: ignore[attr-defined]
        out = slot[stmt.target] = visit(stmt.value)
    return code, out


def lean_sweep(code: list[tuple], inputs: list[float], out: int) -> list[object]:
    """The engine floor: the op table's forwards over a flat instruction list, recorded as
    reverse() reads them, then reverse(): the partials of slot `out` with respect to the
    inputs. One and two arguments are unrolled (every primitive of the benchmark's program has
    one or two)."""
    tape: list[tuple] = [(None, -1, -1, None, None, _F64(v)) for v in inputs]
    put = tape.append
    for prim, args, number in code:
        if prim is None:
            put((None, -1, -1, None, None, _F64(number)))
        elif len(args) == 2:
            a, b = args
            x, y = tape[a][5], tape[b][5]
            scalar = prim.scalar
            put((prim, a, b, x, y, _F64(scalar(x, y)) if scalar is not None
                 else prim.forward(x, y)))
        else:
            a = args[0]
            x = tape[a][5]
            put((prim, a, None, x, None, prim.forward(x)))
    return reverse(tape, out, len(inputs))


def program_text(steps: int = STEPS) -> str:
    """The same computation as a gradcalc program, one statement per step."""
    lines = ["a = y"]
    lines += [f"a = sin(x*{1.0 + k % 7!r})*a/y + x" for k in range(steps)]
    return "\n".join(lines) + "\n"


def _paused(fn):  # noqa: ANN001, ANN202 - a timing helper
    def wrapper() -> object:
        was = gc.isenabled()
        gc.disable()
        try:
            return fn()
        finally:
            if was:
                gc.enable()
    return wrapper


def memory_per_slot(text: str, bindings: dict[str, float]) -> tuple[float, int]:
    """Bytes per instruction slot held by a parsed program and its run() result (no tape
    nodes: none are made unless something reads them), and the slot count."""
    from gradcalc.engine.evaluate import run
    from gradcalc.engine.program import parse_flat

    gc.collect()
    tracemalloc.start()
    base = tracemalloc.get_traced_memory()[0]
    result = run(parse_flat(text), bindings)
    used = tracemalloc.get_traced_memory()[0] - base
    tracemalloc.stop()
    return used / len(result.code), len(result.code)


def parts(text: str, program: object, bindings: dict[str, float], repeats: int) -> list[Row]:
    """The parts of a call against the minimal tape: the syntax tree's parse (what --tape,
    --steps and errors read), the forward run alone, the backward pass alone, and the tape's
    nodes made from the run (what --tape, --graph and why read)."""
    from gradcalc.engine import evaluate
    from gradcalc.lang.syntax import parse

    result = evaluate.run(program, bindings)  # type: ignore[arg-type]
    slots = len(result.code)

    def forward_only() -> None:
        saved = evaluate.Run.backprop
        evaluate.Run.backprop = lambda self: None  # type: ignore[method-assign]
        try:
            evaluate.run(program, bindings)  # type: ignore[arg-type]
        finally:
            evaluate.Run.backprop = saved  # type: ignore[method-assign]

    def nodes() -> None:
        result.ex.view = None
        result.view()

    # the backward pass as it was before the records' scalar forms: the same plan with each
    # S1 instruction (a record with forms on Python floats) run as F1 (its numpy rule on
    # float64 scalars); the old design's figure beside the new, in the same run
    from gradcalc.engine import sweep

    ex, code = result.ex, result.code
    plan = [(sweep.F1 if e[0] == sweep.S1 else e[0], *e[1:]) for e in code.plan()[0]]

    def numpy_rules() -> None:
        with sweep.quiet():
            sweep.scalar_backward(plan, ex.prims, ex.args, ex.values, code.dep, result.out)

    mini_run = _paused(lambda: mini(*bindings.values()))
    rows = []
    for label, fn in (("the syntax tree's parse (read on demand)", lambda: parse(text)),
                      ("forward: run() without the backward pass", forward_only),
                      ("backward pass alone", result.backprop),
                      ("backward pass alone, the numpy rules (before the scalar forms)",
                       numpy_rules),
                      ("the tape's nodes, made on demand", nodes)):
        t, t_mini = paired_times(_paused(fn), mini_run, repeats)
        rows.append(Row(f"{label} ({t / slots * 1e6:.2f} µs/slot)", t,
                        "minimal Python tape (forward and backward)", t_mini, ""))
    return rows


def floors(text: str, program: object, bindings: dict[str, float], repeats: int,
           t_tiny: float) -> list[Row]:
    """The floors (see the module's docstring), each against the minimal tape; the whole CLI's
    against the tiny call."""
    from gradcalc.lang.syntax import _TEXTS

    code, out = flatten(program, list(bindings))
    inputs = list(bindings.values())
    want = mini(*inputs)
    with np.errstate(all="ignore"):
        for got in (lean_sweep(code, inputs, out), recorded(*inputs)):
            assert all(math.isclose(a, b, rel_tol=1e-9)  # type: ignore[arg-type]
                       for a, b in zip(got, want, strict=True)), (got, want)

    def quiet(fn):  # noqa: ANN001, ANN202 - a timing helper
        def wrapper() -> object:
            with np.errstate(all="ignore"):
                return fn()
        return _paused(wrapper)

    mini_run = _paused(lambda: mini(*inputs))
    rows = []
    for label, fn in (("API dispatch: its code on tensors that record nothing",
                       lambda: inert(*inputs)),
                      ("API tape: one flat list, the op table's rules",
                       lambda: recorded(*inputs)),
                      ("engine: a flat instruction list, the op table's forwards and rules",
                       lambda: lean_sweep(code, inputs, out))):
        t, t_mini = paired_times(quiet(fn), mini_run, repeats)
        rows.append(Row(f"{label} ({t / NODES * 1e6:.2f} µs/node)", t, "minimal Python tape",
                        t_mini, ""))
    t_engine = rows[-1].ours
    t_split, _ = paired_times(_paused(lambda: _TEXTS.findall(text)), mini_run, repeats)
    rows.append(Row(f"whole CLI: the tiny call + tokenizing the text ({t_split * 1e3:.0f} ms) "
                    f"+ the engine floor", t_tiny + t_split + t_engine, "tiny call", t_tiny,
                    ""))
    return rows


def main() -> None:
    from gradcalc.engine.evaluate import run
    from gradcalc.engine.program import parse_flat
    from gradcalc.lang.syntax import parse

    x0, y0 = 0.3, 1.7
    text = program_text()
    program = parse_flat(text)   # the CLI's parse: flat instructions, no syntax tree
    bindings = {"x": x0, "y": y0}
    result = run(program, bindings)
    slots = len(result.code)
    # the computations agree (the yardstick is computing the same thing)
    want = mini(x0, y0)
    got = [float(g) for g in result.gradient().values()]
    assert all(math.isclose(a, b, rel_tol=1e-9) for a, b in zip(got, want, strict=True)), (
        got, want)
    repeats = min(REPEATS, 5)
    mini_run = _paused(lambda: mini(x0, y0))
    rows = []
    t, t_mini = paired_times(_paused(lambda: parse_flat(text)), mini_run, repeats)
    rows.append(Row(f"parse to flat instructions, {slots:,} slots "
                    f"({t / slots * 1e6:.2f} µs/slot)", t, "minimal Python tape", t_mini,
                    "<= 2.5x"))
    t, t_mini = paired_times(_paused(lambda: run(program, bindings)), mini_run, repeats)
    rows.append(Row(f"engine forward+backward, run() ({t / slots * 1e6:.2f} µs/slot)", t,
                    "minimal Python tape", t_mini, "<= 1x"))
    t, t_mini = paired_times(_paused(lambda: api(x0, y0)), mini_run, repeats)
    rows.append(Row(f"API eval+grad ({t / slots * 1e6:.2f} µs/node)", t,
                    "minimal Python tape", t_mini, "<= 3x"))
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "prog.txt")
        with open(path, "w") as f:
            f.write(text)
        big = gradcalc_argv("-f", path, "--at", f"x={x0},y={y0}", "--no-check")
        tiny = gradcalc_argv("x*y", "--at", "x=1,y=2", "--no-check")
        t_big, t_tiny = paired_command_times(big, tiny, min(REPEATS, 3))
    rows.append(Row(f"whole CLI --no-check ({(t_big - t_tiny) / slots * 1e6:.2f} µs/slot "
                    "over the tiny call)", t_big, "tiny call", t_tiny, "<= 2x"))
    print_table(f"the flat engine at {slots:,} slots", rows)
    print_table("where the time goes", parts(text, program, bindings, repeats)
                + api_parts(x0, y0, repeats))
    tree = parse(text)
    print_table("floors: the least that keeps the API's tensors and the op table's rules",
                floors(text, tree, bindings, repeats, t_tiny))
    for steps in (STEPS // 5, STEPS):
        per_slot, n = memory_per_slot(program_text(steps), bindings)
        print(f"memory: {per_slot:.0f} bytes per slot ({n:,} slots: the parsed program and "
              "its run() result, tracemalloc)")


if __name__ == "__main__":
    main()
