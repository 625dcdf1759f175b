"""The functional forms of the API (issue 24): grad, value_and_grad, jacobian and hessian as
JAX and autograd users write them.

Expected values are closed forms, mpmath's derivatives at 30 digits or central differences;
the shapes and structures are the ones JAX documents (jax.grad: the argument's structure, a
tuple for a tuple of argnums; jax.jacrev: output shape + input shape; jax.hessian: nested
blocks for a tuple of argnums; has_aux: (gradient, aux) and ((value, aux), gradient))."""

from __future__ import annotations

import doctest
import io
import math

import mpmath
import numpy as np
import pytest

import docpages
from gradcalc import (
    Tape,
    Tensor,
    Variable,
    constant,
    grad,
    hessian,
    jacobian,
    value_and_grad,
)

mpmath.mp.dps = 30


def f(x):
    return x * np.sin(x)


def mp_f(x):
    return x * mpmath.sin(x)


def _d(fn, x: float, n: int) -> float:
    return float(mpmath.diff(fn, mpmath.mpf(x), n))


# ---------------------------------------------------------------- grad


@pytest.mark.parametrize("x", [3.0, -0.7, 1e-3, 40.0])
def test_grad_and_its_nestings_match_mpmath(x: float) -> None:
    g1, g2, g3 = grad(f), grad(grad(f)), grad(grad(grad(f)))
    assert g1(x) == pytest.approx(_d(mp_f, x, 1), rel=1e-14, abs=1e-300)
    assert g2(x) == pytest.approx(_d(mp_f, x, 2), rel=1e-13)
    assert g3(x) == pytest.approx(_d(mp_f, x, 3), rel=1e-12)


def test_results_are_plain_numpy_values() -> None:
    g = grad(f)(3.0)
    assert type(g) is np.float64
    w = grad(lambda w: np.sum(w ** 2))(np.array([1.0, -2.0]))
    assert type(w) is np.ndarray and w.dtype == np.float64
    np.testing.assert_array_equal(w, [2.0, -4.0])
    assert type(grad(grad(f))(3.0)) is np.float64


def test_integers_are_differentiated_as_float64() -> None:
    assert grad(f)(3) == grad(f)(3.0)


def test_argnums_int_tuple_and_negative() -> None:
    # L(w, x) = sum(w^2 * x): dL/dw = 2 w x, dL/dx = sum(w^2)
    def loss(w, x):
        return np.sum(w ** 2 * x)

    w, x = np.array([1.0, 2.0]), 3.0
    np.testing.assert_array_equal(grad(loss)(w, x), [6.0, 12.0])
    assert grad(loss, argnums=1)(w, x) == 5.0
    assert grad(loss, argnums=-1)(w, x) == 5.0
    gw, gx = grad(loss, argnums=(0, 1))(w, x)
    np.testing.assert_array_equal(gw, [6.0, 12.0])
    assert gx == 5.0
    assert isinstance(grad(loss, argnums=(1,))(w, x), tuple)


def test_pytree_arguments_keep_their_structure() -> None:
    # a dict of parameters, one a list: y = a * b[0] + b[1]^2
    def model(params):
        return params["a"] * params["b"][0] + params["b"][1] ** 2

    g = grad(model)({"a": 2.0, "b": [3.0, np.array(4.0)]})
    assert set(g) == {"a", "b"} and isinstance(g["b"], list)
    assert (g["a"], g["b"][0], g["b"][1]) == (3.0, 2.0, 8.0)


def test_the_same_tensor_twice_gets_two_gradients() -> None:
    # x * y^2 at (x, x): d/dx = y^2, d/dy = 2xy, kept apart although one tensor is passed
    v = Variable(3.0)
    gx, gy = grad(lambda x, y: x * y ** 2, argnums=(0, 1))(v, v)
    assert (gx, gy) == (9.0, 18.0)
    with Tape() as tape:
        inner = grad(lambda x, y: x * y ** 2, argnums=(0, 1))(v, v)
        total = inner[0] + inner[1]                     # y^2 + 2xy at x = y = v: 3 v^2
    assert float(tape.gradient(total, v)) == 18.0       # d/dv 3 v^2 = 6 v


def test_closed_over_variables_and_other_arguments_are_constants() -> None:
    c = Variable(5.0)
    assert grad(lambda x: x * c)(2.0) == 5.0
    assert grad(lambda x, k: x ** k, argnums=0)(2.0, 3) == 12.0


def test_an_output_that_does_not_depend_on_the_argument_has_gradient_zero() -> None:
    # JAX gives zeros here; the output is a tensor, just not computed from x
    c = constant(4.0)
    assert grad(lambda x: c * 2.0)(1.0) == 0.0
    np.testing.assert_array_equal(grad(lambda w: c + 0.0)(np.ones(3)), np.zeros(3))


