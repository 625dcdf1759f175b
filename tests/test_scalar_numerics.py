"""Wrong numbers seen at the edges of float64 (issue 23, item 4), against closed forms in mpmath:
a partial that is finite although an intermediate of the textbook rule overflows, and second
derivatives (reverse over reverse, the VJPs run recorded) whose intermediates over- or
underflow where the true entry does not."""

from __future__ import annotations

import math

import mpmath
import pytest

from gradcalc import Tape, Variable

mpmath.mp.dps = 50


def _hessian(f, point: list[float]) -> list[list[float]]:
    """The Hessian of f at the point by nested tapes (the API's reverse over reverse)."""
    rows = []
    for i in range(len(point)):
        xs = [Variable(v) for v in point]
        with Tape(persistent=True) as outer:
            with Tape() as inner:
                y = f(*xs)
            gi = inner.gradient(y, xs[i])
        rows.append([float(outer.gradient(gi, x).value) for x in xs])
    return rows


def _close(got: float | str, want) -> bool:
    got = float(got)  # JSON writes a non-finite number as "inf"
    return math.isfinite(got) and abs(mpmath.mpf(got) - want) <= abs(want) * 1e-13


def test_pow_d_dy_is_finite_where_the_power_overflows(gradcalc) -> None:
    # 2^1024 overflows float64 (the value is inf, and so is d/dx = 1024*2^1023), but
    # d/dy = 2^1024*log(2) = 1.246e308 is below the largest float
    r = gradcalc("pow(x,y)", "--at", "x=2,y=1024", "--format", "json")
    obj = r.json()
    want = mpmath.power(2, 1024) * mpmath.log(2)
    assert want < mpmath.mpf(1.7976931348623157e308)
    assert obj["value"] == "inf" and obj["gradient"]["x"] == "inf"
    assert _close(obj["gradient"]["y"], want)
    assert obj["check"]["partials"]["y"]["status"] == "ok"


def test_hessian_of_a_cube_at_1e200() -> None:
    # (x^3)'' = 6x = 6e200, although (x^3)' = 3e400 overflows
    (row,) = _hessian(lambda x: x ** 3, [1e200])
    assert _close(row[0], 6 * mpmath.mpf(1e200))


def test_hessian_of_a_cube_at_1e200_on_the_command_line(gradcalc) -> None:
    r = gradcalc("--at", "x=1e200", "--hessian", "--format", "json", "--", "x^3")
    h = r.json()["hessian"]
    assert _close(h["x"]["x"], 6 * mpmath.mpf(1e200))


def test_hessian_of_sqrt_of_a_subnormal_product() -> None:
    # f = sqrt(x*y): f_xy = 1/(4 sqrt(xy)), f_yy = -x^2/(4 (xy)^(3/2)); x*y = 1e-310 is
    # subnormal and 1/sqrt(xy)^3 overflows on the way
    # (row by row, d/dx of d/dy; d/dy of d/dx meets -2.5e454 on the way and overflows, which
    # the Hessian of the command line then takes from this order: see the next test)
    x, y = mpmath.mpf(1e-300), mpmath.mpf(1e-10)
    h = _hessian(lambda a, b: (a * b) ** 0.5, [1e-300, 1e-10])
    want_xy = 1 / (4 * mpmath.sqrt(x * y))
    want_yy = -x * x / (4 * (x * y) ** mpmath.mpf(1.5))
    assert _close(h[1][0], want_xy)
    assert _close(h[1][1], want_yy)


def test_hessian_of_sqrt_of_a_subnormal_product_checks_ok(gradcalc) -> None:
    r = gradcalc("--at", "x=1e-300,y=1e-10", "--hessian", "--format", "json", "--",
                 "sqrt(x*y)")
    obj = r.json()
    x, y = mpmath.mpf(1e-300), mpmath.mpf(1e-10)
    assert _close(obj["hessian"]["x"]["y"], 1 / (4 * mpmath.sqrt(x * y)))
    assert _close(obj["hessian"]["y"]["y"], -x * x / (4 * (x * y) ** mpmath.mpf(1.5)))
    entries = obj["check"]["hessian"]["entries"]
    assert all(e["status"] == "ok" for row in entries.values() for e in row.values()
               if e["status"] != "undefined"), entries


@pytest.mark.parametrize("x", [1e200, 1e154, 3.0])
def test_hessian_of_a_cube_on_the_plain_and_the_recorded_path(x: float) -> None:
    (row,) = _hessian(lambda v: v * v * v, [x])
    assert _close(row[0], 6 * mpmath.mpf(x))
