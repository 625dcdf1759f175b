"""Python habits of TensorFlow and numpy users (issues 23, 24, 28): the name GradientTape, the
Tensor methods people call, Python's own max over Variables, re-entering a recording tape, and
values a Variable cannot hold.

Expected numbers are closed forms or numpy on plain arrays; TensorFlow's behaviour is the one
its documentation describes (tf.GradientTape raises ValueError when entered while recording;
a Variable read inside the tape is watched, so Python's max(a, b, c) of Variables gives the
gradient 1 for the one it returns and None for the others).
"""

from __future__ import annotations

import numpy as np
import pytest

from gradcalc import Tape, Variable, constant

# ---------------------------------------------------------------- issue 23: what TF users do


def test_python_max_of_variables_gives_the_chosen_one_a_gradient_as_tensorflow() -> None:
    # TF: [None, None, 1]: max compares (reads) all three and returns c itself
    a, b, c = Variable(1.0), Variable(2.0), Variable(3.0)
    with Tape() as tape:
        y = max(a, b, c)
    ga, gb, gc = tape.gradient(y, [a, b, c])
    assert ga is None and gb is None
    assert gc is not None and float(gc) == 1.0


def test_python_min_of_variables_and_sorted() -> None:
    a, b = Variable(5.0), Variable(-2.0)
    with Tape(persistent=True) as tape:
        lo = min(a, b)
        top = sorted([a, b])[-1]
    assert [None if g is None else float(g) for g in tape.gradient(lo, [a, b])] == [None, 1.0]
    assert [None if g is None else float(g) for g in tape.gradient(top, [a, b])] == [1.0, None]


def test_a_comparison_does_not_watch_what_the_tape_may_not_watch() -> None:
    a, b = Variable(1.0), Variable(2.0, trainable=False)
    c = constant(3.0)
    with Tape(watch_accessed_variables=False) as quiet:
        _ = a > b
    assert quiet.watched_variables() == ()
    with Tape() as tape:
        _ = (a < b) and (b < c)
    assert tape.watched_variables() == (a,)   # b is not trainable, c is a constant


def test_entering_a_tape_that_is_recording_is_a_value_error() -> None:
    tape = Tape()
    with tape:
        with pytest.raises(ValueError, match="already recording"):
            with tape:
                pass
        x = Variable(2.0)
        y = x * x
    assert float(tape.gradient(y, x)) == 4.0     # the refused entry left the tape intact


def test_a_persistent_tape_can_be_entered_again_after_its_block() -> None:
    # TF: re-entering a persistent tape continues recording on it
    x = Variable(3.0)
    tape = Tape(persistent=True)
    with tape:
        y = x * x
    with tape:
        z = y * x
    assert float(tape.gradient(z, x)) == 27.0


# values a Variable cannot hold: a TypeError or ValueError naming the value and the fix
BAD_VALUES = [
    (None, TypeError, r"Variable\(None\).*a number"),
    (1 + 2j, TypeError, r"\(1\+2j\).*complex.*real"),
    (np.complex128(1.5), TypeError, "complex"),
    (np.array([1.0, 2.0 + 1.0j]), TypeError, "complex"),
    (10 ** 400, ValueError, r"401 digits.*too large for float64"),
    ([1.0, 10 ** 400], ValueError, r"too large for float64"),
    ([1.0, None], TypeError, r"None.*\[1\]"),
    ("3", TypeError, r"'3'.*a string.*float\('3'\)"),
    ([[1.0, 2.0], [3.0]], ValueError, "rows of different lengths"),
    ({"a": 1.0}, TypeError, "dict"),
]


@pytest.mark.parametrize("value, error, message", BAD_VALUES,
                         ids=[repr(v)[:20] for v, _, _ in BAD_VALUES])
def test_values_a_variable_cannot_hold_are_refused(value, error, message) -> None:
    with pytest.raises(error, match=message):
        Variable(value)
    with pytest.raises(error, match=message.replace("Variable", "constant")
                       if message.startswith("Variable") else message):
        constant(value)


def test_assign_refuses_the_same_values() -> None:
    v = Variable(1.0)
    with pytest.raises(TypeError, match="None"):
        v.assign(None)
    with pytest.raises(TypeError, match="complex"):
        v.assign(2j)
    assert v.numpy() == 1.0


