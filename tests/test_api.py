"""The Python API in TensorFlow GradientTape terms (issue 3): watch, persistent, unconnected,
work outside the tape, and explain() telling the two classic pitfalls apart."""

from __future__ import annotations

from typing import Any

import mpmath
import numpy as np
import pytest

import reference_ops
from gradcalc import Tape, Tensor, Variable, constant, functions, ops, ops_matrix, stop_gradient
from gradcalc.engine.why import KINDS, explain

mpmath.mp.dps = 30


def test_issue_example() -> None:
    x = Variable(5.0)
    with Tape() as tape:
        y = x ** 2
    assert float(tape.gradient(y, x)) == 10.0
    c = constant(5.0)
    with Tape() as tape:
        y = c ** 2
    assert tape.gradient(y, c) is None            # constants are not watched ...
    with Tape() as tape:
        tape.watch(c)
        y = c ** 2
    assert float(tape.gradient(y, c)) == 10.0     # ... unless watched


def test_constant_not_watched_is_explained() -> None:
    c = constant(5.0, name="c")
    with Tape() as tape:
        y = c ** 2
    reason = explain(tape, y, c)
    assert reason is not None and reason.kind == "unwatched"
    assert tape.explain(y, c) == "c was not watched: a constant is watched only after tape.watch()"


def test_watch_accessed_variables_false_is_unwatched() -> None:
    x = Variable(2.0)
    with Tape(watch_accessed_variables=False) as tape:
        y = x * x
    assert tape.gradient(y, x) is None
    assert explain(tape, y, x).kind == "unwatched"


def test_pitfall_computation_before_the_tape_gives_none() -> None:
    x = Variable(3.0, name="x")
    y = x * x                       # before the with block: not recorded
    with Tape() as tape:
        pass
    assert tape.gradient(y, x) is None
    reason = explain(tape, y, x)
    assert reason.kind == "outside_tape"
    assert "outside this tape's recording" in reason.text and "compute it inside" in reason.text


def test_pitfall_dummy_use_inside_the_tape_gives_a_silent_zero() -> None:
    x = Variable(3.0, name="x")
    y = x * x                       # before the with block
    with Tape() as tape:
        z = y + 0 * x               # one dummy use: x is now watched and connected
    assert float(tape.gradient(z, x)) == 0.0     # not None: a silent, wrong 0
    reason = explain(tape, z, x)
    assert reason.kind == "dummy_use"
    assert reason.text.startswith("silent 0:") and "(9)" in reason.text  # names y's value
    # the two pitfalls are told apart
    with Tape() as other:
        pass
    assert explain(other, y, x).kind == "outside_tape"


def test_watched_source_but_target_computed_before() -> None:
    x = Variable(3.0)
    y = x * 2
    with Tape() as tape:
        tape.watch(x)
    assert tape.gradient(y, x) is None
    assert explain(tape, y, x).kind == "outside_tape"


def test_stop_recording_is_outside_the_tape() -> None:
    x = Variable(3.0)
    with Tape() as tape:
        y = x * x
        with tape.stop_recording():
            z = y * 2
    assert tape.gradient(z, x) is None
    assert explain(tape, z, x).kind == "outside_tape"


def test_unrelated_variable_is_unconnected() -> None:
    x, w = Variable(1.0), Variable(2.0)
    with Tape() as tape:
        y = x * 3 + w * 0
        v = x * 2
    assert explain(tape, v, w).kind == "unconnected"
    assert explain(tape, y, x) is None  # a real, non-zero gradient needs no explanation


def test_stop_gradient_cancel_and_zero_derivative_via_api() -> None:
    x = Variable(0.5)
    with Tape(persistent=True) as tape:
        a = stop_gradient(x) * 3
        b = x - x
        c = functions.relu(x - 1)
    assert tape.gradient(a, x) is None and explain(tape, a, x).kind == "stop_gradient"
    assert float(tape.gradient(b, x)) == 0.0 and explain(tape, b, x).kind == "cancel"
    assert float(tape.gradient(c, x)) == 0.0 and explain(tape, c, x).kind == "zero_derivative"
    assert {explain(tape, t, x).kind for t in (a, b, c)} <= set(KINDS)


def test_explain_does_not_use_up_a_non_persistent_tape() -> None:
    x = Variable(2.0)
    with Tape() as tape:
        y = x - x
    assert tape.explain(y, x).startswith("contributions cancel")
    assert float(tape.gradient(y, x)) == 0.0


