"""The one statement interpreter: every interpretation (tape, SymPy, numeric, reverse-derivative
program) runs the same statements in the same order, with calls inlined and `op=` updates."""

from __future__ import annotations

import math

import pytest

import reference_ops
from gradcalc import ops
from gradcalc.engine.evaluate import run
from gradcalc.judge import numeric
from gradcalc.lang.interpret import Interpretation, interpret
from gradcalc.lang.syntax import parse
from gradcalc.symbolic import convert, reverse

PROGRAM = """f(u, v) = u*v + sin(u)
a = f(x, y)
a += x/y
a *= 2
b = -a^2 + pi
a -= b
a /= 1 + y*y
"""
POINT = {"x": 0.7, "y": -1.3}


def _by_hand(x: float, y: float) -> float:
    a = (x * y + math.sin(x) + x / y) * 2
    b = -(a ** 2) + math.pi
    return (a - b) / (1 + y * y)


class _Text(Interpretation):
    """A made-up interpretation: the program as nested calls of the primitives' names."""

    def number(self, node):
        return node.text

    def free_name(self, node, scope):
        return node.id

    def apply(self, prim, node, args):
        return f"{prim.name}({', '.join(args)})"

    def index(self, node, value):
        return f"{value}[{node.index}]"


def test_a_new_interpretation_sees_calls_inlined_and_updates_in_order() -> None:
    env = {"x": "x", "y": "y"}
    out = interpret(parse("g(u) = u*2\na = g(x) + 1\na += pi\nb = -a\nb"), env, _Text())
    assert out == "neg(add(add(mul(x, 2), 1), pi))"
    assert env["a"] == "add(add(mul(x, 2), 1), pi)"


def _mp(program, outputs, point) -> list[float]:
    """A compiled program's outputs at the point, in mpmath (tests/reference_ops.py)."""
    return [float(v) for v in reference_ops.evaluate_program(program, outputs, point)]


def test_every_interpretation_computes_the_same_value() -> None:
    program = parse(PROGRAM)
    expected = _by_hand(**POINT)
    tape = float(run(program, POINT).value)
    plain = numeric.evaluate_program(program, POINT)
    expr = convert.program_to_sympy(program, list(POINT))
    symbolic = convert.evaluate(expr, POINT)
    dag = reverse.derive(program, {n: n for n in POINT}, list(POINT), None,
                         convert.needed_statements(program, None))
    reversed_value = _mp(dag.program, dag.outputs, POINT)[0]
    for value in (tape, plain, symbolic, reversed_value):
        assert value == pytest.approx(expected, rel=1e-13)


def test_reverse_partials_match_the_tree_derivative() -> None:
    program = parse(PROGRAM)
    expr = convert.program_to_sympy(program, list(POINT))
    dag = reverse.derive(program, {n: n for n in POINT}, list(POINT), None,
                         convert.needed_statements(program, None))
    values = _mp(dag.program, dag.outputs, POINT)
    for k, name in enumerate(POINT):
        tree = convert.evaluate(convert.derivative(expr, name), POINT)
        assert values[1 + k] == pytest.approx(tree, rel=1e-25)
    assert dag.forms == {"x": reverse.TOO_LARGE, "y": reverse.TOO_LARGE}


def test_reverse_marks_a_partial_without_a_path_as_zero() -> None:
    program = parse("a = x*2\nb = stop_gradient(y)*x\na + b")
    dag = reverse.derive(program, {"x": "x", "y": "y"}, ["x", "y"], None,
                         convert.needed_statements(program, None))
    assert dag.forms == {"x": reverse.TOO_LARGE, "y": "0"}
    assert dag.true_forms == {"x": reverse.TOO_LARGE, "y": reverse.TOO_LARGE}
    values = _mp(dag.program, dag.outputs, {"x": 3.0, "y": 5.0})
    assert values == [21.0, 7.0, 0.0, 7.0, 3.0]   # value, partials, true partials


def test_the_tape_interpretation_still_rejects_assigning_a_bound_name() -> None:
    from gradcalc.errors import InputError

    with pytest.raises(InputError, match="cannot assign to 'x'"):
        run(parse("x = 2\nx"), {"x": 1.0})
    with pytest.raises(InputError, match="'z' is not defined yet"):
        run(parse("z += x\nz"), {"x": 1.0})


def test_numeric_and_tape_use_the_same_primitive_table() -> None:
    seen: list[str] = []

    class Spy(Interpretation):
        def number(self, node):
            return node.value

        def free_name(self, node, scope):
            return ops.CONSTANTS[node.id][0]

        def apply(self, prim, node, args):
            seen.append(prim.name)
            return prim.forward(*args)

        def index(self, node, value):
            return value[node.index]

    env = dict(POINT)
    out = interpret(parse(PROGRAM), env, Spy())
    assert out == pytest.approx(_by_hand(**POINT), rel=1e-13)
    assert seen[:4] == ["mul", "sin", "add", "div"]
