"""The Python API on the flat instruction list: a tape's gradient from the Python-float sweep,
from the general sweep over the same recording and from a batch's columns agree bit for bit on
every elementwise primitive of the op table; the tape's nodes are made from the instructions
when read, the same as a Node per operation gave; nothing recurses over a 100k-operation
recording.

The references are other paths over the same computation (the general sweep over the tape's
nodes, numpy columns, closed forms), never the float sweep under test.
"""

from __future__ import annotations

import math
import sys

import numpy as np
import pytest

from gradcalc import GradientTape, Tape, Variable, constant, ops
from gradcalc.batch import rows
from gradcalc.engine import api, sweep
from gradcalc.engine.tape import backward
from gradcalc.lang.syntax import parse
from test_flat import ELEMENTWISE, _arity, _bits, _samples, _text, prim_api


def _general(tape: Tape, y: object, sources: list[Variable]) -> list[object]:
    """d y / d sources from the general sweep (sweep.backward, float64 values and the table's
    rules) over the tape's nodes: the path a tape of Node objects took."""
    target = tape.node_of(y)
    ids = [tape.node_of(s) for s in sources]
    result = backward(tape.nodes, target.id, [n.id for n in ids if n is not None],
                      sweep.seed_of(y.value))
    return [None if n is None else result.adjoints[n.id] for n in ids]


@pytest.mark.parametrize("prim", ELEMENTWISE,
                         ids=lambda p: p.name)
def test_the_float_sweep_the_general_sweep_and_a_batch_agree_bit_for_bit(prim, tmp_path
                                                                         ) -> None:
    # prim(x, ...) * 1.5 + x: a constant's slot, inlined arithmetic, x used twice
    names = ["x", "y", "z"][: _arity(prim)]
    pts = _samples(prim)
    text = f"({_text(prim, names)}) * 1.5 + x"
    path = tmp_path / "p.csv"
    path.write_text(",".join(names) + "\n" + "".join(
        ",".join(repr(v) for v in p) + "\n" for p in pts))
    with np.errstate(all="ignore"):
        batch = rows.run_batch(parse(text), rows.read_points(str(path)), {}, None, None)
    differ = []
    for row, p in enumerate(pts):
        variables = [Variable(v) for v in p]
        with Tape(persistent=True) as tape:
            y = prim_api(prim, variables) * 1.5 + variables[0]
        # the Python-float sweep runs where every value is a float64 scalar (a forward that
        # gives a 0-d array, as polygamma's, takes the general sweep)
        assert tape._floats == all(type(n.value) is np.float64 for n in tape.nodes)
        fast = tape.gradient(y, variables)
        general = _general(tape, y, variables)
        for n, f, g in zip(names, fast, general, strict=True):
            column = None if batch.gradient[n] is None else batch.gradient[n][row]
            for what, got, want in ((f"general d/d{n}", f, g), (f"batch d/d{n}", f, column)):
                got = None if got is None else got.value
                if (got is None) != (want is None) or \
                        got is not None and _bits(got) != _bits(want):
                    differ.append((p, what, got, want))
    assert not differ, differ[:4]


def test_an_array_recording_takes_the_general_sweep_with_the_same_bits() -> None:
    values = np.array([0.3, -1.25, 2.0])
    x = Variable(values)
    with Tape(persistent=True) as tape:
        y = np.sum(np.sin(x * 2.0) * x + np.exp(x))
    assert not tape._floats
    (g,) = tape.gradient(y, [x])
    # each component on its own scalar tape (the float sweep)
    for k, v in enumerate(values):
        s = Variable(v)
        with Tape() as t:
            ys = np.sin(s * 2.0) * s + np.exp(s)
        assert _bits(g.value[k]) == _bits(t.gradient(ys, s).value)
    want = [2 * math.cos(2 * v) * v + math.sin(2 * v) + math.exp(v) for v in values]
    assert np.allclose(g.value, want, rtol=1e-15)


def test_a_symbolic_zero_falls_back_to_the_general_sweep() -> None:
    # a rule that returns None (no gradient at all, as where's branch not taken)
    half = ops.Primitive("half_cut", 1, lambda x: x * 0.5, (lambda g, ans, x: None,),
                         lambda sp, x: x / 2)
    x = Variable(3.0)
    with Tape() as tape:
        y = api.apply(half, x) + x * x
    assert tape._floats
    assert tape.gradient(y, x).value == 6.0


