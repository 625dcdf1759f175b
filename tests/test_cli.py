"""The gradcalc command end to end: the contract of ../shared/CONVENTIONS.md."""

from __future__ import annotations

import csv
import dataclasses
import io
import json
import os
import subprocess
import sys

import mpmath
import pytest

from gradcalc import ops

mpmath.mp.dps = 40

SEED = ("tax*(a*an+o*on)", "a=100,an=2,o=150,on=3,tax=1.1")


def test_seed_example(gradcalc) -> None:
    r = gradcalc(SEED[0], "--at", SEED[1], "--format", "json")
    assert r.status == 0, r.err
    obj = r.json()
    assert obj["value"] == pytest.approx(715)
    want = {"a": 2.2, "an": 110, "o": 3.3, "on": 165, "tax": 650}
    assert list(obj["gradient"]) == list(want)
    for name, value in want.items():
        assert obj["gradient"][name] == pytest.approx(value, rel=1e-14)
    assert obj["check"]["status"] == "ok"
    assert obj["check"]["symbolic"]["a"] == "an*tax"
    assert obj["at"] == {"a": 100.0, "an": 2.0, "o": 150.0, "on": 3.0, "tax": 1.1}


def test_seed_example_text(gradcalc) -> None:
    r = gradcalc(SEED[0], "--at", SEED[1])
    assert r.status == 0
    assert r.out.splitlines()[0] == "value  715"
    rows = {line.split()[0]: line.split() for line in r.out.splitlines() if "d/d" in line}
    assert rows["d/da"][1:] == ["2.2", "an*tax", "ok"]
    assert rows["d/dtax"][1] == "650"
    assert "check: ok" in r.out and r.err == ""


def test_square_at_five(gradcalc) -> None:
    obj = gradcalc("x^2", "--at", "x=5", "--format", "json").json()
    assert obj["value"] == 25.0 and obj["gradient"] == {"x": 10.0}


# (expression, bindings, the same function in mpmath) covering every operator and function
COVERAGE = [
    ("a + b - c * d / e", "a=1.5,b=2,c=3,d=0.5,e=4", lambda a, b, c, d, e: a + b - c * d / e),
    ("-x^2 + x**3 - 2^-x", "x=1.3", lambda x: -x**2 + x**3 - mpmath.power(2, -x)),
    ("x^y", "x=1.7,y=2.3", lambda x, y: mpmath.power(x, y)),
    ("pow(x, y) + hypot(x, y)", "x=0.6,y=1.9", lambda x, y: x**y + mpmath.sqrt(x**2 + y**2)),
    ("sin(x)*cos(y) + tan(x*y)", "x=0.4,y=0.9", lambda x, y: mpmath.sin(x) * mpmath.cos(y)
     + mpmath.tan(x * y)),
    ("asin(x) + acos(x/2) + atan(x*y)", "x=0.3,y=2", lambda x, y: mpmath.asin(x)
     + mpmath.acos(x / 2) + mpmath.atan(x * y)),
    ("atan2(y, x)", "x=-0.5,y=1.2", lambda x, y: mpmath.atan2(y, x)),
    ("sinh(x) + cosh(x*y) + tanh(y)", "x=0.7,y=-1.1", lambda x, y: mpmath.sinh(x)
     + mpmath.cosh(x * y) + mpmath.tanh(y)),
    ("exp(-x^2) * log(y) + log(y, 3)", "x=0.8,y=2.5", lambda x, y: mpmath.exp(-x**2)
     * mpmath.log(y) + mpmath.log(y) / mpmath.log(3)),
    ("log2(x) + log10(x*y) + sqrt(x+y)", "x=3,y=7", lambda x, y: mpmath.log(x, 2)
     + mpmath.log10(x * y) + mpmath.sqrt(x + y)),
    ("abs(x - y) * max(x, y, 1) + min(x, y)", "x=0.3,y=2.2", lambda x, y: abs(x - y)
     * max(x, y, 1) + min(x, y)),
    ("relu(x) + sigmoid(x*y) + softplus(y)", "x=0.5,y=-1.5", lambda x, y: max(x, 0)
     + 1 / (1 + mpmath.exp(-x * y)) + mpmath.log(1 + mpmath.exp(y))),
    ("e^x + pi*y", "x=0.25,y=1", lambda x, y: mpmath.exp(x) + mpmath.pi * y),
    ("c = a*b\nc += a; c *= b\nd = c / 2\nd -= sin(a)", "a=1.1,b=0.4",
     lambda a, b: (a * b + a) * b / 2 - mpmath.sin(a)),
]


