"""The op table against independent references: mpmath values and mpmath derivatives."""

from __future__ import annotations

import random

import mpmath
import numpy as np
import pytest

import reference_ops
from gradcalc import ops, ops_array, ops_matrix
from gradcalc.symbolic.convert import namespace

mpmath.mp.dps = 40

# Independent definitions of every primitive, in mpmath (tests/reference_ops.py).
REFERENCE = reference_ops.ELEMENTWISE
REDUCTIONS = reference_ops.REDUCTIONS
HELPERS = reference_ops.HELPERS
ELEMENTWISE = [p for p in ops.PRIMITIVES if not p.reduction]

CONVENTIONS_FUNCTIONS = ("sin cos tan asin acos atan atan2 sinh cosh tanh exp log log2 log10 "
                         "sqrt abs pow hypot min max relu sigmoid softplus stop_gradient").split()


def test_every_primitive_has_a_reference() -> None:
    # the matrix primitives have theirs in test_matrix.py (MATRIX_REFERENCE), the array
    # primitives in test_array_ops.py (ARRAY_REFERENCE)
    matrix = {p.name for p in ops_matrix.MATRIX_PRIMITIVES + ops_array.ARRAY_PRIMITIVES}
    assert set(REFERENCE) | set(REDUCTIONS) | set(HELPERS) | matrix == set(ops.BY_NAME)
    assert {p.name for p in ops.PRIMITIVES if p.reduction} - matrix == \
        set(REDUCTIONS) | set(HELPERS)


def test_every_documented_function_is_spelled() -> None:
    assert set(CONVENTIONS_FUNCTIONS) <= set(ops.FUNCTIONS)
    assert ops.resolve("log", 2) is ops.LOGB and ops.resolve("log", 1) is ops.LOG


def _points(prim: ops.Primitive, n: int = 5) -> list[list[float]]:
    rng = random.Random(prim.name)
    nargs = prim.arity or 3
    return [[rng.uniform(*prim.sample_interval(i)) for i in range(nargs)] for _ in range(n)]


CASES = [(p, pt) for p in ELEMENTWISE for pt in _points(p)]




@pytest.mark.parametrize("prim, point", CASES, ids=lambda c: getattr(c, "name", "pt"))
def test_forward_matches_mpmath(prim: ops.Primitive, point: list[float]) -> None:
    got = prim.forward(*[np.float64(v) for v in point])
    want = float(REFERENCE[prim.name](*[mpmath.mpf(v) for v in point]))
    assert got == pytest.approx(want, rel=1e-13, abs=1e-15)


@pytest.mark.parametrize("prim, point", CASES, ids=lambda c: getattr(c, "name", "pt"))
def test_vjps_match_mpmath_derivatives(prim: ops.Primitive, point: list[float]) -> None:
    args = [np.float64(v) for v in point]
    ans = prim.forward(*args)
    g = np.float64(0.75)  # a cotangent other than 1 catches rules that ignore g
    for i in range(len(point)):
        rule = prim.vjp(i)
        if rule is None:  # no gradient: stop_gradient, and polygamma's whole-number order
            assert (prim.name, i) in {("stop_gradient", 0), ("polygamma", 0)}
            continue

        def f(t: mpmath.mpf, i: int = i) -> mpmath.mpf:
            xs = [mpmath.mpf(v) for v in point]
            xs[i] = t
            return REFERENCE[prim.name](*xs)

        want = 0.75 * float(mpmath.diff(f, mpmath.mpf(point[i])))
        assert rule(g, ans, *args) == pytest.approx(want, rel=1e-9, abs=1e-12)


@pytest.mark.parametrize("prim, point", CASES, ids=lambda c: getattr(c, "name", "pt"))
def test_sympy_counterpart_matches_mpmath(prim: ops.Primitive, point: list[float]) -> None:
    sp = namespace()
    expr = prim.sympy(sp, *[sp.Float(v, 30) for v in point])
    want = REFERENCE[prim.name](*[mpmath.mpf(v) for v in point])
    assert float(expr.evalf(30)) == pytest.approx(float(want), rel=1e-13, abs=1e-15)


@pytest.mark.parametrize("prim", ELEMENTWISE, ids=lambda p: p.name)
def test_rules_broadcast_over_arrays(prim: ops.Primitive) -> None:
    pts = np.array(_points(prim, 4))  # shape (4, nargs)
    args = list(pts.T)
    ans = prim.forward(*args)
    assert np.shape(ans) == (4,)
    for i in range(pts.shape[1]):
        rule = prim.vjp(i)
        if rule is None:
            continue
        batch = rule(np.ones(4), ans, *args)
        single = [rule(np.float64(1), prim.forward(*row), *row) for row in pts]
        np.testing.assert_allclose(batch, single, rtol=1e-14)


def test_kinks_are_flagged() -> None:
    assert ops.ABS.kink(np.float64(0.0)) and not ops.ABS.kink(np.float64(0.1))
    assert ops.RELU.kink(np.float64(0.0))
    assert ops.MAX.kink(np.float64(1.0), np.float64(1.0), np.float64(0.0))
    assert not ops.MAX.kink(np.float64(1.0), np.float64(2.0))


def test_max_ties_split_the_gradient() -> None:
    a = b = np.float64(2.0)
    ans = ops.MAX.forward(a, b, np.float64(1.0))
    parts = [ops.MAX.vjp(i)(np.float64(1.0), ans, a, b, np.float64(1.0)) for i in range(3)]
    assert parts == [0.5, 0.5, 0.0]


