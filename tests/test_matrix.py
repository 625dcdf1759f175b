"""Matrices (issue 17): `--at A=[[..]]` and `@file` bindings, `@` and the matrix functions as
single tape nodes, the per-component check, matrix-shaped output. References are closed forms
from The Matrix Cookbook computed here with numpy, finite differences and SymPy, never
gradcalc itself."""

from __future__ import annotations

import csv
import io

import numpy as np
import pytest

from gradcalc import Tape, Variable, ops, ops_matrix
from gradcalc import functions as F

RNG = np.random.default_rng(17)


def mat(a: np.ndarray | list) -> str:
    """A vector or matrix as --at text."""
    a = np.asarray(a, dtype=float)
    if a.ndim == 1:
        return "[" + ",".join(repr(float(c)) for c in a) + "]"
    return "[" + ",".join(mat(row) for row in a) + "]"


def run(gradcalc, expr: str, check: bool = False, **bindings: np.ndarray):
    args = [expr, "--format", "json"] + [a for n, v in bindings.items()
                                          for a in ("--at", f"{n}={mat(v)}")]
    r = gradcalc(*args, *([] if check else ["--no-check"]))
    assert r.status in (0, 3), r.err
    obj = r.json()
    return obj, {n: None if g is None else np.array(g, dtype=float)
                 for n, g in obj["gradient"].items()}


def spd(n: int) -> np.ndarray:
    m = RNG.normal(size=(n, n))
    return m @ m.T + n * np.eye(n)


# ---------------------------------------------------------------- closed forms


def test_least_squares(gradcalc) -> None:
    X, w, y = RNG.normal(size=(5, 3)), RNG.normal(size=3), RNG.normal(size=5)
    obj, g = run(gradcalc, "sum((X@w - y)^2)", check=True, X=X, w=w, y=y)
    r = X @ w - y
    assert obj["value"] == pytest.approx(float(r @ r), rel=1e-13)
    np.testing.assert_allclose(g["w"], 2 * X.T @ r, rtol=1e-12)
    np.testing.assert_allclose(g["X"], 2 * np.outer(r, w), rtol=1e-12)
    np.testing.assert_allclose(g["y"], -2 * r, rtol=1e-12)
    assert obj["check"]["status"] == "ok"
    assert np.shape(obj["check"]["partials"]["X"]) == (5, 3)


def test_quadratic_form(gradcalc) -> None:
    A, x = RNG.normal(size=(4, 4)), RNG.normal(size=4)
    obj, g = run(gradcalc, "x @ A @ x", check=True, A=A, x=x)
    assert obj["value"] == pytest.approx(float(x @ A @ x), rel=1e-12)
    np.testing.assert_allclose(g["x"], (A + A.T) @ x, rtol=1e-12)     # Cookbook (81)
    np.testing.assert_allclose(g["A"], np.outer(x, x), rtol=1e-12)    # Cookbook (82)
    assert obj["check"]["status"] == "ok"


def test_logdet_gradient_is_the_inverse_transposed(gradcalc) -> None:
    A = spd(3) + 0.3 * RNG.normal(size=(3, 3))
    obj, g = run(gradcalc, "logdet(A)", check=True, A=A)
    assert obj["value"] == pytest.approx(np.log(np.linalg.det(A)), rel=1e-13)
    np.testing.assert_allclose(g["A"], np.linalg.inv(A).T, rtol=1e-11)  # Cookbook (57)
    assert obj["check"]["status"] == "ok"


def test_det_gradient(gradcalc) -> None:
    A = RNG.normal(size=(3, 3))
    obj, g = run(gradcalc, "det(A)", check=True, A=A)
    assert obj["value"] == pytest.approx(np.linalg.det(A), rel=1e-12)
    np.testing.assert_allclose(g["A"], np.linalg.det(A) * np.linalg.inv(A).T,
                               rtol=1e-10)  # Cookbook (49)
    assert obj["check"]["status"] == "ok"