def test_a_seed_other_than_one_takes_the_general_sweep() -> None:
    x = Variable(3.0)
    with Tape() as tape:
        y = x * x * 2.0
    assert tape.gradient(y, x, output_gradients=0.5).value == 6.0


def test_the_nodes_are_the_recorded_operations_with_constants_inline() -> None:
    x, y = Variable(2.0, name="x"), Variable(5.0)
    c = constant(4.0, name="c")
    with Tape() as tape:
        u = x * 3.0
        v = u * c + y
    nodes = tape.nodes
    assert [n.op for n in nodes] == ["input", "mul", "mul", "input", "add"]
    assert [n.id for n in nodes] == [0, 1, 2, 3, 4]
    assert nodes[0].label == "x" and nodes[0].tensor is x
    assert nodes[1].inputs == (0, sweep.Const(3.0)) and nodes[1].value == 6.0
    assert nodes[2].inputs == (1, sweep.Const(4.0, "c"))
    assert nodes[4].inputs == (2, 3) and nodes[4].value == 29.0
    assert tape.node_of(v) is nodes[4] and tape.node_of(c) is None
    assert tape.watched() == [x, y] and tape.watched_variables() == (x, y)
    assert tape.gradient(v, [x, y, c], unconnected="zero")[0].value == 12.0


def test_nodes_read_while_recording_are_extended_and_keep_their_labels() -> None:
    x = Variable(2.0)
    with Tape(persistent=True) as tape:
        u = x * x
        first = tape.nodes
        first[-1].label = "u"
        tape.name(x, "x")
        v = u + 1.0
        tape.name(v, "v")
    assert tape.nodes is first and [n.label for n in first] == ["x", "u", "v"]
    assert tape.node_of(u).label == "u" and tape.node_of(v).id == 2
    assert tape.gradient(v, x).value == 4.0


def test_reset_forgets_the_instructions() -> None:
    x = Variable(2.0)
    with Tape(persistent=True) as tape:
        y = x * x
        assert tape.gradient(y, x).value == 4.0
        tape.reset()
        z = x * 3.0
    assert [n.op for n in tape.nodes] == ["input", "mul"]
    assert tape.gradient(z, x).value == 3.0 and tape.gradient(y, x) is None


def test_nested_tapes_over_constants_give_the_second_derivative() -> None:
    x = Variable(1.5)
    with GradientTape() as outer:
        with GradientTape() as inner:
            y = x * 3.0 * x * x + 2.0 * x   # 3x^3 + 2x
        dy = inner.gradient(y, x)
    assert dy.value == 9 * 1.5 ** 2 + 2
    assert outer.gradient(dy, x).value == 18 * 1.5


def test_a_persistent_tape_differentiates_its_own_gradient() -> None:
    x = Variable(0.5)
    with Tape(persistent=True) as tape:
        y = np.sin(x) * 2.0
        dy = tape.gradient(y, x)          # recorded on this tape
    assert _bits(dy.value) == _bits(2.0 * np.cos(np.float64(0.5)))
    assert _bits(tape.gradient(dy, x).value) == _bits(-2.0 * np.sin(np.float64(0.5)))


def test_a_100k_operation_recording_does_not_recurse() -> None:
    n = 100_000
    x, w = Variable(0.5), Variable(2.0)
    depth = len(_frames())
    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(depth + 60)   # far below n: any recursion over the tape fails
    try:
        with Tape(persistent=True) as tape:
            acc = w
            for _ in range(n // 2):
                acc = acc * 1.0 + x      # d acc / dx = n/2, d acc / dw = 1
        fast = tape.gradient(acc, [x, w])
        general = tape.gradient(acc, [x, w], output_gradients=np.float64(1.0))
        nodes = tape.nodes
        listed = tape.node_of(acc)
    finally:
        sys.setrecursionlimit(limit)
    assert [g.value for g in fast] == [n // 2, 1.0]
    assert [float(g.value) for g in general] == [n // 2, 1.0]
    assert len(nodes) == n + 2 and listed is nodes[-1]


def _frames() -> list[object]:
    frames, f = [], sys._getframe()
    while f is not None:
        frames.append(f)
        f = f.f_back
    return frames


def test_a_constant_argument_keeps_the_value_it_had_when_used() -> None:
    x = Variable(2.0)
    c = Variable(3.0, trainable=False)   # not watched: a constant of the tape
    with Tape() as tape:
        y = x * c
    c.assign(10.0)
    assert tape.nodes[1].inputs == (0, sweep.Const(3.0))
    assert tape.gradient(y, x).value == 3.0
