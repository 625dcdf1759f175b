"""Vector variables (issue 8): `--at w=[...]`, broadcasting, reductions and indexing, the
per-component check and outputs. References are numpy closed forms and mpmath derivatives
computed here, never gradcalc itself."""

from __future__ import annotations

import csv
import io

import mpmath
import numpy as np
import pytest

mpmath.mp.dps = 40


def vec(v: np.ndarray | list[float]) -> str:
    """A vector as --at text."""
    return "[" + ",".join(repr(float(c)) for c in v) + "]"


def mp_partials(f, point: list[list[float]]) -> list[list[float]]:
    """mpmath derivatives of f(*vectors) with respect to every component of every vector."""
    mp = [[mpmath.mpf(c) for c in v] for v in point]
    out = []
    for i, v in enumerate(mp):
        row = []
        for k in range(len(v)):
            def g(t, i=i, k=k):
                xs = [list(u) for u in mp]
                xs[i][k] = t
                return f(*xs)
            row.append(float(mpmath.diff(g, v[k])))
        out.append(row)
    return out


def least_squares(w, x, y):
    return mpmath.fsum((a * b - c) ** 2 for a, b, c in zip(w, x, y, strict=True))


def test_least_squares_length_3_matches_mpmath_and_sympy(gradcalc) -> None:
    w, x, y = [0.5, -1.0, 2.0], [1.5, 2.0, -0.5], [0.25, 1.0, 3.0]
    r = gradcalc("sum((w*x - y)^2)", "--at", f"w={vec(w)},x={vec(x)},y={vec(y)}",
                 "--format", "json")
    assert r.status == 0, r.err
    obj = r.json()
    assert obj["at"]["w"] == w
    assert obj["value"] == pytest.approx(float(least_squares(
        *[[mpmath.mpf(c) for c in v] for v in (w, x, y)])), rel=1e-14)
    want = mp_partials(least_squares, [w, x, y])
    for name, row in zip("wxy", want, strict=True):
        assert obj["gradient"][name] == pytest.approx(row, rel=1e-12, abs=1e-14), name
    chk = obj["check"]
    assert chk["status"] == "ok" and "sampled" not in chk
    assert chk["symbolic"]["w"] == [f"2*x[{k}]*(w[{k}]*x[{k}] - y[{k}])" for k in range(3)]
    assert [p["status"] for p in chk["partials"]["w"]] == ["ok"] * 3


def test_least_squares_length_1000_is_checked_on_sampled_components(gradcalc) -> None:
    rng = np.random.default_rng(8)
    w, x, y = (rng.uniform(-1.0, 1.0, 1000) for _ in range(3))
    at = f"w={vec(w)},x={vec(x)},y={vec(y)}"
    r = gradcalc("sum((w*x - y)^2)", "--at", at, "--wrt", "w", "--format", "json")
    assert r.status == 0, r.err
    obj = r.json()
    # closed form of the least-squares gradient, and mpmath differences on a few components
    np.testing.assert_allclose(obj["gradient"]["w"], 2 * x * (w * x - y), rtol=1e-13,
                               atol=1e-15)
    assert obj["value"] == pytest.approx(float(np.sum((w * x - y) ** 2)), rel=1e-12)
    for k in (0, 417, 999):
        def f(t, k=k):
            return (t * mpmath.mpf(x[k]) - mpmath.mpf(y[k])) ** 2
        assert obj["gradient"]["w"][k] == pytest.approx(float(mpmath.diff(f, w[k])), rel=1e-12)
    chk = obj["check"]
    assert chk["status"] == "ok"
    checked = chk["sampled"]["w"]["checked"]
    assert chk["sampled"]["w"]["components"] == 1000 and len(checked) == 20
    assert checked[0] == 0 and checked[-1] == 999
    statuses = [p["status"] for p in chk["partials"]["w"]]
    assert [statuses[k] for k in checked] == ["ok"] * 20
    assert statuses.count("skipped") == 980
    assert chk["symbolic"]["w"][999] == "2*x[999]*(w[999]*x[999] - y[999])"
    text = gradcalc("sum((w*x - y)^2)", "--at", at, "--wrt", "w").out
    assert "check: sampled 20 of the 1,000 components of w" in text
    assert "980 not sampled" in text