def test_det_gradient_of_a_singular_matrix_is_the_adjugate(gradcalc) -> None:
    A = np.array([[1.0, 2.0], [2.0, 4.0]])
    _, g = run(gradcalc, "det(A)", A=A)
    np.testing.assert_allclose(g["A"], [[4.0, -2.0], [-2.0, 1.0]], atol=1e-14)


def test_inverse(gradcalc) -> None:
    A, C = spd(3), RNG.normal(size=(3, 3))
    obj, g = run(gradcalc, "sum(inv(A) * C)", check=True, A=A, C=C)
    Ai = np.linalg.inv(A)
    assert obj["value"] == pytest.approx(float(np.sum(Ai * C)), rel=1e-12)
    np.testing.assert_allclose(g["A"], -Ai.T @ C @ Ai.T, rtol=1e-10)  # Cookbook (61)
    np.testing.assert_allclose(g["C"], Ai, rtol=1e-12)
    assert obj["check"]["status"] == "ok"


def test_trace_of_a_product(gradcalc) -> None:
    A, B = RNG.normal(size=(2, 3)), RNG.normal(size=(3, 2))
    obj, g = run(gradcalc, "trace(A @ B)", check=True, A=A, B=B)
    assert obj["value"] == pytest.approx(float(np.trace(A @ B)), rel=1e-12)
    np.testing.assert_allclose(g["A"], B.T, rtol=1e-13)  # Cookbook (100)
    np.testing.assert_allclose(g["B"], A.T, rtol=1e-13)
    assert obj["check"]["status"] == "ok"


def test_softmax_cross_entropy(gradcalc) -> None:
    W, x = RNG.normal(size=(4, 3)), RNG.normal(size=3)
    t = np.array([0.0, 1.0, 0.0, 0.0])
    obj, g = run(gradcalc, "-sum(t * log(softmax(W @ x)))", check=True, W=W, x=x, t=t)
    z = W @ x
    p = np.exp(z - z.max()) / np.sum(np.exp(z - z.max()))
    assert obj["value"] == pytest.approx(float(-np.log(p[1])), rel=1e-12)
    np.testing.assert_allclose(g["W"], np.outer(p - t, x), rtol=1e-11, atol=1e-15)
    np.testing.assert_allclose(g["x"], W.T @ (p - t), rtol=1e-11)
    assert obj["check"]["status"] == "ok"


def test_logsumexp_is_stable_and_its_gradient_is_the_softmax(gradcalc) -> None:
    v = np.array([1000.0, 999.0, -5.0])
    obj, g = run(gradcalc, "logsumexp(v)", v=v)
    assert obj["value"] == pytest.approx(1000 + np.log1p(np.exp(-1.0) + np.exp(-1005.0)),
                                         rel=1e-15)
    e = np.exp(v - v.max())
    np.testing.assert_allclose(g["v"], e / e.sum(), rtol=1e-14)
    obj, g = run(gradcalc, "logsumexp(A)", check=True, A=np.array([[0.5, -1.0], [2.0, 0.0]]))
    assert obj["check"]["status"] == "ok"


def test_transpose_diag_and_indexing(gradcalc) -> None:
    A, C, v = RNG.normal(size=(2, 3)), RNG.normal(size=(3, 2)), RNG.normal(size=3)
    _, g = run(gradcalc, "sum(transpose(A) * C)", A=A, C=C)
    np.testing.assert_allclose(g["A"], C.T, rtol=1e-15)
    S, D = RNG.normal(size=(3, 3)), RNG.normal(size=(3, 3))
    _, g = run(gradcalc, "sum(diag(v) * D) + sum(diag(S) * v)", v=v, D=D, S=S)
    np.testing.assert_allclose(g["v"], np.diag(D) + np.diag(S), rtol=1e-14)
    np.testing.assert_allclose(g["D"], np.diag(v), rtol=1e-15)
    np.testing.assert_allclose(g["S"], np.diag(v), rtol=1e-15)
    obj, g = run(gradcalc, "A[1,2] * 3 + sum(A[0] * v)", check=True, A=A, v=v)
    assert obj["value"] == pytest.approx(3 * A[1, 2] + A[0] @ v, rel=1e-13)
    np.testing.assert_allclose(g["A"], [v, [0, 0, 3.0]], rtol=1e-15)
    np.testing.assert_allclose(g["v"], A[0], rtol=1e-15)
    assert obj["check"]["status"] == "ok"