def test_pow_conventions_at_zero() -> None:
    # d/dx x^0 = 0 everywhere (even at 0), and d/dy 0^y is 0 for y > 0 (not nan)
    dx = ops.POW.vjp(0)(1.0, 1.0, np.float64(0.0), np.float64(0.0))
    dy = ops.POW.vjp(1)(1.0, 0.0, np.float64(0.0), np.float64(2.0))
    assert dx == 0.0 and dy == 0.0


# ---------------------------------------------------------------- reductions over vectors


def _vectors(prim: ops.Primitive, n: int) -> list[np.ndarray]:
    rng = np.random.default_rng(len(prim.name) * 1000 + n)
    return [rng.uniform(-2.0, 2.0, n) for _ in range(1 if prim.arity == 1 or
                                                      prim is ops.INDEX else 2)]


def _call(prim: ops.Primitive, vecs: list[np.ndarray]) -> list[np.ndarray | np.float64]:
    return [*vecs, np.float64(1.0)] if prim is ops.INDEX else vecs


REDUCTION_CASES = [(p, n) for p in ops.PRIMITIVES if p.name in REDUCTIONS for n in (2, 3, 7)]


@pytest.mark.parametrize("prim, n", REDUCTION_CASES, ids=lambda c: getattr(c, "name", c))
def test_reduction_forward_and_vjp_match_mpmath(prim: ops.Primitive, n: int) -> None:
    vecs = _vectors(prim, n)
    args = _call(prim, vecs)
    ans = prim.forward(*args)
    mp = [[mpmath.mpf(float(c)) for c in v] for v in vecs]
    assert np.ndim(ans) == 0
    assert ans == pytest.approx(float(REDUCTIONS[prim.name](*mp)), rel=1e-13, abs=1e-15)
    g = np.float64(0.75)
    for i in range(len(vecs)):
        got = prim.vjp(i)(g, ans, *args)
        assert np.shape(got) == (n,)
        for k in range(n):
            def f(t: mpmath.mpf, i: int = i, k: int = k) -> mpmath.mpf:
                xs = [list(v) for v in mp]
                xs[i][k] = t
                return REDUCTIONS[prim.name](*xs)

            want = 0.75 * float(mpmath.diff(f, mp[i][k]))
            assert got[k] == pytest.approx(want, rel=1e-9, abs=1e-12), (i, k)


@pytest.mark.parametrize("prim, n", REDUCTION_CASES, ids=lambda c: getattr(c, "name", c))
def test_reduction_sympy_counterpart_matches_mpmath(prim: ops.Primitive, n: int) -> None:
    sp = namespace()
    vecs = _vectors(prim, n)
    comps = [tuple(sp.Float(float(c), 30) for c in v) for v in vecs]
    args = [*comps, 1] if prim is ops.INDEX else comps
    got = prim.sympy(sp, *args)
    want = REDUCTIONS[prim.name](*[[mpmath.mpf(float(c)) for c in v] for v in vecs])
    assert float(got.evalf(30)) == pytest.approx(float(want), rel=1e-13, abs=1e-15)


@pytest.mark.parametrize("x", [[0.5, -1.5, 2.0, 0.75], [0.0, 3.0, -2.0], [0.0, 0.0, 2.0, 5.0],
                               [1.7, 0.0]])
def test_prod_others_and_its_vjp_match_mpmath(x: list[float]) -> None:
    # the helper that keeps prod's gradient division-free: forward and VJP, zeros included
    xs, g = np.array(x), np.array([0.75, -1.0, 2.0, 0.5][: len(x)])
    mp = [mpmath.mpf(c) for c in x]
    n = len(x)
    got = ops.PROD_OTHERS.forward(xs)
    assert list(got) == pytest.approx([float(HELPERS["prod_others"](mp, k)) for k in range(n)])
    vjp = ops.PROD_OTHERS.vjp(0)(g, got, xs)
    for j in range(n):
        want = 0
        for k in range(n):
            def f(t: mpmath.mpf, k: int = k, j: int = j) -> mpmath.mpf:
                return HELPERS["prod_others"]([t if i == j else c for i, c in enumerate(mp)], k)
            want += float(g[k]) * mpmath.diff(f, mp[j])
        assert vjp[j] == pytest.approx(float(want), rel=1e-12, abs=1e-14), j


def test_prod_vjp_is_exact_at_zero_components() -> None:
    x = np.array([2.0, 0.0, 3.0, 0.0])
    assert list(ops.PROD.vjp(0)(1.0, ops.PROD.forward(x), x)) == [0.0, 0.0, 0.0, 0.0]
    x = np.array([2.0, 0.0, 3.0])
    assert list(ops.PROD.vjp(0)(1.0, ops.PROD.forward(x), x)) == [0.0, 6.0, 0.0]


def test_max_of_one_vector_splits_ties() -> None:
    x = np.array([1.0, 3.0, 3.0])
    assert list(ops.MAX_OF.vjp(0)(1.0, ops.MAX_OF.forward(x), x)) == [0.0, 0.5, 0.5]
    assert ops.MAX_OF.kink(x) and not ops.MAX_OF.kink(np.array([1.0, 3.0]))
    assert ops.resolve("max", 1) is ops.MAX_OF and ops.resolve("max", 2) is ops.MAX
