"""The block Hessian (forward over reverse, engine/tangents.py) against independent references
(mpmath at 40 digits, SymPy run here, the extended Rosenbrock function's closed form) and
against reverse over reverse; and the fallback to reverse over reverse where the block method
does not carry a program."""

from __future__ import annotations

import math
import sys
from pathlib import Path

import mpmath
import numpy as np
import pytest
import sympy

from gradcalc import Tape, Variable, ops
from gradcalc.engine.evaluate import run
from gradcalc.engine.higher import hessian, second_order
from gradcalc.engine.tangents import Dual, apply, block_second_order
from gradcalc.engine.tape import apply as record
from gradcalc.lang.syntax import parse

# the benchmark's functions (bench/bench_hessian.py), the same text the figures measure
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "bench"))
from bench_hessian import dense, rosenbrock  # noqa: E402

mpmath.mp.dps = 40

# every elementwise primitive of the table (as tests/test_hessian.py's mpmath test)
SMOOTH = [p for p in ops.PRIMITIVES if p.name != "stop_gradient" and not p.reduction]

# the block and the reverse-over-reverse Hessians compute the same sums of products in other
# orders: they agree to this many units of roundoff of the largest entry of the entry's row
# (measured: at most 4.3, the dense function at n = 100; the extended Rosenbrock function's
# are the same bits)
ULPS = 8


def _mp(prim: ops.Primitive):
    from test_ops import REFERENCE

    return REFERENCE[prim.name]


def _sample(prim: ops.Primitive, seed: int = 0) -> list[float]:
    rng = np.random.default_rng(seed * 104729 + sum(map(ord, prim.name)))
    nargs = prim.arity or 3
    return [float(rng.uniform(*prim.sample_interval(i))) for i in range(nargs)]


def _one_primitive(prim: ops.Primitive, point: list[float]):
    """The flat program prim(x0, x1, ...) as the block method takes it: leaves, then the
    primitive's slot."""
    m = len(point)
    prims = [None] * m + [prim]
    args = [()] * m + [tuple(range(m))]
    values = [*point, float(record(prim, *point).value)]
    return prims, args, values, m, list(range(m))


def _agree(a: np.ndarray, b: np.ndarray, ulps: float = ULPS) -> None:
    """Every entry within ulps units of roundoff of the larger magnitude in its row."""
    scale = np.maximum(np.max(np.abs(b), axis=1, keepdims=True), np.finfo(float).tiny)
    err = np.abs(a - b) / (scale * np.finfo(float).eps)
    assert np.all(err <= ulps), float(np.max(err))


@pytest.mark.parametrize("prim", SMOOTH, ids=[p.name for p in SMOOTH])
def test_block_hessian_of_every_primitive_matches_mpmath(prim: ops.Primitive) -> None:
    for seed in range(3):
        point = _sample(prim, seed)
        gradient, h = block_second_order(*_one_primitive(prim, point))
        f = _mp(prim)
        for i in range(len(point)):
            if prim.vjp(i) is None:   # polygamma's whole-number order: not differentiated
                assert gradient[i] is None
                continue
            for j in range(len(point)):
                if prim.vjp(j) is None:
                    continue
                order = [0] * len(point)
                order[i] += 1
                order[j] += 1
                want = float(mpmath.diff(f, [mpmath.mpf(v) for v in point], order))
                assert h[i, j] == pytest.approx(want, rel=1e-9, abs=1e-10), (point, i, j)