def test_elementwise_broadcasting_and_reductions_over_all_components(gradcalc) -> None:
    A, w = RNG.uniform(0.5, 2, size=(3, 2)), RNG.uniform(0.5, 2, size=2)
    obj, g = run(gradcalc, "sum(A * w) + mean(A) + prod(A) + norm(A) + max(A) + min(A)",
                 check=True, A=A, w=w)
    assert obj["value"] == pytest.approx(float(np.sum(A * w) + A.mean() + A.prod()
                                               + np.linalg.norm(A) + A.max() + A.min()),
                                         rel=1e-13)
    want = (np.broadcast_to(w, A.shape) + 1 / A.size + A.prod() / A + A / np.linalg.norm(A)
            + (A == A.max()) + (A == A.min()))
    np.testing.assert_allclose(g["A"], want, rtol=1e-12)
    np.testing.assert_allclose(g["w"], A.sum(axis=0), rtol=1e-13)
    assert obj["check"]["status"] == "ok"


def test_matrix_vector_shapes_of_matmul(gradcalc) -> None:
    u, B, v = RNG.normal(size=3), RNG.normal(size=(3, 2)), RNG.normal(size=2)
    obj, g = run(gradcalc, "u @ B @ v + u @ u", check=True, u=u, B=B, v=v)
    assert obj["value"] == pytest.approx(float(u @ B @ v + u @ u), rel=1e-12)
    np.testing.assert_allclose(g["u"], B @ v + 2 * u, rtol=1e-12)
    np.testing.assert_allclose(g["B"], np.outer(u, v), rtol=1e-13)
    np.testing.assert_allclose(g["v"], B.T @ u, rtol=1e-13)
    assert obj["check"]["status"] == "ok"


# ---------------------------------------------------------------- every record

def _inputs(prim) -> list[np.ndarray]:
    """Arguments where each matrix primitive is smooth."""
    m = spd(3) + 0.2 * RNG.normal(size=(3, 3))
    return {
        "matmul": [RNG.normal(size=(2, 3)), RNG.normal(size=(3, 4))],
        "outer": [RNG.normal(size=3), RNG.normal(size=2)],
        "transpose": [RNG.normal(size=(2, 3))],
        "trace": [m], "det": [m], "inv": [m], "logdet": [m],
        "diag": [RNG.normal(size=3)], "softmax": [RNG.normal(size=4)],
        "logsumexp": [RNG.normal(size=(2, 3))], "ravel": [RNG.normal(size=(2, 3))],
        "unravel": [RNG.normal(size=6), np.zeros((2, 3))],
        "sum_all": [RNG.normal(size=(2, 3))],
        "index2": [RNG.normal(size=(2, 3)), np.float64(1), np.float64(2)],
        "row": [RNG.normal(size=(2, 3)), np.float64(1)],
        "solve": [m, RNG.normal(size=(3, 2))], "logabsdet": [-m],
        "cholesky": [spd(3) + np.triu(RNG.normal(size=(3, 3)), 1)],
        "kron": [RNG.normal(size=(2, 2)), RNG.normal(size=(2, 3))],
        "hstack": [RNG.normal(size=(2, 2)), RNG.normal(size=(2, 3))],
        "vstack": [RNG.normal(size=(2, 3)), RNG.normal(size=3)],
        "norm_p": [RNG.normal(size=4), np.float64(3)],
        "eigh": [spd(3) + np.triu(RNG.normal(size=(3, 3)), 1), "L"],
        "svd": [RNG.normal(size=(3, 2)), False],
        "pinv": [RNG.normal(size=(4, 2))],
    }[prim.name]


