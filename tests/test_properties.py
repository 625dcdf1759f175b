"""Property tests: random expressions over the whole op table; the tape, SymPy and an
independent mpmath finite difference must agree, and every output format carries the same numbers.

Run more examples with `python -m pytest --slow tests/test_properties.py`.
"""

from __future__ import annotations

import csv
import io
import json
import math
from typing import Any

import mpmath
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

import reference_ops
from gradcalc import ops
from gradcalc.engine.evaluate import run
from gradcalc.lang.syntax import (
    Binary,
    Call,
    Name,
    Num,
    Unary,
    parse,
    parse_expression,
    postorder,
    to_source,
)
from gradcalc.symbolic import convert as symbolic

mpmath.mp.dps = 50
NAMES = ("x", "y", "z")



def _mp(spelling: str) -> Any:
    """The mpmath definition (tests/reference_ops.py) of what spelling(...) means."""
    return lambda *a: reference_ops.ELEMENTWISE[ops.resolve(spelling, len(a)).name](*a)


# Independent mpmath definitions of each function spelled in the language.
MP = {spelling: _mp(spelling) for spelling in ops.FUNCTIONS}
BINARY_MP = {"+": lambda a, b: a + b, "-": lambda a, b: a - b, "*": lambda a, b: a * b,
             "/": lambda a, b: a / b, "^": mpmath.power}

# Every spelled primitive except stop_gradient (finite differences see through it) and the
# piecewise ones whose kinks make finite differences meaningless near ties; not the reductions,
# which take vectors.
SMOOTH_CALLS = sorted({(p.spelling, p.arity or 2) for p in ops.PRIMITIVES
                       if p.spelling and p.name not in ("stop_gradient",) and not p.reduction})


def _squash(text: str, lo: float, hi: float) -> str:
    """Map any real into (lo, hi) smoothly, so every argument lies in its function's domain."""
    return f"({lo!r} + {hi - lo!r}*sigmoid({text}))"


@st.composite
def expressions(draw: st.DrawFn, depth: int = 3) -> str:
    """Source text of a random expression over the op table, defined on all of R^3."""
    if depth == 0 or draw(st.integers(0, 3)) == 0:
        if draw(st.booleans()):
            return draw(st.sampled_from(NAMES))
        return repr(draw(st.sampled_from([0.5, 1.5, 2.0, 3.0, 0.25])))
    kind = draw(st.sampled_from(["binary", "unary", "call", "call"]))
    if kind == "unary":
        return f"-({draw(expressions(depth - 1))})"
    if kind == "binary":
        op = draw(st.sampled_from(["+", "-", "*", "/", "^"]))
        left, right = draw(expressions(depth - 1)), draw(expressions(depth - 1))
        if op == "/":
            right = f"(1 + ({right})^2)"  # never zero
        if op == "^":
            left = _squash(left, 0.5, 2.0)
            right = _squash(right, -2.0, 2.0)
        return f"({left}) {op} ({right})"
    spelling, nargs = draw(st.sampled_from(SMOOTH_CALLS))
    prim = ops.resolve(spelling, nargs)
    assert prim is not None
    args = []
    for i in range(nargs):
        arg = draw(expressions(depth - 1))
        lo, hi = prim.sample_interval(i)
        if prim.domain is not None or prim.kink is not None or spelling in ("tan", "pow"):
            arg = _squash(arg, lo, hi)
        args.append(arg)
    return f"{spelling}({', '.join(args)})"


points = st.fixed_dictionaries({n: st.floats(-2, 2, allow_nan=False).map(lambda v: round(v, 3))
                                for n in NAMES})


