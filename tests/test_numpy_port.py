"""A port of HIPS autograd's tests/test_numpy.py to gradcalc (our own code; gradients and second
derivatives against central differences of plain numpy, tests/gradcheck.py). Where autograd
accepts something gradcalc refuses (np.array of tensors, np.r_, np.linspace), the port checks
the refusal and, where there is one, the supported spelling. Tensor methods (x.T, x.reshape,
x.ravel, x.squeeze) belong to the Tensor API and are left out here; their numpy functions are
in."""

from __future__ import annotations

import numpy as np
import pytest

from gradcalc import Tape, Variable
from gradcheck import check_grads

R = np.random.default_rng(11)


def randn(*shape: int) -> np.ndarray:
    return R.normal(size=shape)


def grad(fun, x0: float) -> float:
    x = Variable(x0)
    with Tape() as tape:
        y = fun(x)
    return float(tape.gradient(y, x))


@pytest.mark.parametrize("a, b", [((10, 11), (11,)), ((10, 11), (11, 10)), ((10,), (10, 11)),
                                  ((11,), (11,)), ((10, 11), ()), ((), (10, 11)), ((10,), ()),
                                  ((), (10,))])
def test_dot(a, b) -> None:
    check_grads(np.dot, randn(*a), randn(*b), argnum=(0, 1))


def test_outer() -> None:
    check_grads(np.outer, randn(11), randn(11), argnum=(0, 1))


@pytest.mark.parametrize("fun, shape", [
    (np.max, (10, 11)), (lambda x: np.max(x, axis=1), (3, 4, 5)),
    (lambda x: np.max(x, axis=1, keepdims=True), (3, 4, 5)), (np.min, (10, 11)),
    (lambda x: np.min(x, axis=1), (3, 4, 5)),
    (lambda x: np.min(x, axis=1, keepdims=True), (3, 4, 5)),
    (np.sum, (10, 11)), (lambda x: np.sum(x, axis=0), (10, 11)),
    (lambda x: np.sum(x, axis=0, keepdims=True), (10, 11)),
    (lambda x: np.sum(x, axis=(1, 2)), (10, 11, 7)),
    (np.flipud, (10, 11)), (np.fliplr, (10, 11)), (np.rot90, (10, 11)),
    (lambda x: np.cumsum(x, axis=0), (10, 11)), (lambda x: np.cumsum(x, axis=1), (10, 11)),
    (np.cumsum, (10,)), (np.cumsum, (10, 11)),
    (np.mean, (10, 11)), (lambda x: np.mean(x, axis=0), (10, 11)),
    (lambda x: np.mean(x, axis=0, keepdims=True), (10, 11)),
    (lambda x: x[3, 0, 1], (5, 6, 4)), (lambda x: x[::-1, 2:4, :], (5, 6, 4)),
    (lambda x: x[[0, 1, 2], :, :], (5, 6, 4)), (lambda x: x[3, 2:, [1, 3]], (5, 6, 4)),
    (lambda x: x[2:4], (5,)), (lambda x: x[::-1, 2:4, :] + x[::-1, 3:5, :], (5, 6, 4)),
    (lambda x: x[2:6][1:3], (7,)),
    (lambda x: np.reshape(x, (5 * 4, 6)), (5, 6, 4)), (np.ravel, (5, 6, 4)),
    (np.diag, (10, 10)), (np.transpose, (8, 8)), (lambda x: np.roll(x, 2, axis=1), (4, 5)),
    (lambda x: np.roll(x, 2), (4, 5)), (lambda x: np.triu(x, k=2), (5, 5)),
    (lambda x: np.tril(x, k=2), (5, 5)), (lambda x: np.clip(x, a_min=0.1, a_max=1.1), (5, 5)),
    (np.squeeze, (5, 1, 4)), (lambda x: np.repeat(x, 2, axis=1), (5, 3, 4)),
    (lambda x: np.repeat(x, 1, axis=1), (5, 3, 4)), (lambda x: np.repeat(x, 2, axis=0), (5, 3)),
    (lambda x: np.repeat(x, 2, axis=0), (5,)), (lambda x: np.repeat(x, 1, axis=0), (5, 1)),
    (lambda x: np.expand_dims(x, 2), (5, 1, 4)),
    (lambda x: np.sum(x[[0, 0]]), (3,)), (lambda x: np.sum(x[[0, 1, 0]]), (3,)),
    (lambda x: np.dot(x[:2], x[2:]), (4,)),
    (lambda x: np.diagonal(x, axis1=-1, axis2=-2), (4, 4)),
    (lambda x: np.diagonal(x, axis1=-1, axis2=-2), (3, 4, 4)),
], ids=lambda v: "" if callable(v) else "x".join(map(str, v)))
def test_one_argument(fun, shape) -> None:
    check_grads(fun, randn(*shape))


def test_plain_numpy_reductions_of_a_scalar_function() -> None:
    base = np.abs(randn(5)) + 0.5
    for reduction in (np.sum, np.prod, np.max, np.min):
        check_grads(lambda a, r=reduction: r(np.exp(a) * base), 0.7)


def test_non_numpy_sum() -> None:
    check_grads(lambda x, y: sum([x, y]), randn(10, 11), randn(10, 11), argnum=(0, 1))


def test_lists_of_tensors_are_refused_and_np_stack_is_the_spelling() -> None:
    # autograd: grad(lambda x: np.mean([x, x + 2]))(0.0) == 1.0, and std and var give 0
    for reduce in (np.mean, np.std, np.var):
        x = Variable(0.0)
        with Tape(), pytest.raises(TypeError, match=r"np\.stack"):
            reduce([x, x + 2])
    assert grad(lambda x: np.mean(np.stack([x, x + 2])), 0.0) == 1.0
    assert grad(lambda x: np.std(np.stack([x, x + 2])), 0.0) == 0.0
    assert grad(lambda x: np.var(np.stack((x, x + 2))), 0.0) == 0.0