def _cholesky_reference(a: np.ndarray) -> np.ndarray:
    """Cholesky-Banachiewicz from the lower triangle, written out (not numpy's)."""
    n = len(a)
    low = np.zeros((n, n))
    for i in range(n):
        for j in range(i + 1):
            s = a[i, j] - low[i, :j] @ low[j, :j]
            low[i, j] = np.sqrt(s) if i == j else s / low[j, j]
    return low


MATRIX_REFERENCE = {  # numpy definitions, independent of ops_matrix's forwards
    "matmul": lambda a, b: a @ b, "outer": np.outer, "transpose": lambda a: a.T,
    "trace": np.trace, "det": np.linalg.det, "inv": np.linalg.inv,
    "logdet": lambda a: np.log(np.linalg.det(a)), "diag": np.diag,
    "softmax": lambda x: np.exp(x) / np.sum(np.exp(x)),
    "logsumexp": lambda x: np.log(np.sum(np.exp(x))), "ravel": lambda a: a.reshape(-1),
    "unravel": lambda g, like: g.reshape(like.shape), "sum_all": np.sum,
    "index2": lambda a, i, j: a[int(i), int(j)], "row": lambda a, i: a[int(i)],
    "solve": lambda a, b: np.linalg.inv(a) @ b,
    "logabsdet": lambda a: np.log(np.abs(np.linalg.det(a))),
    "cholesky": _cholesky_reference,
    "kron": lambda a, b: np.einsum("ij,kl->ikjl", a, b).reshape(a.shape[0] * b.shape[0], -1),
    "hstack": lambda a, b: np.concatenate([a, b], axis=1),
    "vstack": lambda a, b: np.concatenate([a, b[None, :]], axis=0),
    "norm_p": lambda x, p: np.sum(np.abs(x) ** p) ** (1 / p),
    # (eigh and svd pack their results: the same numbers from numpy's own routine; their VJPs
    # are what is checked, by central differences)
    "eigh": lambda a, uplo: np.concatenate(
        [np.linalg.eigh(np.tril(a) + np.tril(a, -1).T)[0][None, :],
         np.linalg.eigh(np.tril(a) + np.tril(a, -1).T)[1]]),
    "svd": lambda a, full: np.concatenate([p.ravel() for p in np.linalg.svd(a, full)]),
    "pinv": lambda a: np.linalg.inv(a.T @ a) @ a.T,  # full column rank
}
NO_SYMPY = {"eigh", "svd"}  # no closed form


def test_every_matrix_primitive_has_a_reference() -> None:
    assert {p.name for p in ops_matrix.MATRIX_PRIMITIVES} == set(MATRIX_REFERENCE)
    assert all(ops.BY_NAME[p.name] is p for p in ops_matrix.MATRIX_PRIMITIVES)
    assert ops.BINARY["@"] is ops_matrix.MATMUL


@pytest.mark.parametrize("prim", ops_matrix.MATRIX_PRIMITIVES, ids=lambda p: p.name)
def test_forward_matches_numpy(prim) -> None:
    args = _inputs(prim)
    np.testing.assert_allclose(prim.forward(*args), MATRIX_REFERENCE[prim.name](*args),
                               rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("prim", ops_matrix.MATRIX_PRIMITIVES, ids=lambda p: p.name)
def test_vjp_matches_central_differences(prim) -> None:
    args = _inputs(prim)
    ans = prim.forward(*args)
    g = RNG.normal(size=np.shape(ans))
    for i, a in enumerate(args):
        rule = prim.vjp(i)
        if rule is None:
            continue
        got = np.broadcast_to(rule(g, ans, *args), np.shape(a))
        want = np.zeros(np.shape(a))
        h = 1e-6
        for k in np.ndindex(*np.shape(a)):
            up = [np.array(x, dtype=float) if isinstance(x, np.ndarray) else x for x in args]
            down = [np.array(x, dtype=float) if isinstance(x, np.ndarray) else x for x in args]
            up[i][k] += h
            down[i][k] -= h
            want[k] = np.sum(g * (MATRIX_REFERENCE[prim.name](*up)
                                  - MATRIX_REFERENCE[prim.name](*down))) / (2 * h)
        np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-7, err_msg=f"argument {i}")