@pytest.mark.parametrize("expr, reference", [
    ("dot(u, v)", lambda u, v: (float(np.dot(u, v)), [v, u])),
    ("norm(u)", lambda u, v: (float(np.linalg.norm(u)), [u / np.linalg.norm(u), None])),
    ("mean(u)", lambda u, v: (float(np.mean(u)), [np.full(4, 0.25), None])),
    ("u[2]", lambda u, v: (float(u[2]), [np.eye(4)[2], None])),
    ("u[0]*v[3]", lambda u, v: (float(u[0] * v[3]), [np.eye(4)[0] * v[3], np.eye(4)[3] * u[0]])),
    ("prod(u)", lambda u, v: (float(np.prod(u)),
                              [np.array([np.prod(np.delete(u, k)) for k in range(4)]), None])),
    ("max(u) - min(v)", lambda u, v: (float(u.max() - v.min()),
                                      [np.eye(4)[np.argmax(u)], -np.eye(4)[np.argmin(v)]])),
    ("sum(u)", lambda u, v: (float(np.sum(u)), [np.ones(4), None])),
])
def test_reductions_and_indexing_match_numpy(gradcalc, expr, reference) -> None:
    u = np.array([0.5, -1.25, 2.0, 0.75])
    v = np.array([1.5, 0.25, -2.0, 3.0])
    r = gradcalc(expr, "--at", f"u={vec(u)},v={vec(v)}", "--format", "json")
    assert r.status == 0, r.err
    obj = r.json()
    value, grads = reference(u, v)
    assert obj["value"] == pytest.approx(value, rel=1e-14)
    for name, g in zip("uv", grads, strict=True):
        if g is None:
            assert obj["gradient"][name] is None
        else:
            np.testing.assert_allclose(obj["gradient"][name], g, rtol=1e-14, atol=1e-15)
    assert obj["check"]["status"] == "ok"


def test_vectors_broadcast_with_scalars(gradcalc) -> None:
    w = [0.3, -0.7, 1.1]
    r = gradcalc("s = sum(exp(a*w) + b)", "--at", f"a=0.5,w={vec(w)},b=2", "--format", "json")
    obj = r.json()
    assert r.status == 0 and obj["check"]["status"] == "ok"
    wa = np.array(w)
    assert obj["gradient"]["a"] == pytest.approx(float(np.sum(wa * np.exp(0.5 * wa))), rel=1e-14)
    assert obj["gradient"]["b"] == 3.0  # b is added to each of the 3 components
    np.testing.assert_allclose(obj["gradient"]["w"], 0.5 * np.exp(0.5 * wa), rtol=1e-14)


def test_functions_take_vectors(gradcalc) -> None:
    program = "loss(w, x, y) = mean((w*x - y)^2)\nr = w*2\nr += 1\nL = loss(r, x, y)"
    w, x, y = [0.5, -1.0], [2.0, 1.0], [1.0, 0.5]
    r = gradcalc("--at", f"w={vec(w)},x={vec(x)},y={vec(y)}", "--wrt", "w", "--format", "json",
                 "--", program)
    assert r.status == 0, r.err
    obj = r.json()

    def f(w, x, y):
        return mpmath.fsum(((2 * a + 1) * b - c) ** 2 for a, b, c in zip(w, x, y, strict=True)) / 2
    np.testing.assert_allclose(obj["gradient"]["w"], mp_partials(f, [w, x, y])[0], rtol=1e-12)
    assert obj["check"]["status"] == "ok"


def test_text_and_csv_show_one_partial_per_component(gradcalc) -> None:
    at = "w=[1,2,3],x=0.5"
    text = gradcalc("x*dot(w, w)", "--at", at).out
    rows = {line.split()[0]: line.split() for line in text.splitlines() if "d/d" in line}
    assert list(rows) == ["d/dw[0]", "d/dw[1]", "d/dw[2]", "d/dx"]
    assert rows["d/dw[2]"][1:] == ["3", "2*w[2]*x", "ok"]
    assert rows["d/dx"][1:3] == ["14", "w[0]^2"]
    table = list(csv.reader(io.StringIO(gradcalc("x*dot(w, w)", "--at", at,
                                                 "--format", "csv").out)))
    assert table[0] == ["value", "d_w[0]", "d_w[1]", "d_w[2]", "d_x"]
    assert [float(c) for c in table[1]] == [7.0, 1.0, 2.0, 3.0, 14.0]


