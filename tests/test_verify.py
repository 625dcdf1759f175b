"""Verification of hand-derived gradients: --claim, --expect, --numeric, edge cases, exit
statuses. References are mpmath derivatives of functions written here, never gradcalc."""

from __future__ import annotations

import dataclasses
import json
import random
import re
import time
from pathlib import Path

import mpmath
import pytest

import docpages
from gradcalc import ops
from gradcalc.judge import claims as verify
from gradcalc.judge import numeric
from gradcalc.judge.check import Partial
from gradcalc.judge.numeric import Estimate

mpmath.mp.dps = 40

# (expression, variable, right claim, wrong claim, f in mpmath, right and wrong claims in
# mpmath): product, chain and quotient rules, trig, log, powers with a variable exponent.
CASES = [
    ("x*sin(x)", "x", "sin(x) + x*cos(x)", "cos(x)",
     lambda x: x * mpmath.sin(x), lambda x: mpmath.sin(x) + x * mpmath.cos(x),
     lambda x: mpmath.cos(x)),
    ("x^2*y^3", "y", "3*x^2*y^2", "3*x*y^2",
     lambda x, y: x**2 * y**3, lambda x, y: 3 * x**2 * y**2, lambda x, y: 3 * x * y**2),
    ("sin(x^2)", "x", "2*x*cos(x^2)", "cos(x^2)",
     lambda x: mpmath.sin(x**2), lambda x: 2 * x * mpmath.cos(x**2), lambda x: mpmath.cos(x**2)),
    ("exp(-x^2/2)", "x", "-x*exp(-x^2/2)", "exp(-x^2/2)",
     lambda x: mpmath.exp(-x**2 / 2), lambda x: -x * mpmath.exp(-x**2 / 2),
     lambda x: mpmath.exp(-x**2 / 2)),
    ("x/(1+x^2)", "x", "(1-x^2)/(1+x^2)^2", "(x^2-1)/(1+x^2)^2",
     lambda x: x / (1 + x**2), lambda x: (1 - x**2) / (1 + x**2)**2,
     lambda x: (x**2 - 1) / (1 + x**2)**2),
    ("sin(x)/x", "x", "(x*cos(x) - sin(x))/x^2", "(sin(x) - x*cos(x))/x^2",
     lambda x: mpmath.sin(x) / x, lambda x: (x * mpmath.cos(x) - mpmath.sin(x)) / x**2,
     lambda x: (mpmath.sin(x) - x * mpmath.cos(x)) / x**2),
    ("tan(x)", "x", "1/cos(x)^2", "1 + tan(x)",
     mpmath.tan, lambda x: 1 / mpmath.cos(x)**2, lambda x: 1 + mpmath.tan(x)),
    ("atan(x/y)", "y", "-x/(x^2+y^2)", "x/(x^2+y^2)",
     lambda x, y: mpmath.atan(x / y), lambda x, y: -x / (x**2 + y**2),
     lambda x, y: x / (x**2 + y**2)),
    ("log(x^2+1)", "x", "2*x/(x^2+1)", "1/(x^2+1)",
     lambda x: mpmath.log(x**2 + 1), lambda x: 2 * x / (x**2 + 1), lambda x: 1 / (x**2 + 1)),
    ("log(x)*y", "x", "y/x", "1/x",
     lambda x, y: mpmath.log(x) * y, lambda x, y: y / x, lambda x, y: 1 / x),
    ("x^y", "y", "x^y*log(x)", "y*x^(y-1)",
     lambda x, y: mpmath.power(x, y), lambda x, y: mpmath.power(x, y) * mpmath.log(x),
     lambda x, y: y * mpmath.power(x, y - 1)),
    ("x^x", "x", "x^x*(log(x) + 1)", "x*x^(x-1)",
     lambda x: mpmath.power(x, x), lambda x: mpmath.power(x, x) * (mpmath.log(x) + 1),
     lambda x: x * mpmath.power(x, x - 1)),
    ("2^x", "x", "2^x*log(2)", "x*2^(x-1)",
     lambda x: mpmath.power(2, x), lambda x: mpmath.power(2, x) * mpmath.log(2),
     lambda x: x * mpmath.power(2, x - 1)),
    ("acos(x)*y", "x", "-y/sqrt(1-x^2)", "y/sqrt(1-x^2)",
     lambda x, y: mpmath.acos(x) * y, lambda x, y: -y / mpmath.sqrt(1 - x**2),
     lambda x, y: y / mpmath.sqrt(1 - x**2)),
]
IDS = [c[0] for c in CASES]


