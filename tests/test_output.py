"""Text, JSON and CSV of one run show the same numbers; text says when it rounded one; every
text line fits 100 columns and the details of a long verdict are in full in text and JSON."""

from __future__ import annotations

import csv
import io

import pytest

RUNS = [
    ("tax*(a*an+o*on)", "a=100,an=2,o=150,on=3,tax=1.1"),  # 715.0000000000001
    ("x^2", "x=3"),  # every number exact in 15 digits
    ("sin(x)*exp(y)", "x=0.1,y=0.2"),
    ("x/3", "x=1"),
    ("log(x)*y", "x=1e-300,y=7"),
]


def _text_numbers(out: str) -> dict[str, str]:
    rows = {"value": out.splitlines()[0].split()[1]}
    for line in out.splitlines():
        if line.startswith("  d/d"):
            cells = line.split()
            rows[cells[0][3:]] = cells[1]
    return rows


@pytest.mark.parametrize("expr, at", RUNS)
def test_text_json_and_csv_show_the_same_numbers(gradcalc, expr, at) -> None:
    obj = gradcalc(expr, "--at", at, "--format", "json").json()
    full = {"value": obj["value"], **obj["gradient"]}
    header, row = list(csv.reader(io.StringIO(gradcalc(expr, "--at", at, "--format",
                                                       "csv").out)))
    # CSV carries every digit: the very same floats as JSON
    assert [float(c) for c in row] == [full["value"]] + [full[h[2:]] for h in header[1:]]
    out = gradcalc(expr, "--at", at).out
    shown = _text_numbers(out)
    rounded = False
    for name, value in full.items():
        # text shows the 15-significant-digit form of the JSON number ...
        assert float(shown[name]) == float(f"{value:.15g}"), (name, shown[name], value)
        rounded |= float(shown[name]) != value
    # ... and says so exactly when that rounded a number
    note = "note: numbers rounded to 15 significant digits; --format json has every digit"
    assert (note in out.splitlines()) == rounded


def test_the_seed_example_rounds_and_says_so(gradcalc) -> None:
    out = gradcalc(*("tax*(a*an+o*on)", "--at", "a=100,an=2,o=150,on=3,tax=1.1")).out
    assert out.splitlines()[0] == "value  715"
    assert out.splitlines()[-1].startswith("note: numbers rounded")
    assert gradcalc("tax*(a*an+o*on)", "--at", "a=100,an=2,o=150,on=3,tax=1.1",
                    "--format", "json").json()["value"] == 715.0000000000001


LONG = [
    ["abs(x)*y + max(x, y)", "--at", "x=0,y=0"],  # two kink verdicts of ~250 characters
    ["x - x + y", "--at", "x=1,y=2"],  # a long why-line
    ["x^y*sin(x)", "--claim", "y: y*x^(y-1)*sin(x)"],  # a counterexample verdict
    ["abs(x)*y", "--at", "x=0,y=2", "--numeric", "--expect", "x=5"],
    ["abs(x)*y^2", "--at", "x=0,y=1", "--hessian"],
    ["a = abs(x)*y; b = max(x, y)", "--at", "x=0,y=0", "--of", "a,b"],
    ["sum(abs(w))", "--at", "w=[" + ",".join(str(k % 7 - 3) for k in range(100)) + "]"],
]


@pytest.mark.parametrize("argv", LONG, ids=[a[0][:20] for a in LONG])
def test_every_text_line_fits_100_columns(gradcalc, argv) -> None:
    out = gradcalc(*argv).out
    assert out and all(len(line) <= 100 for line in out.splitlines()), max(
        out.splitlines(), key=len)


def test_a_long_verdict_moves_under_its_table_in_full(gradcalc) -> None:
    argv = ["abs(x)*y + max(x, y)", "--at", "x=0,y=0"]
    reasons = gradcalc(*argv, "--format", "json").json()["check"]["partials"]
    out = gradcalc(*argv).out
    lines = out.splitlines()
    assert "  d/dx     0.5   y*sign(x) + Heaviside(x - y)  undefined [1]" in lines
    assert "  d/dy     0.5   abs(x) + Heaviside(-x + y)    undefined [2]" in lines
    flat = " ".join(out.split())
    for k, name in enumerate(["x", "y"], 1):
        reason = reasons[name]["reason"]
        assert len(reason) > 100
        assert f"[{k}] d/d{name}: undefined: {reason}" in flat  # nothing is lost


def test_verdict_words_are_not_coloured_off_a_terminal(gradcalc) -> None:
    out = gradcalc("abs(x)", "--at", "x=0").out
    assert "\x1b[" not in out


def test_format_names_are_case_insensitive(gradcalc) -> None:
    assert gradcalc("x^2", "--at", "x=3", "--format", "JSON").json()["value"] == 9.0


def test_jsonl_for_every_mode_is_one_line(gradcalc) -> None:
    import json

    for argv in (["x*y", "--at", "x=2,y=3"], ["x*y", "--at", "x=2,y=3", "--hessian"],
                 ["a = x*y; b = x+y", "--at", "x=2,y=3", "--of", "a,b"],
                 ["x*y", "--at", "x=2,y=3", "--expect", "x=3"],
                 ["x*y", "--claim", "x: y"]):
        compact = gradcalc(*argv, "--format", "jsonl").out
        assert compact.count("\n") == 1, argv
        assert json.loads(compact) == gradcalc(*argv, "--format", "json").json()


WIDE = ",".join(f"input_{k:02d}" for k in range(12))


@pytest.mark.parametrize("extra", [[], ["--of", "a,b"], ["--hessian"]],
                         ids=["batch", "several outputs", "point by point"])
def test_batch_text_fits_100_columns_or_says_where_the_rest_is(gradcalc, points_file,
                                                               extra) -> None:
    names = WIDE.split(",")
    body = WIDE + "\n" + "".join(",".join(f"{(r + k) % 7 + 0.123456789:.9f}" for k in
                                          range(12)) + "\n" for r in range(3))
    program = f"a = {'*'.join(names[:6])}; b = {'+'.join(names[6:])}"
    if extra[:1] == ["--hessian"]:
        program = "*".join(names[:4])   # a Hessian of 16 entries per row
        body = ",".join(names[:4]) + "\n1.5,2.5,3.5,4.5\n"
    r = gradcalc(program, "--points", points_file(body), *extra)
    assert r.status == 0, r.err
    lines = r.out.splitlines()
    assert all(len(line) <= 100 for line in lines), max(lines, key=len)
    note = " ".join(r.out.split())
    assert "more columns beyond 100 characters" in note
    assert "--format csv or json has every column" in note