@pytest.mark.parametrize("expr, at, reference", COVERAGE, ids=[c[0] for c in COVERAGE])
def test_values_and_partials_match_mpmath(gradcalc, expr, at, reference) -> None:
    r = gradcalc("--at", at, "--format", "json", "--", expr)
    assert r.status == 0, r.err
    obj = r.json()
    point = {k: mpmath.mpf(v) for k, v in obj["at"].items()}
    names = list(point)
    assert obj["value"] == pytest.approx(float(reference(**point)), rel=1e-13)
    for name in names:
        def f(t, name=name):
            return reference(**{**point, name: t})
        want = float(mpmath.diff(f, point[name]))
        assert obj["gradient"][name] == pytest.approx(want, rel=1e-10, abs=1e-13), name
    assert obj["check"]["status"] == "ok"


def test_unconnected_gradient_is_null(gradcalc) -> None:
    r = gradcalc("x^2", "--at", "x=1,y=2", "--format", "json")
    assert r.status == 0
    assert r.json()["gradient"] == {"x": 2.0, "y": None}
    text = gradcalc("x^2", "--at", "x=1,y=2").out
    row, why = [line for line in text.splitlines() if "d/dy" in line]
    assert "null" in row and why.strip().startswith("why d/dy = null: not connected")


def test_true_zero_is_not_null(gradcalc) -> None:
    obj = gradcalc("x*y - x*y + y", "--at", "x=1,y=2", "--format", "json").json()
    assert obj["gradient"]["x"] == 0.0


def test_wrt_selects_partials_and_others_are_constants(gradcalc) -> None:
    r = gradcalc("x*y", "--at", "x=3,y=4", "--wrt", "y", "--format", "json", "--tape")
    obj = r.json()
    assert obj["gradient"] == {"y": 3.0}
    ops_on_tape = [n["op"] for n in obj["tape"]]
    assert ops_on_tape == ["input", "mul"]
    assert obj["tape"][1]["inputs"][0] == {"const": 3.0, "name": "x"}


def test_csv_output(gradcalc) -> None:
    r = gradcalc("x*y", "--at", "x=3,y=4,z=1", "--format", "csv")
    rows = list(csv.reader(io.StringIO(r.out)))
    assert rows[0] == ["value", "d_x", "d_y", "d_z"]
    assert [float(v) for v in rows[1][:3]] == [12.0, 4.0, 3.0] and rows[1][3] == ""


def test_tape_text_and_json(gradcalc) -> None:
    r = gradcalc("c = a*b\nd = c + a", "--at", "a=2,b=5", "--tape")
    assert "tape: 4 nodes, output t3 (d)" in r.out
    lines = r.out.splitlines()
    header = next(i for i, line in enumerate(lines) if line.split()[:2] == ["id", "name"])
    t2 = lines[header + 3].split()
    assert t2 == ["t2", "c", "mul", "a,", "b", "10", "1"]
    tape = gradcalc("c = a*b\nd = c + a", "--at", "a=2,b=5", "--tape", "--format",
                    "json").json()["tape"]
    assert [n["op"] for n in tape] == ["input", "input", "mul", "add"]
    assert tape[3]["inputs"] == [2, 0] and tape[0]["adjoint"] == 6.0


def test_stdin_and_file(gradcalc, tmp_path, monkeypatch) -> None:
    monkeypatch.setattr(sys, "stdin", io.StringIO("x*3\n"))
    assert gradcalc("-", "--at", "x=1", "--format", "json").json()["gradient"] == {"x": 3.0}
    path = tmp_path / "prog.gc"
    path.write_text("# a program\ny = x^2\nz = y + 1\n")
    obj = gradcalc("-f", str(path), "--at", "x=3", "--format", "json").json()
    assert obj["value"] == 10.0 and obj["gradient"] == {"x": 6.0}


def test_of_chooses_an_intermediate(gradcalc) -> None:
    obj = gradcalc("y = x^2; z = y*3", "--at", "x=2", "--of", "y", "--format", "json").json()
    assert obj["value"] == 4.0 and obj["gradient"] == {"x": 4.0}
    assert obj["check"]["status"] == "ok"


def test_tolerances_are_reported(gradcalc) -> None:
    obj = gradcalc("x", "--at", "x=1", "--rtol", "1e-6", "--atol", "0", "--format",
                   "json").json()
    assert obj["check"]["rtol"] == 1e-6 and obj["check"]["atol"] == 0.0


def test_no_check(gradcalc) -> None:
    r = gradcalc("x^2", "--at", "x=3", "--no-check", "--format", "json")
    assert r.status == 0 and r.json()["check"]["status"] == "skipped"


