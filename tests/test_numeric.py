"""The numeric third opinion against mpmath derivatives, over the op table."""

from __future__ import annotations

import math
import random

import mpmath
import numpy as np
import pytest

from gradcalc import ops
from gradcalc.judge import numeric
from gradcalc.lang.syntax import parse
from test_ops import REFERENCE

mpmath.mp.dps = 40

ANALYTIC = [p for p in ops.PRIMITIVES if p.analytic]


def test_the_analytic_flag_is_where_expected() -> None:
    names = {p.name for p in ANALYTIC}
    assert {"add", "mul", "div", "pow", "sin", "exp", "log", "sqrt", "asin"} <= names
    assert not names & {"abs", "relu", "max", "min", "hypot", "atan2", "softplus"}


@pytest.mark.parametrize("prim", ANALYTIC, ids=lambda p: p.name)
def test_complex_step_through_every_analytic_forward(prim: ops.Primitive) -> None:
    """An analytic forward takes complex input and Im f(x + ih)/h is its derivative."""
    rng = random.Random(prim.name)
    n = prim.arity or 2
    for _ in range(5):
        args = [rng.uniform(*prim.sample_interval(i)) for i in range(n)]
        for i in range(n):
            h = 1e-20
            shifted = [complex(a, h) if k == i else a for k, a in enumerate(args)]
            got = float(np.imag(prim.forward(*shifted))) / h
            point = [mpmath.mpf(a) for a in args]
            want = mpmath.diff(lambda t, i=i, point=point: REFERENCE[prim.name](
                *[t if k == i else p for k, p in enumerate(point)]), point[i])
            assert got == pytest.approx(float(want), rel=1e-12, abs=1e-14), (prim.name, i)


@pytest.mark.parametrize("f, x", [(mpmath.exp, 0.3), (mpmath.sin, 2.0), (mpmath.atan, -1.7),
                                  (lambda t: t ** 5 - 3 * t, 1.1),
                                  (lambda t: mpmath.sqrt(t), 0.05)])
def test_ridders_estimate_and_its_error_bound(f, x) -> None:
    value, error = numeric.ridders(lambda t: float(f(t)), x, 0.01)
    true = float(mpmath.diff(f, x))
    assert abs(value - true) <= max(10 * error, 1e-13 * abs(true))
    assert error < 1e-6 * max(1.0, abs(true))


PROGRAMS = [
    # (program, point, reference in mpmath, method expected)
    ("x*sin(x*y) + log(x^2 + 1)*exp(y)", {"x": 0.7, "y": -1.2},
     lambda x, y: x * mpmath.sin(x * y) + mpmath.log(x**2 + 1) * mpmath.exp(y),
     numeric.COMPLEX_STEP),
    ("c = a*b\nc += a; c *= b\nd = c/2 - sin(a)", {"a": 1.1, "b": 0.4},
     lambda a, b: (a * b + a) * b / 2 - mpmath.sin(a), numeric.COMPLEX_STEP),
    ("abs(x - y)*max(x, y, 1) + softplus(x)", {"x": 0.3, "y": 2.2},
     lambda x, y: abs(x - y) * max(x, y, 1) + mpmath.log(1 + mpmath.exp(x)),
     numeric.RICHARDSON),
    ("hypot(x, y) + atan2(y, x)", {"x": -0.5, "y": 1.2},
     lambda x, y: mpmath.sqrt(x**2 + y**2) + mpmath.atan2(y, x), numeric.RICHARDSON),
    ("log(x)", {"x": 0.001}, mpmath.log, numeric.COMPLEX_STEP),
    # structure on a scale much finer than 1: a kink 0.9e-3 away, a steep softplus, a tiny hypot
    ("abs(x - 0.001)", {"x": 1e-4}, lambda x: abs(x - mpmath.mpf("0.001")), numeric.RICHARDSON),
    ("softplus(1000*x)", {"x": 1e-4}, lambda x: mpmath.log(1 + mpmath.exp(1000 * x)),
     numeric.RICHARDSON),
    ("hypot(x, 1e-8)", {"x": 1e-4}, lambda x: mpmath.sqrt(x**2 + mpmath.mpf("1e-16")),
     numeric.RICHARDSON),
]


@pytest.mark.parametrize("src, point, reference, method", PROGRAMS, ids=[p[0] for p in PROGRAMS])
def test_partials_of_programs(src, point, reference, method) -> None:
    program = parse(src)
    mp = {k: mpmath.mpf(v) for k, v in point.items()}
    for name in point:
        est = numeric.partial(program, point, name)
        true = float(mpmath.diff(lambda t, name=name: reference(**{**mp, name: t}), mp[name]))
        assert est.method == method
        assert abs(est.value - true) <= 10 * est.error + 1e-13 * abs(true), (name, est, true)
        assert est.error <= 1e-7 * max(1.0, abs(true))


def test_stop_gradient_is_held_at_the_point() -> None:
    # d/dx stop_gradient(x)*x = x (by hand), whichever method runs
    for src, method in (("stop_gradient(x)*x", numeric.COMPLEX_STEP),
                        ("stop_gradient(x)*abs(x)", numeric.RICHARDSON)):
        est = numeric.partial(parse(src), {"x": 3.0}, "x")
        assert est.method == method and est.value == pytest.approx(3.0, rel=1e-10)


def test_outside_the_domain_is_nan() -> None:
    est = numeric.partial(parse("log(x)"), {"x": -1.0}, "x")
    assert math.isnan(est.value)


def test_numeric_matches_mpmath_over_the_coverage_programs() -> None:
    """Every operator and function, at random points on three scales: within 10x the error
    estimate of mpmath's derivative wherever the function is real and smooth there."""
    from test_cli import COVERAGE

    checked = 0
    for expr, at, reference in COVERAGE:
        program = parse(expr)
        names = [kv.split("=")[0] for kv in at.split(",")]
        rng = random.Random(expr)
        for scale in (0.05, 1.0, 20.0):
            point = {n: rng.uniform(-2, 2) * scale for n in names}
            mp = {k: mpmath.mpf(v) for k, v in point.items()}
            try:
                value = reference(**mp)
            except (ValueError, ZeroDivisionError):
                continue
            if not isinstance(value, mpmath.mpf) or not mpmath.isfinite(value):
                continue
            for name in names:
                true = mpmath.diff(lambda t, name=name, f=reference, mp=mp: f(**{**mp, name: t}),
                                   mp[name])
                if not isinstance(true, mpmath.mpf) or not mpmath.isfinite(true) \
                        or abs(true) > 1e12:
                    continue
                est = numeric.partial(program, point, name)
                assert abs(est.value - float(true)) <= 10 * est.error + 1e-9 * abs(true) \
                    + 1e-12, (expr, point, name, est, float(true))
                checked += 1
    assert checked > 60