def test_one_source_or_a_list() -> None:
    a, b = Variable(2.0), Variable(5.0)
    with Tape(persistent=True) as tape:
        y = a * b
    assert isinstance(tape.gradient(y, a), Tensor)
    ga, gb = tape.gradient(y, [a, b])
    assert (float(ga), float(gb)) == (5.0, 2.0)
    assert isinstance(tape.gradient(y, [a]), list)


def test_persistent_allows_several_gradient_calls() -> None:
    x = Variable(3.0)
    with Tape(persistent=True) as tape:
        y = x * x
        z = y * x
    assert float(tape.gradient(y, x)) == 6.0 and float(tape.gradient(z, x)) == 27.0
    with Tape() as once:
        y = x * x
    once.gradient(y, x)
    with pytest.raises(RuntimeError, match="persistent"):
        once.gradient(y, x)


def test_unconnected_none_or_zero() -> None:
    x, w = Variable(1.0), Variable(np.array([1.0, 2.0]))
    with Tape(persistent=True) as tape:
        y = x * 3
    assert tape.gradient(y, w) is None
    assert tape.gradient(y, w, unconnected="none") is None
    np.testing.assert_array_equal(tape.gradient(y, w, unconnected="zero").value, [0.0, 0.0])
    assert float(tape.gradient(y, [x, w], unconnected_gradients="zero")[0]) == 3.0
    with Tape(unconnected="zero") as zero_tape:
        y = x * 3
    assert float(zero_tape.gradient(y, Variable(4.0))) == 0.0
    with pytest.raises(ValueError):
        tape.gradient(y, x, unconnected="zeros")
    with pytest.raises(ValueError):
        tape.gradient(y, x, unconnected="zero", unconnected_gradients="none")
    with pytest.raises(ValueError):
        Tape(unconnected="nan")


def test_operator_overloading_on_variables() -> None:
    x, y = Variable(1.5), Variable(-0.5)
    with Tape() as tape:
        z = (2 - x) * y / (1 + x) ** 2 + abs(y) - (-x) + 3 / x + 2 ** y
    gx, gy = tape.gradient(z, [x, y])

    def f(x, y):
        return (2 - x) * y / (1 + x) ** 2 + abs(y) + x + 3 / x + mpmath.power(2, y)

    assert float(gx) == pytest.approx(float(mpmath.diff(lambda t: f(t, y.value), 1.5)), rel=1e-13)
    assert float(gy) == pytest.approx(float(mpmath.diff(lambda t: f(x.value, t), -0.5)),
                                      rel=1e-13)


# every function of the op table through gradcalc.engine.functions, against its mpmath row in
# tests/reference_ops.py: one case per primitive with a spelling (log(x) and log(x, base) apart)


def _case(prim: ops.Primitive) -> tuple[Any, Any]:
    """(call of the API function on a Variable x, the same function of x in mpmath): further
    arguments are constants from the primitive's sample intervals; a reduction's vector is
    [x, 2x] (and [3, -1] for a second one)."""
    nargs = prim.arity or 2
    if prim.reduction:
        rest = [np.array([3.0, -1.0])] * (nargs - 1)
        return (lambda f, x: getattr(f, prim.spelling)(x * np.array([1.0, 2.0]), *rest),
                lambda x: reference_ops.REDUCTIONS[prim.name](
                    [x, 2 * x], *([mpmath.mpf(3), mpmath.mpf(-1)] for _ in rest)))
    # x goes to the first argument that varies (not polygamma's whole-number order), moved
    # into its sample interval when 0.3 is not in it (acosh(1.2 + x))
    at = next(i for i in range(nargs) if len(set(prim.sample_interval(i))) == 2)
    lo, hi = prim.sample_interval(at)
    shift = 0.0 if lo <= 0.3 <= hi else lo
    consts = []
    for i in range(nargs):
        lo, hi = prim.sample_interval(i)
        consts.append(lo + 0.7 * (hi - lo))

    def args(x: Any) -> list[Any]:
        return [x + shift if i == at else c for i, c in enumerate(consts)]

    return (lambda f, x: getattr(f, prim.spelling)(*args(x)),
            lambda x: reference_ops.ELEMENTWISE[prim.name](
                *[v if i == at else mpmath.mpf(v) for i, v in enumerate(args(x))]))


