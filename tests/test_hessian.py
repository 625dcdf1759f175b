"""Hessians from the tape (reverse over reverse) against SymPy built here and mpmath."""

from __future__ import annotations

import csv
import dataclasses
import io
import math

import mpmath
import numpy as np
import pytest
import sympy
from hypothesis import HealthCheck, assume, given, settings

from gradcalc import Tape, Variable, ops
from gradcalc.engine.evaluate import run
from gradcalc.engine.higher import hessian, second_order
from gradcalc.engine.tape import Tensor, apply
from gradcalc.errors import InputError
from gradcalc.lang.syntax import parse

mpmath.mp.dps = 40


def sympy_hessian(build, point: dict[str, float]) -> dict[str, dict[str, float]]:
    """The Hessian of build(**symbols) at the point, by SymPy (independent of gradcalc)."""
    syms = {n: sympy.Symbol(n, real=True) for n in point}
    f = build(**syms)
    subs = {syms[n]: sympy.Float(v, 30) for n, v in point.items()}
    return {i: {j: float(sympy.diff(f, syms[i], syms[j]).evalf(30, subs=subs)) for j in point}
            for i in point}


def assert_matches(got: dict, want: dict, rel: float = 1e-12, abs_: float = 1e-12) -> None:
    for i, row in want.items():
        for j, w in row.items():
            g = got[i][j]
            assert g is not None, (i, j)
            assert g == pytest.approx(w, rel=rel, abs=abs_), (i, j)


def cli_hessian(gradcalc, expr: str, at: str, *more: str):
    r = gradcalc("--at", at, "--hessian", "--format", "json", *more, "--", expr)
    return r, r.json() if r.out else None


ROSENBROCK = "(1 - x)^2 + 100*(y - x^2)^2"


@pytest.mark.parametrize("at", [{"x": 1.5, "y": 0.7}, {"x": -1.2, "y": 1.0},
                                {"x": 1.0, "y": 1.0}])
def test_rosenbrock_hessian_matches_sympy(gradcalc, at) -> None:
    r, obj = cli_hessian(gradcalc, ROSENBROCK, ",".join(f"{k}={v}" for k, v in at.items()))
    assert r.status == 0, r.err
    want = sympy_hessian(lambda x, y: (1 - x) ** 2 + 100 * (y - x**2) ** 2, at)
    assert_matches(obj["hessian"], want)
    # the textbook form: [[1200x^2 - 400y + 2, -400x], [-400x, 200]]
    x, y = at["x"], at["y"]
    assert obj["hessian"]["y"]["y"] == 200.0
    assert obj["hessian"]["x"]["y"] == pytest.approx(-400 * x, rel=1e-15)
    assert obj["hessian"]["x"]["x"] == pytest.approx(1200 * x * x - 400 * y + 2, rel=1e-14)
    assert obj["check"]["hessian"]["status"] == "ok"
    assert obj["check"]["hessian"]["symbolic"]["x"]["y"] == "-400*x"


def test_seed_example_exact_mixed_partials(gradcalc) -> None:
    r, obj = cli_hessian(gradcalc, "tax*(a*an+o*on)", "a=100,an=2,o=150,on=3,tax=1.1")
    assert r.status == 0, r.err
    h = obj["hessian"]
    assert list(h) == ["a", "an", "o", "on", "tax"]
    assert h["a"]["an"] == h["an"]["a"] == 1.1        # d2/(da dan) = tax, exactly
    assert h["o"]["on"] == h["on"]["o"] == 1.1
    assert h["a"]["tax"] == 2.0 and h["an"]["tax"] == 100.0      # = an, = a
    assert h["o"]["tax"] == 3.0 and h["on"]["tax"] == 150.0
    for name in h:  # a product of sums is linear in each name: true zeros on the diagonal
        assert h[name][name] == 0.0
    assert h["a"]["o"] == 0.0 and h["an"]["on"] == 0.0
    assert obj["gradient"]["a"] == pytest.approx(2.2)  # first order still reported
    assert obj["check"]["status"] == "ok" and obj["check"]["hessian"]["status"] == "ok"
    assert obj["check"]["hessian"]["symbolic"]["a"]["an"] == "tax"