@pytest.mark.parametrize("prim", ops_matrix.MATRIX_PRIMITIVES, ids=lambda p: p.name)
def test_sympy_counterpart_matches_numpy(prim) -> None:
    import sympy

    args = [a.round(3) if np.ndim(a) else a for a in _inputs(prim)]
    if prim.name in NO_SYMPY:
        with pytest.raises(TypeError, match="no closed form"):
            prim.sympy(sympy, *args)
        return
    sym = [a if not np.ndim(a) else tuple(tuple(sympy.Rational(str(c)) for c in row)
                                          for row in a) if np.ndim(a) == 2
           else tuple(sympy.Rational(str(c)) for c in a) for a in args]
    got = prim.sympy(sympy, *sym)
    numbers = np.array(got if isinstance(got, tuple) else got, dtype=object)
    np.testing.assert_allclose(np.array(numbers.tolist(), dtype=float),
                               MATRIX_REFERENCE[prim.name](*args), rtol=1e-12, atol=1e-14)


def test_hessian_through_matrix_nodes_on_nested_tapes() -> None:
    A, x0 = RNG.normal(size=(3, 3)), RNG.normal(size=3)
    x = Variable(x0)
    with Tape() as outer:
        with Tape() as inner:
            y = F.logsumexp(A @ x) + x @ F.inv(A @ A.T + 3 * np.eye(3)) @ x
        g = inner.gradient(y, x)
    H = outer.jacobian(g, x)
    z = A @ x0
    p = np.exp(z - z.max()) / np.sum(np.exp(z - z.max()))
    M = np.linalg.inv(A @ A.T + 3 * np.eye(3))
    want = A.T @ (np.diag(p) - np.outer(p, p)) @ A + M + M.T
    np.testing.assert_allclose(np.asarray(H), want, rtol=1e-10, atol=1e-12)


def test_api_matmul_is_one_node() -> None:
    A, x = Variable(RNG.normal(size=(3, 2))), Variable(RNG.normal(size=2))
    with Tape(persistent=True) as tape:
        y = F.sum(A @ x)
    assert [n.op for n in tape.nodes if n.prim is not None] == ["matmul", "sum"]
    np.testing.assert_allclose(np.asarray(tape.gradient(y, x)), A.numpy().sum(axis=0))


# ---------------------------------------------------------------- bindings and errors


def test_matrix_literal_shapes(gradcalc) -> None:
    obj, _ = run(gradcalc, "sum(A)", A=np.array([[1.0, 2.0]]))
    assert obj["at"]["A"] == [[1.0, 2.0]]
    r = gradcalc("A[0,1] + w[1]", "--at", "A=[[1,2]],w=[1,2]", "--format", "json",
                 "--no-check")
    assert r.json()["gradient"] == {"A": [[0.0, 1.0]], "w": [0.0, 1.0]}


@pytest.mark.parametrize("at, words", [
    ("A=[[1,2],[3]]", "rows of different lengths: row 0 has 2 components, row 1 has 1"),
    ("A=[[1,2],[3,x]]", "'x' is not a constant"),
    ("A=[[1,2],3]", "every row of a matrix is written [..]"),
])
def test_bad_matrix_literal(gradcalc, at: str, words: str) -> None:
    r = gradcalc("sum(A)", "--at", at)
    assert r.status == 2 and r.out == ""
    assert r.err.startswith("error: --at: ") and words in r.err and "Traceback" not in r.err