def _true(f, var: str, at: dict[str, float]):
    point = {n: mpmath.mpf(v) for n, v in at.items()}
    return mpmath.diff(lambda t: f(**{**point, var: t}), point[var])


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_the_hand_derived_references_are_right(case) -> None:
    """The test data itself, against mpmath: the right claims are right, the wrong ones wrong."""
    expr, var, _, _, f, right, wrong = case
    rng = random.Random(expr)
    names = list(f.__code__.co_varnames[: f.__code__.co_argcount])
    wrong_somewhere = False
    for _ in range(20):
        at = {n: rng.uniform(0.2, 0.9) for n in names}
        true = _true(f, var, at)
        assert right(**at) == pytest.approx(true, rel=1e-20)
        wrong_somewhere |= abs(wrong(**at) - true) > 1e-6 * abs(true)
    assert wrong_somewhere


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_right_claim_verified_and_wrong_claim_caught(gradcalc, case) -> None:
    expr, var, right, wrong, f, _, wrong_mp = case
    r = gradcalc(expr, "--claim", f"{var}: {right}", "--claim", f"{var}: {wrong}",
                 "--format", "json")
    assert r.status == 1, r.err
    good, bad = r.json()["check"]["claims"]
    assert good["status"] in ("proved", "equal"), good
    assert bad["status"] == "differs", bad
    example = bad["counterexample"]
    at = example["at"]
    # the counterexample is genuine: mpmath agrees that the claim is off there
    true = _true(f, var, at)
    assert example["true"] == pytest.approx(float(true), rel=1e-9)
    assert example["yours"] == pytest.approx(float(wrong_mp(**at)), rel=1e-9)
    assert abs(wrong_mp(**at) - true) > 1e-9 * abs(true)
    text = gradcalc(expr, "--claim", f"{var}: {wrong}").out
    assert all(len(line) <= 100 for line in text.splitlines())
    # a verdict too long for its row is printed in full under the table, wrapped (what differs
    # structurally, when something does, before the counterexample: test_explain.py)
    assert re.search(r"differs: (.*; )?e\.g\. at .*, yours gives .*, true is ",
                     " ".join(text.split()))


def test_claim_that_differs_on_part_of_the_domain(gradcalc) -> None:
    r = gradcalc("x*abs(x)", "--claim", "x: 2*x", "--format", "json")
    assert r.status == 1
    claim = r.json()["check"]["claims"][0]
    assert claim["status"] == "differs"
    x = claim["counterexample"]["at"]["x"]
    assert x < 0  # equal for x > 0; only the negative half shows the difference
    assert claim["counterexample"]["true"] == pytest.approx(2 * abs(x))
    assert claim["counterexample"]["yours"] == pytest.approx(2 * x)
    r = gradcalc("x*abs(x)", "--claim", "x: 2*abs(x)")
    assert r.status == 0 and "proved equal" in r.out


def test_equal_but_hard_to_simplify(gradcalc) -> None:
    r = gradcalc("(sin(x)^2 + cos(x)^2)*x", "--claim", "x: 1", "--format", "json")
    assert r.status == 0 and r.json()["check"]["claims"][0]["status"] in ("proved", "equal")
    # asin(x) + acos(x) = pi/2 on [-1, 1]: random points outside the domain are discarded
    r = gradcalc("(asin(x) + acos(x))*y", "--claim", "y: pi/2", "--format", "json")
    assert r.status == 0
    claim = r.json()["check"]["claims"][0]
    assert claim["status"] in ("proved", "equal") and claim["points"] == 100
    assert claim["counterexample"] is None


def test_random_points_when_sympy_cannot_decide(gradcalc, monkeypatch) -> None:
    monkeypatch.setattr(verify.symbolic.namespace(), "simplify", lambda e: e)
    r = gradcalc("(sin(x)^2 + cos(x)^2)*x", "--claim", "x: 1", "--claim-points", "50")
    assert r.status == 0
    flat = " ".join(r.out.split())  # long verdicts are wrapped under the table
    assert "equal at 50 random points" in flat
    assert f"probability {0.95 ** 50:.2%}" in flat  # (1 - 5%)^50
    assert "SymPy could not prove it" in flat


