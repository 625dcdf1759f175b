"""Jacobians of several outputs (--of y1,y2) against SymPy built here."""

from __future__ import annotations

import csv
import dataclasses
import io
import math
import warnings

import pytest
import sympy
from hypothesis import HealthCheck, assume, given, settings

from gradcalc import ops
from gradcalc.engine import higher
from gradcalc.engine.evaluate import run
from gradcalc.lang.syntax import parse

PROGRAM = "r = sqrt(x*x + y*y)\ntheta = atan2(y, x)\nq = exp(-r) * sin(theta)"
AT = {"x": 0.6, "y": -1.3}


def sympy_jacobian() -> dict[str, dict[str, float]]:
    x, y = sympy.symbols("x y", real=True)
    r = sympy.sqrt(x * x + y * y)
    theta = sympy.atan2(y, x)
    outputs = {"r": r, "theta": theta, "q": sympy.exp(-r) * sympy.sin(theta)}
    subs = {x: sympy.Float(AT["x"], 30), y: sympy.Float(AT["y"], 30)}
    return {o: {n: float(sympy.diff(f, s).evalf(30, subs=subs)) for n, s in (("x", x), ("y", y))}
            for o, f in outputs.items()}


def test_two_output_jacobian_matches_sympy(gradcalc) -> None:
    r = gradcalc(PROGRAM, "--at", "x=0.6,y=-1.3", "--of", "r,theta", "--format", "json")
    assert r.status == 0, r.err
    obj = r.json()
    want = sympy_jacobian()
    assert obj["output"] == ["r", "theta"]
    assert list(obj["jacobian"]) == ["r", "theta"]
    for out in ("r", "theta"):
        for name in ("x", "y"):
            assert obj["jacobian"][out][name] == pytest.approx(want[out][name], rel=1e-13)
    assert obj["value"]["r"] == pytest.approx((0.6**2 + 1.3**2) ** 0.5, rel=1e-15)
    assert obj["check"]["status"] == "ok"
    assert obj["check"]["partials"]["theta"]["x"]["status"] == "ok"
    assert "gradient" not in obj


def test_three_outputs_and_order_is_kept(gradcalc) -> None:
    obj = gradcalc(PROGRAM, "--at", "x=0.6,y=-1.3", "--of", "q, r ,theta", "--format",
                   "json").json()
    assert list(obj["jacobian"]) == ["q", "r", "theta"]
    want = sympy_jacobian()
    assert obj["jacobian"]["q"]["y"] == pytest.approx(want["q"]["y"], rel=1e-13)


def test_one_backward_pass_per_output(monkeypatch) -> None:
    import gradcalc.engine.evaluate as evaluate

    result = run(parse(PROGRAM), AT)
    calls: list[int] = []
    real = evaluate.scalar_backward

    def counting(plan, prims, args, vals, live, target):
        calls.append(target)
        return real(plan, prims, args, vals, live, target)

    monkeypatch.setattr(evaluate, "scalar_backward", counting)
    rows = higher.jacobian(result, ["r", "theta", "q"])
    assert len(calls) == 3 and len(set(calls)) == 3
    assert [row.output_name for row in rows] == ["r", "theta", "q"]
    assert all(row.tape is result.tape for row in rows)  # one forward tape, shared


def test_single_of_is_unchanged(gradcalc) -> None:
    obj = gradcalc("y = x^2; z = y*3", "--at", "x=2", "--of", "y", "--format", "json").json()
    assert obj["value"] == 4.0 and obj["gradient"] == {"x": 4.0} and obj["output"] == "y"
    assert "jacobian" not in obj


def test_text_matrix_and_null_entries(gradcalc) -> None:
    r = gradcalc("y1 = x*y; y2 = sin(x) + z", "--at", "x=0,y=2,z=3", "--of", "y1,y2")
    assert r.status == 0, r.err
    lines = r.out.splitlines()
    assert lines[:3] == ["jacobian  value  d/dx  d/dy  d/dz",
                         "y1        0      2     0     null",
                         "y2        3      1     null  1"]
    row = next(line for line in lines if line.strip().startswith("dy2/dy"))
    assert "not connected" in row
    assert lines[-1].startswith("check: ok: tape and SymPy agree (4 ok, 2 null")


