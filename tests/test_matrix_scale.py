"""The check of large matrix programs: SymPy's per-component expansion is beyond a budget, so
the sampled partials are compared with fourth-order differences of the forward functions.
References here are closed forms computed with numpy (The Matrix Cookbook), never gradcalc."""

from __future__ import annotations

import time

import numpy as np
import pytest

from gradcalc import ops_matrix
from gradcalc.engine.evaluate import run
from gradcalc.judge import check, numeric
from gradcalc.lang.syntax import parse

PROGRAM = "sum((X@w - y)^2) + logdet(A)"


def _problem(seed: int = 0) -> dict[str, np.ndarray]:
    r = np.random.default_rng(seed)
    b = r.standard_normal((12, 12))
    return {"X": r.standard_normal((60, 40)), "y": r.standard_normal(60),
            "w": r.standard_normal(40),
            "A": 12 * np.eye(12) + 0.5 * b}   # not symmetric: a transposed VJP shows


def _closed_forms(p: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    r = p["X"] @ p["w"] - p["y"]
    return {"X": 2 * np.outer(r, p["w"]), "y": -2 * r, "w": 2 * p["X"].T @ r,
            "A": np.linalg.inv(p["A"]).T}


def _flat_index(label, shape) -> int:
    k = label.k
    return k if isinstance(k, int) else k[0] * shape[1] + k[1]


def test_a_large_matrix_program_gets_the_numeric_reference() -> None:
    p = _problem()
    r = run(parse(PROGRAM), p)
    assert check.numeric_reference(r)
    chk = check.check(r, timeout=30, cache=False)
    assert chk.status == "ok" and chk.reference == "numeric differences"
    true = _closed_forms(p)
    judged = [lab for lab, q in chk.partials.items() if not q.reason.startswith("not sampled")]
    assert len(judged) == 60 + 40   # 20 of each long binding; w's 40 components all
    assert all(chk.partials[lab].status == "ok" for lab in judged)
    for label in judged:
        q = chk.partials[label]
        exact = true[label.name].flat[_flat_index(label, p[label.name].shape)]
        # the estimate is right within the error the check allowed it
        assert q.certified is False
        assert abs(q.expected - exact) <= 1e-9 * abs(exact) + 1e-6 * max(1, abs(exact)), label


def test_a_small_matrix_program_keeps_sympy() -> None:
    r = run(parse("logdet(A)"), {"A": np.array([[2.0, 1.0], [0.5, 3.0]])})
    assert not check.numeric_reference(r)
    assert check.check(r, timeout=30, cache=False).reference == "SymPy"


@pytest.mark.parametrize("record", ["LOGDET", "MATMUL"])
def test_a_wrong_vjp_is_a_mismatch_on_the_numeric_path(record) -> None:
    # the reference reads forward functions only: a VJP off by half is caught
    prim = getattr(ops_matrix, record)
    right = prim.vjps
    wrong = tuple((lambda rule: (lambda g, ans, *a: 1.5 * rule(g, ans, *a)))(v) for v in right)
    object.__setattr__(prim, "vjps", wrong)  # the records are frozen dataclasses
    try:
        chk = check.check(run(parse(PROGRAM), _problem(1)), timeout=30, cache=False)
    finally:
        object.__setattr__(prim, "vjps", right)
    assert chk.status == "mismatch"
    assert any(q.status == "mismatch" for q in chk.partials.values())


def test_the_numeric_reference_keeps_the_budget() -> None:
    r = run(parse(PROGRAM), _problem(2))
    t0 = time.monotonic()
    chk = check.check(r, timeout=0.005, cache=False)
    assert time.monotonic() - t0 < 0.005 + 1.5
    # what the budget allowed is judged; the rest says why it is not
    assert chk.status in ("ok", "skipped")
    assert any(q.reason.startswith("time limit") for q in chk.partials.values())


def test_the_estimate_is_within_its_error() -> None:
    p = _problem(3)
    true = _closed_forms(p)
    program = parse(PROGRAM)
    for name, k in [("w", 5), ("A", 13), ("X", 101), ("y", 7)]:
        est = numeric.component(program, p, name, k)
        assert abs(est.value - true[name].flat[k]) <= est.error, (name, est)


def test_the_cli_says_what_it_compared_with(gradcalc, tmp_path) -> None:
    p = _problem(4)
    for name, v in p.items():
        np.save(tmp_path / f"{name}.npy", v)
    at = ",".join(f"{n}=@{tmp_path / n}.npy" for n in p)
    out = gradcalc(PROGRAM, "--at", at)
    assert out.status == 0
    assert "check: ok: tape and numeric differences agree" in out.out
    assert "not proven" in out.out
    data = gradcalc(PROGRAM, "--at", at, "--format", "json").json()
    assert data["check"]["reference"] == "numeric differences"


def test_symbolic_formulas_in_json_and_refusals(gradcalc, tmp_path) -> None:
    # --symbolic is a mode of the one result: JSON carries the formulas; CSV has no place for
    # them and --points would print the same formulas at every row, so both are refused
    at = "A=[[2,1],[0.5,3]]"
    data = gradcalc("logdet(A)", "--at", at, "--symbolic", "text", "--format", "json").json()
    assert data["symbolic"]["format"] == "text"
    assert data["symbolic"]["formulas"] == [
        gradcalc("logdet(A)", "--at", at, "--symbolic", "text").out.strip()]
    bad = gradcalc("logdet(A)", "--at", at, "--symbolic", "text", "--format", "csv")
    assert bad.status == 2 and bad.out == "" and "--format text or json" in bad.err
    points = tmp_path / "p.csv"
    points.write_text("x\n1\n")
    bad = gradcalc("x^2", "--points", str(points), "--symbolic", "text")
    assert bad.status == 2 and "without --points" in bad.err


X4 = "X=[[4,1,0,1],[1,5,1,0],[0,1,6,1],[1,0,1,7]]"
A4 = "A=[[1,0,0,0],[0,2,0,0],[0,0,1,1],[1,0,0,1]]"
B4 = "B=[[1,1,0,0],[0,1,0,0],[0,0,1,0],[2,0,0,1]]"


def test_a_symbolic_4x4_inverse_beyond_the_work_limit_gets_the_numeric_reference(gradcalc
                                                                                 ) -> None:
    # SymPy's derivatives of a symbolic 4x4 inverse take minutes (tree nodes times partials
    # over MATRIX_WORK): the check compares with numeric differences instead, and X's zero
    # entries do not make those inconclusive (inv's domain is the whole matrix's)
    r = gradcalc("trace(A@inv(X)@B)", "--at", X4, "--at", A4, "--at", B4, "--format", "json")
    chk = r.json()["check"]
    assert chk["status"] == "ok" and chk["reference"] == "numeric differences"
    assert "work limit" in chk["reason"] and r.status == 0
    # the Matrix Cookbook's identity (the claim), compared the same way
    r = gradcalc("trace(A@inv(X)@B)", "--at", X4, "--at", A4, "--at", B4, "--format", "json",
                 "--claim", "X: -transpose(inv(X)@B@A@inv(X))")
    claim = r.json()["check"]["claims"][0]
    assert claim["status"] == "equal" and claim["points"] == 10 and r.status == 0
    wrong = gradcalc("trace(A@inv(X)@B)", "--at", X4, "--at", A4, "--at", B4, "--format",
                     "json", "--claim", "X: -transpose(inv(X)@A@B@inv(X))")
    assert wrong.json()["check"]["claims"][0]["status"] == "differs" and wrong.status == 1
