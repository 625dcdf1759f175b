"""HIPS autograd's tests/test_scalar_ops.py and the unary and binary ufunc lists of
tests/test_systematic.py, ported: numpy's functions applied to gradcalc Variables (recorded by
the op table's ufunc map), first and second derivatives (nested tapes, as autograd's
check_grads does to order 2), on scalars and on vectors.

Written anew, not copied: autograd compares with its own finite differences; here every
expected value is an independent mpmath function (the same definition written with mpmath)
and its derivatives by mpmath.diff at 40 digits, never gradcalc's.
"""

from __future__ import annotations

import operator
import random
from collections.abc import Callable
from typing import Any

import mpmath
import numpy as np
import pytest

from gradcalc import Tape, Variable

mpmath.mp.dps = 40
REL = 1e-10


def _sign(x: Any) -> Any:
    return mpmath.mpf((x > 0) - (x < 0))


def _mod(x: Any, y: Any) -> Any:
    return x - y * mpmath.floor(x / y)


# (name, numpy function, mpmath function, interval): autograd's lists and limits (-2..2 where
# autograd gives none); 3*f as in test_scalar_ops where it scales
UNARY: list[tuple[str, Callable[..., Any], Callable[..., Any], tuple[float, float]]] = [
    ("sin", np.sin, mpmath.sin, (-2, 2)),
    ("abs", np.abs, abs, (0.1, 4.0)),
    ("absolute", np.absolute, abs, (0.1, 4.0)),
    ("fabs", np.fabs, abs, (0.1, 4.0)),
    ("arccosh", np.arccosh, mpmath.acosh, (1.1, 4.0)),
    ("arcsinh", np.arcsinh, mpmath.asinh, (-0.9, 0.9)),
    ("arctanh", np.arctanh, mpmath.atanh, (-0.9, 0.9)),
    ("arccos", np.arccos, mpmath.acos, (-0.9, 0.9)),
    ("arcsin", np.arcsin, mpmath.asin, (-0.9, 0.9)),
    ("arctan", np.arctan, mpmath.atan, (-2, 2)),
    ("cos", np.cos, mpmath.cos, (-2, 2)),
    ("cosh", np.cosh, mpmath.cosh, (-2, 2)),
    ("deg2rad", np.deg2rad, lambda x: x * mpmath.pi / 180, (-2, 2)),
    ("degrees", lambda x: np.degrees(x) / 50.0, lambda x: x * 180 / mpmath.pi / 50, (-2, 2)),
    ("exp", np.exp, mpmath.exp, (-2, 2)),
    ("exp2", np.exp2, lambda x: mpmath.power(2, x), (-2, 2)),
    ("expm1", np.expm1, mpmath.expm1, (-2, 2)),
    ("log", np.log, mpmath.log, (0.2, 2.0)),
    ("log10", np.log10, mpmath.log10, (0.2, 2.0)),
    ("log1p", np.log1p, mpmath.log1p, (0.2, 2.0)),
    ("log2", np.log2, lambda x: mpmath.log(x, 2), (0.2, 2.0)),
    ("rad2deg", lambda x: np.rad2deg(x) / 50.0, lambda x: x * 180 / mpmath.pi / 50, (-2, 2)),
    ("radians", np.radians, lambda x: x * mpmath.pi / 180, (-2, 2)),
    ("sign", np.sign, _sign, (0.1, 2.0)),
    ("sign_negative", np.sign, _sign, (-2.0, -0.1)),
    ("sinh", np.sinh, mpmath.sinh, (-2, 2)),
    ("sqrt", np.sqrt, mpmath.sqrt, (1.0, 3.0)),
    ("square", np.square, lambda x: x * x, (-2, 2)),
    ("tan", np.tan, mpmath.tan, (-1.1, 1.1)),
    ("tanh", np.tanh, mpmath.tanh, (-2, 2)),
    ("cbrt", np.cbrt, lambda x: mpmath.sign(x) * mpmath.cbrt(abs(x)), (0.2, 3.0)),
    ("cbrt_negative", np.cbrt, lambda x: mpmath.sign(x) * mpmath.cbrt(abs(x)), (-3.0, -0.2)),
    ("reciprocal", np.reciprocal, lambda x: 1 / x, (0.2, 2.0)),
    ("negative", np.negative, lambda x: -x, (-2, 2)),
    # numpy's sinc is the normalised sin(pi x)/(pi x)
    ("sinc", np.sinc, lambda x: mpmath.sin(mpmath.pi * x) / (mpmath.pi * x), (0.1, 10.0)),
]

