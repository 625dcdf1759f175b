"""Per-node cost: eval+grad at 100k tape nodes against a minimal pure-Python tape.

The yardstick (MiniTape below, about 70 lines) is the least a reverse-mode tape can do in
Python: Python floats, one list of (inputs, local gradients) records appended as each operation
runs, one reverse loop. gradcalc is measured on the same computation three ways:

- API: Variables on a Tape, the operations written in Python, then tape.gradient.
- engine: the CLI's engine, run() on a parsed program (forward on the tape, then backward);
  parsing is outside.
- whole CLI: `gradcalc -f PROG --no-check` on that program, against the tiny call
  `gradcalc x*y --at x=1,y=2 --no-check` (start-up, parse, report).

Memory: the tape's bytes per node (tracemalloc, the run() result kept alive).

Then where a whole CLI call's time goes, each part against the same yardstick: parsing the
program text, the forward run on the tape (run() without its backward pass), the backward
sweep alone, and the VJP rules alone (each rule of the tape called once at its recorded
values, nothing accumulated: a floor for any sweep that calls the op table's rules).
"""

from __future__ import annotations

import gc
import math
import os
import tempfile
import tracemalloc

from common import REPEATS, Row, gradcalc_argv, paired_command_times, paired_times, print_table

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
    import numpy as np

    from gradcalc.engine.tape import Tape, Variable

    x, y = Variable(x0), Variable(y0)
    with Tape() as tape:
        acc = y
        for k in range(STEPS):
            acc = np.sin(x * (1.0 + k % 7)) * acc / y + x
    return tape.gradient(acc, [x, y])


def program_text() -> str:
    """The same computation as a gradcalc program, one statement per step."""
    lines = ["a = y"]
    lines += [f"a = sin(x*{1.0 + k % 7!r})*a/y + x" for k in range(STEPS)]
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


def memory_per_node(program: object, bindings: dict[str, float]) -> tuple[float, int]:
    """Bytes per tape node held by a run() result, and the node count."""
    from gradcalc.engine.evaluate import run

    gc.collect()
    tracemalloc.start()
    base = tracemalloc.get_traced_memory()[0]
    result = run(program, bindings)  # type: ignore[arg-type]
    used = tracemalloc.get_traced_memory()[0] - base
    tracemalloc.stop()
    n = len(result.nodes)
    return used / n, n


def parts(text: str, program: object, bindings: dict[str, float], repeats: int) -> list[Row]:
    """Parse, forward, backward and the VJP rules alone, each against the minimal tape."""
    import numpy as np

    from gradcalc.engine import evaluate
    from gradcalc.engine.tape import backward
    from gradcalc.lang.syntax import parse

    result = evaluate.run(program, bindings)  # type: ignore[arg-type]
    nodes = result.nodes
    target = result.target_id()
    sources = [result.tape.node_of(result.sources[n]).id for n in result.wrt]

    def forward_only() -> None:
        saved = evaluate.Run.backprop
        evaluate.Run.backprop = lambda self: None  # type: ignore[method-assign]
        try:
            evaluate.run(program, bindings)  # type: ignore[arg-type]
        finally:
            evaluate.Run.backprop = saved  # type: ignore[method-assign]

    def rules_only() -> None:
        g = np.float64(1.0)
        with np.errstate(all="ignore"):
            for node in nodes:
                if node.prim is not None:
                    args = [nodes[r].value if type(r) is int else r.value for r in node.inputs]
                    for rule in node.prim.vjps:
                        if rule is not None:
                            rule(g, node.value, *args)

    mini_run = _paused(lambda: mini(*bindings.values()))
    rows = []
    for label, fn in (("parse the program text", lambda: parse(text)),
                      ("forward: run() without the backward pass", forward_only),
                      ("backward sweep alone", lambda: backward(nodes, target, sources,
                                                                np.float64(1.0))),
                      ("VJP rules alone (no sweep)", rules_only)):
        t, t_mini = paired_times(_paused(fn), mini_run, repeats)
        rows.append(Row(f"{label} ({t / len(nodes) * 1e6:.2f} µs/node)", t,
                        "minimal Python tape (forward and backward)", t_mini, ""))
    return rows


def main() -> None:
    from gradcalc.engine.evaluate import run
    from gradcalc.lang.syntax import parse

    x0, y0 = 0.3, 1.7
    text = program_text()
    program = parse(text)
    bindings = {"x": x0, "y": y0}
    result = run(program, bindings)
    nodes = len(result.nodes)
    # the three computations agree (the yardstick is computing the same thing)
    want = mini(x0, y0)
    got = [float(g) for g in result.gradient().values()]
    assert all(math.isclose(a, b, rel_tol=1e-9) for a, b in zip(got, want, strict=True)), (
        got, want)
    repeats = min(REPEATS, 5)
    rows = []
    t_api, t_mini = paired_times(_paused(lambda: api(x0, y0)), _paused(lambda: mini(x0, y0)),
                                 repeats)
    rows.append(Row(f"API eval+grad, {nodes:,} nodes ({t_api / nodes * 1e6:.1f} µs/node)",
                    t_api, "minimal Python tape", t_mini, "<= 2x"))
    t_run, t_mini = paired_times(lambda: run(program, bindings), _paused(lambda: mini(x0, y0)),
                                 repeats)
    rows.append(Row(f"engine run() eval+grad, {nodes:,} nodes "
                    f"({t_run / nodes * 1e6:.1f} µs/node)", t_run, "minimal Python tape",
                    t_mini, "<= 2x"))
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "prog.txt")
        with open(path, "w") as f:
            f.write(text)
        big = gradcalc_argv("-f", path, "--at", f"x={x0},y={y0}", "--no-check")
        tiny = gradcalc_argv("x*y", "--at", "x=1,y=2", "--no-check")
        t_big, t_tiny = paired_command_times(big, tiny, min(REPEATS, 3))
    rows.append(Row(f"whole CLI --no-check, {nodes:,} nodes "
                    f"({(t_big - t_tiny) / nodes * 1e6:.1f} µs/node over the tiny call)",
                    t_big, "tiny call", t_tiny, "<= 2x"))
    print_table("per-node cost at 100k nodes", rows)
    print_table("where the time goes, 100k nodes", parts(text, program, bindings, repeats))
    per_node, n = memory_per_node(program, bindings)
    print(f"\nmemory: {per_node:.0f} bytes per tape node ({n:,} nodes, run() result, "
          "tracemalloc)")


if __name__ == "__main__":
    main()
