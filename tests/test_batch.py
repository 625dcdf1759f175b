"""--points: one recording, replayed over whole columns, equals the per-point results."""

from __future__ import annotations

import csv
import dataclasses
import io
import json
import math
import os
import shutil
import subprocess
import sys

import mpmath
import numpy as np
import pytest

from gradcalc import ops, progress
from gradcalc.symbolic import compiled

mpmath.mp.dps = 40

# (expression, CSV header, row generator range, the same function in mpmath)
CASES = [
    ("tax*(a*an+o*on)", ["a", "an", "o", "on", "tax"], (-5.0, 5.0),
     lambda a, an, o, on, tax: tax * (a * an + o * on)),
    ("sin(x)*cos(y) + tan(x*y)/3 + atan2(y, x)", ["x", "y"], (0.1, 1.0),
     lambda x, y: mpmath.sin(x) * mpmath.cos(y) + mpmath.tan(x * y) / 3 + mpmath.atan2(y, x)),
    ("exp(-x^2) * log(y) + sqrt(x + y) + y^x", ["x", "y"], (0.2, 3.0),
     lambda x, y: mpmath.exp(-x**2) * mpmath.log(y) + mpmath.sqrt(x + y) + mpmath.power(y, x)),
    ("c = a*b\nc += sinh(a); c *= b\nd = c / (1 + b^2)\nd -= tanh(a)", ["a", "b"], (-2.0, 2.0),
     lambda a, b: (a * b + mpmath.sinh(a)) * b / (1 + b**2) - mpmath.tanh(a)),
    ("sigmoid(x*y) + softplus(y) + hypot(x, y) + max(x, y, 0.5)", ["x", "y"], (-2.0, 2.0),
     lambda x, y: 1 / (1 + mpmath.exp(-x * y)) + mpmath.log(1 + mpmath.exp(y))
     + mpmath.sqrt(x**2 + y**2) + max(x, y, mpmath.mpf(0.5))),
    # the output's own VJPs see the unit seed: add passes it on, neg and / transform it
    ("relu(x) + relu(x) - y + -x/y", ["x", "y"], (0.2, 2.0),
     lambda x, y: 2 * max(x, 0) - y - x / y),
    ("x", ["x"], (-1.0, 1.0), lambda x: x),
    ("-x", ["x"], (-1.0, 1.0), lambda x: -x),
    ("1/x", ["x"], (0.5, 1.0), lambda x: 1 / x),
]


def _csv(header: list[str], rows: np.ndarray) -> str:
    lines = [",".join(header)] + [",".join(repr(float(v)) for v in row) for row in rows]
    return "\n".join(lines) + "\n"


def _rows(text: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(text)))


@pytest.mark.parametrize("expr, header, interval, reference", CASES, ids=[c[0] for c in CASES])
def test_batch_equals_per_point_runs_and_mpmath(gradcalc, points_file, expr, header, interval,
                                                reference) -> None:
    rng = np.random.default_rng(5)
    pts = rng.uniform(*interval, size=(6, len(header)))
    r = gradcalc("--points", points_file(_csv(header, pts)), "--format", "csv", "--", expr)
    assert r.status == 0, r.err
    rows = _rows(r.out)
    assert rows[0] == ["value"] + [f"d_{n}" for n in header]
    assert len(rows) == 1 + len(pts)
    for k, point in enumerate(pts):
        # independently: the ordinary single-point run at this row
        at = ",".join(f"{n}={float(v)!r}" for n, v in zip(header, point, strict=True))
        one = gradcalc("--at", at, "--format", "csv", "--no-check", "--", expr)
        assert one.status == 0
        got = [float(c) for c in rows[k + 1]]
        want = [float(c) for c in _rows(one.out)[1]]
        assert got == pytest.approx(want, rel=1e-14, abs=1e-15)
        # and against mpmath
        mp_point = {n: mpmath.mpf(float(v)) for n, v in zip(header, point, strict=True)}
        assert got[0] == pytest.approx(float(reference(**mp_point)), rel=1e-12)
        for j, name in enumerate(header):
            def f(t, name=name, mp_point=mp_point):
                return reference(**{**mp_point, name: t})
            want_d = float(mpmath.diff(f, mp_point[name]))
            assert got[1 + j] == pytest.approx(want_d, rel=1e-9, abs=1e-12), (k, name)