def test_seed_example_text_matrix(gradcalc) -> None:
    r = gradcalc("tax*(a*an+o*on)", "--at", "a=100,an=2,o=150,on=3,tax=1.1", "--hessian")
    assert r.status == 0
    lines = r.out.splitlines()
    start = lines.index("hessian  a    an   o    on   tax")
    assert lines[start + 1:start + 6] == [
        "a        0    1.1  0    0    2",
        "an       1.1  0    0    0    100",
        "o        0    0    0    1.1  3",
        "on       0    0    1.1  0    150",
        "tax      2    100  3    150  0",
    ]
    assert lines[-2].startswith("hessian check: ok: tape and SymPy agree (25 ok")
    assert lines[-1].startswith("note: numbers rounded to 15 significant digits")  # 715.0...01


TRANSCENDENTAL = "exp(x*y) * log(z) + sin(x)*cos(y*z) + atan(x/z) + sqrt(x*x + y) * tanh(z)"


def test_exp_log_trig_hessian_matches_sympy(gradcalc) -> None:
    at = {"x": 0.7, "y": -0.4, "z": 1.9}
    r, obj = cli_hessian(gradcalc, TRANSCENDENTAL, "x=0.7,y=-0.4,z=1.9")
    assert r.status == 0, r.err
    want = sympy_hessian(lambda x, y, z: sympy.exp(x * y) * sympy.log(z)
                         + sympy.sin(x) * sympy.cos(y * z) + sympy.atan(x / z)
                         + sympy.sqrt(x * x + y) * sympy.tanh(z), at)
    assert_matches(obj["hessian"], want)
    assert obj["check"]["hessian"]["status"] == "ok"


def test_hessian_is_symmetric_to_rounding() -> None:
    program = parse("u = x*sin(y) + z^x\nv = u*exp(-y*z) + hypot(x, y*z)\nw = v/(1 + x*x)")
    result = run(program, {"x": 1.3, "y": -0.6, "z": 2.1})
    h = hessian(result).matrix
    scale = max(abs(float(v)) for row in h.values() for v in row.values())
    for i in h:
        for j in h:
            assert abs(float(h[i][j]) - float(h[j][i])) <= 1e-13 * scale, (i, j)


def test_python_api_nested_tapes_second_derivative_of_cube() -> None:
    x = Variable(2.0)
    with Tape() as outer:
        with Tape() as inner:
            y = x * x * x
        dy = inner.gradient(y, x)
    assert float(dy) == 12.0            # 3 x^2
    assert float(outer.gradient(dy, x)) == 12.0   # 6 x


def test_python_api_third_derivative() -> None:
    x = Variable(2.0)
    with Tape() as t3:
        with Tape() as t2:
            with Tape() as t1:
                y = x ** 4
            d1 = t1.gradient(y, x)
        d2 = t2.gradient(d1, x)
    assert (float(d1), float(d2), float(t3.gradient(d2, x))) == (32.0, 48.0, 48.0)


# ---------------------------------------------------------------- every rule, second order


def _mp(prim: ops.Primitive):
    from test_ops import REFERENCE

    return REFERENCE[prim.name]


def _sample(prim: ops.Primitive) -> list[float]:
    rng = np.random.default_rng(len(prim.name) * 7919 + sum(map(ord, prim.name)))
    nargs = prim.arity or 3
    return [float(rng.uniform(*prim.sample_interval(i))) for i in range(nargs)]


# elementwise primitives (reductions over vectors: tests/test_vectors.py checks their Hessians)
SMOOTH = [p for p in ops.PRIMITIVES if p.name != "stop_gradient" and not p.reduction]