def test_npy_and_csv_bindings(gradcalc, tmp_path) -> None:
    X, y = RNG.normal(size=(6, 2)), RNG.normal(size=6)
    np.save(tmp_path / "X.npy", X)
    (tmp_path / "y.csv").write_text("\n".join(repr(float(c)) for c in y) + "\n")
    (tmp_path / "X.csv").write_text("\n".join(",".join(repr(float(c)) for c in row) for row in X))
    for xpath in ("X.npy", "X.csv"):
        r = gradcalc("sum((X@w - y)^2)", "--at", f"X=@{tmp_path / xpath}", "--at",
                     f"y=@{tmp_path / 'y.csv'}", "--at", "w=[0.5,-1]", "--format", "json",
                     "--no-check")
        assert r.status == 0, r.err
        res = X @ np.array([0.5, -1]) - y
        np.testing.assert_allclose(r.json()["gradient"]["w"], 2 * X.T @ res, rtol=1e-12)
        assert np.shape(r.json()["gradient"]["X"]) == (6, 2)


def test_bad_files(gradcalc, tmp_path) -> None:
    (tmp_path / "bad.csv").write_text("1,2\n3,oops\n")
    (tmp_path / "ragged.csv").write_text("1,2\n3\n")
    (tmp_path / "header.csv").write_text("a,b\n1,2\n")
    cases = [(tmp_path / "missing.npy", "cannot read"),
             (tmp_path / "bad.csv", "line 2, column 2: 'oops' is not a number"),
             (tmp_path / "ragged.csv", "line 2: 1 numbers, but the first row has 2"),
             (tmp_path / "header.csv", "line 1, column 1: 'a' is not a number")]
    for path, words in cases:
        r = gradcalc("sum(X)", "--at", f"X=@{path}")
        assert r.status == 2 and r.out == "", path
        assert r.err.startswith("error: --at: ") and words in r.err, r.err
        assert str(path) in r.err and r.err.count("\n") <= 3


@pytest.mark.parametrize("expr, at, words, caret", [
    ("sum(A@B)", "A=[[1,2],[3,4]],B=[[1,2,3]]",
     "shapes do not fit for @: 'A' is 2x2, 'B' is 1x3", "^~~"),
    ("sum(A*w)", "A=[[1,2],[3,4]],w=[1,2,3]",
     "shapes do not broadcast for '*': 'A' is 2x2, 'w' is a vector of 3 components", "^~~"),
    ("det(X)", "X=[[1,2,3],[4,5,6]]", "det() needs a square matrix, but 'X' is 2x3", "^~~~~~"),
    ("A[2,0]", "A=[[1,2],[3,4]]", "row 2 is out of range: 'A' is 2x2", "^"),
    ("A[0,0] @ A", "A=[[1,2],[3,4]]", "@ needs vectors or matrices", "^~~~~~~~~~"),
    ("A", "A=[[1,2],[3,4]]", "'the output' is a 2x2 matrix".replace("'the output'",
                                                                    "the output"), None),
])
def test_shape_errors(gradcalc, expr: str, at: str, words: str, caret: str | None) -> None:
    r = gradcalc(expr, "--at", at)
    assert r.status == 2 and r.out == ""
    assert r.err.startswith("error: ") and words in r.err, r.err
    if caret:
        assert caret in r.err.splitlines()[-1]


@pytest.mark.parametrize("expr", ["logdet(A)", "sum(inv(A))"])
def test_singular_matrix_is_not_finite_exit_3(gradcalc, expr: str) -> None:
    r = gradcalc(expr, "--at", "A=[[1,2],[2,4]]")
    assert r.status == 3 and "Traceback" not in r.err
    assert "undefined" in r.out
    assert "singular" in r.err or "positive determinant" in r.err


# ---------------------------------------------------------------- output shapes


