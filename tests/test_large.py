"""Large inputs: 100,000-node programs and 10,000-deep nesting parse, run, differentiate, print
and check with no recursion in gradcalc's own code (proved by running them under a recursion
limit far below their depth), and a check over its budget ends in a verdict."""

from __future__ import annotations

import json
import math
import sys
from collections.abc import Iterator
from contextlib import contextmanager

import numpy as np
import pytest

import reference_ops
from gradcalc.engine.evaluate import run
from gradcalc.lang import syntax
from gradcalc.render.json import dumps
from gradcalc.render.report import json_object, tape_text
from gradcalc.symbolic import compiled

DEEP = 10_000


def _depth() -> int:
    frame, n = sys._getframe(), 0
    while frame is not None:
        frame, n = frame.f_back, n + 1
    return n


@contextmanager
def shallow_stack(headroom: int = 150) -> Iterator[None]:
    """Allow only `headroom` frames beyond the caller's: recursion over a 10,000-deep input
    would raise RecursionError."""
    old = sys.getrecursionlimit()
    sys.setrecursionlimit(_depth() + headroom)
    try:
        yield
    finally:
        sys.setrecursionlimit(old)


def _chain(n: int) -> tuple[str, float, float, float]:
    """A program of n statements (2n tape nodes) and, in plain floats, its value and partials."""
    lines = ["v = x"] + [f"v = v*{1 + (i % 3) / 1000} + y" for i in range(n)]
    v, dx, dy = 0.5, 1.0, 0.0
    for i in range(n):
        c = 1 + (i % 3) / 1000
        v, dx, dy = v * c + 0.25, dx * c, dy * c + 1
    return "\n".join(lines), v, dx, dy


def test_hundred_thousand_node_program_without_recursion(gradcalc) -> None:
    source, value, dx, dy = _chain(50_000)
    with shallow_stack():
        r = gradcalc(source, "--at", "x=0.5,y=0.25", "--format", "json", "--no-check")
    assert r.status == 0, r.err
    obj = r.json()
    assert obj["value"] == pytest.approx(value, rel=1e-12)
    assert obj["gradient"]["x"] == pytest.approx(dx, rel=1e-12)
    assert obj["gradient"]["y"] == pytest.approx(dy, rel=1e-12)


@pytest.mark.parametrize("kind", ["parens", "calls", "unary", "power"])
def test_ten_thousand_deep_nesting_without_recursion(gradcalc, kind) -> None:
    source = {"parens": "(" * DEEP + "x" + ")" * DEEP,
              "calls": "sin(" * DEEP + "x" + ")" * DEEP,
              "unary": "-" * DEEP + "x",
              "power": "^".join(["x"] * 3 + ["1"] * (DEEP - 3))}[kind]
    with shallow_stack():
        program = syntax.parse(source)
        result = run(program, {"x": 0.5})
        printed = syntax.to_source(program.statements[0])
        listing = tape_text(result)
        obj = json.loads(dumps(json_object(result, None, show_tape=True)))
        again = syntax.to_source(syntax.parse(printed).statements[0])
    assert again == printed
    x, d = 0.5, 1.0
    if kind == "calls":
        for _ in range(DEEP):
            x, d = math.sin(x), d * math.cos(x)
    elif kind == "unary":
        pass  # an even number of minus signs
    elif kind == "power":
        g = 0.5 ** 0.5                       # x^(x^x) = exp(g ln x) with g = x^x
        dg = g * (math.log(0.5) + 1)
        x = 0.5 ** g
        d = x * (dg * math.log(0.5) + g / 0.5)
    assert obj["value"] == pytest.approx(x, rel=1e-12)
    assert obj["gradient"]["x"] == pytest.approx(d, rel=1e-9)
    assert listing.startswith("tape: ")


def test_deep_nesting_in_the_cli_and_in_a_batch(gradcalc, tmp_path) -> None:
    source = "sin(" * DEEP + "x" + ")" * DEEP
    path = tmp_path / "p.csv"
    path.write_text("x\n0.5\n-0.25\n1\n")
    with shallow_stack():
        r = gradcalc(source, "--points", str(path), "--no-check", "--format", "csv")
        one = gradcalc(source, "--at", "x=-0.25", "--no-check", "--tape")
    assert r.status == 0 and one.status == 0
    rows = [line.split(",") for line in r.out.splitlines()[1:]]
    for (v, d), x0 in zip(rows, [0.5, -0.25, 1.0], strict=True):
        x, g = x0, 1.0
        for _ in range(DEEP):
            x, g = math.sin(x), g * math.cos(x)
        assert float(v) == pytest.approx(x, rel=1e-12)
        assert float(d) == pytest.approx(g, rel=1e-9)


def test_symbolic_programs_compile_and_evaluate_without_recursion() -> None:
    import sympy

    x, y = sympy.symbols("x y", real=True)
    e = x
    for i in range(DEEP):  # built bottom-up: SymPy itself never recurses here
        e = sympy.sin(e) + y if i % 2 else sympy.cos(e) * y
    with shallow_stack():
        program, outputs = compiled.compile_sympy([e, e * 2], ["x", "y"])
        compiled.validate(program, outputs, ["x", "y"])
        mp_value = [float(v) for v in reference_ops.evaluate_program(program, outputs,
                                                                     {"x": 0.3, "y": 0.7})]
        np_value = compiled.evaluate_np(program, outputs, {"x": np.array([0.3, 0.1]),
                                                           "y": np.array([0.7, 0.7])}, 2)
    v = 0.3
    for i in range(DEEP):
        v = math.sin(v) + 0.7 if i % 2 else math.cos(v) * 0.7
    assert mp_value[0] == pytest.approx(v, rel=1e-12) and mp_value[1] == pytest.approx(2 * v)
    assert np_value[0][0] == pytest.approx(v, rel=1e-12)
    # e*2 reuses e: common subexpressions are computed once
    assert len(program) < 2 * DEEP + 10


def test_common_subexpressions_are_shared() -> None:
    import sympy

    x = sympy.Symbol("x", real=True)
    e = x
    for _ in range(60):  # as a tree this has 2^60 leaves; as a DAG, 60 nodes
        e = e * e + sympy.Integer(1)
    program, outputs = compiled.compile_sympy([e], ["x"])
    assert len(program) < 250
    value = compiled.evaluate_np(program, outputs, {"x": np.array([0.0])}, 1)[0][0]
    v = 0.0
    for _ in range(60):
        v = v * v + 1 if v < 1e300 else math.inf
    assert value == v


def test_over_budget_is_a_verdict_not_a_hang(gradcalc) -> None:
    source, *_ = _chain(50_000)
    r = gradcalc(source, "--at", "x=0.5,y=0.25", "--check-timeout", "0.5")
    assert r.status == 4
    assert "check: skipped (time limit): the 0.5 s for checking passed first" in r.out