@pytest.mark.parametrize("prim", SMOOTH, ids=[p.name for p in SMOOTH])
def test_second_order_of_every_primitive_matches_mpmath(prim: ops.Primitive) -> None:
    point = _sample(prim)
    xs = [Variable(v) for v in point]
    with Tape(persistent=True) as tape:
        y = apply(prim, *xs)
    nodes = tape.nodes
    so = second_order(nodes, tape.node_of(y).id, [tape.node_of(x).id for x in xs])
    f = _mp(prim)
    for i in range(len(xs)):
        for j in range(len(xs)):
            if prim.vjp(i) is None or prim.vjp(j) is None:   # polygamma's whole-number order
                assert so.hessian[i][j] is None
                continue
            order = [0] * len(xs)
            order[i] += 1
            order[j] += 1
            want = float(mpmath.diff(f, [mpmath.mpf(v) for v in point], order))
            got = so.hessian[i][j]
            assert got is not None, (i, j)
            assert float(got) == pytest.approx(want, rel=1e-9, abs=1e-10), (prim.name, i, j)


# x^y where the rule's masks matter: (x, y, d2/dx2, d2/dxdy, d2/dy2), by hand
POW_POINTS = [
    (2.0, 0.0, 0.0, 0.5, math.log(2) ** 2),          # x^0: mixed = 1/x, not 1
    (3.0, 0.0, 0.0, 1 / 3, math.log(3) ** 2),
    (0.0, 2.0, 2.0, None, None),                     # x^2 at 0: d2/dx2 = 2
    (0.0, 3.0, 0.0, None, None),
    (0.0, 1.0, 0.0, None, None),                     # x^1: d2/dx2 = 0
    (3.0, 1.0, 0.0, 1 + math.log(3), 3 * math.log(3) ** 2),
    (-2.0, 2.0, 2.0, None, None),
]


@pytest.mark.parametrize("x, y, xx, xy, yy", POW_POINTS)
def test_pow_second_order_at_awkward_points(x, y, xx, xy, yy) -> None:
    result = run(parse("x^y"), {"x": x, "y": y})
    h = hessian(result).matrix
    assert float(h["x"]["x"]) == pytest.approx(xx, abs=1e-15)
    if xy is not None:
        assert float(h["x"]["y"]) == pytest.approx(xy, rel=1e-14)
        assert float(h["y"]["x"]) == pytest.approx(xy, rel=1e-14)
        assert float(h["y"]["y"]) == pytest.approx(yy, rel=1e-14)


def test_pow_mixed_partial_at_zero_exponent_is_checked(gradcalc) -> None:
    r, obj = cli_hessian(gradcalc, "x^y", "x=2,y=0")
    assert r.status == 0, r.err
    assert obj["hessian"]["x"]["y"] == 0.5
    assert obj["check"]["hessian"]["entries"]["x"]["y"]["status"] == "ok"


# ---------------------------------------------------------------- verdicts and errors


def test_a_rule_whose_own_derivative_is_wrong_is_caught(gradcalc, monkeypatch) -> None:
    # first order right, but cos is taken of the plain value, so the tape cannot see that
    # d/dx cos(x) = -sin(x): only the Hessian check can notice
    bad = dataclasses.replace(ops.SIN, vjps=(
        lambda g, ans, x: g * np.cos(x.value if isinstance(x, Tensor) else x),))
    monkeypatch.setitem(ops.FUNCTIONS["sin"], 1, bad)
    r, obj = cli_hessian(gradcalc, "sin(x)*y", "x=0.5,y=2")
    assert r.status == 1
    assert obj["check"]["partials"]["x"]["status"] == "ok"
    assert obj["check"]["hessian"]["entries"]["x"]["x"]["status"] == "mismatch"
    assert obj["check"]["hessian"]["entries"]["x"]["y"]["status"] == "ok"
    assert obj["check"]["status"] == "mismatch"