def test_json_gives_arrays_and_a_passing_check(gradcalc, points_file) -> None:
    path = points_file("x,y\n1,2\n3,4\n-1,0.5\n")
    r = gradcalc("x^2*y", "--points", path, "--format", "json")
    assert r.status == 0, r.err
    obj = r.json()
    assert obj["value"] == [2.0, 36.0, 0.5]
    assert obj["gradient"] == {"x": [4.0, 24.0, -1.0], "y": [1.0, 9.0, 1.0]}
    assert obj["points"] == {"file": path, "rows": 3, "names": ["x", "y"], "kept": []}
    chk = obj["check"]
    assert chk["status"] == "ok"
    assert chk["symbolic"] == {"x": "2*x*y", "y": "x^2"}
    assert chk["partials"]["x"]["rows"] == {"ok": 3, "mismatch": 0, "undefined": 0}


def test_text_shows_rows_and_the_check(gradcalc, points_file) -> None:
    body = "x\n" + "".join(f"{i}\n" for i in range(1, 31))
    r = gradcalc("x^2", "--points", points_file(body))
    assert r.status == 0
    assert r.out.startswith("points  30 rows from ")
    lines = r.out.splitlines()
    assert any(line.split()[:4] == ["1", "1", "1", "2"] for line in lines)
    assert any(line.split()[:4] == ["30", "30", "900", "60"] for line in lines)
    assert any(line.strip() == "..." for line in lines)
    assert "check: ok: tape and SymPy agree at 30 points" in r.out


def test_at_binds_constants_for_every_row(gradcalc, points_file) -> None:
    path = points_file("a,an,o,on\n100,2,150,3\n1,2,3,4\n")
    r = gradcalc("tax*(a*an+o*on)", "--points", path, "--at", "tax=1.1", "--format", "json")
    obj = r.json()
    assert obj["at"] == {"tax": 1.1}
    assert list(obj["gradient"]) == ["a", "an", "o", "on", "tax"]  # columns, then --at
    assert obj["gradient"]["tax"] == [650.0, 14.0]
    assert obj["gradient"]["a"] == [pytest.approx(2.2)] * 2
    r = gradcalc("tax*a", "--points", path, "--at", "tax=2", "--wrt", "a", "--format", "csv")
    # columns the program does not read are kept (copied in front), not variables
    assert _rows(r.out) == [["an", "o", "on", "value", "d_a"], ["2", "150", "3", "200.0", "2.0"],
                            ["2", "3", "4", "2.0", "2.0"]]


def test_a_name_bound_twice_is_an_error(gradcalc, points_file) -> None:
    r = gradcalc("x*y", "--points", points_file("x,y\n1,2\n"), "--at", "x=3")
    assert r.status == 2 and r.out == ""
    assert r.err.startswith("error: 'x' is bound twice")


def test_unwatched_names_still_vary_per_row(gradcalc, points_file) -> None:
    # c depends only on y, which is not differentiated: it must still follow each row's y
    path = points_file("x,y\n1,2\n1,5\n2,-1\n")
    r = gradcalc("c = y*2\nz = c*x", "--points", path, "--wrt", "x", "--format", "csv")
    assert _rows(r.out) == [["value", "d_x"], ["4.0", "4.0"], ["10.0", "10.0"],
                            ["-4.0", "-2.0"]]
    r = gradcalc("z = stop_gradient(x)*y + x", "--points", path, "--format", "csv")
    assert _rows(r.out)[1:] == [["3.0", "1.0", "1.0"], ["6.0", "1.0", "1.0"],
                                ["0.0", "1.0", "2.0"]]


def test_unconnected_and_constant_outputs(gradcalc, points_file) -> None:
    path = points_file("x,y\n1,2\n3,4\n")
    assert _rows(gradcalc("x^2", "--points", path, "--use", "x,y", "--format", "csv").out) == [
        ["value", "d_x", "d_y"], ["1.0", "2.0", ""], ["9.0", "6.0", ""]]
    obj = gradcalc("2+3", "--points", path, "--use", "x,y", "--format", "json").json()
    assert obj["value"] == [5.0, 5.0] and obj["gradient"] == {"x": None, "y": None}
    assert obj["check"]["partials"]["x"]["status"] == "null"
    obj = gradcalc("2+3", "--points", path, "--format", "json").json()  # nothing read
    assert obj["value"] == [5.0, 5.0] and obj["gradient"] == {}
    assert obj["kept"] == {"x": ["1", "3"], "y": ["2", "4"]}
    obj = gradcalc("x", "--points", path, "--format", "json").json()
    assert obj["value"] == [1.0, 3.0] and obj["gradient"]["x"] == [1.0, 1.0]


def test_of_and_stdin(gradcalc, monkeypatch) -> None:
    monkeypatch.setattr(sys, "stdin", io.StringIO("x\n2\n3\n"))
    r = gradcalc("y = x^3; z = y + 1", "--of", "y", "--points", "-", "--format", "csv")
    assert r.status == 0, r.err
    assert _rows(r.out) == [["value", "d_x"], ["8.0", "12.0"], ["27.0", "27.0"]]


