"""The language's new matrix functions (issue 24): solve, logabsdet, cholesky, kron, hstack,
vstack and norm(x, p), each checked against SymPy by the CLI, their gradients against closed
forms from The Matrix Cookbook (computed here with numpy) or central differences of an
independent implementation; their shape errors; and the gradient in matrix notation."""

from __future__ import annotations

import numpy as np
import pytest

RNG = np.random.default_rng(2024)


def mat(a) -> str:
    a = np.asarray(a, dtype=float)
    if a.ndim == 1:
        return "[" + ",".join(repr(float(c)) for c in a) + "]"
    return "[" + ",".join(mat(row) for row in a) + "]"


def run(gradcalc, expr: str, **bindings):
    args = [expr, "--format", "json", "--check-timeout", "120"]
    for n, v in bindings.items():
        args += ["--at", f"{n}={mat(v)}"]
    r = gradcalc(*args)
    assert r.status == 0, r.err + r.out
    obj = r.json()
    assert obj["check"]["status"] == "ok", obj["check"]
    return obj, {n: np.array(g, dtype=float) for n, g in obj["gradient"].items()}


def _well(n: int) -> np.ndarray:
    return RNG.normal(size=(n, n)).round(2) + n * np.eye(n)


def _spd(n: int) -> np.ndarray:
    m = RNG.normal(size=(n, n)).round(2)
    return m @ m.T + n * np.eye(n)


def test_solve_quadratic_form_is_the_cookbook_inverse_rule(gradcalc) -> None:
    A, b = _well(3), RNG.normal(size=3).round(2)
    obj, g = run(gradcalc, "b @ solve(A, b)", A=A, b=b)
    Ai = np.linalg.inv(A)
    assert obj["value"] == pytest.approx(b @ Ai @ b, rel=1e-13)
    np.testing.assert_allclose(g["A"], -Ai.T @ np.outer(b, b) @ Ai.T, rtol=1e-11)  # (61)
    np.testing.assert_allclose(g["b"], (Ai + Ai.T) @ b, rtol=1e-12)


def test_solve_with_a_matrix_right_hand_side(gradcalc) -> None:
    # d/dX tr(A inv(X) B) = -(inv(X) B A inv(X))^T  (Cookbook (63))
    X, A, B = _well(2), RNG.normal(size=(2, 2)).round(2), RNG.normal(size=(2, 2)).round(2)
    obj, g = run(gradcalc, "trace(A @ solve(X, B))", X=X, A=A, B=B)
    Xi = np.linalg.inv(X)
    assert obj["value"] == pytest.approx(np.trace(A @ Xi @ B), rel=1e-12)
    np.testing.assert_allclose(g["X"], -(Xi @ B @ A @ Xi).T, rtol=1e-11)
    np.testing.assert_allclose(g["B"], (A @ Xi).T, rtol=1e-12)


def test_logabsdet_of_a_negative_determinant(gradcalc) -> None:
    # log|det| where logdet is nan (numpy's slogdet, autograd and JAX give the same)
    A = np.array([[1.0, 2.0], [3.0, 4.0]])
    obj, g = run(gradcalc, "logabsdet(A)", A=A)
    assert obj["value"] == pytest.approx(np.log(2.0), rel=1e-15)
    np.testing.assert_allclose(g["A"], np.linalg.inv(A).T, rtol=1e-14)  # Cookbook (57)
    r = gradcalc("logdet(A)", "--at", f"A={mat(A)}", "--no-check")
    assert r.status == 3 and "positive determinant" in r.err


def _cholesky_lower(a: np.ndarray) -> np.ndarray:
    n = len(a)
    low = np.zeros((n, n))
    for i in range(n):
        for j in range(i + 1):
            s = a[i, j] - low[i, :j] @ low[j, :j]
            low[i, j] = np.sqrt(s) if i == j else s / low[j, j]
    return low


