"""User-defined functions in programs (issue 8): same results as the inlined one-liner, tape
labels and the collapsed listing, and precise errors."""

from __future__ import annotations

import mpmath
import pytest

from gradcalc.errors import InputError
from gradcalc.lang.syntax import FuncDef, UserCall, parse, to_source

mpmath.mp.dps = 40

SEED_AT = "a=100,an=2,o=150,on=3,tax=1.1"
SEED_FN = "calc(apple, n, orange, m, tax) = tax*(apple*n + orange*m)\n" \
          "payment = calc(a, an, o, on, tax)"


def _same_result(gradcalc, program: str, one_liner: str, at: str) -> dict:
    got = gradcalc("--at", at, "--format", "json", "--", program)
    want = gradcalc("--at", at, "--format", "json", "--", one_liner)
    assert got.status == want.status == 0, got.err
    a, b = got.json(), want.json()
    assert a["value"] == b["value"]
    assert a["gradient"] == b["gradient"]
    assert a["check"]["status"] == b["check"]["status"] == "ok"
    assert [p["status"] for p in a["check"]["partials"].values()] == \
        [p["status"] for p in b["check"]["partials"].values()]
    return a


def test_seed_payment_through_a_function_matches_the_one_liner(gradcalc) -> None:
    obj = _same_result(gradcalc, SEED_FN, "tax*(a*an+o*on)", SEED_AT)
    assert obj["value"] == pytest.approx(715)
    assert obj["gradient"]["tax"] == pytest.approx(650)
    assert obj["output"] == "payment"
    # the symbolic forms are those of the inlined body
    assert obj["check"]["symbolic"]["a"] == "an*tax"
    assert obj["check"]["symbolic"]["tax"] == "a*an + o*on"


TWO_LEVEL = """
cost(price, count) = price*count          # one line of the bill
calc(apple, n, orange, m, tax) = tax*(cost(apple, n) + cost(orange, m))
payment = calc(a, an, o, on, tax)
"""


def test_two_level_functions_match_the_one_liner(gradcalc) -> None:
    obj = _same_result(gradcalc, TWO_LEVEL, "tax*(a*an+o*on)", SEED_AT)
    assert obj["gradient"]["an"] == pytest.approx(110)


def test_parameters_are_local_and_functions_are_reused(gradcalc) -> None:
    # x is both a parameter and a bound name; the call binds it to y, not to the global x
    program = "sq(x) = x*x\nz = sq(y) + sq(x) + sq(sin(x))"
    r = gradcalc("--at", "x=0.7,y=-1.3", "--format", "json", "--", program)
    assert r.status == 0, r.err
    obj = r.json()
    x, y = mpmath.mpf("0.7"), mpmath.mpf("-1.3")
    assert obj["value"] == pytest.approx(float(y * y + x * x + mpmath.sin(x) ** 2), rel=1e-14)
    want_x = float(mpmath.diff(lambda t: t * t + mpmath.sin(t) ** 2, x))
    assert obj["gradient"]["x"] == pytest.approx(want_x, rel=1e-12)
    assert obj["gradient"]["y"] == pytest.approx(float(2 * y), rel=1e-14)
    assert obj["check"]["status"] == "ok"


def test_tape_labels_a_calls_nodes_with_the_function_name(gradcalc) -> None:
    r = gradcalc("--at", SEED_AT, "--tape", "--format", "json", "--", TWO_LEVEL)
    tape = r.json()["tape"]
    names = [n["name"] for n in tape]
    assert names[:5] == ["a", "an", "o", "on", "tax"]
    # cost's nodes inside calc are labelled with the call path, calc's own with calc/
    assert names[5] == "calc/cost/t5" and names[6] == "calc/cost/t6"
    assert names[7] == "calc/t7"
    assert names[8] == "payment"  # the call's result takes the assigned name
    assert [n["op"] for n in tape[5:]] == ["mul", "mul", "add", "mul"]


def test_collapsed_tape_shows_each_call_as_one_row(gradcalc) -> None:
    program = "sq1(x) = x*x + 1\nu = sq1(a) * sq1(b)"
    full = gradcalc("--at", "a=2,b=3", "--tape", "--", program).out
    assert "tape: 7 nodes, output t6 (u)" in full
    short = gradcalc("--at", "a=2,b=3", "--tape", "--collapse", "--", program).out
    assert "tape: 7 nodes, output t6 (u)" in short
    lines = short.splitlines()
    header = next(i for i, line in enumerate(lines) if line.split()[:2] == ["id", "name"])
    table = [line.split() for line in lines[header + 1:]]
    assert [row[0] for row in table] == ["t0", "t1", "t2..t3", "t4..t5", "t6"]
    # one row per call: the function as op, its arguments as inputs, the result's value and
    # adjoint (d u / d sq1(a) = sq1(b) = 10)
    assert table[2] == ["t2..t3", "sq1/t3", "sq1", "a", "5", "10"]
    assert table[3] == ["t4..t5", "sq1/t5", "sq1", "b", "10", "5"]
    assert table[4] == ["t6", "u", "mul", "sq1/t3,", "sq1/t5", "50", "1"]