def test_csv_one_row_per_output(gradcalc) -> None:
    r = gradcalc("y1 = x*y; y2 = x + y", "--at", "x=3,y=4", "--of", "y1,y2", "--format", "csv")
    rows = list(csv.reader(io.StringIO(r.out)))
    assert rows == [["output", "value", "d_x", "d_y"], ["y1", "12.0", "4.0", "3.0"],
                    ["y2", "7.0", "1.0", "1.0"]]


def test_a_wrong_row_is_a_mismatch(gradcalc, monkeypatch) -> None:
    bad = dataclasses.replace(ops.COS, vjps=(lambda g, ans, x: g * ops.np.sin(x),))
    monkeypatch.setitem(ops.FUNCTIONS["cos"], 1, bad)
    r = gradcalc("a = sin(x); b = cos(x)", "--at", "x=0.5", "--of", "a,b", "--format", "json")
    assert r.status == 1
    partials = r.json()["check"]["partials"]
    assert partials["a"]["x"]["status"] == "ok" and partials["b"]["x"]["status"] == "mismatch"


def test_nonfinite_row_names_output_and_node(gradcalc) -> None:
    r = gradcalc("a = x*2; b = log(x)", "--at", "x=0", "--of", "a,b")
    assert r.status == 3
    assert "b: the value is -inf" in r.err and "log" in r.err


def test_a_nonfinite_row_prints_no_numpy_warning(gradcalc) -> None:
    # the second output's backward pass ran outside numpy's quiet state: a RuntimeWarning
    # (divide by zero, naming a line of ops.py) reached the user's stderr
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        r = gradcalc("a = x*2; b = log(x)", "--at", "x=0", "--of", "a,b", "--no-check")
    assert r.status == 3 and "RuntimeWarning" not in r.err, r.err
    assert "b: partial d/dx is not finite" in r.err


@pytest.mark.parametrize("argv, message", [
    (["a = x; b = x*x", "--at", "x=1", "--of", "a,c"], "--of names 'c', which the program"),
    (["a = x; b = x*x", "--at", "x=1", "--of", "a,a"], "--of names 'a' twice"),
    (["a = x; b = x*x", "--at", "x=1", "--of", "a,"], "--of: empty name"),
    (["a = x; b = x*x", "--at", "x=1", "--of", "a,b", "--claim", "x: 1"],
     "not with several --of outputs"),
])
def test_bad_outputs_are_one_error_line(gradcalc, argv, message) -> None:
    r = gradcalc(*argv)
    assert r.status == 2 and r.out == ""
    assert r.err.startswith("error: ") and message in r.err and len(r.err.splitlines()) == 1


def _props():
    import test_properties

    return test_properties


PROPS = _props()


@settings(deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(PROPS.expressions(depth=2), PROPS.expressions(depth=2), PROPS.points)
def test_random_jacobians_match_mpmath(first: str, second: str, point) -> None:
    result = run(parse(f"u = {first}\nv = u * ({second}) + {second}"), point)
    rows = higher.jacobian(result, ["v", "u"])
    for row, source in ((rows[0], f"({first}) * ({second}) + {second}"), (rows[1], first)):
        assume(math.isfinite(float(row.value)) and abs(float(row.value)) < 1e6)
        grad = row.gradient()
        assume(all(g is None or (math.isfinite(g) and abs(g) < 1e6) for g in grad.values()))
        for name in point:
            want = PROPS.mp_partial(source, point, name)
            tape = 0.0 if grad[name] is None else float(grad[name])
            assert PROPS.agree(tape, want, abs(float(row.value))), (row.output_name, name)


def test_an_output_that_is_a_bound_name(gradcalc) -> None:
    obj = gradcalc("y = x*z", "--at", "x=2,z=5", "--of", "y,z", "--format", "json").json()
    assert obj["jacobian"] == {"y": {"x": 5.0, "z": 2.0}, "z": {"x": None, "z": 1.0}}
    assert obj["check"]["status"] == "ok"