@pytest.mark.parametrize("prim", SMOOTH, ids=[p.name for p in SMOOTH])
def test_block_hessian_of_every_primitive_agrees_with_reverse_over_reverse(
        prim: ops.Primitive) -> None:
    """prim of arguments that are themselves products and sums of the sources (so the second
    pass meets every rule's own derivative and the chain rule around it), both ways."""
    for seed in range(3):
        point = _sample(prim, seed)
        m = len(point)
        xs = [Variable(v) for v in point]
        with Tape(persistent=True) as tape:
            # u_i = x_i + (x_j - c)^2/16 with c = x_j's value: x_i at the sample point (inside
            # the primitive's sample domain), with d2u_i/dx_j^2 = 1/8
            us = []
            for i in range(m):
                d = xs[(i + 1) % m] - point[(i + 1) % m]
                us.append(xs[i] + d * d / 16.0)
            y = record(prim, *us)
        nodes = tape.nodes
        target = tape.node_of(y).id
        sources = [tape.node_of(x).id for x in xs]
        gradient, h = block_second_order([node.prim for node in nodes],
                                         [node.inputs for node in nodes],
                                         [node.value for node in nodes], target, sources)
        so = second_order(nodes, target, sources)
        want = np.array([[0.0 if e is None else float(e) for e in row] for row in so.hessian])
        live = [i for i in range(m) if so.gradient[i] is not None]
        assert [g is not None for g in gradient] == [g is not None for g in so.gradient]
        _agree(h[np.ix_(live, live)], want[np.ix_(live, live)])




def _matrix(h) -> np.ndarray:
    return np.array([[float(h.matrix[i][j]) for j in h.names] for i in h.names])


def _point(n: int) -> dict[str, float]:
    return {f"x{i}": 0.5 + 0.013 * i - 0.002 * i * i for i in range(n)}


@pytest.mark.parametrize("n", [2, 10, 100])
def test_rosenbrock_block_hessian_matches_its_closed_form(n: int) -> None:
    """H_ii = 2 + 1200 x_i^2 - 400 x_{i+1} (i < n-1) + 200 (i > 0), H_i,i+1 = -400 x_i, in
    mpmath at 40 digits; and the same numbers as reverse over reverse."""
    point = _point(n)
    r = run(parse(rosenbrock(n)), point)
    h = hessian(r)
    assert h.method == "block"
    x = [mpmath.mpf(point[f"x{i}"]) for i in range(n)]
    want = np.zeros((n, n))
    for i in range(n):
        d = mpmath.mpf(0)
        if i < n - 1:
            d += 2 + 1200 * x[i] ** 2 - 400 * x[i + 1]
            want[i, i + 1] = want[i + 1, i] = float(-400 * x[i])
        if i > 0:
            d += 200
        want[i, i] = float(d)
    got = _matrix(h)
    _agree(got, want, ulps=64)   # the float64 evaluation's own rounding, at most
    _agree(got, _matrix(hessian(r, block=False)))


@pytest.mark.parametrize("n", [3, 8])
def test_dense_block_hessian_matches_sympy(n: int) -> None:
    point = _point(n)
    r = run(parse(dense(n)), point)
    h = hessian(r)
    assert h.method == "block"
    syms = [sympy.Symbol(f"x{i}", real=True) for i in range(n)]
    f = sympy.exp(sum(syms) / n) * sum(s**2 * sympy.sin(s) for s in syms)
    subs = {s: sympy.Float(point[str(s)], 40) for s in syms}
    want = np.array([[float(sympy.diff(f, a, b).evalf(40, subs=subs)) for b in syms]
                     for a in syms])
    got = _matrix(h)
    _agree(got, want, ulps=64)
    _agree(got, _matrix(hessian(r, block=False)))


def test_dense_block_hessian_at_n_100_agrees_with_differences_of_the_gradient() -> None:
    """n = 100 (too many for SymPy here): central differences of the tape's gradient, step
    h = 1e-5 (truncation error about h^2 * f'''' ~ 1e-9 relative), column by column."""
    n = 100
    point = _point(n)
    program = parse(dense(n))
    got = _matrix(hessian(run(program, point)))
    step = 1e-5
    for j in (0, 37, 99):
        up, down = dict(point), dict(point)
        up[f"x{j}"] += step
        down[f"x{j}"] -= step
        gu, gd = run(program, up).gradient(), run(program, down).gradient()
        col = np.array([(float(gu[f"x{i}"]) - float(gd[f"x{i}"])) / (2 * step)
                        for i in range(n)])
        assert np.allclose(got[:, j], col, rtol=1e-6, atol=1e-6 * np.max(np.abs(col)))
    _agree(got, got.T)   # symmetric to rounding (measured: 1.4 ulps, as reverse over reverse)