@pytest.mark.parametrize("body, message", [
    ("x,y\n1,2\n3\n", "line 3: missing field: expected 2 (x,y), got 1"),
    ("x,y\n1,2\n3,4,5\n", "line 3: extra field: expected 2 (x,y), got 3"),
    ("x,y\n1,2\n\n3,abc\n", "line 4: 'abc' is not a number (column 'y')"),
    ("x,y\n1,2\n3,\n", "line 3: missing value for 'y'"),
    ("x,y\n1,nan\n", "line 2: the value of 'y' is not finite (nan)"),
    ("x,y\n1,2\n4,-inf\n", "line 3: the value of 'y' is not finite (-inf)"),
    ("x,x\n1,2\n", "line 1: duplicate column 'x'"),
    ("x,2y\n1,2\n", "'y' is not bound: --points"),   # '2y' is kept, 'y' is no column
    ("x,\n1,2\n", "a column to keep has no name in the header"),
    ("", "empty file"),
    ("x,y\n", "no data rows"),
])
def test_bad_rows_exit_2_naming_the_line(gradcalc, points_file, body, message) -> None:
    r = gradcalc("x*y", "--points", points_file(body), "--format", "csv")
    assert r.status == 2
    assert r.out == ""  # no partial output
    assert r.err.startswith("error: ") and "--points " in r.err and message in r.err, r.err
    assert len(r.err.splitlines()) == 1


@pytest.mark.parametrize("body, use, message", [
    ("x,2y\n1,2\n", "x,2y", "'2y' in the header is not a valid name"),
    ("x,sin\n1,2\n", "x,sin", "'sin' in the header is a function"),
    ("x,y\n1,2\n", "x,q", "--use names 'q', which is not a column (columns: x, y)"),
])
def test_a_column_that_binds_a_name_needs_a_valid_name(gradcalc, points_file, body, use,
                                                       message) -> None:
    r = gradcalc("x", "--points", points_file(body), "--use", use, "--format", "csv")
    assert r.status == 2 and r.out == "" and message in r.err, r.err


def test_missing_file_and_unbound_name(gradcalc, points_file) -> None:
    r = gradcalc("x", "--points", "/nonexistent/points.csv")
    assert r.status == 2 and "cannot read /nonexistent/points.csv" in r.err
    r = gradcalc("x*z", "--points", points_file("x,y\n1,2\n"))
    assert r.status == 2 and r.out == "" and "'z' is not bound" in r.err
    assert "no column 'z' (columns: x, y); name a column z, or bind it with --at z=" in r.err
    r = gradcalc("x", "--points", points_file("x\n1\n"), "--wrt", "q")
    assert r.status == 2 and "--wrt names 'q'" in r.err


def test_non_finite_row_exits_3_naming_row_and_node(gradcalc, points_file) -> None:
    r = gradcalc("y = sqrt(x - 2)\nz = y * 3", "--points", points_file("x\n3\n6\n1\n0\n"),
                 "--format", "csv")
    assert r.status == 3
    rows = _rows(r.out)
    assert len(rows) == 5 and rows[3] == ["nan", "nan"]
    first = r.err.splitlines()[0]
    assert first.startswith("non-finite: row 3 (line 4): the value is nan")
    assert "node t2 (y) = sqrt at line 1, column 5" in first and "1 more row" in first


def test_kinks_are_undefined_rows_not_mismatches(gradcalc, points_file) -> None:
    r = gradcalc("abs(x)*y", "--points", points_file("x,y\n1,2\n0,2\n-3,1\n"), "--format",
                 "json")
    assert r.status == 4   # computed, but one row's partial is not verified
    part = r.json()["check"]["partials"]["x"]
    # the column is not all ok: one row has no derivative (so the status does not say ok)
    assert part["status"] == "undefined"
    assert part["rows"] == {"ok": 2, "mismatch": 0, "undefined": 1}


def test_a_wrong_rule_is_caught_with_the_worst_point(gradcalc, points_file, monkeypatch
                                                      ) -> None:
    bad = dataclasses.replace(ops.MUL, vjps=(lambda g, ans, x, y: g * y * (1 + 1e-3 * (x > 2)),
                                             ops.MUL.vjps[1]))
    monkeypatch.setitem(ops.BINARY, "*", bad)
    r = gradcalc("x*y", "--points", points_file("x,y\n1,2\n3,4\n2.5,1\n"), "--format", "json")
    assert r.status == 1
    chk = r.json()["check"]
    assert chk["status"] == "mismatch"
    px = chk["partials"]["x"]
    assert px["status"] == "mismatch" and px["rows"]["mismatch"] == 2
    assert px["worst"]["row"] == 2 and px["worst"]["line"] == 3
    assert px["worst"]["tape"] == pytest.approx(4.004) and px["worst"]["symbolic"] == 4.0
    assert chk["partials"]["y"]["status"] == "ok"
    text = gradcalc("x*y", "--points", points_file("x,y\n1,2\n3,4\n")).out
    assert "row 2 (line 3): tape 4.004, symbolic 4" in text and "DISAGREE" in text