BINARY: list[tuple[str, Callable[..., Any], Callable[..., Any],
                   tuple[float, float], tuple[float, float]]] = [
    ("add", np.add, operator.add, (-2, 2), (-2, 2)),
    ("op_add", operator.add, operator.add, (-2, 2), (-2, 2)),
    ("op_sub", operator.sub, operator.sub, (-2, 2), (-2, 2)),
    ("op_mul", operator.mul, operator.mul, (-2, 2), (-2, 2)),
    ("multiply", np.multiply, operator.mul, (-2, 2), (-2, 2)),
    ("divide", np.divide, operator.truediv, (0.1, 1.0), (0.3, 1.0)),
    ("true_divide", np.true_divide, operator.truediv, (-2, 2), (0.8, 1.2)),
    ("true_divide_neg", np.true_divide, operator.truediv, (-2, 2), (-2.0, -0.3)),
    ("logaddexp", np.logaddexp, lambda a, b: mpmath.log(mpmath.exp(a) + mpmath.exp(b)),
     (-2, 2), (-2, 2)),
    ("logaddexp2", np.logaddexp2,
     lambda a, b: mpmath.log(mpmath.power(2, a) + mpmath.power(2, b), 2), (-2, 2), (-2, 2)),
    ("remainder", np.remainder, _mod, (-0.9, 0.9), (0.7, 1.9)),
    ("mod", np.mod, _mod, (-2, 2), (0.8, 2.1)),
    ("mod_neg", np.mod, _mod, (-2, 2), (-2.0, -0.3)),
    ("op_mod", operator.mod, _mod, (-2, 2), (0.3, 2.0)),
    ("op_mod_neg", operator.mod, _mod, (-2, 2), (-2.0, -0.3)),
    ("maximum", np.maximum, max, (-2, 2), (-2, 2)),
    ("fmax", np.fmax, max, (-2, 2), (-2, 2)),
    ("minimum", np.minimum, min, (-2, 2), (-2, 2)),
    ("fmin", np.fmin, min, (-2, 2), (-2, 2)),
    ("power", np.power, mpmath.power, (1.0, 2.0), (-2, 2)),
    ("arctan2", np.arctan2, mpmath.atan2, (0.2, 2), (0.2, 2)),
    ("hypot", np.hypot, lambda a, b: mpmath.sqrt(a * a + b * b), (-2, 2), (0.2, 2)),
]


def _points(name: str, *lims: tuple[float, float], n: int = 3) -> list[tuple[float, ...]]:
    rng = random.Random(name)
    return [tuple(rng.uniform(*lim) for lim in lims) for _ in range(n)]


def _near_a_jump(name: str, ref: Callable[..., Any], point: tuple[float, ...]) -> bool:
    """mpmath.diff's differences must not straddle a jump of mod: keep 1e-6 away from one."""
    if "mod" not in name and "remainder" not in name:
        return False
    x, y = point
    q = x / y
    return abs(q - round(q)) < 1e-6


def _d(ref: Callable[..., Any], point: tuple[float, ...], orders: tuple[int, ...]) -> float:
    return float(mpmath.diff(ref, [mpmath.mpf(v) for v in point], orders))


def _close(got: Any, want: float) -> bool:
    return abs(float(got) - want) <= REL * abs(want) + 1e-13


def _grad_and_hessian(f: Callable[..., Any], point: tuple[float, ...]
                      ) -> tuple[float, list[float], list[list[float]]]:
    """The value, gradient and Hessian of f at the point (nested tapes, row by row)."""
    rows = []
    grad: list[float] = []
    value = 0.0
    for i in range(len(point)):
        xs = [Variable(v) for v in point]
        with Tape(persistent=True) as outer:
            with Tape() as inner:
                y = f(*xs)
            g = inner.gradient(y, xs)
        value = float(np.asarray(y.value))
        if i == 0:
            grad = [float(gk.value) for gk in g]
        rows.append([0.0 if (h := outer.gradient(g[i], x)) is None else float(h.value)
                     for x in xs])
    return value, grad, rows


@pytest.mark.parametrize("name, fn, ref, lims", UNARY, ids=[u[0] for u in UNARY])
def test_unary_ufunc_first_and_second_derivatives(name, fn, ref, lims) -> None:
    for point in _points(name, lims):
        value, grad, hess = _grad_and_hessian(lambda x: 3.0 * fn(x), point)
        assert _close(value, 3 * float(ref(mpmath.mpf(point[0])))), (name, point)
        assert _close(grad[0], 3 * _d(ref, point, (1,))), (name, point)
        assert _close(hess[0][0], 3 * _d(ref, point, (2,))), (name, point)


@pytest.mark.parametrize("name, fn, ref, lims", UNARY, ids=[u[0] for u in UNARY])
def test_unary_ufunc_on_a_vector(name, fn, ref, lims) -> None:
    # autograd's unary_ufunc_check also runs on arrays: the gradient of sum(f(x)) is f'(x)
    xs = [p[0] for p in _points(name + "v", lims, n=4)]
    x = Variable(np.array(xs))
    with Tape() as tape:
        y = np.sum(fn(x))
    got = tape.gradient(y, x).value
    assert all(_close(g, _d(ref, (v,), (1,))) for g, v in zip(got, xs, strict=True)), name


