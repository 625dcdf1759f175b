"""Modes compose with --points: each row of `--points` with several --of outputs, --hessian,
--expect or --numeric is what the one-point call at that row's bindings gives, and the numbers
agree with closed forms computed here with numpy."""

from __future__ import annotations

import csv
import io
import json
import math

import numpy as np
import pytest

POINTS = "x,y\n1,2\n3,4\n-0.5,0.25\n"
ROWS = [(1.0, 2.0), (3.0, 4.0), (-0.5, 0.25)]
POLAR = "r = hypot(x, y); t = atan2(y, x)"


def _csv(text: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(text)))


def _at(x: float, y: float) -> str:
    return f"x={x!r},y={y!r}"


def test_several_outputs_one_row_per_point(gradcalc, points_file) -> None:
    r = gradcalc(POLAR, "--points", points_file(POINTS), "--of", "r,t", "--format", "csv")
    assert r.status == 0, r.err
    table = _csv(r.out)
    assert table[0] == ["r", "d_r_x", "d_r_y", "t", "d_t_x", "d_t_y"]
    for (x, y), row in zip(ROWS, table[1:], strict=True):
        got = np.array([float(c) for c in row])
        h = np.hypot(x, y)
        want = [h, x / h, y / h, np.arctan2(y, x), -y / h**2, x / h**2]
        np.testing.assert_allclose(got, want, rtol=1e-15)
        one = _csv(gradcalc(POLAR, "--at", _at(x, y), "--of", "r,t", "--format", "csv").out)
        assert row == [c for line in one[1:] for c in line[1:]]  # output,value,d_x,d_y rows


def test_several_outputs_json_and_checks(gradcalc, points_file) -> None:
    r = gradcalc(POLAR, "--points", points_file(POINTS), "--of", "r,t", "--format", "json")
    assert r.status == 0, r.err
    obj = r.json()
    assert obj["output"] == ["r", "t"] and obj["check"]["status"] == "ok"
    assert set(obj["check"]["outputs"]) == {"r", "t"}
    for k, (x, y) in enumerate(ROWS):
        one = gradcalc(POLAR, "--at", _at(x, y), "--of", "r,t", "--format", "json").json()
        for out in ("r", "t"):
            assert obj["value"][out][k] == one["value"][out]
            assert {w: g[k] for w, g in obj["jacobian"][out].items()} == one["jacobian"][out]


def test_several_outputs_mismatch_in_one_output_exits_1(gradcalc, points_file) -> None:
    # relu(x)-relu(-x) at x=0 is a mismatch (the tape's convention gives 0, the truth is 1)
    r = gradcalc("a = relu(x)-relu(-x); b = x^2", "--points", points_file("x\n0\n1\n"),
                 "--of", "a,b", "--format", "json")
    assert r.status == 1
    obj = r.json()
    assert obj["check"]["status"] == "mismatch"
    assert obj["check"]["outputs"]["a"]["status"] == "mismatch"
    assert obj["check"]["outputs"]["b"]["status"] == "ok"


def test_hessian_one_row_per_point(gradcalc, points_file) -> None:
    r = gradcalc("x^2*y", "--points", points_file(POINTS), "--hessian", "--format", "csv")
    assert r.status == 0, r.err
    table = _csv(r.out)
    assert table[0] == ["value", "d_x", "d_y", "h_x_x", "h_x_y", "h_y_x", "h_y_y"]
    for (x, y), row in zip(ROWS, table[1:], strict=True):
        want = [x * x * y, 2 * x * y, x * x, 2 * y, 2 * x, 2 * x, 0.0]
        np.testing.assert_allclose([float(c) for c in row], want, rtol=1e-15)
        one = _csv(gradcalc("x^2*y", "--at", _at(x, y), "--hessian", "--format", "csv").out)
        assert one == [table[0], row]