def test_a_long_value_is_named_briefly() -> None:
    word = "x" * 50_000
    with pytest.raises(TypeError) as info:
        Variable(word)
    assert len(str(info.value)) < 400


@pytest.mark.parametrize("value, want", [
    (3, 3.0), (True, 1.0), (2 ** 70, float(2 ** 70)), (np.float32(0.5), 0.5),
    ([1, 2], [1.0, 2.0]), (np.array([1, 2], dtype=object), [1.0, 2.0]),
    (float("nan"), None), (float("-inf"), -np.inf),
])
def test_numbers_of_any_real_kind_are_float64(value, want) -> None:
    v = Variable(value)
    assert v.numpy().dtype == np.float64
    if want is None:
        assert np.isnan(v.numpy())
    else:
        assert v.numpy().tolist() == want


# ---------------------------------------------------------------- TensorFlow's names


def test_gradient_tape_is_the_name_tensorflow_users_type() -> None:
    import gradcalc

    assert gradcalc.GradientTape is Tape and "GradientTape" in gradcalc.__all__
    x = Variable(3.0)
    with gradcalc.GradientTape(persistent=True) as tape:   # the guide's first example
        y = x ** 2
    assert float(tape.gradient(y, x)) == 6.0


# ---------------------------------------------------------------- Tensor methods

M = np.array([[1.0, -2.0, 3.0], [4.0, 0.5, -6.0]])
W = np.array([[0.5, 1.0, -1.0], [2.0, 3.0, 0.25]])


def _ops(build) -> list[str]:
    """The ops a computation records, leaves left out."""
    x = Variable(M)
    with Tape() as tape:
        build(x)
    return [n.op for n in tape.nodes if n.prim is not None]


# method -> (the method on a tensor, the same on a plain array by numpy, the numpy function
# the method delegates to, or None where the method is numpy's own attribute)
METHODS = {
    "T": (lambda t: t.T, lambda a: a.T, np.transpose),
    "transpose()": (lambda t: t.transpose(), lambda a: a.transpose(), np.transpose),
    "transpose(1, 0)": (lambda t: t.transpose(1, 0), lambda a: a.transpose(1, 0), np.transpose),
    "sum()": (lambda t: t.sum(), lambda a: a.sum(), np.sum),
    "sum(axis=0)": (lambda t: t.sum(axis=0), lambda a: a.sum(axis=0),
                    lambda a: np.sum(a, axis=0)),
    "sum(1, keepdims)": (lambda t: t.sum(1, keepdims=True), lambda a: a.sum(1, keepdims=True),
                         lambda a: np.sum(a, 1, keepdims=True)),
    "mean()": (lambda t: t.mean(), lambda a: a.mean(), np.mean),
    "mean(axis=-1)": (lambda t: t.mean(axis=-1), lambda a: a.mean(axis=-1),
                      lambda a: np.mean(a, axis=-1)),
    "max()": (lambda t: t.max(), lambda a: a.max(), np.max),
    "max(axis=0)": (lambda t: t.max(axis=0), lambda a: a.max(axis=0),
                    lambda a: np.max(a, axis=0)),
    "min()": (lambda t: t.min(), lambda a: a.min(), np.min),
    "min(axis=1)": (lambda t: t.min(axis=1), lambda a: a.min(axis=1),
                    lambda a: np.min(a, axis=1)),
    "prod()": (lambda t: t.prod(), lambda a: a.prod(), np.prod),
    "reshape(3, 2)": (lambda t: t.reshape(3, 2), lambda a: a.reshape(3, 2),
                      lambda a: np.reshape(a, (3, 2))),
    "reshape((-1,))": (lambda t: t.reshape((-1,)), lambda a: a.reshape((-1,)),
                       lambda a: np.reshape(a, (-1,))),
    "flatten()": (lambda t: t.flatten(), lambda a: a.flatten(), lambda a: np.reshape(a, -1)),
    "ravel()": (lambda t: t.ravel(), lambda a: a.ravel(), lambda a: np.reshape(a, -1)),
    "dot(vector)": (lambda t: t.dot(np.array([1.0, 2.0, -1.0])),
                    lambda a: a.dot(np.array([1.0, 2.0, -1.0])),
                    lambda a: np.dot(a, np.array([1.0, 2.0, -1.0]))),
}