def test_cholesky_reads_the_lower_triangle_and_its_gradient_is_there(gradcalc) -> None:
    A = _spd(3) + np.triu(RNG.normal(size=(3, 3)).round(2), 1)   # junk above the diagonal
    W = RNG.normal(size=(3, 3)).round(2)
    obj, g = run(gradcalc, "sum(W * cholesky(A))", A=A, W=W)
    assert obj["value"] == pytest.approx(np.sum(W * _cholesky_lower(A)), rel=1e-13)
    want = np.zeros((3, 3))
    for k in np.ndindex(3, 3):
        up, down = A.copy(), A.copy()
        up[k] += 1e-6
        down[k] -= 1e-6
        want[k] = np.sum(W * (_cholesky_lower(up) - _cholesky_lower(down))) / 2e-6
    np.testing.assert_allclose(g["A"], want, rtol=1e-6, atol=1e-8)
    assert np.all(g["A"][np.triu_indices(3, 1)] == 0)


def test_logdet_by_cholesky_is_the_cookbook_rule_on_the_lower_triangle(gradcalc) -> None:
    # 2 sum(log(diag(L))) = log det(S), S the symmetric matrix of A's lower triangle: its
    # gradient is inv(S) on the diagonal and 2 inv(S) below it (Cookbook (57), symmetric)
    A = _spd(3)
    obj, g = run(gradcalc, "2*sum(log(diag(cholesky(A))))", A=A)
    S = np.linalg.inv(A)
    assert obj["value"] == pytest.approx(np.log(np.linalg.det(A)), rel=1e-13)
    np.testing.assert_allclose(g["A"], np.tril(2 * S, -1) + np.diag(np.diag(S)), rtol=1e-12,
                               atol=1e-15)


def test_kron_trace_and_sum_factor(gradcalc) -> None:
    A, B = RNG.normal(size=(2, 2)).round(2), RNG.normal(size=(3, 3)).round(2)
    obj, g = run(gradcalc, "trace(kron(A, B)) + sum(kron(A, B))", A=A, B=B)
    assert obj["value"] == pytest.approx(np.trace(A) * np.trace(B) + A.sum() * B.sum(),
                                         rel=1e-12)
    np.testing.assert_allclose(g["A"], np.trace(B) * np.eye(2) + B.sum(), rtol=1e-12)
    np.testing.assert_allclose(g["B"], np.trace(A) * np.eye(3) + A.sum(), rtol=1e-12)


def test_hstack_and_vstack_route_the_gradient_to_their_parts(gradcalc) -> None:
    A, B = RNG.normal(size=(2, 2)).round(2), RNG.normal(size=(2, 3)).round(2)
    W, u = RNG.normal(size=(2, 5)).round(2), RNG.normal(size=3).round(2)
    obj, g = run(gradcalc, "sum(W * hstack(A, B)) + sum(vstack(B, u) @ u)", A=A, B=B, W=W,
                 u=u)
    np.testing.assert_allclose(g["A"], W[:, :2], rtol=1e-14)
    np.testing.assert_allclose(g["B"], W[:, 2:] + np.outer(np.ones(2), u), rtol=1e-14)
    # sum(M @ u) = (column sums of M) . u = (B's column sums + u) . u
    np.testing.assert_allclose(g["u"], B.sum(axis=0) + 2 * u, rtol=1e-13)
    assert obj["value"] == pytest.approx(np.sum(W * np.hstack([A, B]))
                                         + (B.sum(axis=0) + u) @ u, rel=1e-13)


@pytest.mark.parametrize("expr, value, grad", [
    ("norm(x, 1)", lambda x: np.abs(x).sum(), lambda x: np.sign(x)),
    ("norm(x, 2)", lambda x: np.linalg.norm(x), lambda x: x / np.linalg.norm(x)),
    ("norm(x, 3)", lambda x: np.sum(np.abs(x) ** 3) ** (1 / 3),
     lambda x: np.sign(x) * x ** 2 / np.sum(np.abs(x) ** 3) ** (2 / 3)),
    ("norm(x, inf)", lambda x: np.abs(x).max(),
     lambda x: np.sign(x) * (np.abs(x) == np.abs(x).max())),
])
def test_vector_norms(gradcalc, expr, value, grad) -> None:
    x = np.array([0.5, -2.0, 1.25])
    obj, g = run(gradcalc, expr, x=x)
    assert obj["value"] == pytest.approx(value(x), rel=1e-14)
    np.testing.assert_allclose(g["x"], grad(x), rtol=1e-14)