def test_unconnected_names_are_null(gradcalc) -> None:
    r, obj = cli_hessian(gradcalc, "x^3", "x=2,z=1")
    assert r.status == 0, r.err
    assert obj["hessian"] == {"x": {"x": 12.0, "z": None}, "z": {"x": None, "z": None}}
    entry = obj["check"]["hessian"]["entries"]["x"]["z"]
    assert entry["status"] == "null" and "does not depend on z" in entry["reason"]


def test_kink_makes_entries_undefined(gradcalc) -> None:
    r, obj = cli_hessian(gradcalc, "abs(x)*y", "x=0,y=2")
    assert r.status == 4, r.err   # computed, not every entry verified
    entries = obj["check"]["hessian"]["entries"]
    assert entries["x"]["y"]["status"] == "undefined"
    assert "abs is not differentiable at 0" in entries["x"]["y"]["reason"]
    assert entries["y"]["y"]["status"] == "ok"


def test_nonfinite_second_partial_exits_3_naming_the_node(gradcalc) -> None:
    r, obj = cli_hessian(gradcalc, "y = x^1.5\nz = y*2", "x=0")
    assert r.status == 3
    assert obj["gradient"]["x"] == 0.0 and obj["hessian"]["x"]["x"] == "inf"
    assert "hessian entry d2/dxdx not finite" in r.err
    assert "node t1 (y) = pow at line 1, column 5" in r.err
    assert "second derivative is not finite" in r.err


def test_csv_has_hessian_columns(gradcalc) -> None:
    r = gradcalc(ROSENBROCK, "--at", "x=1.5,y=0.7", "--hessian", "--format", "csv")
    assert r.status == 0
    rows = list(csv.reader(io.StringIO(r.out)))
    assert rows[0] == ["value", "d_x", "d_y", "h_x_x", "h_x_y", "h_y_x", "h_y_y"]
    assert [float(v) for v in rows[1][3:]] == [2422.0, -600.0, -600.0, 200.0]


def test_no_check_still_computes(gradcalc) -> None:
    r, obj = cli_hessian(gradcalc, "x*x*y", "x=3,y=2", "--no-check")
    assert r.status == 0
    assert obj["hessian"] == {"x": {"x": 4.0, "y": 6.0}, "y": {"x": 6.0, "y": 0.0}}
    assert obj["check"]["hessian"]["status"] == "skipped"


def test_hessian_of_an_intermediate(gradcalc) -> None:
    r, obj = cli_hessian(gradcalc, "y = x^3\nz = y*y", "x=2", "--of", "y")
    assert r.status == 0, r.err
    assert obj["hessian"] == {"x": {"x": 12.0}}
    assert obj["check"]["hessian"]["status"] == "ok"


@pytest.mark.parametrize("argv, message", [
    (["y1 = x; y2 = x*x", "--at", "x=1", "--of", "y1,y2", "--hessian"],
     "--hessian needs a single output"),
    (["y = x", "--at", "x=1", "--of", "q", "--hessian"], "--of names 'q'"),
    (["x*y", "--at", "x=1,y=2", "--hessian", "--expect", "x=2"], "not with --hessian"),
])
def test_bad_hessian_input_is_one_error_line(gradcalc, argv, message) -> None:
    r = gradcalc(*argv)
    assert r.status == 2 and r.out == ""
    assert r.err.startswith("error: ") and message in r.err and len(r.err.splitlines()) == 1


def test_vector_output_is_refused() -> None:
    with pytest.raises(InputError, match="scalar output"):
        hessian(run(parse("x*x"), {"x": np.array([1.0, 2.0])}))