def test_claim_is_also_checked_at_the_point(gradcalc) -> None:
    r = gradcalc("x*abs(x)", "--at", "x=-1.5", "--claim", "x: 2*x", "--format", "json")
    assert r.status == 1
    claim = r.json()["check"]["claims"][0]
    assert claim["counterexample"]["at"] == {"x": -1.5}
    assert claim["counterexample"]["true"] == 3.0 and claim["counterexample"]["yours"] == -3.0
    r = gradcalc("x*abs(x)", "--at", "x=1.5", "--claim", "x: 2*abs(x)", "--format", "json")
    claim = r.json()["check"]["claims"][0]
    assert r.status == 0 and claim["at_point"] == {"yours": 3.0, "true": 3.0, "tape": 3.0}


def test_claims_without_at_json_shape(gradcalc) -> None:
    obj = gradcalc("y = x^3; z = y + x", "--claim", "x: 3*x^2 + 1", "--format", "json").json()
    assert obj["at"] == {} and obj["value"] is None and obj["gradient"] == {}
    assert obj["output"] == "z"
    assert obj["check"]["status"] == "ok"
    assert obj["check"]["symbolic"] == {"x": "3*x^2 + 1"}
    assert obj["check"]["claims"][0]["source"] == "--claim"


def test_claims_file(gradcalc, tmp_path: Path) -> None:
    path = tmp_path / "grad.txt"
    path.write_text("# my gradient of tax*(a*an+o*on)\na: an*tax\n\ntax: a*an + o*on\n"
                    "on: o   # forgot tax\n")
    r = gradcalc("tax*(a*an+o*on)", "--claims", str(path), "--format", "json")
    assert r.status == 1
    claims = r.json()["check"]["claims"]
    assert [c["status"] for c in claims] == ["proved", "proved", "differs"]
    assert claims[2]["source"] == f"{path} line 5"


def test_expect_right_and_wrong(gradcalc) -> None:
    seed = ("tax*(a*an+o*on)", "a=100,an=2,o=150,on=3,tax=1.1")
    r = gradcalc(seed[0], "--at", seed[1], "--expect", "a=2.2,an=110,tax=650")
    assert r.status == 0 and "verify: ok" in r.out
    r = gradcalc(seed[0], "--at", seed[1], "--expect", "a=2.2,an=111", "--format", "json")
    assert r.status == 1
    obj = r.json()
    assert obj["check"]["status"] == "mismatch"
    an = obj["check"]["partials"]["an"]
    assert an["status"] == "mismatch" and an["expected"] == 111.0
    assert an["tape"] == pytest.approx(110) and an["symbolic"] == pytest.approx(110)
    assert "differs from the true derivative" in an["reason"] and "by 1" in an["reason"]
    assert obj["check"]["partials"]["a"]["status"] == "ok"
    # the existing keys are still there
    assert {"symbolic_value", "error"} <= set(an) and obj["check"]["symbolic"]["a"] == "an*tax"
    text = gradcalc(seed[0], "--at", seed[1], "--expect", "a=2.2,an=111").out
    row = next(line for line in text.splitlines() if line.strip().startswith("d/dan")
               and "111" in line)
    assert "mismatch" in row


def test_expect_uses_the_tolerances_and_prints_them(gradcalc) -> None:
    assert gradcalc("x^2", "--at", "x=1", "--expect", "x=2.000001").status == 1
    r = gradcalc("x^2", "--at", "x=1", "--expect", "x=2.000001", "--rtol", "1e-6", "--atol",
                 "0")
    assert r.status == 0
    assert "verify (rtol 1e-06, atol 0" in r.out and "verify: ok" in r.out
    assert r.out.rstrip().endswith("(rtol 1e-06, atol 0)")
    obj = gradcalc("x^2", "--at", "x=1", "--expect", "x=pi", "--format", "json").json()
    assert obj["check"]["partials"]["x"]["expected"] == pytest.approx(float(mpmath.pi))


def test_expect_null_partial(gradcalc) -> None:
    assert gradcalc("x^2", "--at", "x=1,y=2", "--expect", "y=0").status == 0
    r = gradcalc("x^2", "--at", "x=1,y=2", "--expect", "y=1", "--format", "json")
    assert r.status == 1 and r.json()["check"]["partials"]["y"]["tape"] is None