# matrix functions, on matrices made from the scalar variable (M = [[1, 2], [3, 4]])
MATRIX_CALLS = {
    "transpose": (lambda f, x: f.transpose(x * np.array([[1.0, 2.0], [3.0, 4.0]]))[0, 1],
                  lambda x: 3 * x),
    "outer": (lambda f, x: f.outer(x * np.array([1.0, 2.0]), np.array([3.0, 4.0]))[1, 1],
              lambda x: 8 * x),
    "trace": (lambda f, x: f.trace(x * np.array([[1.0, 2.0], [3.0, 4.0]])), lambda x: 5 * x),
    "det": (lambda f, x: f.det(x * np.array([[1.0, 2.0], [3.0, 4.0]])), lambda x: -2 * x * x),
    "inv": (lambda f, x: f.inv(x * np.array([[1.0, 2.0], [3.0, 4.0]]))[0, 0], lambda x: -2 / x),
    "logdet": (lambda f, x: f.logdet(x * np.array([[2.0, 1.0], [1.0, 3.0]])),
               lambda x: mpmath.log(5 * x * x)),
    "diag": (lambda f, x: f.diag(f.diag(x * np.array([1.0, 2.0])))[1], lambda x: 2 * x),
    "softmax": (lambda f, x: f.softmax(x * np.array([1.0, 2.0]))[0],
                lambda x: mpmath.exp(x) / (mpmath.exp(x) + mpmath.exp(2 * x))),
    "logsumexp": (lambda f, x: f.logsumexp(x * np.array([1.0, 2.0])),
                  lambda x: mpmath.log(mpmath.exp(x) + mpmath.exp(2 * x))),
    # inv([[1, 2], [3, 4]]) @ [1, 1] = [-1, 1/2]; det = -2; cholesky([[4, 2], [2, 3]]) has
    # sqrt(2) at [1, 1]
    "solve": (lambda f, x: f.solve(x * np.array([[1.0, 2.0], [3.0, 4.0]]),
                                   np.array([1.0, 1.0]))[0], lambda x: -1 / x),
    "logabsdet": (lambda f, x: f.logabsdet(x * np.array([[1.0, 2.0], [3.0, 4.0]])),
                  lambda x: mpmath.log(2 * x * x)),
    "cholesky": (lambda f, x: f.cholesky(x * np.array([[4.0, 2.0], [2.0, 3.0]]))[1, 1],
                 lambda x: mpmath.sqrt(2 * x)),
    "kron": (lambda f, x: f.kron(x * np.array([1.0, 2.0]), np.array([3.0, 4.0]))[3],
             lambda x: 8 * x),
    "hstack": (lambda f, x: f.hstack(x * np.array([1.0, 2.0]), np.array([3.0]))[1],
               lambda x: 2 * x),
    "vstack": (lambda f, x: f.vstack(x * np.array([1.0, 2.0]), np.array([3.0, 4.0]))[0, 1],
               lambda x: 2 * x),
    "norm_p": (lambda f, x: f.norm(x * np.array([3.0, -4.0]), 1), lambda x: 7 * x),
}
CALLS = {p.name: MATRIX_CALLS[p.name] if p in ops_matrix.MATRIX_PRIMITIVES else _case(p)
         for p in ops.PRIMITIVES if p.spelling is not None}


def test_every_function_of_the_table_is_in_the_api() -> None:
    assert {ops.BY_NAME[name].spelling for name in CALLS} == set(ops.FUNCTIONS)
    assert all(callable(getattr(functions, name)) for name in ops.FUNCTIONS)
    assert set(ops.FUNCTIONS) <= set(functions.__all__)


@pytest.mark.parametrize("name", sorted(CALLS))
def test_functions_work_on_variables(name: str) -> None:
    call, reference = CALLS[name]
    x = Variable(0.3)
    with Tape() as tape:
        y = call(functions, x)
    assert isinstance(y, Tensor)
    assert float(y) == pytest.approx(float(reference(mpmath.mpf("0.3"))), rel=1e-14)
    grad = tape.gradient(y, x)
    if not any(ops.BY_NAME[name].vjps):  # no gradient flows through it (stop_gradient)
        assert grad is None
        return
    assert float(grad) == pytest.approx(float(mpmath.diff(reference, mpmath.mpf("0.3"))),
                                        rel=1e-12)