def test_hessian_rows_json_equal_the_one_point_objects(gradcalc, points_file) -> None:
    r = gradcalc("sin(x)*y", "--points", points_file(POINTS), "--hessian", "--format", "json")
    assert r.status == 0, r.err
    obj = r.json()
    assert obj["points"]["rows"] == 3 and len(obj["rows"]) == 3
    for (x, y), row in zip(ROWS, obj["rows"], strict=True):
        one = gradcalc("sin(x)*y", "--at", _at(x, y), "--hessian", "--format", "json").json()
        one.pop("expression")
        assert row == one
        assert row["hessian"]["x"]["x"] == pytest.approx(-np.sin(x) * y, rel=1e-15)


def test_expect_is_judged_at_every_row(gradcalc, points_file) -> None:
    # d/dx x^2*y = 2xy, d/dy = x^2: 4 and 1 at (1, 2), not at the other rows
    path = points_file(POINTS)
    r = gradcalc("x^2*y", "--points", path, "--expect", "x=4,y=1", "--format", "json")
    assert r.status == 1
    rows = r.json()["rows"]
    assert [row["check"]["verify"]["status"] for row in rows] == ["ok", "mismatch", "mismatch"]
    for (x, y), row in zip(ROWS, rows, strict=True):
        one = gradcalc("x^2*y", "--at", _at(x, y), "--expect", "x=4,y=1", "--format", "json")
        want = one.json()
        want.pop("expression")
        assert row == want
    text = gradcalc("x^2*y", "--points", path, "--expect", "x=4,y=1")
    assert text.status == 1 and "check: mismatch: rows by verdict: 1 ok, 2 mismatch" in text.out
    ok = gradcalc("3*x + y", "--points", path, "--expect", "x=3,y=1")
    assert ok.status == 0 and "check: ok: rows by verdict: 3 ok" in ok.out


def test_numeric_at_every_row(gradcalc, points_file) -> None:
    r = gradcalc("abs(x)*y", "--points", points_file(POINTS), "--numeric", "--format", "json")
    assert r.status == 0, r.err
    for (x, y), row in zip(ROWS, r.json()["rows"], strict=True):
        partial = row["check"]["partials"]["x"]
        assert partial["numeric"] == pytest.approx(np.sign(x) * y, rel=1e-9)
        one = gradcalc("abs(x)*y", "--at", _at(x, y), "--numeric", "--format", "json").json()
        one.pop("expression")
        assert row == one


def test_pointwise_rows_csv_to_output_file(gradcalc, points_file, tmp_path) -> None:
    out = tmp_path / "h.csv"
    r = gradcalc("x*y", "--points", points_file(POINTS), "--hessian", "--output", str(out))
    assert r.status == 0, r.err
    assert _csv(out.read_text())[1] == ["2.0", "2.0", "1.0", "0.0", "1.0", "1.0", "0.0"]


@pytest.mark.parametrize(("extra", "why"), [
    (["--of", "r,t", "--hessian"], "--hessian needs a single output"),
    (["--of", "r,t", "--numeric"], "check one gradient"),
    (["--hessian", "--expect", "x=1"], "check one gradient"),
    (["--hessian", "--output", "h.parquet"], "--output as Parquet"),
])
def test_combinations_that_make_no_sense(gradcalc, points_file, extra, why) -> None:
    r = gradcalc(POLAR, "--points", points_file(POINTS), *extra)
    assert r.status == 2 and r.out == "" and why in r.err and len(r.err.splitlines()) == 1


def test_nonfinite_row_is_named(gradcalc, points_file) -> None:
    r = gradcalc("log(x)*y", "--points", points_file("x,y\n1,2\n-1,2\n"), "--hessian",
                 "--format", "json")
    assert r.status == 3
    assert "row 2 (line 3)" in r.err and json.loads(r.out)["rows"][1]["value"] == "nan"
    many = gradcalc("log(x)*y", "--points", points_file("x,y\n1,2\n-1,2\n-2,1\n-3,1\n"),
                    "--numeric")
    assert many.status == 3 and "row 2 (line 3)" in many.err
    assert "(2 more rows not finite)" in many.err