@pytest.mark.parametrize("expr, at", [
    ("tax*(a*an+o*on)", "a=100,an=2,o=150,on=3,tax=1.1"),
    ("(1 - x)^2 + 100*(y - x^2)^2", "x=1.5,y=0.7"),
    ("exp(x*y)/(1 + x^2) - sin(x - y)*sqrt(y)", "x=0.3,y=1.7"),
    ("atan2(y, x) + hypot(x, y)*log(x*y)", "x=0.8,y=2.5"),
    ("a = x*y; b = a + x; b^3/a", "x=1.25,y=-0.5"),
])
def test_block_hessian_agrees_with_reverse_over_reverse(expr: str, at: str) -> None:
    point = {k: float(v) for k, v in (p.split("=") for p in at.split(","))}
    r = run(parse(expr), point)
    block, reverse = hessian(r), hessian(r, block=False)
    assert (block.method, reverse.method) == ("block", "reverse")
    _agree(_matrix(block), _matrix(reverse))
    assert block.nonfinite == reverse.nonfinite == []


def test_block_hessian_keeps_none_for_a_name_the_output_does_not_depend_on() -> None:
    r = run(parse("x^2*y + stop_gradient(z)*x"), {"x": 2.0, "y": 3.0, "z": 5.0, "w": 1.0})
    h = hessian(r)
    assert h.method == "block"
    assert h.matrix["x"]["x"] == 6.0 and h.matrix["x"]["y"] == 4.0
    assert h.matrix["y"]["y"] == 0.0 and type(h.matrix["y"]["y"]) is np.float64
    for other in ("z", "w"):   # cut by stop_gradient, and never read
        assert all(h.matrix[other][j] is None and h.matrix[j][other] is None for j in h.names)


def test_block_hessian_magnitudes_are_reverse_over_reverses() -> None:
    r = run(parse("exp(x*y) - x*y + cos(x)*y"), {"x": 0.7, "y": -1.3})
    block, reverse = hessian(r), hessian(r, block=False)
    assert block.magnitudes is not None and reverse.magnitudes is not None
    assert block.magnitudes() == reverse.magnitudes()


@pytest.mark.parametrize("expr, at, why", [
    ("sum(w^2*x)", {"w": np.array([1.0, 2.0]), "x": 3.0}, "a vector binding"),
    ("x^1.5 + y", {"x": 0.0, "y": 1.0}, "a non-finite entry"),
    ("sqrt(x*y)", {"x": 0.0, "y": 2.0}, "a non-finite entry"),
])
def test_fallback_to_reverse_over_reverse_is_taken_and_right(expr, at, why) -> None:
    r = run(parse(expr), at)
    h = hessian(r)
    assert h.method == "reverse", why
    other = hessian(r, block=False)
    assert h.names == other.names
    for i in h.names:
        for j in h.names:
            a, b = h.matrix[i][j], other.matrix[i][j]
            assert (a is None and b is None) or np.array_equal(a, b, equal_nan=True)
    assert h.nonfinite == other.nonfinite


def test_fallback_entries_of_a_vector_program_match_their_closed_form() -> None:
    r = run(parse("sum(w^2*x)"), {"w": np.array([1.0, 2.0]), "x": 3.0})
    h = hessian(r)
    assert h.method == "reverse"
    # d2/dw_i dw_j = 2x [i = j], d2/dw_i dx = 2 w_i, d2/dx2 = 0
    assert _matrix(h).tolist() == [[6.0, 0.0, 2.0], [0.0, 6.0, 4.0], [2.0, 4.0, 0.0]]