def test_a_long_chain_of_functions_is_expanded_without_recursion(gradcalc) -> None:
    n = 3000
    lines = ["f0(x) = x + 1"] + [f"f{i}(x) = f{i - 1}(x) + 1" for i in range(1, n)]
    program = "\n".join(lines + [f"y = f{n - 1}(a) * a"])
    r = gradcalc("--at", "a=2", "--format", "json", "--no-check", "--", program)
    assert r.status == 0, r.err
    assert r.json()["value"] == (2 + n) * 2 and r.json()["gradient"] == {"a": 2 + n + 2}


def test_exponential_expansion_is_refused(gradcalc) -> None:
    lines = ["f0(x) = x*x"] + [f"f{i}(x) = f{i - 1}(x) + f{i - 1}(x)" for i in range(1, 40)]
    r = gradcalc("--at", "a=2", "--", "\n".join(lines + ["y = f39(a)"]))
    assert r.status == 2 and "expand to more than" in r.err.splitlines()[0]


def test_parser_builds_definitions_and_user_calls() -> None:
    program = parse(SEED_FN)
    fdef = program.functions["calc"]
    assert isinstance(fdef, FuncDef) and fdef.params == ("apple", "n", "orange", "m", "tax")
    assert to_source(fdef.body) == "tax * (apple * n + orange * m)"
    call = program.statements[0].value
    assert isinstance(call, UserCall) and to_source(call) == "calc(a, an, o, on, tax)"


@pytest.mark.parametrize("program, message, where", [
    ("f(x, y) = x*y\nz = f(a)", "f() takes 2 arguments (x, y), got 1", "line 2, column 5"),
    ("f(x) = x\nz = f(a, a)", "f() takes 1 argument (x), got 2", "line 2, column 5"),
    ("f(x) = x*f(x)\nz = f(a)", "recursion is not supported: f() calls itself",
     "line 1, column 10"),
    ("f(x) = g(x)\ng(x) = f(x)\nz = f(a)", "g() is called before its definition on line 2",
     "line 1, column 8"),
    ("z = h(a)\nh(x) = x", "h() is called before its definition on line 2", "line 1, column 5"),
    ("f(x) = x*a\nz = f(a)", "'a' is not a parameter of f()", "line 1, column 10"),
    ("f(x, x) = x\nz = f(a)", "duplicate parameter 'x'", "line 1, column 6"),
    ("f(2) = 3\nz = f(a)", "a parameter must be a name", "line 1, column 3"),
    ("sin(x) = x\nz = sin(a)", "cannot define 'sin': it is a built-in function",
     "line 1, column 1"),
    ("f(x) = x\nf(y) = y\nz = f(a)", "function 'f' is already defined", "line 2, column 1"),
    ("f(x) = x\nf = 2", "cannot assign to 'f': it is a function", "line 2, column 1"),
    ("f(x) = x\nz = f + a", "'f' is a function; call it as f(...)", "line 2, column 5"),
    ("f(x) += x\nz = f(a)", "a function is defined with '='", "line 1, column 6"),
    ("f(x) = x", "the program only defines functions", "column 1"),
    ("z = fo(a)\nfoo(x) = x", "unknown function 'fo'", "line 1, column 5"),
])
def test_function_errors_are_one_line_with_position(gradcalc, program: str, message: str,
                                                    where: str) -> None:
    r = gradcalc("--at", "a=1", "--", program)
    assert r.status == 2 and r.out == ""
    lines = r.err.splitlines()
    assert lines[0].startswith("error: ") and message in lines[0], lines[0]
    assert f"at {where}" in lines[0]
    assert len(lines) == 3 and lines[2].strip().startswith("^")  # source line and caret
    assert "Traceback" not in r.err


def test_binding_a_function_name_is_an_error(gradcalc) -> None:
    r = gradcalc("--at", "f=1", "--", "f(x) = x\nz = f(2)")
    assert r.status == 2 and "'f' is bound with --at but the program defines it" in r.err


def test_parse_errors_do_not_leak_definitions() -> None:
    with pytest.raises(InputError):
        parse("f(x) = x +")


def test_json_tape_lists_the_calls(gradcalc) -> None:
    obj = gradcalc("--at", SEED_AT, "--tape", "--format", "json", "--", TWO_LEVEL).json()
    calls = {c["path"]: c for c in obj["calls"]}
    assert set(calls) == {"calc/cost", "calc"}
    assert calls["calc"]["nodes"] == [5, 8] and calls["calc"]["inputs"] == [
        "a", "an", "o", "on", "tax"]
    assert [c["nodes"] for c in obj["calls"] if c["path"] == "calc/cost"] == [[5, 5], [6, 6]]


def test_numeric_and_claims_see_through_functions(gradcalc) -> None:
    # issue 4's third opinion re-runs the program from the op table: calls are expanded there too
    r = gradcalc("--at", SEED_AT, "--numeric", "--expect", "tax=650", "--format", "json", "--",
                 TWO_LEVEL)
    assert r.status == 0, r.err
    assert r.out.count('"numeric_method": "complex step"') == 5
    r = gradcalc("--at", "a=3", "--claim", "a: 2*a", "--", "f(x) = x^2\ny = f(a)")
    assert r.status == 0 and "proved equal" in r.out