def test_pointwise_rows_are_limited(gradcalc, points_file, monkeypatch) -> None:
    from gradcalc.cli import main as cli

    monkeypatch.setattr(cli, "POINTWISE_ROWS", 2)
    r = gradcalc("x*y", "--points", points_file(POINTS), "--hessian")
    assert r.status == 2 and r.out == ""
    assert "has 3 rows" in r.err and "at most 2 rows" in r.err and "Traceback" not in r.err


def test_a_rows_summary_line_is_whole(gradcalc, tmp_path) -> None:
    # the one-point summary wraps at 100 columns; a row's copy of it keeps every word (wrapped
    # again at 100 columns, its continuation indented)
    points = tmp_path / "p.csv"
    points.write_text("x,y\n1,2\n0,3\n")
    r = gradcalc("abs(x)*y", "--points", str(points), "--numeric")
    text = r.out.replace("\n    ", " ")
    rows = [line for line in text.splitlines() if line.startswith("row 2 (line 3): check:")]
    assert len(rows) == 1 and rows[0].endswith("rtol 1e-09, atol 0)"), r.out
    assert all(len(line) <= 100 for line in r.out.splitlines())


def _count_calls(monkeypatch, module, name: str, tmp_path):
    """Replace module.name with a wrapper that appends an x to a file per call (the calls
    happen in forked children, so a counter in memory would not see them); the file's path."""
    calls = tmp_path / "calls"
    real = getattr(module, name)

    def counted(*args, **kwargs):
        with open(calls, "a") as f:
            f.write("x")
        return real(*args, **kwargs)

    monkeypatch.setattr(module, name, counted)
    return calls


def test_points_hessian_derives_the_second_derivatives_once(gradcalc, tmp_path, monkeypatch):
    # every row asks for the same SymPy Hessian: the first row's child derives it, the later
    # rows' children reuse it (each row is still judged at its own point)
    from gradcalc.judge import higher

    calls = _count_calls(monkeypatch, higher, "_hessian_program", tmp_path)
    memo: dict = {}   # not the programs other tests left
    monkeypatch.setattr(higher, "_programs", lambda: memo)
    points = tmp_path / "p.csv"
    points.write_text("x,y\n1,2\n0.5,3\n-1,0.25\n")
    r = gradcalc("x^2*sin(y) + c", "--points", str(points), "--hessian", "--at", "c=2")
    assert r.status == 0, r.err
    assert calls.read_text() == "x"


def test_points_hessian_without_the_cache_derives_the_gradient_once(gradcalc, tmp_path,
                                                                    monkeypatch):
    # --no-cache leaves the disk cache alone; within the call, the first-order derivatives
    # SymPy derived for the first row serve the later rows, as a disk cache hit would
    from gradcalc.symbolic import derivatives

    calls = _count_calls(monkeypatch, derivatives, "_derive", tmp_path)
    points = tmp_path / "p.csv"
    points.write_text("x,y\n1,2\n0.5,3\n-1,0.25\n")
    r = gradcalc("x^2*sin(y)", "--points", str(points), "--hessian", "--no-cache",
                 "--format", "json")
    assert r.status == 0, r.err
    assert calls.read_text() == "x"
    rows = json.loads(r.out)["rows"]
    for row, (x, y) in zip(rows, [(1, 2), (0.5, 3), (-1, 0.25)], strict=True):
        # closed forms: d/dx = 2x sin y, d/dy = x^2 cos y, each row judged at its own point
        assert row["gradient"]["x"] == pytest.approx(2 * x * math.sin(y), rel=1e-15)
        assert row["gradient"]["y"] == pytest.approx(x * x * math.cos(y), rel=1e-15)
        assert row["check"]["status"] == "ok", row
        assert all(p["status"] == "ok" for p in row["check"]["partials"].values()), row
