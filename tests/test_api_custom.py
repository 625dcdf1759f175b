"""Hand-written gradients (issue 24): TensorFlow's custom_gradient and JAX's custom_vjp, each
one tape node whose VJP is the user's.

Expected values are closed forms; the semantics are the ones TensorFlow documents for
tf.custom_gradient (f returns (y, grad_fn); grad_fn(upstream) returns one gradient per input;
f's own operations are not recorded; its guide's log1pexp example, whose plain gradient is nan
where exp overflows) and JAX for custom_vjp (fwd returns (value, residuals), bwd(residuals, g)
one gradient per argument; the primal function runs when nothing is differentiated)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from gradcalc import Tape, Variable, custom_gradient, custom_vjp, grad, hessian, jacobian
from gradcalc.engine.higher import second_order


@custom_gradient
def log1pexp(x):
    e = np.exp(x)

    def grad_fn(upstream):
        return upstream * (1 - 1 / (1 + e))

    return np.log(1 + e), grad_fn


def test_the_guides_example_gives_the_right_gradient_where_the_plain_one_is_nan() -> None:
    x = Variable(1000.0)
    with Tape() as tape:
        plain = np.log(1 + np.exp(x))
    assert math.isnan(float(tape.gradient(plain, x)))      # inf / inf
    with Tape() as tape:
        y = log1pexp(x)
    assert float(tape.gradient(y, x)) == 1.0                # sigmoid(1000) in float64


def test_it_is_one_node_whatever_f_computes_inside() -> None:
    x = Variable(0.5)
    with Tape() as outer:
        with Tape() as inner:
            y = log1pexp(x) * 2
    for tape in (outer, inner):
        assert [n.op for n in tape.nodes] == ["input", "custom:log1pexp", "mul"]
    assert float(inner.gradient(y, x)) == pytest.approx(2 / (1 + math.exp(-0.5)), rel=1e-15)


def test_the_custom_rule_is_used_not_the_true_derivative() -> None:
    # a straight-through estimator: round forward, identity backward
    @custom_gradient
    def st_round(x):
        return np.floor(x + 0.5), lambda up: up

    w = Variable(np.array([0.2, 1.7, -2.6]))
    with Tape() as tape:
        y = np.sum(st_round(w) * np.array([1.0, 2.0, 3.0]))
    assert float(y) == 0 + 4 - 9
    np.testing.assert_array_equal(tape.gradient(y, w).numpy(), [1.0, 2.0, 3.0])


def test_several_arguments_constants_and_keywords() -> None:
    @custom_gradient
    def scaled_product(a, b, scale=1.0):
        def grad_fn(up):
            return up * b * scale, up * a * scale
        return a * b * scale, grad_fn

    a, b = Variable(2.0), Variable(5.0)
    with Tape() as tape:
        y = scaled_product(a, b, scale=3.0)
    assert float(y) == 30.0
    assert [float(g) for g in tape.gradient(y, [a, b])] == [15.0, 6.0]
    with Tape() as tape:   # a plain number as an argument is a constant
        y = scaled_product(a, 4.0)
    assert float(tape.gradient(y, a)) == 4.0


def test_a_none_gradient_contributes_nothing() -> None:
    @custom_gradient
    def first(a, b):
        return a + 0 * b, lambda up: (up, None)

    a, b = Variable(1.0), Variable(2.0)
    with Tape() as tape:
        y = first(a, b) + b
    assert [float(g) for g in tape.gradient(y, [a, b])] == [1.0, 1.0]


def test_second_derivatives_through_a_grad_fn_written_in_the_arguments() -> None:
    # grad_fn's operations on x are recorded on the outer tape: d2/dx2 x^3 = 6x
    @custom_gradient
    def cube(x):
        return x ** 3, lambda up: up * 3 * x ** 2

    x = Variable(2.0)
    with Tape() as outer:
        with Tape() as inner:
            y = cube(x)
        dy = inner.gradient(y, x)
    assert float(dy) == 12.0 and float(outer.gradient(dy, x)) == 12.0
    assert grad(grad(cube))(2.0) == 12.0 and hessian(cube)(-1.0) == -6.0


def test_tensors_computed_in_f_are_constants_for_higher_derivatives() -> None:
    # TensorFlow's semantics: e = exp(x) was computed with recording paused, so the second
    # derivative sees only grad_fn's own dependence on its inputs (none here beyond up)
    @custom_gradient
    def expo(x):
        e = np.exp(x)
        return e, lambda up: up * e

    assert grad(expo)(1.0) == math.exp(1.0)
    assert grad(grad(expo))(1.0) == 0.0


def test_a_replay_of_the_tape_runs_f_again_at_the_new_point() -> None:
    # engine.higher.second_order replays the tape on new tensors: the rule must be re-derived
    # there (the Hessian of cube at 3 is 18)
    @custom_gradient
    def cube(x):
        return x ** 3, lambda up: up * 3 * x ** 2

    x = Variable(3.0)
    with Tape(persistent=True) as tape:
        y = cube(x) + x
    so = second_order(tape.nodes, tape.node_of(y).id, [tape.node_of(x).id])
    assert float(so.gradient[0]) == 28.0 and float(so.hessian[0][0]) == 18.0


def test_vector_and_matrix_arguments_and_the_jacobian() -> None:
    @custom_gradient
    def softsign(v):
        d = 1 + np.abs(v)
        return v / d, lambda up: up / (d * d)

    v = np.array([-2.0, 0.5, 3.0])
    np.testing.assert_allclose(jacobian(softsign)(v), np.diag(1 / (1 + np.abs(v)) ** 2),
                               rtol=1e-15)


def test_bad_rules_are_refused_with_the_fix() -> None:
    @custom_gradient
    def no_pair(x):
        return x * 2

    @custom_gradient
    def wrong_count(a, b):
        return a * b, lambda up: up

    @custom_gradient
    def wrong_shape(v):
        return np.sum(v), lambda up: up

    with pytest.raises(TypeError, match=r"must return a pair \(y, grad_fn\)"):
        no_pair(Variable(1.0))
    a, b = Variable(1.0), Variable(2.0)
    with Tape() as tape:
        y = wrong_count(a, b)
    with pytest.raises(ValueError, match="returned 1 gradient for 2 arguments"):
        tape.gradient(y, a)
    v = Variable(np.ones(3))
    with Tape() as tape:
        y = wrong_shape(v)
    with pytest.raises(ValueError, match=r"shape \(\), but the argument has shape \(3,\)"):
        tape.gradient(y, v)


def test_it_cannot_be_checked_symbolically_and_says_so() -> None:
    x = Variable(0.5)
    with Tape() as tape:
        log1pexp(x)
    node = tape.nodes[-1]
    with pytest.raises(TypeError, match="cannot be checked symbolically"):
        node.prim.sympy(None, "x")   # (the SymPy namespace is not reached)


# ---------------------------------------------------------------- JAX's custom_vjp


@custom_vjp
def sin_times(x, y):
    return np.sin(x) * y


def _fwd(x, y):
    return sin_times(x, y), (np.cos(x), np.sin(x), y)


def _bwd(res, g):
    cos_x, sin_x, y = res
    return (cos_x * g * y, sin_x * g)


sin_times.defvjp(_fwd, _bwd)


def test_custom_vjp_the_jax_docs_example() -> None:
    gx, gy = grad(sin_times, argnums=(0, 1))(2.0, 3.0)
    assert gx == pytest.approx(3 * math.cos(2.0), rel=1e-15) and gy == math.sin(2.0)
    assert sin_times(2.0, 3.0) == math.sin(2.0) * 3.0     # the primal, nothing recorded
    x = Variable(2.0)
    with Tape() as tape:
        y = sin_times(x, 3.0)
    assert [n.op for n in tape.nodes] == ["input", "custom:sin_times"]
    assert float(tape.gradient(y, x)) == pytest.approx(3 * math.cos(2.0), rel=1e-15)


def test_custom_vjp_without_rules_is_refused() -> None:
    @custom_vjp
    def bare(x):
        return x

    with pytest.raises(TypeError, match=r"defvjp\(fwd, bwd\)"):
        grad(bare)(1.0)
