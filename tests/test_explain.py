"""Where a hand derivation went wrong (judge/explain.py): each kind of structural difference
between a claim and the true derivative, with its wording; a difference no structure explains;
the bounds; --expect's sign and factor. The explanation never changes a verdict."""

from __future__ import annotations

import pytest

from gradcalc.judge import explain
from gradcalc.symbolic import convert


def _difference(gradcalc, expr: str, claim: str) -> tuple[int, dict]:
    r = gradcalc(expr, "--claim", claim, "--format", "json")
    return r.status, r.json()["check"]["claims"][0]


@pytest.mark.parametrize("expr, claim, words", [
    # the product rule's second term forgotten
    ("x^2*sin(x)", "x: 2*x*sin(x)",
     "missing term x^2*cos(x): the product rule's term with the derivative of sin(x)"),
    # the chain rule's inner derivative forgotten
    ("sin(x^2)", "x: cos(x^2)",
     "factor: yours misses the factor 2*x (the chain rule's factor, the derivative of x^2)"),
    # ... inside one term of the product rule
    ("x*sin(x^2)", "x: sin(x^2) + x*cos(x^2)",
     "factor: in the term 2*x^2*cos(x^2), yours misses the factor 2*x (the chain rule's "
     "factor, the derivative of x^2)"),
    # d/dx cos(x) = sin(x): a sign, in one term
    ("x*cos(x)", "x: cos(x) + x*sin(x)", "sign: the term -x*sin(x) has the wrong sign in yours"),
    # a sign, of the whole derivative, from the chain rule's -1
    ("exp(-x)", "x: exp(-x)", "sign: yours is the negative of the true derivative (the chain "
                              "rule's factor, the derivative of -x)"),
    # a constant factor
    ("(3*x + 1)^5", "x: 5*(3*x + 1)^4", "factor: yours is 1/3 times the true derivative (the "
                                        "chain rule's factor, the derivative of 3*x + 1)"),
    ("x^3", "x: 2*x^2", "factor: yours is 2/3 times the true derivative"),
    # a term too many
    ("x^2 + y", "x: 2*x + 1", "extra term 1"),
    # a term with the wrong coefficient
    ("x^2*sin(x)", "x: 2*x*sin(x) + 2*x^2*cos(x)",
     "factor: the term x^2*cos(x) is 2*x^2*cos(x) in yours"),
    # the power rule used on an exponent
    ("x^y", "y: y*x^(y-1)", "factor: yours has the factor y where the true derivative has "
                            "x*log(x)"),
    # a quotient rule's sign, over the common denominator
    ("x/(1 + x^2)", "x: (1 + x^2 + 2*x^2)/(1 + x^2)^2",
     "over the common denominator (x^2 + 1)^2: factor: the term -x^2 is 3*x^2 in yours"),
    # nothing structural: the counterexample stays
    ("exp(x)*sin(x)", "x: x^3 - x + 1/x + log(x)",
     "no structural difference (a missing or extra term, a factor, a sign) explains it"),
])
def test_each_kind_of_difference_is_named(gradcalc, expr: str, claim: str, words: str) -> None:
    status, c = _difference(gradcalc, expr, claim)
    assert status == 1 and c["status"] == "differs"
    assert c["difference"].startswith(words), c["difference"]
    assert c["verdict"].startswith(f"differs: {c['difference']}; e.g. at ")
    assert c["counterexample"] is not None      # kept, whatever the explanation


def test_the_text_names_the_difference_before_the_counterexample(gradcalc) -> None:
    r = gradcalc("x^2*sin(x)", "--claim", "x: 2*x*sin(x)")
    text = " ".join(r.out.split())
    assert "d/dx: differs: missing term x^2*cos(x): the product rule's term with the " \
           "derivative of sin(x); e.g. at x=" in text


def test_an_equal_claim_gets_no_explanation(gradcalc) -> None:
    status, c = _difference(gradcalc, "x^2*sin(x)", "x: x^2*cos(x) + 2*x*sin(x)")
    assert status == 0 and c["status"] == "proved" and c["difference"] is None


def test_the_explanation_never_changes_the_verdict(gradcalc, monkeypatch) -> None:
    # with the comparison out of budget (or failing), the verdict and counterexample are the same
    plain = _difference(gradcalc, "x^2*sin(x)", "x: 2*x*sin(x)")[1]
    monkeypatch.setattr(explain, "compare", lambda *a: (_ for _ in ()).throw(ValueError("no")))
    broken = _difference(gradcalc, "x^2*sin(x)", "x: 2*x*sin(x)")[1]
    assert broken["difference"].startswith("not compared structurally: ")
    for key in ("status", "counterexample", "points", "true"):
        assert broken[key] == plain[key]


def test_the_comparison_is_bounded_by_counts() -> None:
    sp = convert.namespace()
    x = convert.symbol("x")
    big = sp.Add(*(sp.sin(k * x) * x ** k for k in range(1, 80)))
    assert explain.compare(big, big + 1, big, x).startswith(
        f"not compared structurally: more than {explain.MAX_SIZE} SymPy nodes")
    many = sp.Mul(*(x + k for k in range(1, 9)))          # 2^8 terms if expanded
    assert explain._terms_bound(sp, many) > explain.MAX_TERMS
    assert explain.compare(many, many.diff(x) + x, many, x).startswith(
        f"not compared structurally: more than {explain.MAX_TERMS} terms")


def test_zero_sides_are_missing_or_extra() -> None:
    sp = convert.namespace()
    x, y = convert.symbol("x"), convert.symbol("y")
    assert explain.compare(sp.S.Zero, 2 * x, x ** 2, x) == \
        "missing: yours is 0, the true derivative is 2*x"
    assert explain.compare(y, sp.S.Zero, x, y) == "extra: the true derivative is 0"


@pytest.mark.parametrize("expected, words", [
    ("x=-6", "sign: yours is the negative of the true value"),
    ("x=12", "factor: yours is 2 times the true value"),
    ("x=2", "factor: yours is 1/3 of the true value"),
    ("x=-18", "sign and factor: yours is -3 times the true value"),
    ("x=6.5", ""),
])
def test_expect_says_by_how_much(gradcalc, expected: str, words: str) -> None:
    r = gradcalc("x*y", "--at", "x=2,y=6", "--expect", expected, "--format", "json")
    p = r.json()["check"]["partials"]["x"]
    assert r.status == 1 and p["status"] == "mismatch"
    assert p["reason"].startswith(f"yours {float(expected[2:]):.15g} differs from the true "
                                  "derivative 6 by ")
    if words:
        assert p["reason"].endswith(f"; {words}")
    else:
        assert "sign" not in p["reason"] and "factor" not in p["reason"]
