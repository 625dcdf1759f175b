"""`--hessian` with vector (and matrix) bindings on the command line (issue 24): the Hessian
over every component, labelled w[0], ..., checked against SymPy as the scalar Hessian is, in
text, JSON and CSV, and with --points.

Expected values are closed forms or SymPy's second derivatives computed here, with a symbol per
component (independent of gradcalc's own conversion)."""

from __future__ import annotations

import csv
import io

import numpy as np
import pytest
import sympy

EXAMPLE = ["sum(w^2*x)", "--at", "w=[1,2],x=3"]


def _json(gradcalc, *argv: str):
    r = gradcalc(*argv, "--hessian", "--format", "json")
    assert r.status == 0, r.err
    return r.json()


def test_the_issue_example_over_every_component(gradcalc) -> None:
    # f = x (w0^2 + w1^2): d2/dw_i^2 = 2x, d2/dw_i dx = 2 w_i, d2/dx2 = 0, d2/dw0dw1 = 0
    obj = _json(gradcalc, *EXAMPLE)
    h = obj["hessian"]
    assert list(h) == ["w[0]", "w[1]", "x"]
    assert h["w[0]"] == {"w[0]": 6.0, "w[1]": 0.0, "x": 2.0}
    assert h["w[1]"] == {"w[0]": 0.0, "w[1]": 6.0, "x": 4.0}
    assert h["x"] == {"w[0]": 2.0, "w[1]": 4.0, "x": 0.0}
    hc = obj["check"]["hessian"]
    assert hc["status"] == "ok" and obj["check"]["status"] == "ok"
    assert hc["symbolic"]["w[0]"]["x"] == "2*w[0]"
    assert hc["symbolic"]["w[1]"]["w[1]"] == "2*x"
    assert hc["entries"]["w[0]"]["w[1]"]["status"] == "ok"
    assert obj["gradient"]["w"] == [6.0, 12.0] and obj["gradient"]["x"] == 5.0


def test_text_shows_the_matrix_with_component_labels(gradcalc) -> None:
    r = gradcalc(*EXAMPLE, "--hessian")
    assert r.status == 0, r.err
    lines = r.out.splitlines()
    header = next(line for line in lines if line.startswith("hessian"))
    assert header.split() == ["hessian", "w[0]", "w[1]", "x"]
    assert any(line.split() == ["w[0]", "6", "0", "2"] for line in lines)
    assert any(line.startswith("hessian check: ok") for line in lines)


def test_csv_has_a_column_per_pair_of_components(gradcalc) -> None:
    r = gradcalc(*EXAMPLE, "--hessian", "--format", "csv")
    assert r.status == 0, r.err
    rows = list(csv.reader(io.StringIO(r.out)))
    row = dict(zip(rows[0], rows[1], strict=True))
    assert rows[0][:4] == ["value", "d_w[0]", "d_w[1]", "d_x"]
    assert row["h_w[0]_x"] == "2.0" and row["h_x_w[1]"] == "4.0" and row["h_w[1]_w[1]"] == "6.0"
    assert len(rows[0]) == 4 + 9


def _sympy_hessian(build, values: dict[str, list[float] | float]) -> dict[str, dict[str, float]]:
    """SymPy's Hessian of build(**bindings) at values, per component label."""
    syms: dict[str, object] = {}
    labels: list[tuple[str, sympy.Symbol, float]] = []
    for name, v in values.items():
        if isinstance(v, list):
            comps = [sympy.Symbol(f"{name}_{k}", real=True) for k in range(len(v))]
            syms[name] = comps
            labels += [(f"{name}[{k}]", c, x) for k, (c, x) in enumerate(zip(comps, v,
                                                                                strict=True))]
        else:
            syms[name] = sympy.Symbol(name, real=True)
            labels.append((name, syms[name], v))
    f = build(**syms)
    subs = {s: sympy.Float(x, 30) for _, s, x in labels}
    return {a: {b: float(sympy.diff(f, sa, sb).evalf(30, subs=subs)) for b, sb, _ in labels}
            for a, sa, _ in labels}


CASES = [
    ("log(sum(exp(w*x)))", {"w": [0.5, -1.0, 2.0], "x": 0.7},
     lambda w, x: sympy.log(sum(sympy.exp(c * x) for c in w))),
    ("norm(w)^3 + w[0]*w[1]*y", {"w": [1.5, -2.0], "y": 0.25},
     lambda w, y: sympy.sqrt(w[0] ** 2 + w[1] ** 2) ** 3 + w[0] * w[1] * y),
    ("dot(u, v) * prod(u)", {"u": [1.0, 2.0, -0.5], "v": [0.3, 0.1, 2.0]},
     lambda u, v: sum(a * b for a, b in zip(u, v, strict=True)) * u[0] * u[1] * u[2]),
]