def test_numeric_third_opinion(gradcalc) -> None:
    r = gradcalc("x*sin(x*y) + abs(y)*softplus(x)", "--at", "x=0.7,y=-1.3", "--numeric",
                 "--format", "json")
    assert r.status == 0, r.err
    parts = r.json()["check"]["partials"]
    for name in ("x", "y"):
        def f(x, y):
            return x * mpmath.sin(x * y) + abs(y) * mpmath.log(1 + mpmath.exp(x))
        true = float(_true(f, name, {"x": 0.7, "y": -1.3}))
        p = parts[name]
        assert p["status"] == "ok" and sorted(p["agree"]) == ["numeric", "symbolic", "tape"]
        assert abs(p["numeric"] - true) <= max(10 * p["numeric_error"], 1e-12)
        assert p["numeric_method"] == numeric.RICHARDSON  # abs and softplus are not analytic
    obj = gradcalc("x*exp(x)", "--at", "x=0.5", "--numeric", "--format", "json").json()
    assert obj["check"]["partials"]["x"]["numeric_method"] == numeric.COMPLEX_STEP
    assert obj["check"]["partials"]["x"]["numeric"] == pytest.approx(1.5 * float(
        mpmath.exp(0.5)), rel=1e-14)


def test_wrong_tape_rule_symbolic_and_numeric_agree(gradcalc, monkeypatch) -> None:
    bad = dataclasses.replace(ops.MUL, vjps=(lambda g, ans, x, y: g * y * 1.001,
                                             ops.MUL.vjps[1]))
    monkeypatch.setitem(ops.BINARY, "*", bad)
    r = gradcalc("x*y", "--at", "x=2,y=3", "--numeric", "--format", "json")
    assert r.status == 1
    p = r.json()["check"]["partials"]["x"]
    assert p["status"] == "mismatch" and "symbolic and numeric agree; tape differs" in p["reason"]
    assert p["agree"] == ["numeric", "symbolic"]


def test_wrong_symbolic_counterpart_tape_and_numeric_agree(gradcalc, monkeypatch) -> None:
    bad = dataclasses.replace(ops.SIN, sympy=lambda sp, x: sp.sin(x) + x * x / 1000)
    monkeypatch.setitem(ops.FUNCTIONS, "sin", {1: bad})
    r = gradcalc("sin(x)", "--at", "x=0.5", "--numeric", "--format", "json")
    assert r.status == 1
    assert "tape and numeric agree; symbolic differs" in \
        r.json()["check"]["partials"]["x"]["reason"]


def test_numeric_outlier_is_named(gradcalc, monkeypatch) -> None:
    # a numeric opinion never turns tape and a proven reference's agreement into exit 1
    monkeypatch.setattr(numeric, "partial", lambda *a: Estimate(7.0, 1e-12, "test"))
    r = gradcalc("x^2", "--at", "x=3", "--numeric")
    assert r.status == 0 and "numeric inconclusive: it differs from the proven reference" in r.out


def test_all_three_disagree() -> None:
    p = Partial("x", 1.0, "mismatch", "2", 2.0, reason="tape 1.0 but the true derivative is 2.0")
    op = verify._opinions("x", 1.0, p, Estimate(3.0, 1e-9, "test"), None, 1e-9, 1e-12)
    assert op.status == "mismatch" and "numeric inconclusive" in op.reason and op.agree == []


# ---------------------------------------------------------------- edge cases of item 4

KINKS = [   # (an undefined partial is computed but not verified: exit 4)
    ("abs(x)*y", "x=0,y=2", "x", 0.0, "abs is not differentiable at 0", "abs'(0) = 0", 4),
    ("relu(x)", "x=0", "x", 0.0, "relu is not differentiable at 0", "relu'(0) = 0", 4),
    ("max(x, y)", "x=1,y=1", "x", 0.5, "max is not differentiable where arguments tie",
     "splits the gradient evenly", 4),
    ("min(x, y, 3)", "x=1,y=1", "y", 0.5, "min is not differentiable where arguments tie",
     "splits the gradient evenly", 4),
    ("sqrt(x)", "x=0", "x", "inf", "sqrt is not differentiable at 0", "sqrt'(0) = inf", 3),
]


@pytest.mark.parametrize("expr, at, name, tape, note, convention, status", KINKS,
                         ids=[k[0] for k in KINKS])