def test_text_lists_disagreeing_entries_including_an_asymmetric_one(gradcalc,
                                                                    monkeypatch) -> None:
    # d/dx (x*y) taken with y's plain value: the tape's d2/dxdy is 0, its d2/dydx is 1
    bad = dataclasses.replace(ops.MUL, vjps=(
        lambda g, ans, x, y: g * (y.value if isinstance(y, Tensor) else y), ops.MUL.vjps[1]))
    monkeypatch.setitem(ops.BINARY, "*", bad)
    r = gradcalc("x*y", "--at", "x=2,y=3", "--hessian")
    assert r.status == 1
    rows = {line.split()[0]: line for line in r.out.splitlines() if line.startswith("  d2/")}
    assert "mismatch: tape 0.0 but the true derivative is 1.0" in rows["d2/dxdy"]
    assert "d2/dydx" not in rows  # agrees with SymPy, so it is not listed
    assert "hessian check: mismatch: tape and SymPy DISAGREE (3 ok, 1 mismatch" in r.out


# other rules at points where their derivative rules divide by or mask something:
# (expression, bindings, {entry: value by hand})
AWKWARD = [
    ("hypot(x, y)", {"x": 0.0, "y": 2.0}, {("x", "x"): 0.5, ("x", "y"): 0.0, ("y", "y"): 0.0}),
    ("sigmoid(x)", {"x": 0.0}, {("x", "x"): 0.0}),
    ("tanh(x) + atan(x) + sin(x)", {"x": 0.0}, {("x", "x"): 0.0}),
    ("abs(x)*x", {"x": -1.5}, {("x", "x"): -2.0}),
    ("relu(x)*x", {"x": 1.5}, {("x", "x"): 2.0}),
    ("max(x, y)^2", {"x": 1.0, "y": 3.0}, {("x", "x"): 0.0, ("x", "y"): 0.0, ("y", "y"): 2.0}),
    ("x / y", {"x": 0.0, "y": 2.0}, {("x", "x"): 0.0, ("x", "y"): -0.25, ("y", "y"): 0.0}),
    ("log(x, b)", {"x": 1.0, "b": math.e}, {("x", "x"): -1.0, ("x", "b"): -1 / math.e,
                                                  ("b", "b"): 0.0}),
]


@pytest.mark.parametrize("expr, at, want", AWKWARD, ids=[a[0] for a in AWKWARD])
def test_second_order_at_awkward_points(expr, at, want) -> None:
    h = hessian(run(parse(expr), at)).matrix
    for (i, j), w in want.items():
        assert float(h[i][j]) == pytest.approx(w, rel=1e-14, abs=1e-15), (i, j)
        assert float(h[j][i]) == pytest.approx(w, rel=1e-14, abs=1e-15), (j, i)


# ---------------------------------------------------------------- random expressions


def _property_helpers():
    import test_properties

    return test_properties


PROPS = _property_helpers()


@settings(deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(PROPS.expressions(), PROPS.points)
def test_random_hessians_match_mpmath_and_are_symmetric(source: str, point) -> None:
    result = run(parse(source), point)
    assume(math.isfinite(float(result.value)) and abs(float(result.value)) < 1e6)
    h = hessian(result).matrix
    values = [0.0 if v is None else float(v) for row in h.values() for v in row.values()]
    assume(all(math.isfinite(v) and abs(v) < 1e6 for v in values))
    names = list(point)
    at = [mpmath.mpf(point[n]) for n in names]

    def f(*args):
        return PROPS.mp_eval(source, dict(zip(names, args, strict=True)))

    scale = max([1.0] + [abs(v) for v in values])
    for a, i in enumerate(names):
        for b, j in enumerate(names):
            tape = 0.0 if h[i][j] is None else float(h[i][j])
            if b >= a:
                order = [0, 0, 0]
                order[a] += 1
                order[b] += 1
                want = float(mpmath.diff(f, at, order))
                assert abs(tape - want) <= 1e-7 * max(scale, abs(want)), (i, j, tape, want)
            mirror = 0.0 if h[j][i] is None else float(h[j][i])
            assert abs(tape - mirror) <= 1e-12 * scale, (i, j)


def test_output_that_is_a_bound_name() -> None:
    # the output is the first leaf; the other names are watched after it
    h = hessian(run(parse("x"), {"x": 1.0, "y": 2.0})).matrix
    assert h == {"x": {"x": 0.0, "y": None}, "y": {"x": None, "y": None}}