@pytest.mark.parametrize("fun", [
    lambda x: np.stack([x, x * 1.0, x + 2.5]),
    lambda x: np.stack([np.stack([x, x * 1.0, x + 2.5]), np.stack([x ** 2, x, x / 2.0])]),
    lambda x: np.stack([x, x * 1.0, x + 2.5]) * 2,
])
def test_arrays_of_one_tensor(fun) -> None:
    # autograd's test_1d_array, test_2d_array and their fanouts, with np.stack for np.array
    check_grads(fun, 3.0)
    x = Variable(3.0)
    with Tape(), pytest.raises(TypeError, match=r"np\.stack"):
        np.array([x, x * 1.0, x + 2.5])


def test_arrays_from_arrays() -> None:
    check_grads(lambda x: np.stack([x, x]), randn(3, 2))
    check_grads(lambda x: np.stack([np.stack([2 * x, x + 1]), np.stack([x, x])]), randn(3, 2))


def test_len() -> None:
    def fun(x):
        assert len(x) == 3
        return x
    check_grads(fun, randn(3, 2))


def test_index_tricks_are_refused() -> None:
    x = Variable(randn(3, 2))
    for fun in (lambda x: np.r_[x, x], lambda x: np.c_[x, x]):
        with Tape(), pytest.raises(TypeError, match=r"np\.stack"):
            fun(x)


@pytest.mark.parametrize("a, b, kw", [
    (np.array([1.0, 2.0, 3.0]), np.array(4.0), {}),
    (np.array([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]]), np.array([[7.0, 8.0, 9.0]]), {"axis": 0}),
])
def test_simple_append(a, b, kw) -> None:
    check_grads(lambda x, y: np.append(x, y, **kw), a, b, argnum=(0, 1))


def test_concatenate() -> None:
    a, b = randn(5, 6, 4), randn(5, 6, 4)
    check_grads(lambda x: np.concatenate((a, x)), randn(4, 6, 4))
    check_grads(lambda x: np.concatenate((b, x, b)), a)
    check_grads(lambda x: np.concatenate((b, x, b), axis=1), a)
    check_grads(lambda x: np.concatenate((b, x, b), 1), a)


@pytest.mark.parametrize("shape", [(10, 11), (11, 10), (5, 6, 4, 3)])
def test_trace(shape) -> None:
    for offset in (-4, 0, 3):
        check_grads(lambda x, o=offset: np.trace(x, offset=o), randn(*shape))


@pytest.mark.parametrize("fun, shape, scale", [
    (np.prod, (2, 3), 10.0), (lambda x: np.prod(x, axis=0), (2, 3), 1.0),
    (lambda x: np.prod(x, axis=0, keepdims=True), (2, 3), 1.0), (np.prod, (7,), 1.0),
])
def test_prod(fun, shape, scale) -> None:
    check_grads(fun, randn(*shape) ** 2 / scale + 0.1)


@pytest.mark.parametrize("reduce", [np.var, np.std])
def test_var_and_std_ddof(reduce) -> None:
    b, c, d = randn(3), randn(3, 4), randn(1, 3)
    for x in (b, c, d):
        for keepdims in (True, False):
            for ddof in (0, 1):
                check_grads(lambda v, k=keepdims, dd=ddof: reduce(v, keepdims=k, ddof=dd), x)
    for x in (c, d):
        for axis in (None, 1):
            for keepdims in (True, False):
                if x.size - 2 > 0 and (axis is None or x.shape[axis] > 2):
                    check_grads(lambda v, a=axis, k=keepdims: reduce(v, axis=a, keepdims=k,
                                                                     ddof=2), x)


def test_where() -> None:
    c = randn(4, 5) > 0
    check_grads(lambda x, y: np.where(c, x, y), randn(4, 5), randn(4, 5), argnum=(0, 1))


def test_tensordot_kwargs_by_position() -> None:
    x = Variable(1.0)
    with Tape() as tape:
        y = np.tensordot(x * np.ones((2, 2)), x * np.ones((2, 2)), 2)
    assert float(tape.gradient(y, x)) == 8.0


@pytest.mark.parametrize("fun, x0s", [
    (lambda x: np.max(np.stack([x, x])), (1.0,)),
    (lambda x: np.max(np.stack([np.stack([x, x]), np.stack([x, 0.5])]), axis=1), (1.0, -1.0)),
    (lambda x: np.min(np.stack([np.stack([x, x, x]), np.stack([x, 0.5, 0.5]),
                                np.stack([0.5, 0.5, 0.5]), np.stack([x, x, 0.5])]), axis=0),
     (1.0, -1.0)),
    (lambda x: np.maximum(x, x), (1.0,)),
    (lambda x: np.maximum(np.stack([x, x, 0.5]),
                          np.stack([np.stack([x, 0.5, x]), np.stack([x, x, 0.5])])),
     (1.0, -1.0, 2.0)),
])
def test_ties_split_evenly_and_sum_to_the_derivative(fun, x0s) -> None:
    # at a tie of copies of x the even split adds up to the true derivative of x
    for x0 in x0s:
        check_grads(fun, x0)


@pytest.mark.parametrize("fun", [
    lambda x: np.linspace(x, 2 * x, 5), lambda x: np.gradient(x),
    lambda x: np.nan_to_num(x),
])
def test_what_autograd_has_and_gradcalc_refuses(fun) -> None:
    x = Variable(randn(4))
    with Tape(), pytest.raises(TypeError, match="no gradient rule"):
        fun(x)