def _numeric_jacobian(fn, a: np.ndarray) -> np.ndarray:
    """d fn(a)[i] / d a[j] by central differences (the methods are linear or piecewise
    polynomial at M, so h = 1e-6 gives about 10 digits)."""
    h = 1e-6
    out = np.asarray(fn(a), dtype=float)
    jac = np.zeros(out.shape + a.shape)
    for j in np.ndindex(a.shape):
        e = np.zeros_like(a)
        e[j] = h
        jac[(...,) + j] = (np.asarray(fn(a + e)) - np.asarray(fn(a - e))) / (2 * h)
    return jac


@pytest.mark.parametrize("name", sorted(METHODS))
def test_tensor_methods_give_numpys_values_and_gradients(name: str) -> None:
    method, on_array, _ = METHODS[name]
    x = Variable(M)
    with Tape() as tape:
        y = method(x)
    np.testing.assert_array_equal(np.asarray(y), on_array(M))
    jac = tape.jacobian(y, x)
    np.testing.assert_allclose(jac.numpy(), _numeric_jacobian(on_array, M), rtol=1e-8,
                               atol=1e-8)


@pytest.mark.parametrize("name", sorted(n for n in METHODS if not n.startswith(("T", "tr"))))
def test_tensor_methods_record_what_the_numpy_function_records(name: str) -> None:
    method, _, function = METHODS[name]
    assert _ops(method) == _ops(function)


def test_transposes_record_one_transpose_and_their_gradient_is_the_transpose() -> None:
    assert _ops(lambda t: t.T) == _ops(lambda t: t.transpose()) == ["transpose"]
    x = Variable(M)
    with Tape() as tape:
        y = (x.T * W.T).sum()
    np.testing.assert_array_equal(tape.gradient(y, x).numpy(), W)


def test_transpose_of_a_vector_and_identity_axes_are_the_tensor_itself() -> None:
    v = Variable(np.array([1.0, 2.0]))
    assert v.T is v and v.transpose() is v
    x = Variable(M)
    assert x.transpose(0, 1) is x and x.transpose((0, 1)) is x


def test_methods_compose_and_differentiate_twice() -> None:
    # d2/dx2 sum(x^3) = 6x, through .sum() and .reshape() on nested tapes
    x = Variable(np.array([1.0, -2.0, 0.5, 3.0]))
    with Tape() as outer:
        with Tape() as inner:
            y = (x.reshape(2, 2) ** 3).sum()
        g = inner.gradient(y, x)
        z = g.sum()
    np.testing.assert_array_equal(g.numpy(), 3 * x.numpy() ** 2)
    np.testing.assert_array_equal(outer.gradient(z, x).numpy(), 6 * x.numpy())


def test_prod_method_gradient_is_the_product_of_the_others() -> None:
    x = Variable(np.array([2.0, -3.0, 0.5]))
    with Tape() as tape:
        y = x.prod()
    assert float(y) == -3.0
    np.testing.assert_array_equal(tape.gradient(y, x).numpy(), [-1.5, 1.0, -6.0])


def test_item_tolist_and_numpy_read_the_value() -> None:
    x = Variable(M)
    assert x.tolist() == M.tolist() and x.numpy() is x.value
    s = Variable(2.5)
    assert s.item() == 2.5 and type(s.item()) is float and s.tolist() == 2.5
    assert Variable(np.array([7.0])).item() == 7.0
    with pytest.raises(ValueError, match="size 1"):
        x.item()
    with Tape() as tape:   # none of them is recorded: the number is a constant from then on
        y = Variable(3.0).item() * x.sum()
    assert float(tape.gradient(y, x).numpy()[0, 0]) == 3.0


def test_prod_along_an_axis_and_transpose_with_axes_as_methods() -> None:
    # d/dM[i,j] of the column products' sum is the product of the column's other entries
    x = Variable(M)
    with Tape() as tape:
        y = x.prod(axis=0).sum() + (x.transpose((1, 0)) * M.T).sum()
    others = np.array([[np.prod(np.delete(M[:, j], i)) for j in range(M.shape[1])]
                       for i in range(M.shape[0])])
    np.testing.assert_array_equal(tape.gradient(y, x).numpy(), others + M)