def test_kinks_print_the_convention_and_undefined(gradcalc, expr, at, name, tape, note,
                                                  convention, status) -> None:
    r = gradcalc(expr, "--at", at, "--numeric", "--expect", f"{name}=5", "--format", "json")
    assert r.status == status, r.err
    p = r.json()["check"]["partials"][name]
    assert p["status"] == "undefined" and p["tape"] == tape
    assert note in p["reason"] and convention in p["reason"] and "yours 5" in p["reason"]
    text = gradcalc(expr, "--at", at, "--numeric").out
    assert all(len(line) <= 100 for line in text.splitlines())
    flat = " ".join(text.split())  # long verdicts are wrapped under the table
    assert convention in flat and note in flat


@pytest.mark.parametrize("expr, at, node, why", [
    ("log(x)", "x=-1", "node t1, column 1", "log is only defined for positive numbers"),
    ("y = asin(x)\nz = y*2", "x=2", "node t1, line 1, column 5",
     "asin is only defined on [-1, 1]"),
])
def test_domain_errors_name_the_node(gradcalc, expr, at, node, why) -> None:
    r = gradcalc(expr, "--at", at, "--numeric", "--expect", "x=1", "--format", "json")
    assert r.status == 3
    p = r.json()["check"]["partials"]["x"]
    assert p["status"] == "undefined" and node in p["reason"] and why in p["reason"]
    assert why in r.err


# ---------------------------------------------------------------- exit statuses and errors


def test_exit_statuses(gradcalc) -> None:
    assert gradcalc("x^2", "--at", "x=3", "--expect", "x=6", "--numeric").status == 0
    assert gradcalc("x^2", "--at", "x=3", "--expect", "x=7").status == 1
    assert gradcalc("x^2", "--claim", "x: 2*x").status == 0
    assert gradcalc("x^2", "--claim", "x: x").status == 1
    assert gradcalc("x^2", "--claim", "x: x +").status == 2
    assert gradcalc("log(x)", "--at", "x=0", "--numeric").status == 3
    # a disagreement wins over a non-finite value, as for the tape-vs-SymPy check
    assert gradcalc("sqrt(x)*y", "--at", "x=0,y=1", "--expect", "y=1").status == 1


@pytest.mark.parametrize("argv, message", [
    (["x*y", "--claim", "x: y*"], "--claim: expression ends too early"),
    (["x*y", "--claim", "x: q*y"], "--claim: unknown name 'q' in the claim for 'x' at column 4"),
    (["x*y", "--claim", "z: y"], "'z' is not a variable of the expression"),
    (["x*y", "--claim", "x y"], "a claim needs the form NAME: FORMULA"),
    (["x*y", "--claim", "x:"], "no formula after 'x:'"),
    (["x*y", "--claim", "2x: y"], "'2x' is not a variable name"),
    (["x*y", "--claim", "x: sin(y"], "'(' is never closed"),
    (["x*y", "--claim", "x: y", "--at", "x=1,y=2,q=3", "--claim", "x: __import__('os')"],
     "strings are not part of"),
    (["x*y", "--at", "x=1,y=2", "--expect", "x=2,z=3"],
     "--expect: 'z' is not a differentiated name at column 5"),
    (["x*y", "--at", "x=1,y=2", "--expect", "x=2,y=w"], "--expect: 'w' is not a constant"),
    (["x*y", "--at", "x=1,y=2", "--expect", "x"], "--expect: binding 'x' has no '='"),
    (["x", "--expect", "x=1"], "--expect needs a point: give --at"),
    (["x", "--numeric"], "--numeric needs a point: give --at"),
    (["x*y", "--claims", "/nonexistent/claims"], "--claims: cannot read /nonexistent/claims"),
    (["y = x", "--claim", "x: 1", "--of", "q"], "--of names 'q'"),
    (["x*y", "--claim", "x: y", "--graph", "g.dot"], "--graph needs --at"),
])
def test_bad_verification_input_is_one_error_line(gradcalc, argv, message) -> None:
    r = gradcalc(*argv)
    assert r.status == 2 and r.out == ""
    first = r.err.splitlines()[0]
    assert first.startswith("error: ") and message in first, r.err
    assert "Traceback" not in r.err and len(r.err.splitlines()) in (1, 3)


def test_bad_claim_in_file_points_at_the_line(gradcalc, tmp_path: Path) -> None:
    path = tmp_path / "c.txt"
    path.write_text("x: y\n\ny: q\n")
    r = gradcalc("x*y", "--claims", str(path))
    assert r.status == 2 and r.out == ""
    assert f"error: {path}: unknown name 'q' in the claim for 'y' at line 3, column 4" in r.err
    assert r.err.splitlines()[1:] == ["  y: q", "     ^"]