@pytest.mark.parametrize("name, fn, ref, la, lb", BINARY, ids=[b[0] for b in BINARY])
def test_binary_ufunc_first_and_second_derivatives(name, fn, ref, la, lb) -> None:
    for point in _points(name, la, lb):
        if _near_a_jump(name, ref, point):
            continue
        value, grad, hess = _grad_and_hessian(fn, point)
        assert _close(value, float(ref(*[mpmath.mpf(v) for v in point]))), (name, point)
        for i in range(2):
            e = tuple(int(k == i) for k in range(2))
            assert _close(grad[i], _d(ref, point, e)), (name, point, i)
            for j in range(2):
                e2 = tuple(int(k == i) + int(k == j) for k in range(2))
                assert _close(hess[i][j], _d(ref, point, e2)), (name, point, i, j)


# ---------------------------------------------------------------- test_scalar_ops specials


def test_power_with_exponent_zero_has_zero_derivatives_at_zero() -> None:
    # autograd #116: d/dx x^0 at 0 is 0, and so is its derivative
    x = Variable(0.0)
    with Tape(persistent=True) as outer:
        with Tape() as inner:
            y = np.power(x, 0.0)
        g = inner.gradient(y, x)
    assert float(g.value) == 0.0
    h = outer.gradient(g, x)
    assert h is None or float(h.value) == 0.0


def test_power_of_zero_by_the_exponent() -> None:
    # d/dy 0^y = 0^y*log(0) is 0 for y > 0 (the limit), not nan
    for y0 in (0.3, 1.7):
        y = Variable(y0)
        with Tape() as tape:
            z = np.power(0.0, y)
        assert float(tape.gradient(z, y).value) == 0.0


def test_sign_has_zero_derivative_and_a_kink_at_zero(gradcalc) -> None:
    x = Variable(-1.1)
    with Tape() as tape:
        y = 3.0 * np.sign(x)
    assert float(y.value) == -3.0 and float(tape.gradient(y, x).value) == 0.0
    r = gradcalc("sign(x)", "--at", "x=0", "--format", "json")
    assert r.json()["check"]["partials"]["x"]["status"] == "undefined"


def test_abs_at_zero_is_a_kink(gradcalc) -> None:
    r = gradcalc("3*abs(x)", "--at", "x=0", "--format", "json")
    obj = r.json()
    assert obj["gradient"]["x"] == 0.0   # abs'(0) = 0 by convention
    assert obj["check"]["partials"]["x"]["status"] == "undefined"


def test_numpy_sinc_records_the_languages_sinc_of_pi_x() -> None:
    x = Variable(0.37)
    with Tape() as tape:
        y = np.sinc(x)
    assert [n.prim.name for n in tape.nodes if n.prim is not None] == ["mul", "sinc"]
    u = mpmath.pi * mpmath.mpf(0.37)
    assert _close(y.value, float(mpmath.sin(u) / u))
    assert _close(tape.gradient(y, x).value,
                  float(mpmath.diff(lambda t: mpmath.sin(mpmath.pi * t) / (mpmath.pi * t),
                                    mpmath.mpf(0.37))))


@pytest.mark.parametrize("x", [0.0, 1e-300, -1e-8, 0.5])
def test_sinc_and_its_derivatives_near_zero(x: float) -> None:
    # the removable singularity: sinc(0) = 1, sinc'(0) = 0, sinc''(0) = -1/3 (Taylor series)
    from gradcalc.engine import functions as F

    value, grad, hess = _grad_and_hessian(F.sinc, (x,))

    def sinc(t: Any) -> Any:
        return mpmath.sin(t) / t if t != 0 else mpmath.mpf(1)

    t = mpmath.mpf(x)
    series = [sum((-1) ** k * t ** (2 * k - d) * mpmath.ff(2 * k, d) / mpmath.factorial(2 * k + 1)
                  for k in range(30) if 2 * k >= d) for d in (0, 1, 2)]
    assert _close(value, float(series[0])) and _close(value, float(sinc(t)))
    assert _close(grad[0], float(series[1]))
    assert _close(hess[0][0], float(series[2]))


def test_mod_derivatives_are_one_and_minus_the_quotient() -> None:
    # d/dx mod(x, y) = 1, d/dy = -floor(x/y): -7 mod 3 = 2 = -7 - 3*(-3)
    x, y = Variable(-7.0), Variable(3.0)
    with Tape() as tape:
        z = x % y
    gx, gy = tape.gradient(z, [x, y])
    assert float(z.value) == 2.0 and float(gx.value) == 1.0 and float(gy.value) == 3.0