def test_unconnected_vector_is_null_in_every_format(gradcalc) -> None:
    at = "w=[1,2],x=3"
    assert gradcalc("x^2", "--at", at, "--format", "json").json()["gradient"] == {
        "w": None, "x": 6.0}
    table = list(csv.reader(io.StringIO(gradcalc("x^2", "--at", at, "--format", "csv").out)))
    assert table == [["value", "d_w[0]", "d_w[1]", "d_x"], ["9.0", "", "", "6.0"]]


def test_component_symbols_do_not_clash_with_a_scalar_named_like_them(gradcalc) -> None:
    obj = gradcalc("w_0 * sum(w)", "--at", "w_0=2,w=[1,5]", "--format", "json").json()
    assert obj["value"] == 12.0 and obj["gradient"] == {"w_0": 6.0, "w": [2.0, 2.0]}
    assert obj["check"]["status"] == "ok"
    # the scalar keeps its name; the vector's components print as the language writes them
    assert obj["check"]["symbolic"]["w_0"] == "w[0] + w[1]"
    assert obj["check"]["symbolic"]["w"] == ["w_0", "w_0"]


def test_tape_shows_vector_values_and_adjoints(gradcalc) -> None:
    tape = gradcalc("sum(w*w)", "--at", "w=[1,-2]", "--tape", "--format",
                    "json").json()["tape"]
    assert [n["op"] for n in tape] == ["input", "mul", "sum"]
    assert tape[0]["value"] == [1.0, -2.0] and tape[0]["adjoint"] == [2.0, -4.0]


@pytest.mark.parametrize("argv, message, where", [
    (["w + x", "--at", "w=[1,2],x=[1,2,3]"],
     "vectors of different lengths: 'w' has 2 components, 'x' has 3", "column 1"),
    (["y = w*2\nz = y - x", "--at", "w=[1,2],x=[1,2,3]"],
     "vectors of different lengths: 'y' has 2 components, 'x' has 3", "line 2, column 5"),
    (["dot(w, x)", "--at", "w=[1,2],x=[1,2,3]"], "'w' has 2 components, 'x' has 3",
     "column 1"),
    (["w*2", "--at", "w=[1,2]"], "the output is a vector (2 components), but a gradient needs "
     "a scalar output", "column 1"),
    (["v = w*2", "--at", "w=[1,2]"], "'v' is a vector (2 components)", "column 1"),
    (["w[2]", "--at", "w=[1,2]"], "index 2 is out of range: 'w' has 2 components", "column 3"),
    (["x[0]", "--at", "x=1"], "'x' is a scalar and cannot be indexed", "column 1"),
    (["sum(x)", "--at", "x=1"], "sum() needs a vector, but 'x' is a scalar", "column 5"),
    (["max(x)", "--at", "x=1"], "max() needs a vector", "column 5"),
    (["w[x]", "--at", "w=[1,2],x=1"], "an index must be a whole number", "column 3"),
    (["[1, 2]", "--at", "x=1"], "vector literals are not part of the language", "column 1"),
    (["x", "--at", "x=[1,2"], "a vector needs a closing ']'", "column 3"),
    (["x", "--at", "x=[1,,2]"], "an empty component", "column 6"),
    (["x", "--at", "x=[]"], "an empty vector", "column 3"),
    (["x", "--at", "x=[1,q]"], "'q' is not a constant", "column 6"),
])
def test_vector_errors_are_one_line_with_position(gradcalc, argv, message, where) -> None:
    r = gradcalc(*argv)
    assert r.status == 2 and r.out == ""
    lines = r.err.splitlines()
    assert lines[0].startswith("error: ") and message in lines[0], lines[0]
    assert f"at {where}" in lines[0], lines[0]
    assert len(lines) == 3 and "Traceback" not in r.err