@pytest.mark.parametrize("expr, at, build", CASES, ids=[c[0] for c in CASES])
def test_vector_hessians_match_sympy(gradcalc, expr, at, build) -> None:
    text = ",".join(f"{n}=[{','.join(map(str, v))}]" if isinstance(v, list) else f"{n}={v}"
                    for n, v in at.items())
    obj = _json(gradcalc, expr, "--at", text)
    want = _sympy_hessian(build, at)
    assert list(obj["hessian"]) == list(want)
    for a, row in want.items():
        for b, w in row.items():
            assert obj["hessian"][a][b] == pytest.approx(w, rel=1e-12, abs=1e-12), (a, b)
    assert obj["check"]["hessian"]["status"] == "ok"


def test_a_matrix_binding_labels_its_components(gradcalc) -> None:
    # trace(A@A) = sum_ij A[i,j]*A[j,i]: d2/dA[i,j]dA[k,l] = 2 where (k,l) = (j,i)
    obj = _json(gradcalc, "trace(A@A)", "--at", "A=[[1,2],[3,4]]")
    h = obj["hessian"]
    labels = ["A[0,0]", "A[0,1]", "A[1,0]", "A[1,1]"]
    assert list(h) == labels
    want = np.zeros((4, 4))
    want[0, 0] = want[3, 3] = want[1, 2] = want[2, 1] = 2.0
    np.testing.assert_array_equal([[h[a][b] for b in labels] for a in labels], want)
    assert obj["check"]["hessian"]["status"] == "ok"


def test_logdet_hessian_is_the_matrix_cookbook_form(gradcalc) -> None:
    # d2 logdet(A) / dA[i,j] dA[k,l] = -inv(A)[l,i] * inv(A)[j,k] (The Matrix Cookbook (57));
    # --hessian of a matrix binding was refused before
    A = np.array([[2.0, 1.0], [1.0, 3.0]])
    obj = _json(gradcalc, "logdet(A)", "--at", "A=[[2,1],[1,3]]")
    inv = np.linalg.inv(A)
    for i, j, k, m in np.ndindex(2, 2, 2, 2):
        got = obj["hessian"][f"A[{i},{j}]"][f"A[{k},{m}]"]
        assert got == pytest.approx(-inv[m, i] * inv[j, k], rel=1e-13, abs=1e-15)
    assert obj["check"]["hessian"]["status"] == "ok"


def test_a_kink_makes_only_the_entries_of_the_component_at_it_undefined(gradcalc) -> None:
    r = gradcalc("sum(abs(w))*x", "--at", "w=[0,2],x=3", "--hessian", "--format", "json")
    obj = r.json()
    entries = obj["check"]["hessian"]["entries"]
    assert entries["w[0]"]["w[0]"]["status"] == "undefined"
    assert entries["w[0]"]["x"]["status"] == "undefined"
    assert entries["w[1]"]["x"]["status"] == "ok" and obj["hessian"]["w[1]"]["x"] == 1.0
    assert entries["x"]["x"]["status"] == "ok"


def test_a_component_the_output_ignores_has_true_zeros(gradcalc) -> None:
    obj = _json(gradcalc, "w[0]^2*x", "--at", "w=[3,5],x=2")
    h = obj["hessian"]
    assert h["w[0]"] == {"w[0]": 4.0, "w[1]": 0.0, "x": 6.0}
    assert h["w[1]"] == {"w[0]": 0.0, "w[1]": 0.0, "x": 0.0}
    assert obj["check"]["hessian"]["status"] == "ok"


def test_a_non_finite_entry_names_the_component_and_the_node(gradcalc) -> None:
    r = gradcalc("sum(sqrt(w))", "--at", "w=[0,4]", "--hessian", "--format", "json")
    assert r.status == 3
    assert "d2/dw[0]dw[0]" in r.err and "sqrt" in r.err
    h = r.json()["hessian"]
    assert h["w[0]"]["w[0]"] == "-inf" and h["w[1]"]["w[1]"] == -1 / 32
    # the crossing entries are the true zeros, not 0 * inf = nan from w[0]'s path
    assert h["w[0]"]["w[1]"] == 0.0 and h["w[1]"]["w[0]"] == 0.0
    entries = r.json()["check"]["hessian"]["entries"]
    assert entries["w[0]"]["w[0]"]["status"] == "undefined"
    assert entries["w[1]"]["w[0]"]["status"] == "ok"


def test_points_with_a_vector_binding(gradcalc, points_file) -> None:
    path = points_file("x\n3\n-1\n")
    r = gradcalc("sum(w^2*x)", "--points", path, "--at", "w=[1,2]", "--hessian",
                 "--format", "csv")
    assert r.status == 0, r.err
    rows = list(csv.DictReader(io.StringIO(r.out)))
    assert [row["h_w[0]_w[0]"] for row in rows] == ["6.0", "-2.0"]
    assert [row["h_w[1]_x"] for row in rows] == ["4.0", "4.0"]


def test_too_many_components_is_one_error_line(gradcalc) -> None:
    values = ",".join(["1"] * 150)
    r = gradcalc("sum(w^2)", "--at", f"w=[{values}]", "--hessian")
    assert r.status == 2 and r.out == ""
    assert r.err.startswith("error: ") and len(r.err.splitlines()) == 1
    assert "150 components" in r.err and "--wrt" in r.err
