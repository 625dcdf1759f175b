"""The symbolic column speaks the input language: every printed form that uses only the
language's spellings parses with gradcalc's own parser and, run on the tape, gives SymPy's
value of the derivative it was printed from (SymPy is the referee)."""

from __future__ import annotations

import re

import mpmath
import pytest
import sympy as sp

from gradcalc import ops
from gradcalc.engine.evaluate import run
from gradcalc.lang.syntax import parse
from gradcalc.symbolic import convert as symbolic
from gradcalc.symbolic.printer import to_text

POINT = {"x": 0.3, "y": 0.7}  # moved into each function's sample interval where needed
CAPITALISED = re.compile(r"\b[A-Z][A-Za-z]*\(")  # SymPy's own functions, as printed


def _argument(prim: ops.Primitive, i: int, text: str, value: float) -> str:
    """text, or text moved into the primitive's sample interval (acosh(1.2 + x)), or the
    interval's one value (polygamma's whole-number order)."""
    lo, hi = prim.sample_interval(i)
    if lo == hi:
        return repr(lo)
    return text if lo <= value <= hi else f"({lo!r} + {text})"


def _calls() -> list[str]:
    """One call per scalar function of the op table (derived from the table)."""
    out = []
    for name, by_arity in ops.FUNCTIONS.items():
        for arity, prim in by_arity.items():
            if prim.reduction:
                continue
            texts = ["x", "y", "x*y"][: arity or 3]
            values = [POINT["x"], POINT["y"], POINT["x"] * POINT["y"]]
            args = [_argument(prim, i, t, values[i]) for i, t in enumerate(texts)]
            out.append(f"{name}({', '.join(args)})")
    return out


def _tape_value(text: str) -> float:
    return float(run(parse(text), dict(POINT)).value)


def _sympy_value(expr: sp.Expr) -> float:
    return float(symbolic.display(expr).evalf(30, subs={symbolic.symbol(n): v
                                                       for n, v in POINT.items()}))


@pytest.mark.parametrize("call", _calls())
def test_printed_derivatives_parse_and_evaluate_to_sympys_value(call) -> None:
    f = symbolic.program_to_sympy(parse(f"{call} * x"), list(POINT))
    for d in (f.diff(symbolic.symbol("x")), f.diff(symbolic.symbol("x"), symbolic.symbol("y"))):
        text = symbolic.form(d)
        assert "**" not in text and "Abs(" not in text and "Max(" not in text
        if CAPITALISED.search(text):  # Heaviside, DiracDelta, Floor: no spelling in the language
            assert set(CAPITALISED.findall(text)) <= {"Heaviside(", "DiracDelta(", "Floor("}
            continue
        assert _tape_value(text) == pytest.approx(_sympy_value(d), rel=1e-12, abs=1e-300)


@pytest.mark.parametrize("source, printed", [
    ("x^2", "x^2"),
    ("x^-2", "x^(-2)"),
    ("-x^2", "-x^2"),
    ("x^(1/3)", "x^(1/3)"),
    ("relu(x)", "relu(x)"),
    ("max(x, y)", "max(x, y)"),
    ("min(x, y, 3)", "min(3, x, y)"),
    ("abs(x)", "abs(x)"),
    ("sigmoid(x)", "sigmoid(x)"),
    ("softplus(x)", "softplus(x)"),
    ("stop_gradient(x)*y", "y*stop_gradient(x)"),
    ("e*x", "e*x"),
    ("sqrt(x)", "sqrt(x)"),
    ("log(x, 2)", "log(x)/log(2)"),
])
def test_forms_are_spelled_as_the_language_spells_them(source, printed) -> None:
    expr = symbolic.program_to_sympy(parse(source), ["x", "y"])
    assert symbolic.form(expr) == printed
    # and the printed text means the same function (value at the point, by the tape)
    assert _tape_value(printed) == pytest.approx(_sympy_value(expr), rel=1e-14)


@pytest.mark.parametrize("source, name, printed", [
    ("relu(x)", "x", "Heaviside(x)"),
    ("abs(x)*y", "x", "y*sign(x)"),
    ("max(x, y)", "x", "Heaviside(x - y)"),
    ("sigmoid(x)", "x", "sigmoid(x)^2*exp(-x)"),
])
def test_derivatives_without_a_spelling_are_capitalised(source, name, printed) -> None:
    expr = symbolic.program_to_sympy(parse(source), ["x", "y"])
    assert symbolic.form(expr.diff(symbolic.symbol(name))) == printed


def test_sigmoid_derivative_as_printed_is_right() -> None:
    # sigmoid(x)^2*exp(-x) is sigmoid'(x) = sigmoid(x)*(1 - sigmoid(x)): mpmath decides
    mpmath.mp.dps = 30
    x = mpmath.mpf("0.3")
    s = 1 / (1 + mpmath.exp(-x))
    assert _tape_value("sigmoid(x)^2*exp(-x)") == pytest.approx(float(s * (1 - s)), rel=1e-15)


def test_special_numbers_and_vector_components() -> None:
    x = symbolic.symbol("x")
    assert [to_text(v) for v in (sp.oo, -sp.oo, sp.zoo, sp.nan)] == [
        "Infinity", "-Infinity", "ComplexInfinity", "NaN"]
    w0, w1 = symbolic.symbol("w_0"), symbolic.symbol("w_1")
    assert to_text(w0**2 * x + w1, {"x": "x", "w": ["w_0", "w_1"]}) == "w[0]^2*x + w[1]"


def test_the_cli_symbolic_column_speaks_the_input_language(gradcalc) -> None:
    obj = gradcalc("x^3 + relu(x)*abs(y) + max(x, y)", "--at", "x=2,y=-1",
                   "--format", "json").json()
    assert obj["check"]["symbolic"] == {"x": "3*x^2 + abs(y)*Heaviside(x) + Heaviside(x - y)",
                                        "y": "Heaviside(-x + y) + sign(y)*relu(x)"}
    text = gradcalc("x^3", "--at", "x=2").out
    assert "3*x^2" in text and "**" not in text