def test_logistic_regression_gradient_is_the_closed_form() -> None:
    rng = np.random.default_rng(7)
    X, y = rng.normal(size=(6, 3)), rng.integers(0, 2, size=6).astype(float)

    def loss(w):
        p = 1 / (1 + np.exp(-(X @ w)))
        return -np.sum(y * np.log(p) + (1 - y) * np.log(1 - p))

    w = np.array([0.3, -0.2, 0.5])
    want = X.T @ (1 / (1 + np.exp(-(X @ w))) - y)
    np.testing.assert_allclose(grad(loss)(w), want, rtol=1e-13, atol=1e-15)


# ---------------------------------------------------------------- value_and_grad and has_aux


def test_value_and_grad() -> None:
    value, g = value_and_grad(f)(2.0)
    assert value == 2.0 * math.sin(2.0) and g == pytest.approx(_d(mp_f, 2.0, 1), rel=1e-15)
    assert type(value) is np.float64


def test_has_aux_returns_the_aux_as_numpy() -> None:
    def loss(w):
        pred = w * np.array([1.0, 2.0])
        return np.sum(pred ** 2), {"pred": pred, "note": "kept"}

    g, aux = grad(loss, has_aux=True)(3.0)
    assert g == 2 * 3.0 * 5.0                       # d/dw 5 w^2
    np.testing.assert_array_equal(aux["pred"], [3.0, 6.0])
    assert type(aux["pred"]) is np.ndarray and aux["note"] == "kept"
    (value, aux2), g2 = value_and_grad(loss, has_aux=True)(3.0)
    assert value == 45.0 and g2 == g and aux2["note"] == "kept"


# ---------------------------------------------------------------- jacobian and hessian


def _central_jacobian(fn, x: np.ndarray, h: float = 1e-6) -> np.ndarray:
    out = np.asarray(fn(x))
    jac = np.zeros(out.shape + x.shape)
    for j in np.ndindex(x.shape):
        e = np.zeros_like(x)
        e[j] = h
        jac[(...,) + j] = (np.asarray(fn(x + e)) - np.asarray(fn(x - e))) / (2 * h)
    return jac


def test_jacobian_of_a_layer_matches_central_differences_and_has_jax_shape() -> None:
    rng = np.random.default_rng(3)
    W, b = rng.normal(size=(2, 3)), rng.normal(size=2)

    def layer(x):
        return np.tanh(W @ x + b)

    def plain(x):
        return np.tanh(W @ x + b)

    x = np.array([0.2, -0.4, 0.9])
    jac = jacobian(layer)(x)
    assert jac.shape == (2, 3)
    np.testing.assert_allclose(jac, _central_jacobian(plain, x), rtol=1e-8, atol=1e-10)
    # the closed form: diag(1 - tanh^2) @ W
    np.testing.assert_allclose(jac, (1 - plain(x) ** 2)[:, None] * W, rtol=1e-14)


def test_jacobian_of_a_matrix_argument_and_structured_outputs() -> None:
    A = np.array([[1.0, 2.0], [3.0, 4.0]])
    jac = jacobian(lambda a: a @ np.array([1.0, -1.0]))(A)
    assert jac.shape == (2, 2, 2)                       # output (2,) + input (2, 2)
    want = np.zeros((2, 2, 2))
    want[0, 0, 0], want[0, 0, 1], want[1, 1, 0], want[1, 1, 1] = 1, -1, 1, -1
    np.testing.assert_array_equal(jac, want)
    pair = jacobian(lambda x: (x ** 2, {"s": np.sum(x)}))(np.array([1.0, 3.0]))
    np.testing.assert_array_equal(pair[0], np.diag([2.0, 6.0]))
    np.testing.assert_array_equal(pair[1]["s"], [1.0, 1.0])


def test_hessian_of_rosenbrock_is_the_textbook_matrix() -> None:
    def rosen(v):
        return (1 - v[0]) ** 2 + 100 * (v[1] - v[0] ** 2) ** 2

    x, y = 1.5, 0.7
    h = hessian(rosen)(np.array([x, y]))
    want = [[1200 * x * x - 400 * y + 2, -400 * x], [-400 * x, 200]]
    np.testing.assert_allclose(h, want, rtol=1e-14)


def test_hessian_blocks_for_a_tuple_of_argnums() -> None:
    # L = sum(w^2 x): H_ww = 2x I, H_wx = H_xw = 2w, H_xx = 0
    def loss(w, x):
        return np.sum(w ** 2 * x)

    w, x = np.array([1.0, 2.0]), 3.0
    (hww, hwx), (hxw, hxx) = hessian(loss, argnums=(0, 1))(w, x)
    np.testing.assert_array_equal(hww, 6.0 * np.eye(2))
    np.testing.assert_array_equal(hwx, [2.0, 4.0])
    np.testing.assert_array_equal(hxw, [2.0, 4.0])
    assert hxx == 0.0 and type(hxx) is np.float64