def test_matrix_norms_one_and_inf(gradcalc) -> None:
    A = np.array([[1.0, -2.0, 0.5], [3.0, 4.0, -1.0]])
    obj, g = run(gradcalc, "norm(A, 1) + 2*norm(A, inf)", A=A)
    assert obj["value"] == pytest.approx(np.linalg.norm(A, 1) + 2 * np.linalg.norm(A, np.inf))
    want = np.zeros_like(A)
    want[:, 1] += np.sign(A[:, 1])          # column 1 has the largest sum of |a|
    want[1, :] += 2 * np.sign(A[1, :])      # row 1 the largest
    np.testing.assert_allclose(g["A"], want)


@pytest.mark.parametrize("expr, words", [
    ("sum(solve(A, u))", "shapes do not fit for solve"),
    ("sum(solve(B, v))", "square matrix"),
    ("sum(hstack(A, u))", "shapes do not fit for hstack"),
    ("sum(vstack(A, B))", "shapes do not fit for vstack"),
    ("sum(vstack(u, v))", "shapes do not fit for vstack"),
    ("norm(A, 2)", "spectral norm"),
    ("norm(v, y)", "a number or inf"),
    ("norm(v, 0.5)", "p >= 1"),
    ("v[0] + inf", "inf is only the order of a norm"),
    ("logabsdet(B)", "square matrix"),
    ("sum(cholesky(B))", "square matrix"),
    ("sum(kron(A, y))", "kron"),
])
def test_shape_and_order_errors_name_what_and_where(gradcalc, expr, words) -> None:
    r = gradcalc(expr, "--at", "A=[[1,2],[3,4]]", "--at", "B=[[1,2,3],[4,5,6]]",
                 "--at", "u=[1,2,3]", "--at", "v=[1,2]", "--at", "y=2")
    assert r.status == 2 and r.out == ""
    assert r.err.startswith("error: ") and words in r.err.splitlines()[0]


def test_the_gradient_in_matrix_notation(gradcalc) -> None:
    # issue 24: a formula a person can read where the components are pages of SymPy
    A = np.array([[4.0, 1.0, 0.0], [1.0, 5.0, 1.0], [0.0, 1.0, 6.0]])
    obj, g = run(gradcalc, "logdet(A) + sum(inv(A))", A=A)
    assert obj["check"]["matrix"]["A"] == \
        "inv(transpose(A)) - inv(transpose(A))@ones(3,3)@inv(transpose(A))"
    Ai = np.linalg.inv(A)
    np.testing.assert_allclose(g["A"], Ai.T - Ai.T @ np.ones((3, 3)) @ Ai.T, rtol=1e-12)
    b = np.array([1.0, -2.0, 0.5])
    obj, _ = run(gradcalc, "logabsdet(A) + b @ solve(A, b) + mean(A)", A=-A, b=b)
    assert obj["check"]["matrix"]["A"] == ("inv(transpose(A)) - inv(transpose(A))@outer(b, b)"
                                           "@inv(transpose(A)) + (1/9)*ones(3,3)")
    assert obj["check"]["matrix"]["b"] == "inv(A)@b + inv(transpose(A))@b"


def test_a_claim_in_matrix_notation_with_solve(gradcalc) -> None:
    r = gradcalc("b @ solve(A, b)", "--at", "A=[[3,1],[0,2]]", "--at", "b=[1,-1]",
                 "--claim", "b: solve(A, b) + solve(transpose(A), b)", "--wrt", "b")
    assert r.status == 0, r.out + r.err
    assert "proved" in r.out or "equal" in r.out