def test_json_is_strict_with_non_finite_values(gradcalc) -> None:
    r = gradcalc("log(x)", "--at", "x=0", "--format", "json")
    assert r.status == 3
    obj = json.loads(r.out, parse_constant=lambda c: pytest.fail(f"non-strict token {c}"))
    assert obj["value"] == "-inf" and obj["gradient"]["x"] == "inf"
    assert "node t1" in r.err and "log" in r.err


def test_nonfinite_names_first_node(gradcalc) -> None:
    r = gradcalc("y = sqrt(x - 2)\nz = y * 3", "--at", "x=1")
    assert r.status == 3
    assert "node t2 (y) = sqrt at line 1, column 5" in r.err
    assert "sqrt is only defined for non-negative numbers" in r.err


def test_overflow_is_reported(gradcalc) -> None:
    r = gradcalc("exp(x)", "--at", "x=1000")
    assert r.status == 3 and "overflow" in r.err


def test_division_by_zero(gradcalc) -> None:
    r = gradcalc("1/x", "--at", "x=0")
    assert r.status == 3 and "division by zero" in r.err


def test_kink_is_undefined_not_mismatch(gradcalc) -> None:
    r = gradcalc("abs(x)*y", "--at", "x=0,y=2", "--format", "json")
    assert r.status == 4
    part = r.json()["check"]["partials"]["x"]
    assert part["status"] == "undefined"
    assert "abs is not differentiable at 0" in part["reason"] and "column 1" in part["reason"]


def test_a_wrong_rule_is_caught_as_mismatch(gradcalc, monkeypatch) -> None:
    bad = dataclasses.replace(ops.MUL, vjps=(lambda g, ans, x, y: g * y * 1.001,
                                             ops.MUL.vjps[1]))
    monkeypatch.setitem(ops.BINARY, "*", bad)
    r = gradcalc("x*y", "--at", "x=2,y=3", "--format", "json")
    assert r.status == 1
    obj = r.json()
    assert obj["check"]["status"] == "mismatch"
    assert obj["check"]["partials"]["x"]["status"] == "mismatch"
    assert obj["check"]["partials"]["y"]["status"] == "ok"


def test_pathological_input_ends_with_a_verdict(gradcalc) -> None:
    # the reference encloses 9^9^9^9 as [2^2048, inf] (a work limit, not a clock): the tape's
    # inf is the float64 nearest to the true value, so the check is done, and ok
    r = gradcalc("9^9^9^x", "--at", "x=9", "--format", "json")
    obj = r.json()
    assert obj["check"]["status"] == "ok"
    assert obj["check"]["partials"]["x"]["symbolic_value"] == "inf"
    assert r.status == 3  # 9^9^9^9 overflows a float


def test_long_sum_is_checked(gradcalc) -> None:
    expr = "+".join(f"{i}*x" for i in range(1, 10_001))
    obj = gradcalc(expr, "--at", "x=1", "--format", "json").json()
    assert obj["gradient"]["x"] == 10_000 * 10_001 / 2
    assert obj["check"]["status"] in ("ok", "skipped")


def test_deep_nesting_is_clean(gradcalc) -> None:
    expr = "(" * 10_000 + "x" + ")" * 10_000
    r = gradcalc(expr, "--at", "x=2", "--format", "json")
    assert r.status == 0 and r.json()["gradient"] == {"x": 1.0}
    r = gradcalc("sin(" * 3000 + "x" + ")" * 3000, "--at", "x=0.1", "--format", "json")
    assert r.status == 0 and r.json()["check"]["status"] in ("ok", "skipped")