def test_text_csv_and_tape_show_components_and_shapes(gradcalc) -> None:
    r = gradcalc("trace(A @ A)", "--at", "A=[[1,2],[3,4]]", "--no-check", "--tape")
    assert r.status == 0
    rows = [line.split() for line in r.out.splitlines() if line.strip().startswith("d/dA")]
    assert [(row[0], float(row[1])) for row in rows] == [
        ("d/dA[0,0]", 2.0), ("d/dA[0,1]", 6.0), ("d/dA[1,0]", 4.0), ("d/dA[1,1]", 8.0)]
    assert "2x2 [[1, 2], [3, 4]]" in r.out
    big = gradcalc("sum(A)", "--at", f"A={mat(np.arange(20.0).reshape(4, 5))}", "--no-check",
                   "--tape")
    assert "4x5 min 0 max 19" in big.out
    r = gradcalc("trace(A @ A)", "--at", "A=[[1,2],[3,4]]", "--format", "csv")
    header, row = list(csv.reader(io.StringIO(r.out)))
    assert header == ["value", "d_A[0,0]", "d_A[0,1]", "d_A[1,0]", "d_A[1,1]"]
    assert [float(c) for c in row] == [29.0, 2.0, 6.0, 4.0, 8.0]


# ---------------------------------------------------------------- claims in matrix notation

LSQ = ["sum((X@w - y)^2)", "--at", "X=[[1,2],[3,4],[5,6]]", "--at", "w=[1,-1]",
       "--at", "y=[0.5,1,2]"]


def test_right_matrix_claims_exit_0(gradcalc) -> None:
    r = gradcalc(*LSQ, "--claim", "w: 2*transpose(X)@(X@w - y)", "--claim",
                 "X: 2*outer(X@w - y, w)", "--claim", "y: 2*(y - X@w)", "--format", "json")
    assert r.status == 0, r.out + r.err
    claims = r.json()["check"]["claims"]
    assert [c["status"] for c in claims] == ["proved"] * 3


def test_wrong_matrix_claim_exit_1_with_small_matrices(gradcalc) -> None:
    # right at the --at point only by accident: y is X@w there, so (X@w - y) = 0 = X@w - X@w
    r = gradcalc("sum((X@w - y)^2)", "--at", "X=[[1,2],[3,4]]", "--at", "w=[1,1]",
                 "--at", "y=[3,7]", "--claim", "w: 2*transpose(X)@(X@w - y)*0", "--format",
                 "json")
    assert r.status == 1
    obj = r.json()
    claims = obj["check"]["claims"]
    c = claims[0]
    assert c["status"] == "differs"
    at = c["counterexample"]["at"]
    X, w, y = (np.array(at[n]) for n in ("X", "w", "y"))
    assert np.all(X == np.round(X)) and np.abs(X).max() <= 2  # small whole numbers
    np.testing.assert_allclose(c["counterexample"]["true"], 2 * X.T @ (X @ w - y))
    assert np.any(2 * X.T @ (X @ w - y) != 0)


def test_claim_of_the_wrong_shape_is_an_input_error(gradcalc) -> None:
    r = gradcalc(*LSQ, "--claim", "X: 2*(X@w - y)")
    assert r.status == 2 and r.out == ""
    assert "is a vector of 3 components, but the gradient with respect to X is a 3x2 matrix" \
        in r.err


# ---------------------------------------------------------------- matrix notation, formulas out


def test_matrix_notation_is_shown_beside_the_components(gradcalc) -> None:
    r = gradcalc(LSQ[0] + " + logdet(A)", *LSQ[1:], "--at", "A=[[2,1],[1,3]]",
                 "--format", "json")
    matrix = r.json()["check"]["matrix"]
    assert matrix["w"] == "2*transpose(X)@(X@w - y)"
    assert matrix["X"] == "2*outer(X@w - y, w)"
    assert matrix["A"] == "inv(transpose(A))"
    text = gradcalc(*LSQ).out
    assert "check: in matrix notation, d/dw = 2*transpose(X)@(X@w - y)" in text


