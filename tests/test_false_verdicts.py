"""The last false verdicts seen on ordinary input (each failed before its fix): a claim that
is wrong on a piece the sampler never reached, a branch cut, a true value of 0 against the
tape's rounding (matrix primitives, second order), and the power family at 0.

References are independent of gradcalc: closed forms, SymPy run here, or mpmath.
"""

from __future__ import annotations

import json
import math

import mpmath
import pytest
import sympy as sp


def _json(gradcalc, *argv: str):
    r = gradcalc(*argv, "--format", "json", "--no-cache")
    return r, json.loads(r.out)


# ---------------------------------------------------------------- claims: every piece


@pytest.mark.parametrize("expr, claim, piece", [
    ("relu(x-25)", "x: 0", lambda x: x > 25),            # true Heaviside(x - 25)
    ("abs(x+40)", "x: 1", lambda x: x < -40),            # true sign(x + 40)
    ("max(x, 30)", "x: 0", lambda x: x > 30),            # true Heaviside(x - 30)
])
def test_a_claim_wrong_on_a_far_piece_is_caught(gradcalc, expr, claim, piece) -> None:
    # the piece where the claim is wrong lies beyond the sampler's usual range [-30, 30]
    r, obj = _json(gradcalc, expr, "--claim", claim)
    verdict = obj["check"]["claims"][0]
    assert verdict["status"] == "differs" and r.status == 1
    at = verdict["counterexample"]["at"]["x"]
    assert piece(at)
    x = sp.Symbol("x", real=True)
    f = {"relu(x-25)": sp.Max(0, x - 25), "abs(x+40)": sp.Abs(x + 40),
         "max(x, 30)": sp.Max(x, 30)}[expr]
    true = float(sp.diff(f, x).subs(x, sp.Rational(at)))   # SymPy, run here
    assert verdict["counterexample"]["true"] == true


# ---------------------------------------------------------------- the branch cut of atan2


def test_atan2_on_its_branch_cut_has_no_derivative_across_it(gradcalc) -> None:
    r, obj = _json(gradcalc, "atan2(y,x)", "--at", "y=0,x=-1")
    # mpmath: atan2 jumps by 2 pi across y = 0 for x < 0, so d/dy does not exist there
    with mpmath.workdps(50):
        jump = mpmath.atan2(mpmath.mpf("1e-40"), -1) - mpmath.atan2(mpmath.mpf("-1e-40"), -1)
    assert float(jump) == pytest.approx(2 * math.pi)
    check = obj["check"]
    assert check["partials"]["y"]["status"] == "undefined"
    assert "atan2" in check["partials"]["y"]["reason"]
    # along x the point stays on the cut: atan2(0, x) = pi for every x < 0, so d/dx = 0
    assert check["partials"]["x"]["status"] == "ok"
    # the value itself is defined: pi
    assert check["value"]["status"] == "ok"
    assert check["value"]["symbolic"] == math.pi
    assert obj["value"] == math.pi
    assert r.status == 4


def test_atan2_off_its_cut_is_judged(gradcalc) -> None:
    r, obj = _json(gradcalc, "atan2(y,x)", "--at", "y=0,x=1")
    assert obj["check"]["status"] == "ok" and r.status == 0
    assert obj["check"]["partials"]["y"]["symbolic_value"] == 1.0   # x/(x^2+y^2)


# ---------------------------------------------------------------- a true 0 against rounding


@pytest.mark.parametrize("rows", [[[1, 2, 3], [2, 4, 6], [1, 1, 1]],
                                  [[1, 2, 3], [2, 4, 6], [1, 0, 1]]])
def test_det_of_a_singular_matrix_is_not_a_false_mismatch(gradcalc, rows) -> None:
    r, obj = _json(gradcalc, "det(A)", "--at", f"A={json.dumps(rows)}")
    true = sp.Matrix(rows).adjugate().T          # d det(A)/dA = adj(A)^T, exact (SymPy)
    tape = obj["gradient"]["A"]
    parts = obj["check"]["partials"]["A"]
    for i in range(3):
        for j in range(3):
            p = parts[i][j]
            assert p["status"] == "ok", (i, j, p)
            assert abs(tape[i][j] - float(true[i, j])) <= 1e-9 * abs(float(true[i, j])) + \
                p["floor"]
    assert obj["check"]["status"] == "ok" and r.status == 0


def test_sum_of_softmax_is_constant_and_its_rounding_is_not_a_mismatch(gradcalc) -> None:
    r, obj = _json(gradcalc, "sum(softmax(v))", "--at", "v=[1,2,3]")
    # sum(softmax(v)) = 1 for every v: every partial is exactly 0
    for p, g in zip(obj["check"]["partials"]["v"], obj["gradient"]["v"], strict=True):
        assert p["status"] == "ok", p
        assert abs(g) <= p["floor"]
    assert r.status == 0


@pytest.mark.parametrize("expr, x, second", [
    ("cosh(x)-sinh(x)", 30.0, lambda x: mpmath.exp(-x)),      # = exp(-x)
    ("tanh(x)-(exp(2*x)-1)/(exp(2*x)+1)", 3.7, lambda x: 0),  # = 0 identically
])
def test_second_order_has_a_magnitude_floor(gradcalc, expr, x, second) -> None:
    r, obj = _json(gradcalc, expr, "--at", f"x={x}", "--hessian")
    entry = obj["check"]["hessian"]["entries"]["x"]["x"]
    true = float(second(mpmath.mpf(x)))
    assert entry["status"] == "ok", entry
    assert abs(obj["hessian"]["x"]["x"] - true) <= entry["floor"] + 1e-9 * abs(true)
    assert r.status == 0


# ---------------------------------------------------------------- the power family at 0


@pytest.mark.parametrize("expr, at, name, true", [
    ("0^x*y", "x=0,y=2", "y", 1.0),     # d/dy = 0^x = 1 at x = 0 (0^0 = 1, as on the tape)
    ("0^y", "y=0.45", "y", 0.0),        # 0^y = 0 for every y > 0
    ("x^y", "x=0,y=2", "x", 0.0),       # f(x, 2) = x^2
    ("x^y", "x=0,y=2", "y", 0.0),       # f(0, y) = 0 near y = 2
    ("x^y", "x=0,y=3.5", "y", 0.0),
    ("x^y", "x=0,y=1", "x", 1.0),       # f(x, 1) = x
])
def test_the_power_family_at_zero_is_judged(gradcalc, expr, at, name, true) -> None:
    r, obj = _json(gradcalc, expr, "--at", at)
    p = obj["check"]["partials"][name]
    assert p["status"] == "ok", p
    assert p["symbolic_value"] == true
    assert obj["gradient"][name] == true


@pytest.mark.parametrize("expr, at, name", [
    ("0^x*y", "x=0,y=2", "x"),    # 0^x: 1 at 0, 0 to the right, a pole to the left
    ("x^y", "x=0,y=0.5", "x"),    # sqrt(x): infinite slope at 0
    ("x^y", "x=0,y=0", "y"),      # 0^y: 1 at 0, 0 to the right
])
def test_the_power_family_at_zero_is_undefined_where_no_derivative_exists(
        gradcalc, expr, at, name) -> None:
    r, obj = _json(gradcalc, expr, "--at", at)
    assert obj["check"]["partials"][name]["status"] == "undefined"
    assert r.status in (3, 4)