@pytest.mark.parametrize("argv, message", [
    (["sin(x*)y", "--at", "x=1"], "unexpected ')' at column 7"),
    (["2x", "--at", "x=1"], "write 2*x"),
    (["x + y", "--at", "x=1"], "unbound name 'y' at column 5"),
    (["x", "--at", "x=1,x=2"], "duplicate binding for 'x'"),
    (["x", "--at", "x=1", "--at", "x=2"], "duplicate binding for 'x'"),
    (["sni(x)", "--at", "x=1"], "did you mean sin?"),
    (["atan2(x)", "--at", "x=1"], "atan2() takes 2 arguments, got 1"),
    (["x", "--at", "x=1", "--wrt", "q"], "--wrt names 'q', which is not bound"),
    (["x", "--at", "x1"], "has no '='"),
    (["x", "--at", "x=1+"], "expression ends too early"),
    (["x", "--at", "x=y"], "'y' is not a constant"),
    (["x", "--at", "sin=1"], "'sin' is a function"),
    (["x", "--at", "x=1/0"], "not finite"),
    (["x", "--at", "x=1", "--format", "xml"], "'xml' is not one of"),
    (["x", "--at", "x=1", "--bogus"], "unknown option '--bogus'"),
    (["x", "--at", "x=1", "-V"], "unknown option '-V' (did you mean --version?)"),
    (["x", "--at", "x=1", "--rtol", "-1"], "non-negative"),
    ([], "missing EXPR"),
    (["x = 1\ny = x +"], "expression ends too early after '+' at line 2"),
    (["a = 1; a = b"], "unbound name 'b'"),
    (["c += 1", "--at", "x=1"], "'c' is not defined yet"),
    (["x = 2", "--at", "x=1"], "cannot assign to 'x'"),
    (["y = x", "--at", "x=1", "--of", "q"], "--of names 'q'"),
    (["-f", "/nonexistent/file"], "cannot read /nonexistent/file"),
    (["__import__('os').system('id')"], "strings are not part of"),
])
def test_bad_input_is_one_error_line_exit_2(gradcalc, argv, message) -> None:
    r = gradcalc(*argv)
    assert r.status == 2
    assert r.out == ""
    first = r.err.splitlines()[0]
    assert first.startswith("error: ") and message in first
    assert "Traceback" not in r.err
    assert len(r.err.splitlines()) in (1, 3)  # one line, plus source and caret when located


def test_binding_a_constant_warns(gradcalc) -> None:
    r = gradcalc("e*2", "--at", "e=3", "--format", "json")
    assert r.status == 0 and r.json()["value"] == 6.0
    assert "shadows the constant e" in r.err


def test_help_and_version(gradcalc) -> None:
    r = gradcalc("--help")
    assert r.status == 0
    for option in ("--at", "--wrt", "--format", "--tape", "--no-check", "--file", "--rtol",
                   "--atol", "--of", "--check-timeout", "Examples:", "Exit status"):
        assert option in r.out
    r = gradcalc("--version")
    assert r.status == 0 and "gradcalc" in r.out


def test_help_examples_run(gradcalc, monkeypatch, tmp_path) -> None:
    text = gradcalc("--help").out.replace("\\\n", " ")  # a continued example is one command
    lines = [line.strip() for line in text.splitlines() if line.strip().startswith("gradcalc ")]
    assert len(lines) >= 4
    import shlex

    import numpy as np

    monkeypatch.chdir(tmp_path)  # the files the examples name (@A.npy, loss.py, @X.npy)
    np.save(tmp_path / "A.npy", np.array([[2.0, 1.0], [0.5, 3.0]]))
    np.save(tmp_path / "X.npy", np.array([[1.0, 2.0], [-0.5, 0.3], [2.0, -1.0]]))
    (tmp_path / "loss.py").write_text(
        "import numpy as np\n\ndef loss(w, X):\n    return np.sum(np.log1p(np.exp(X @ w)))\n"
        "\ndef grad_loss(w, X):\n    return X.T @ (1 / (1 + np.exp(-(X @ w))))\n")
    for line in lines:
        argv = shlex.split(line.split("  (")[0])[1:]
        r = gradcalc(*argv)
        assert r.status == 0, (line, r.err)


SECURITY = ["__import__('os').system('touch {m}')", "().__class__.__bases__",
            "lambda: open('{m}', 'w')", "exec(\"open('{m}','w')\")", "x; import os",
            "open('{m}', 'w')"]


@pytest.mark.parametrize("attack", SECURITY)
def test_no_code_runs(tmp_path, attack: str) -> None:
    marker = tmp_path / "pwned"
    proc = subprocess.run([sys.executable, "-m", "gradcalc", attack.format(m=marker),
                           "--at", "x=1"], capture_output=True, text=True, timeout=120,
                          env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)})
    assert proc.returncode == 2
    assert proc.stdout == "" and proc.stderr.startswith("error: ")
    assert not marker.exists()


def test_console_script_installed() -> None:
    exe = os.path.join(os.path.dirname(sys.executable), "gradcalc")
    if not os.path.exists(exe):
        pytest.skip("console script not installed in this environment")
    proc = subprocess.run([exe, "x^2", "--at", "x=5", "--format", "csv"], capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode == 0 and proc.stdout.splitlines()[1] == "25.0,10.0"


def test_partial_outside_the_domain_is_undefined_not_ok(gradcalc) -> None:
    r = gradcalc("log(x)*y", "--at", "x=-1,y=2", "--format", "json")
    assert r.status == 3
    part = r.json()["check"]["partials"]["x"]
    assert part["status"] == "undefined"
    assert "log is only defined for positive numbers (node t2, column 1)" in part["reason"]