def test_csv_with_verification_reports_on_stderr(gradcalc) -> None:
    r = gradcalc("x^2", "--at", "x=3", "--expect", "x=7", "--format", "csv")
    assert r.status == 1 and r.out.splitlines()[0] == "value,d_x"
    assert r.err.startswith("verify: MISMATCH")


def test_json_is_strict(gradcalc) -> None:
    r = gradcalc("sqrt(x)", "--at", "x=0", "--numeric", "--expect", "x=1", "--format", "json")
    json.loads(r.out, parse_constant=lambda c: pytest.fail(f"non-strict token {c}"))


def test_slow_points_do_not_hang_a_claim(gradcalc) -> None:
    # 9^9^9^9 is too slow to evaluate: that point is skipped, others still decide the claim
    start = time.monotonic()
    r = gradcalc("9^9^9^x", "--at", "x=9", "--claim", "x: 1", "--check-timeout", "2",
                 "--format", "json")
    assert time.monotonic() - start < 60
    claim = r.json()["check"]["claims"][0]
    assert claim["status"] in ("differs", "undecided") and r.status in (1, 3)
    if claim["status"] == "differs":
        assert claim["counterexample"]["at"]["x"] < 1 and r.status == 1


def test_docs_worked_example_is_real_output(gradcalc, tmp_path: Path, monkeypatch) -> None:
    _, section = docpages.section("Verifying a gradient you derived by hand")
    claims = section.split("```\n", 2)[1]
    (tmp_path / "grad.txt").write_text(claims)
    monkeypatch.chdir(tmp_path)
    block = section.split('$ gradcalc "x^y*sin(x)" --claims grad.txt\n', 1)[1].split("```")[0]
    r = gradcalc("x^y*sin(x)", "--claims", "grad.txt")
    assert r.status == 1 and r.out == block
    block = section.split("--numeric --rtol 1e-3\n...\n", 1)[1].split("```")[0]
    r = gradcalc("x^y*sin(x)", "--at", "x=2,y=3", "--expect", "x=7.58,y=5.04", "--numeric",
                 "--rtol", "1e-3")
    assert r.status == 0 and r.out.endswith(block)


def test_claim_may_be_written_as_a_derivative(gradcalc) -> None:
    r = gradcalc("x*y", "--claim", "d/dx: y", "--claim", "d/dy: x", "--format", "json")
    assert r.status == 0
    assert [c["name"] for c in r.json()["check"]["claims"]] == ["x", "y"]


def test_claims_with_at_carry_the_opinions_per_partial(gradcalc) -> None:
    obj = gradcalc("x*y", "--at", "x=1,y=2", "--claim", "x: y", "--format", "json").json()
    p = obj["check"]["partials"]["y"]
    assert (p["tape"], p["symbolic"], p["numeric"], p["expected"], p["status"]) == \
        (1.0, 1.0, None, None, "ok")


def test_claims_and_numeric_follow_of(gradcalc) -> None:
    program = "y = x^2\nz = y*3 + sin(x)"
    r = gradcalc(program, "--of", "y", "--claim", "x: 2*x", "--claim", "x: 6*x + cos(x)",
                 "--format", "json")
    assert r.status == 1 and r.json()["output"] == "y"
    assert [c["status"] for c in r.json()["check"]["claims"]] == ["proved", "differs"]
    r = gradcalc(program, "--at", "x=0.5", "--numeric", "--expect", f"x={3 + 0.877582561890373}",
                 "--rtol", "1e-12", "--format", "json")
    assert r.status == 0, r.out
    p = r.json()["check"]["partials"]["x"]
    assert p["numeric"] == pytest.approx(3 + float(mpmath.cos(0.5)), rel=1e-13)
    r = gradcalc(program, "--at", "x=0.5", "--of", "y", "--numeric", "--format", "json")
    assert r.json()["check"]["partials"]["x"]["numeric"] == pytest.approx(1.0, rel=1e-13)


def test_stop_gradient_cut_is_kept_with_numeric(gradcalc) -> None:
    # the numeric opinion holds stop_gradient at the point, like the tape: d/dx = x = 3
    r = gradcalc("stop_gradient(x)*x", "--at", "x=3", "--numeric", "--expect", "x=3",
                 "--format", "json")
    assert r.status == 0
    p = r.json()["check"]["partials"]["x"]
    assert p["status"] == "cut" and p["numeric"] == pytest.approx(3.0, rel=1e-12)