def test_elementwise_products_fall_back_to_components(gradcalc) -> None:
    r = gradcalc("sum(A*B)", "--at", "A=[[1,2],[3,4]],B=[[2,1],[1,3]]", "--format", "json")
    chk = r.json()["check"]
    assert chk["status"] == "ok" and chk["matrix"] == {"A": None, "B": None}
    assert "checked component by component" in chk["matrix_note"]


def test_symbolic_python_is_a_numpy_function_of_the_right_gradient(gradcalc, tmp_path) -> None:
    import importlib.util

    X, w, y = RNG.normal(size=(4, 3)), RNG.normal(size=3), RNG.normal(size=4)
    A = spd(3)
    r = gradcalc("sum((X@w - y)^2) + logdet(A) + x*trace(A)", "--at", f"X={mat(X)}", "--at",
                 f"w={mat(w)}", "--at", f"y={mat(y)}", "--at", f"A={mat(A)}", "--at", "x=2",
                 "--symbolic", "python")
    assert r.status == 0, r.err
    path = tmp_path / "grads.py"
    path.write_text("import numpy\n\n" + r.out)
    spec = importlib.util.spec_from_file_location("grads", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    # other matrices of the same shapes: the functions are formulas, not numbers
    X2, w2, y2, A2 = RNG.normal(size=(4, 3)), RNG.normal(size=3), RNG.normal(size=4), spd(3)
    res = X2 @ w2 - y2
    np.testing.assert_allclose(module.grad_w(X2, w2, y2, A2, 1.5), 2 * X2.T @ res, rtol=1e-12)
    np.testing.assert_allclose(module.grad_X(X2, w2, y2, A2, 1.5), 2 * np.outer(res, w2),
                               rtol=1e-12)
    np.testing.assert_allclose(module.grad_A(X2, w2, y2, A2, 1.5),
                               np.linalg.inv(A2).T + 1.5 * np.eye(3), rtol=1e-12)
    assert module.grad_x(X2, w2, y2, A2, 1.5) == pytest.approx(np.trace(A2), rel=1e-14)


def test_symbolic_latex(gradcalc) -> None:
    r = gradcalc(*LSQ, "--symbolic", "latex")
    assert r.status == 0
    assert "\\frac{\\partial f}{\\partial w} = 2 X^{T} \\left(X w - y\\right)" in r.out.splitlines()


@pytest.mark.parametrize("argv, words", [
    (["sum(A)", "--at", "A=[[2,1],[1,3]]", "--at", "B=[[1,2],[]]"], "an empty row"),
    (["sum(A)*x", "--at", "A=[[2,1],[1,3]]", "--points", "-"], "binds 'A' to a matrix"),
])
def test_matrix_refusals_say_matrix(gradcalc, monkeypatch, argv, words) -> None:
    monkeypatch.setattr("sys.stdin", io.TextIOWrapper(io.BytesIO(b"x\n1\n")))
    r = gradcalc(*argv)
    assert r.status == 2 and r.out == "" and words in r.err, r.err


def test_matrix_claims_without_at_ask_for_the_shapes(gradcalc) -> None:
    r = gradcalc("sum((X@w - y)^2)", "--claim", "w: 2*transpose(X)@(X@w - y)")
    assert r.status == 2 and r.out == ""
    assert r.err.startswith("error: claims in vector or matrix notation need --at")


def test_logdet_outside_its_domain_is_undefined_not_ok(gradcalc) -> None:
    # det = -2: log(det) is not real, so no partial is defined (the formula inv(A)^T is finite)
    r = gradcalc("logdet(A)", "--at", "A=[[1,2],[3,4]]", "--format", "json")
    assert r.status == 3
    statuses = [p["status"] for row in r.json()["check"]["partials"]["A"] for p in row]
    assert statuses == ["undefined"] * 4
