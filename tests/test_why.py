"""Why is a gradient null or 0? One reason per such partial, in text and JSON (issue 3); and
stop_gradient partials checked against both the stopped and the true derivative."""

from __future__ import annotations

import dataclasses

import pytest
import sympy as sp

from gradcalc import ops


def _why(gradcalc, expr: str, at: str, *extra: str) -> dict:
    r = gradcalc("--at", at, "--format", "json", *extra, "--", expr)
    assert r.status == 0, r.err
    return r.json()


def _why_line(gradcalc, expr: str, at: str, name: str, *extra: str) -> str:
    out = gradcalc("--at", at, *extra, "--", expr).out
    lines = [line.strip() for line in out.splitlines()
             if line.strip().startswith(f"why d/d{name} ")]
    assert len(lines) == 1, out
    return lines[0]


def test_name_not_in_history(gradcalc) -> None:
    obj = _why(gradcalc, "x^2", "x=3,y=2")
    assert obj["gradient"]["y"] is None
    assert obj["why"] == {"y": {"kind": "unconnected", "reason": "not connected: y does not "
                                "occur in the history of the output"}}
    line = _why_line(gradcalc, "x^2", "x=3,y=2", "y")
    assert line == ("why d/dy = null: not connected: y does not occur in the history of the "
                    "output")


def test_program_names_its_output(gradcalc) -> None:
    obj = _why(gradcalc, "u = x*2\nv = u + 1", "x=1,z=5")
    assert obj["why"]["z"]["reason"].endswith("history of the output v")


def test_only_under_stop_gradient_names_line_and_column(gradcalc) -> None:
    obj = _why(gradcalc, "u = stop_gradient(x)\nv = u * y", "x=3,y=4")
    assert obj["gradient"]["x"] is None
    why = obj["why"]["x"]
    assert why["kind"] == "stop_gradient"
    assert why["reason"] == ("x occurs in the output v only under stop_gradient (at line 1, "
                             "column 5)")
    line = _why_line(gradcalc, "stop_gradient(x) * y", "x=3,y=4", "x")
    assert line == "why d/dx = null: x occurs in the output only under stop_gradient (at column 1)"


def test_stop_gradient_partial_is_cut_not_a_tape_bug(gradcalc) -> None:
    r = gradcalc("u = stop_gradient(x)\nv = u * y", "--at", "x=3,y=4", "--format", "json")
    assert r.status == 0
    part = r.json()["check"]["partials"]["x"]
    x, y = sp.symbols("x y", real=True)
    true = sp.diff(x * y, x)  # the true derivative, without the stop
    assert part["status"] == "cut"
    assert part["true_symbolic"] == str(true)
    assert part["true_value"] == float(true.subs({x: 3, y: 4}))
    assert part["reason"].startswith("cut by stop_gradient at line 1, column 5")
    assert r.json()["check"]["status"] == "ok"


def test_partially_stopped_gradient_is_cut_with_value(gradcalc) -> None:
    r = gradcalc("stop_gradient(x) * x", "--at", "x=3", "--format", "json")
    assert r.status == 0
    obj = r.json()
    assert obj["gradient"]["x"] == 3.0           # only the unstopped factor
    part = obj["check"]["partials"]["x"]
    assert part["status"] == "cut" and part["symbolic_value"] == 3.0
    assert part["true_value"] == 6.0              # d(x*x)/dx at 3
    text = gradcalc("stop_gradient(x) * x", "--at", "x=3").out
    assert "cut by stop_gradient at column 1 (true derivative 6)" in text
    assert "check: ok: tape and SymPy agree (1 cut;" in text


def test_stop_gradient_on_a_path_that_does_not_matter_is_ok(gradcalc) -> None:
    obj = _why(gradcalc, "x * y + stop_gradient(y)", "x=3,y=4")
    assert obj["check"]["partials"]["x"]["status"] == "ok"
    assert obj["check"]["partials"]["y"]["status"] == "cut"


