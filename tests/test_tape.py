"""The tape's Python API, with TensorFlow GradientTape semantics, against independent answers."""

from __future__ import annotations

import math

import numpy as np
import pytest

from gradcalc import Tape, Tensor, Variable, constant
from gradcalc.engine.tape import backward


def test_gradient_of_a_polynomial() -> None:
    x = Variable(3.0)
    with Tape() as tape:
        y = x * x * x + 2 * x
    assert float(tape.gradient(y, x)) == 3 * 9 + 2


def test_numpy_functions_are_recorded() -> None:
    x = Variable(0.7)
    with Tape() as tape:
        y = np.sin(x) * np.exp(x)
    want = math.cos(0.7) * math.exp(0.7) + math.sin(0.7) * math.exp(0.7)
    assert float(tape.gradient(y, x)) == pytest.approx(want, rel=1e-15)


def test_constants_are_not_watched_unless_asked() -> None:
    c = constant(2.0)
    with Tape() as tape:
        y = c * c
    assert tape.gradient(y, c) is None
    with Tape() as tape:
        tape.watch(c)
        y = c * c
    assert float(tape.gradient(y, c)) == 4.0


def test_watch_accessed_variables_off() -> None:
    x = Variable(2.0)
    with Tape(watch_accessed_variables=False) as tape:
        y = x * x
    assert tape.gradient(y, x) is None








def test_stop_gradient_blocks_flow() -> None:
    from gradcalc import ops
    from gradcalc.engine.tape import apply

    x = Variable(3.0)
    with Tape() as tape:
        y = apply(ops.STOP_GRADIENT, x) * x
    assert float(tape.gradient(y, x)) == 3.0  # only the unblocked factor


def test_nested_tapes_give_second_derivatives() -> None:
    x = Variable(0.3)
    with Tape() as outer:
        with Tape() as inner:
            y = np.sin(x) * x
        dy = inner.gradient(y, x)
    d2y = outer.gradient(dy, x)
    assert float(dy) == pytest.approx(math.cos(0.3) * 0.3 + math.sin(0.3), rel=1e-15)
    assert float(d2y) == pytest.approx(-math.sin(0.3) * 0.3 + 2 * math.cos(0.3), rel=1e-14)


def test_dict_and_tuple_sources() -> None:
    a, b = Variable(2.0), Variable(5.0)
    with Tape() as tape:
        y = a * b
    g = tape.gradient(y, {"a": a, "b": b})
    assert float(g["a"]) == 5.0 and float(g["b"]) == 2.0


def test_output_gradients_scale_the_seed() -> None:
    x = Variable(2.0)
    with Tape() as tape:
        y = x * x
    assert float(tape.gradient(y, x, output_gradients=np.float64(3.0))) == 12.0


def test_fan_out_accumulates() -> None:
    x = Variable(1.5)
    with Tape() as tape:
        y = x
        for _ in range(50):
            y = y + x
    assert float(tape.gradient(y, x)) == 51.0


def test_long_tape_backward_is_iterative() -> None:
    x = Variable(1.0)
    with Tape() as tape:
        y = x
        for _ in range(20_000):
            y = y * 1.0
    assert float(tape.gradient(y, x)) == 1.0


def test_array_values_broadcast() -> None:
    x = Variable(np.array([1.0, 2.0, 3.0]))
    with Tape() as tape:
        y = x * x
    np.testing.assert_array_equal(tape.gradient(y, x, output_gradients=np.ones(3)).value,
                                  [2.0, 4.0, 6.0])


def test_backward_reports_first_nonfinite_adjoint() -> None:
    x = Variable(0.0)
    with Tape() as tape:
        y = np.sqrt(x) + x
    node = tape.node_of(y)
    assert node is not None
    result = backward(tape.nodes, node.id, [0])
    assert result.nonfinite is not None
    assert tape.nodes[result.nonfinite[0]].op == "sqrt"


def test_tensor_comparisons_are_constants() -> None:
    x = Variable(1.0)
    assert isinstance(x > 0, np.ndarray) and not isinstance(x > 0, Tensor)