def test_hessian_of_a_vector_function_of_a_matrix_by_finite_differences() -> None:
    # the shape is output + input + input, as in JAX
    def fn(a):
        return np.sum(a ** 3, axis=0)

    a = np.array([[1.0, -2.0], [0.5, 3.0]])
    h = hessian(fn)(a)
    assert h.shape == (2, 2, 2, 2, 2)
    want = np.zeros((2, 2, 2, 2, 2))
    for i in range(2):
        for j in range(2):
            want[j, i, j, i, j] = 6 * a[i, j]
    np.testing.assert_array_equal(h, want)


def test_a_transformation_inside_a_tape_is_recorded_there() -> None:
    # grad(f) called inside a with block gives a tensor on that tape: d/dx of it is f''
    x = Variable(2.0)
    with Tape() as tape:
        g = grad(f)(x)
    assert isinstance(g, Tensor)
    assert float(tape.gradient(g, x)) == pytest.approx(_d(mp_f, 2.0, 2), rel=1e-14)


# ---------------------------------------------------------------- refusals


def test_a_non_scalar_output_of_grad_is_a_type_error() -> None:
    with pytest.raises(TypeError, match=r"must return a scalar.*shape \(3,\).*jacobian"):
        grad(lambda x: x * np.ones(3))(1.0)


@pytest.mark.parametrize("fn", [lambda x: 3.0, lambda x: float(x) ** 2, lambda x: x.numpy()])
def test_a_function_that_returns_a_non_tensor_is_a_type_error(fn) -> None:
    with pytest.raises(TypeError, match="not a tensor computed from its arguments"):
        grad(fn)(1.5)
    with pytest.raises(TypeError, match="hessian: .*not a tensor"):
        hessian(fn)(1.5)


def test_np_asarray_of_the_argument_is_refused_where_it_is_called() -> None:
    # the value taken out of a recorded tensor would cut the gradient: the refusal names the fix
    for transform in (grad, hessian):
        with pytest.raises(TypeError, match=r"np\.asarray of a tensor .*t\.numpy\(\)"):
            transform(lambda x: np.asarray(x) * 2)(1.5)


@pytest.mark.parametrize("value, message", [
    (1 + 2j, r"argument 0 is \(1\+2j\): complex values are not supported"),
    (np.array([1.0, 1j]), "complex"),
    (None, "None"),
    ("2", "string"),
])
def test_complex_and_other_non_real_inputs_are_type_errors(value, message) -> None:
    with pytest.raises(TypeError, match=message):
        grad(lambda x: np.sum(x * x))(value)


@pytest.mark.parametrize("argnums, error, message", [
    (2, TypeError, "asks for argument 2, but .* 2 positional arguments"),
    ((0, 0), ValueError, "twice"),
    ("0", TypeError, "an int or a tuple of ints"),
    (1.0, TypeError, "an int or a tuple of ints"),
])
def test_bad_argnums(argnums, error, message) -> None:
    with pytest.raises(error, match=message):
        grad(lambda a, b: a * b, argnums=argnums)(1.0, 2.0)


def test_has_aux_needs_a_pair() -> None:
    with pytest.raises(TypeError, match=r"pair \(output, aux\)"):
        grad(lambda x: x * x, has_aux=True)(1.0)


# ---------------------------------------------------------------- the documentation's examples


def _doc_doctests() -> list[tuple[str, str]]:
    """("page:line", text) of every ```python block with >>> examples in README.md and
    docs/*.md."""
    return [(f"{docpages.name(page)}:{line}", body)
            for page, line, info, body in docpages.code_blocks()
            if info == "python" and ">>>" in body]


@pytest.mark.parametrize("where, block", _doc_doctests(), ids=[w for w, _ in _doc_doctests()])
def test_doc_python_examples_run_as_shown(where: str, block: str) -> None:
    parser, runner = doctest.DocTestParser(), doctest.DocTestRunner(
        optionflags=doctest.NORMALIZE_WHITESPACE)
    page, line = where.rsplit(":", 1)
    test = parser.get_doctest(block, {}, where, str(docpages.ROOT / page), int(line))
    out = io.StringIO()
    result = runner.run(test, out=out.write)
    assert result.failed == 0, out.getvalue()
    assert result.attempted > 0


def test_docs_have_the_functional_custom_and_method_examples() -> None:
    text = "".join(block for _, block in _doc_doctests())
    for needle in ("grad(grad(f))", "hessian(loss)", "jacobian(", "@custom_gradient",
                   "GradientTape()", ".T @ A", ".sum()", ".max(axis=0)"):
        assert needle in text, needle