def test_a_rule_the_block_method_cannot_carry_falls_back() -> None:
    """A primitive registered at run time whose rule calls a numpy function the Duals do not
    answer (np.sum of an elementwise value): the block method raises Unsupported, and the
    Hessian comes from reverse over reverse, right."""
    cube = ops.Primitive("cube_block_test", 1, lambda x: x * x * x,
                         (lambda g, ans, x: g * np.sum(3 * x * x),),
                         lambda sp, x: x**3, spelling="cube_block_test")
    ops.register(cube)
    try:
        r = run(parse("cube_block_test(x)*y"), {"x": 2.0, "y": 5.0})
        h = hessian(r)
        assert h.method == "reverse"
        assert _matrix(h).tolist() == [[60.0, 12.0], [12.0, 0.0]]   # 6xy, 3x^2, 0
    finally:
        ops.unregister("cube_block_test")


# ---------------------------------------------------------------- the Duals' arithmetic


@pytest.mark.parametrize("prim", [ops.ADD, ops.SUB, ops.MUL, ops.NEG],
                         ids=["add", "sub", "mul", "neg"])
def test_dual_arithmetic_is_its_records_rules_bit_for_bit(prim: ops.Primitive) -> None:
    """+ - * and unary - of Duals are written out (for speed); they give apply()'s bits: the
    records' own forward and rules on the blocks."""
    op = {"add": lambda a, b: a + b, "sub": lambda a, b: a - b,
          "mul": lambda a, b: a * b, "neg": lambda a: -a}[prim.name]
    rng = np.random.default_rng(5)
    for _ in range(200):
        a, b = (np.float64(v) for v in rng.standard_normal(2) * 10.0 ** rng.integers(-5, 5, 2))
        da, db = rng.standard_normal(4), rng.standard_normal(4)
        cases = ([(Dual(a, da),)] if prim.arity == 1 else
                 [(Dual(a, da), Dual(b, db)), (Dual(a, da), b), (a, Dual(b, db))])
        for xs in cases:
            got, want = op(*xs), apply(prim, *xs)
            assert got.value == want.value and type(got.value) is type(want.value)
            assert np.array_equal(got.dot, want.dot)


def test_dual_refuses_what_would_lose_its_tangent() -> None:
    from gradcalc.engine.tangents import Unsupported

    with pytest.raises(Unsupported):
        bool(Dual(np.float64(1.0), np.ones(2)))
    with pytest.raises(Unsupported):
        np.asarray(Dual(np.float64(1.0), np.ones(2)))
    with pytest.raises(Unsupported):
        float(Dual(np.float64(1.0), np.ones(2)))
    with pytest.raises(Unsupported):
        np.sum(Dual(np.float64(1.0), np.ones(2)))


def test_points_hessian_rows_take_the_block_method(gradcalc, tmp_path, monkeypatch) -> None:
    """--points --hessian: each row's Hessian is taken by the block method, and is the
    one-point call's, byte for byte."""
    from gradcalc.engine import higher

    methods: list[str] = []
    original = higher.hessian

    def spy(r, block=True):
        h = original(r, block)
        methods.append(h.method)
        return h

    monkeypatch.setattr(higher, "hessian", spy)
    path = tmp_path / "p.csv"
    path.write_text("x,y\n1.5,0.7\n-1.2,1.0\n0.25,3\n")
    rows = gradcalc("(1 - x)^2 + 100*(y - x^2)^2*sin(x*y)", "--points", str(path),
                    "--hessian", "--format", "csv", "--no-check")
    assert rows.status == 0, rows.err
    lines = rows.out.splitlines()
    for line, at in zip(lines[1:], ("x=1.5,y=0.7", "x=-1.2,y=1.0", "x=0.25,y=3"), strict=True):
        one = gradcalc("(1 - x)^2 + 100*(y - x^2)^2*sin(x*y)", "--at", at, "--hessian",
                       "--format", "csv", "--no-check")
        assert one.out.splitlines()[1] == line
    assert not math.isnan(float(lines[1].split(",")[-1]))
    assert methods == ["block"] * 6   # three rows, then the three one-point calls