def mp_eval(source: str, point: dict[str, mpmath.mpf]) -> mpmath.mpf:
    """Evaluate our syntax tree with mpmath: an evaluator independent of the op table."""
    stack: list[mpmath.mpf] = []
    for node in postorder(parse_expression(source)):
        if isinstance(node, Num):
            stack.append(mpmath.mpf(node.text))
        elif isinstance(node, Name):
            stack.append(point[node.id])
        elif isinstance(node, Unary):
            stack.append(-stack.pop() if node.op == "-" else stack.pop())
        elif isinstance(node, Binary):
            b, a = stack.pop(), stack.pop()
            stack.append(BINARY_MP[node.op](a, b))
        elif isinstance(node, Call):
            n = len(node.args)
            args = stack[len(stack) - n:]
            del stack[len(stack) - n:]
            stack.append(MP[node.func](*args))
    return stack[0]


def mp_partial(source: str, point: dict[str, float], name: str) -> float:
    at = {k: mpmath.mpf(v) for k, v in point.items()}

    def f(t: mpmath.mpf) -> mpmath.mpf:
        return mp_eval(source, {**at, name: t})

    return float(mpmath.diff(f, at[name]))


def agree(a: float, b: float, scale: float) -> bool:
    return abs(a - b) <= 1e-7 * max(1.0, abs(a), abs(b), scale)


@settings(suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(expressions(), points)
def test_tape_sympy_and_finite_differences_agree(source: str, point: dict[str, float]) -> None:
    result = run(parse(source), point)
    value = float(result.value)
    assume(math.isfinite(value) and abs(value) < 1e8)
    grad = result.gradient()
    assume(all(g is None or (math.isfinite(g) and abs(g) < 1e8) for g in grad.values()))
    expr = symbolic.program_to_sympy(result.program, list(point))
    assert agree(value, float(mp_eval(source, {k: mpmath.mpf(v) for k, v in point.items()})),
                 0.0)
    for name in NAMES:
        reference = mp_partial(source, point, name)
        tape = 0.0 if grad[name] is None else float(grad[name])
        sym = symbolic.evaluate(symbolic.derivative(expr, name), point)
        assert isinstance(sym, float)
        assert agree(tape, reference, abs(value)), (name, tape, reference)
        assert agree(sym, reference, abs(value)), (name, sym, reference)


def _shape(source: str) -> list[tuple[str, object]]:
    out: list[tuple[str, object]] = []
    for node in postorder(parse_expression(source)):
        key: object = {Num: lambda n: n.value, Name: lambda n: n.id, Unary: lambda n: n.op,
                       Binary: lambda n: n.op, Call: lambda n: (n.func, len(n.args))}[
            type(node)](node)
        out.append((type(node).__name__, key))
    return out


@given(expressions(depth=4))
def test_printing_then_parsing_gives_the_same_tree(source: str) -> None:
    printed = to_source(parse_expression(source))
    assert _shape(printed) == _shape(source)
    assert to_source(parse_expression(printed)) == printed


@settings(deadline=None, max_examples=25,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(expressions(depth=2), points)
def test_text_json_and_csv_carry_the_same_numbers(gradcalc, source: str,
                                                  point: dict[str, float]) -> None:
    at = ",".join(f"{k}={point[k]!r}" for k in NAMES)
    js = gradcalc("--at", at, "--format", "json", "--no-check", "--", source)
    obj = json.loads(js.out)
    rows = list(csv.reader(io.StringIO(gradcalc("--at", at, "--format", "csv", "--no-check",
                                                "--", source).out)))
    text = gradcalc("--at", at, "--no-check", "--", source).out
    assert rows[0] == ["value"] + [f"d_{n}" for n in NAMES]

    def same(a: object, b: str) -> bool:
        if a is None:
            return b in ("", "null")
        if isinstance(a, str):
            return a == b
        return float(b) == pytest.approx(float(a), rel=1e-14, abs=0)

    assert same(obj["value"], rows[1][0])
    assert same(obj["value"], text.splitlines()[0].split()[1])
    cells = {line.split()[0]: line.split()[1] for line in text.splitlines() if "d/d" in line}
    for i, name in enumerate(NAMES):
        assert same(obj["gradient"][name], rows[1][i + 1])
        assert same(obj["gradient"][name], cells[f"d/d{name}"])