def test_vector_output_error_suggests_a_reduction_and_of(gradcalc) -> None:
    r = gradcalc("v = w*2", "--at", "w=[1,2]")
    assert "sum(v)" in r.err and "v[0]" in r.err and "--of" in r.err
    r = gradcalc("v = w*2; s = sum(v)", "--at", "w=[1,2]", "--of", "v")
    assert r.status == 2 and r.err.startswith("error: 'v' is a vector")


@pytest.mark.parametrize("name, f, hessian", [
    ("sum", lambda F, x: F.sum(x * x * x), lambda x: np.diag(6 * x)),
    ("mean", lambda F, x: F.mean(x * x * x), lambda x: np.diag(6 * x) / 3),
    ("dot", lambda F, x: F.dot(x, x * x), lambda x: np.diag(6 * x)),
    ("norm", lambda F, x: F.norm(x),
     lambda x: (np.eye(3) - np.outer(x, x) / (x @ x)) / np.sqrt(x @ x)),
    ("prod", lambda F, x: F.prod(x),
     lambda x: np.array([[0 if i == j else np.prod(np.delete(x, [i, j])) for j in range(3)]
                         for i in range(3)])),
    ("max", lambda F, x: F.max(x * x), None),
])
def test_second_derivatives_through_reductions(name, f, hessian) -> None:
    """The reductions' VJPs run on recorded tensors, so nested tapes differentiate them again
    (row i of the Hessian: the gradient of the i-th component of the gradient, taken with the
    index primitive, so its VJP is exercised on recorded tensors too)."""
    from gradcalc import Tape, Variable, functions
    from gradcalc import ops as gops
    from gradcalc.engine.tape import apply

    x0 = np.array([0.5, -1.5, 2.0])
    rows = []
    for i in range(3):
        x = Variable(x0)
        with Tape() as outer:
            with Tape() as inner:
                y = f(functions, x)
            g = inner.gradient(y, x)
            gi = apply(gops.INDEX, g, np.float64(i))
        rows.append(np.asarray(outer.gradient(gi, x).value))
    if hessian is None:  # max(x*x): the largest square is x[2]^2, so only d2/dx2^2 = 2
        want = np.zeros((3, 3))
        want[2, 2] = 2.0
    else:
        want = hessian(x0)
    np.testing.assert_allclose(np.array(rows), want, rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("extra", [["--numeric"], ["--expect", "w=1"]])
def test_verification_options_take_scalar_bindings_only(gradcalc, extra) -> None:
    r = gradcalc("sum(w*w)", "--at", "w=[1,2]", *extra)
    assert r.status == 2 and r.out == ""
    assert r.err.startswith("error: ") and "vector" in r.err.splitlines()[0]


def test_claims_about_a_vector_are_compared_component_by_component(gradcalc) -> None:
    # (issue 17: claims in vector and matrix notation; they were refused before)
    assert gradcalc("sum(w*w)", "--at", "w=[1,2]", "--claim", "w: 2*w").status == 0
    r = gradcalc("sum(w*w)", "--at", "w=[1,2]", "--claim", "w: 2*w + w[0] - 1")
    assert r.status == 1 and "differs" in r.out


@pytest.mark.parametrize("expr, at, undefined", [
    ("sum(abs(w))", "w=[0,2,-1]", [True, False, False]),          # abs kink at w[0] only
    ("max(w) + abs(w[2])", "w=[0,2,2]", [False, True, True]),     # w[1], w[2] tie for max
    ("min(w*w)", "w=[1,-1,3]", [True, True, False]),              # w[0]^2 = w[1]^2 tie
    ("sum(relu(w))*x", "w=[1,0,-1],x=2", [False, True, False]),
    ("norm(w)", "w=[0,0,0]", [True, True, True]),                 # the zero vector
])
def test_kinks_are_attributed_to_the_components_that_reach_them(gradcalc, expr, at,
                                                                undefined) -> None:
    obj = gradcalc(expr, "--at", at, "--format", "json").json()
    statuses = [p["status"] for p in obj["check"]["partials"]["w"]]
    assert [s == "undefined" for s in statuses] == undefined, statuses
    assert "mismatch" not in statuses