def test_a_broken_stop_gradient_is_still_a_mismatch(gradcalc, monkeypatch) -> None:
    # a tape bug: stop_gradient letting the gradient through must not pass as "cut"
    leaky = dataclasses.replace(ops.STOP_GRADIENT, vjps=(lambda g, ans, x: g,))
    monkeypatch.setitem(ops.FUNCTIONS, "stop_gradient", {1: leaky})
    r = gradcalc("stop_gradient(x) * x", "--at", "x=3", "--format", "json")
    assert r.status == 1
    part = r.json()["check"]["partials"]["x"]
    assert r.json()["gradient"]["x"] == 6.0
    assert part["status"] == "mismatch" and part["symbolic_value"] == 3.0


def test_not_watched(gradcalc) -> None:
    obj = _why(gradcalc, "x*y", "x=3,y=4,z=1", "--wrt", "y")
    assert obj["gradient"] == {"y": 3.0}
    assert obj["why"]["x"] == {"kind": "unwatched", "reason": "not watched: --wrt leaves x out, "
                               "so it is held constant at 3"}
    assert obj["why"]["z"]["kind"] == "unwatched"
    out = gradcalc("x*y", "--at", "x=3,y=4,z=1", "--wrt", "y").out
    assert "  not differentiated (not in --wrt, held constant): x, z" in out.splitlines()


def test_contributions_cancel(gradcalc) -> None:
    obj = _why(gradcalc, "x - x + y", "x=2,y=1")
    assert obj["gradient"]["x"] == 0.0
    why = obj["why"]["x"]
    assert why["kind"] == "cancel"
    assert "+1 via sub t2 argument 1, -1 via sub t2 argument 2" in why["reason"]
    assert _why_line(gradcalc, "x - x + y", "x=2,y=1", "x").startswith(
        "why d/dx = 0: contributions cancel: x reaches the output along 2 paths")


def test_cancellation_upstream_is_located(gradcalc) -> None:
    obj = _why(gradcalc, "u = x*y\nv = u - u\nw = v*z + y", "x=2,y=3,z=5")
    assert obj["gradient"]["x"] == 0.0 and obj["why"]["x"]["kind"] == "cancel"
    assert obj["why"]["x"]["reason"] == (
        "contributions cancel at mul u (line 1, column 5): its 2 contributions (+5 via sub v "
        "argument 1, -5 via sub v argument 2) sum to 0")
    assert obj["gradient"]["z"] == 0.0
    assert obj["why"]["z"]["kind"] == "zero_derivative"   # v is 0, so d(v*z)/dz = 0


@pytest.mark.parametrize("expr, at, op", [
    ("relu(x) * y", "x=-1,y=2", "relu"),
    ("x^2 + y", "x=0,y=1", "pow"),
    ("max(x, y)", "x=1,y=2", "max"),
])
def test_zero_local_derivative(gradcalc, expr, at, op) -> None:
    obj = _why(gradcalc, expr, at)
    assert obj["gradient"]["x"] == 0.0
    assert obj["why"]["x"]["kind"] == "zero_derivative"
    assert obj["why"]["x"]["reason"].startswith(f"zero local derivative: {op} t")


def test_nonzero_partials_have_no_reason(gradcalc) -> None:
    obj = _why(gradcalc, "tax*(a*an+o*on)", "a=100,an=2,o=150,on=3,tax=1.1")
    assert obj["why"] == {}
    out = gradcalc("tax*(a*an+o*on)", "--at", "a=100,an=2,o=150,on=3,tax=1.1").out
    assert "why" not in out


def test_reasons_also_without_the_check(gradcalc) -> None:
    out = gradcalc("x^2", "--at", "x=3,y=2", "--no-check").out
    assert "why d/dy = null: not connected" in out


def test_many_cancelling_contributions_stay_one_short_line(gradcalc) -> None:
    expr = "+".join(["x"] * 50) + "-50*x + y"
    obj = _why(gradcalc, expr, "x=1,y=2")
    assert obj["gradient"]["x"] == 0.0 and obj["why"]["x"]["kind"] == "cancel"
    assert "and 47 more" in obj["why"]["x"]["reason"] and len(obj["why"]["x"]["reason"]) < 300