def test_float_rounding_in_the_symbolic_formula_is_not_a_mismatch(gradcalc, points_file,
                                                                   monkeypatch) -> None:
    # a float64 screen that is off (here: 1e-6 relative, claiming no error) never makes a
    # mismatch by itself: every row it cannot vouch for is judged at full precision
    real = compiled.evaluate_np

    def off(*args, **kwargs):
        out = real(*args, **kwargs)
        return [(v * (1 + 1e-6), np.zeros_like(v)) for v, _ in out]

    monkeypatch.setattr(compiled, "evaluate_np", off)
    r = gradcalc("x*sin(y)", "--points", points_file("x,y\n1,2\n3,4\n0.5,1\n"), "--format",
                 "json", "--no-cache")
    assert r.status == 0, r.out
    chk = r.json()["check"]
    assert chk["status"] == "ok"
    assert chk["partials"]["x"]["rows"] == {"ok": 3, "mismatch": 0, "undefined": 0}
    assert chk["confirmed"]["screen could not vouch"] == 3


def test_large_batch_row_count_and_no_progress_bar_in_a_pipe(gradcalc, points_file,
                                                             monkeypatch) -> None:
    monkeypatch.setattr(progress, "DELAY", 0.0)
    n = 20_000
    xs = np.linspace(-3, 3, n)
    body = "x,y\n" + "".join(f"{x!r},{2.0}\n" for x in xs.tolist())
    r = gradcalc("x*y + sin(x)", "--points", points_file(body), "--format", "csv")
    assert r.status == 0 and r.err == ""
    rows = _rows(r.out)
    assert len(rows) == n + 1
    k = 12_345
    assert float(rows[k + 1][1]) == pytest.approx(2.0 + math.cos(xs[k]), rel=1e-14)


def test_points_and_expression_cannot_both_read_stdin(gradcalc) -> None:
    r = gradcalc("-", "--points", "-")
    assert r.status == 2 and "cannot both read stdin" in r.err


def test_json_is_strict_with_non_finite_values(gradcalc, points_file) -> None:
    r = gradcalc("log(x)", "--points", points_file("x\n1\n0\n"), "--format", "json")
    assert r.status == 3
    obj = json.loads(r.out, parse_constant=lambda c: pytest.fail(f"non-strict token {c}"))
    assert obj["value"] == [0.0, "-inf"] and obj["gradient"]["x"] == [1.0, "inf"]


@pytest.mark.parametrize(("extra", "why"), [
    (["--claim", "x: 2*x"], "about the whole function"),
    (["--graph", "g.dot"], "draws the tape at one point")])
def test_points_with_claims_or_graph_is_a_usage_error(gradcalc, points_file, extra, why
                                                      ) -> None:
    r = gradcalc("x^2", "--points", points_file("x\n1\n"), *extra)
    assert r.status == 2 and r.out == "" and why in r.err and len(r.err.splitlines()) == 1


def test_vector_at_binding_is_refused_with_points(gradcalc, points_file) -> None:
    r = gradcalc("x*sum(w)", "--points", points_file("x\n1\n"), "--at", "w=[1,2]")
    assert r.status == 2 and r.out == "" and "--points rows are scalars" in r.err


def test_program_functions_replay_per_row(gradcalc, points_file) -> None:
    r = gradcalc("sq(t) = t*t; z = sq(x) + sq(y)", "--points", points_file("x,y\n1,2\n3,-1\n"),
                 "--format", "csv")
    assert r.status == 0, r.err
    assert _rows(r.out) == [["value", "d_x", "d_y"], ["5.0", "2.0", "4.0"],
                            ["10.0", "6.0", "-2.0"]]


@pytest.mark.skipif(shutil.which("bash") is None, reason="needs bash")
def test_points_from_a_pipe_read_once() -> None:
    # `--points <(cmd)` passes a pipe (/dev/fd/63), which can be read only once
    exe = os.path.join(os.path.dirname(sys.executable), "gradcalc")
    proc = subprocess.run(["bash", "-c", f"{exe} 'x*y' --points <(printf 'x,y\\n1,2\\n3,4\\n') "
                           "--format csv"], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == "value,d_x,d_y\n2.0,2.0,1.0\n12.0,4.0,3.0\n"
