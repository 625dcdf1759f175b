"""np.linalg on tensors: a port of the real-valued cases of HIPS autograd's tests/test_linalg.py
(our own code: each function's gradient, and its second derivative, against central
differences of numpy's own function), closed forms from The Matrix Cookbook, and the points
where textbooks go wrong (repeated eigenvalues and singular values)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

from gradcalc import Tape, Variable
from gradcalc.errors import NotDifferentiable
from gradcheck import check_grads

RNG = np.random.default_rng(1)


def T(a: Any) -> Any:  # noqa: N802 - autograd's name
    return np.swapaxes(a, -1, -2)


def rand_psd(d: int) -> np.ndarray:
    m = RNG.normal(size=(d, d))
    return m @ m.T


def check_symmetric_matrix_grads(fun: Callable[..., Any], x0: np.ndarray, **kw: Any) -> None:
    """fun of the symmetric matrix made from x's lower triangle (autograd's helper)."""
    def sym(a: Any) -> Any:
        low = np.tril(a)
        return (low + T(low)) / 2.0
    check_grads(lambda a: fun(sym(a)), x0, **kw)


# ---------------------------------------------------------------- autograd's test_linalg.py


def test_inv() -> None:
    mat = RNG.normal(size=(8, 8))
    check_grads(np.linalg.inv, mat @ mat + np.eye(8))


@pytest.mark.parametrize("m", range(2, 8))
def test_pinv(m: int) -> None:
    check_grads(np.linalg.pinv, RNG.normal(size=(5, m)), order=1)
    check_grads(np.linalg.pinv, RNG.normal(size=(2, 5, m)), order=1)
    # square, low (fixed) rank: pinv(x^T x)
    check_grads(lambda x: np.linalg.pinv(T(x) @ x), RNG.normal(size=(5, m)), order=1,
                rtol=1e-4)


def test_pinv_second_order() -> None:
    check_grads(np.linalg.pinv, RNG.normal(size=(4, 2)))


def test_inv_3d() -> None:
    check_grads(np.linalg.inv, RNG.normal(size=(4, 4, 4)) + 5 * np.eye(4))
    check_grads(np.linalg.inv, RNG.normal(size=(4, 4, 4, 4)) + 5 * np.eye(4), order=1)


def test_solve_arg1() -> None:
    b = RNG.normal(size=(8, 7))
    check_grads(lambda a: np.linalg.solve(a, b), RNG.normal(size=(8, 8)) + 10 * np.eye(8))


def test_solve_arg1_1d() -> None:
    b = RNG.normal(size=8)
    check_grads(lambda a: np.linalg.solve(a, b), RNG.normal(size=(8, 8)) + 10 * np.eye(8))


def test_solve_arg2() -> None:
    a = RNG.normal(size=(6, 6)) + np.eye(6)
    check_grads(lambda b: np.linalg.solve(a, b), RNG.normal(size=(6, 5)))


def test_solve_arg1_3d() -> None:
    b = RNG.normal(size=(5, 4))
    check_grads(lambda a: np.linalg.solve(a, b[..., None])[..., 0],
                RNG.normal(size=(5, 4, 4)) + 5 * np.eye(4))


def test_solve_arg1_3d_3d() -> None:
    b = RNG.normal(size=(5, 4, 6))
    check_grads(lambda a: np.linalg.solve(a, b), RNG.normal(size=(5, 4, 4)) + 5 * np.eye(4))


def test_det() -> None:
    check_grads(np.linalg.det, RNG.normal(size=(6, 6)))


def test_det_3d() -> None:
    check_grads(np.linalg.det, RNG.normal(size=(3, 3, 3)))


def test_slogdet() -> None:
    mat = RNG.normal(size=(6, 6))
    check_grads(lambda x: np.linalg.slogdet(x)[1], mat)
    check_grads(lambda x: np.linalg.slogdet(x)[1], -mat)


def test_slogdet_3d() -> None:
    mat = np.stack([rand_psd(5) + 5 * np.eye(5) for _ in range(3)])
    check_grads(lambda x: np.sum(np.linalg.slogdet(x)[1]), mat)


def test_vector_2norm() -> None:
    check_grads(np.linalg.norm, RNG.normal(size=6))


def test_norm_of_a_list_of_tensors_is_refused_and_np_stack_is_its_spelling() -> None:
    # autograd: grad(lambda x: np.linalg.norm([x, x + 2]))(0.0) == 1.0
    x = Variable(0.0)
    with Tape(), pytest.raises(TypeError, match=r"np\.stack"):
        np.linalg.norm([x, x + 2])
    with Tape() as tape:
        y = np.linalg.norm(np.stack([x, x + 2]))
    assert float(tape.gradient(y, x)) == 1.0


def test_frobenius_norm() -> None:
    check_grads(np.linalg.norm, RNG.normal(size=(6, 5)))


def test_frobenius_norm_axis() -> None:
    check_grads(lambda x: np.linalg.norm(x, axis=(0, 1)), RNG.normal(size=(6, 5, 4)))


@pytest.mark.parametrize("ord", range(2, 5))
def test_vector_norm_ord(ord: int) -> None:
    check_grads(lambda x: np.linalg.norm(x, ord=ord), RNG.normal(size=6))


@pytest.mark.parametrize("axis", range(3))
def test_norm_axis(axis: int) -> None:
    check_grads(lambda x: np.linalg.norm(x, axis=axis), RNG.normal(size=(6, 5, 4)))


def test_norm_nuclear() -> None:
    check_grads(lambda x: np.linalg.norm(x, ord="nuc"), RNG.normal(size=(6, 5)))


def test_norm_nuclear_axis() -> None:
    check_grads(lambda x: np.linalg.norm(x, ord="nuc", axis=(0, 1)), RNG.normal(size=(6, 5, 4)),
                order=1)


def test_eigvalh_lower() -> None:
    check_grads(lambda x: tuple(np.linalg.eigh(x)), RNG.normal(size=(6, 6)))


def test_eigvalh_upper() -> None:
    check_grads(lambda x: tuple(np.linalg.eigh(x, "U")), RNG.normal(size=(6, 6)))


def test_eigvalh_lower_broadcasting() -> None:
    mat = RNG.normal(size=(2, 3, 6, 6)) + 10 * np.eye(6)
    check_grads(lambda x: tuple(np.linalg.eigh(x)), mat @ T(mat), order=1)


def test_eigvalh_upper_broadcasting() -> None:
    mat = RNG.normal(size=(2, 3, 6, 6)) + 10 * np.eye(6)
    check_grads(lambda x: tuple(np.linalg.eigh(x, "U")), mat @ T(mat), order=1)


def test_cholesky() -> None:
    check_symmetric_matrix_grads(np.linalg.cholesky, rand_psd(6))


def test_cholesky_broadcast() -> None:
    check_symmetric_matrix_grads(np.linalg.cholesky, np.stack([rand_psd(6) for _ in range(3)]),
                                 order=1)


def test_cholesky_reparameterization_trick() -> None:
    z0 = np.random.RandomState(0).randn(6)
    check_symmetric_matrix_grads(lambda a: np.linalg.norm(np.linalg.cholesky(a) @ z0),
                                 rand_psd(6))


@pytest.mark.parametrize("shape", [(3, 5), (4, 3, 5), (4, 4), (3, 4, 4), (5, 3), (4, 5, 3)],
                         ids=["wide_2d", "wide_3d", "square_2d", "square_3d", "tall_2d",
                              "tall_3d"])
def test_svd(shape: tuple[int, ...]) -> None:
    check_grads(lambda x: tuple(np.linalg.svd(x, full_matrices=False)), RNG.normal(size=shape),
                order=2 if len(shape) == 2 else 1)


@pytest.mark.parametrize("shape", [(3, 5), (4, 3, 5)], ids=["only_s_2d", "only_s_3d"])
def test_svd_only_s(shape: tuple[int, ...]) -> None:
    check_grads(lambda x: np.linalg.svd(x, full_matrices=False, compute_uv=False),
                RNG.normal(size=shape))


# ---------------------------------------------------------------- closed forms (Cookbook)


def _grad(f: Callable[[Any], Any], x0: np.ndarray) -> np.ndarray:
    x = Variable(x0)
    with Tape() as tape:
        y = f(x)
    return tape.gradient(y, x).numpy()


def test_cookbook_log_abs_det_and_trace_of_inverse() -> None:
    a, b = RNG.normal(size=(4, 4)) - 3 * np.eye(4), RNG.normal(size=(4, 4))
    if np.linalg.det(a) > 0:
        a[0] *= -1  # a negative determinant: log|det| is what slogdet differentiates
    ai = np.linalg.inv(a)
    np.testing.assert_allclose(_grad(lambda x: np.linalg.slogdet(x)[1], a), ai.T,
                               rtol=1e-12)                                         # (57)
    np.testing.assert_allclose(_grad(lambda x: np.trace(np.linalg.inv(x) @ b), a),
                               -(ai @ b @ ai).T, rtol=1e-11)                       # (63)
    np.testing.assert_allclose(_grad(lambda x: np.trace(np.linalg.solve(x, b)), a),
                               -(ai @ b @ ai).T, rtol=1e-11)


def test_cookbook_quadratic_forms_through_einsum_and_solve() -> None:
    a, x0 = RNG.normal(size=(3, 3)), RNG.normal(size=3)
    np.testing.assert_allclose(_grad(lambda x: np.einsum("i,ij,j", x, a, x), x0),
                               (a + a.T) @ x0, rtol=1e-13)                         # (81)
    s = rand_psd(3) + np.eye(3)
    np.testing.assert_allclose(_grad(lambda x: x @ np.linalg.solve(s, x), x0),
                               2 * np.linalg.solve(s, x0), rtol=1e-12)


def test_sum_of_squared_eigenvalues_is_the_frobenius_norm_on_the_lower_triangle() -> None:
    # sum(w^2) = ||S||_F^2, S the symmetric matrix eigh reads from the lower triangle
    a = RNG.normal(size=(4, 4))
    want = np.tril(4 * a, -1) + np.diag(2 * np.diag(a))
    np.testing.assert_allclose(_grad(lambda x: np.sum(np.linalg.eigvalsh(x) ** 2), a), want,
                               rtol=1e-10, atol=1e-12)


def test_singular_value_gradients_are_outer_products_of_singular_vectors() -> None:
    a = RNG.normal(size=(4, 3))
    u, s, vh = np.linalg.svd(a, full_matrices=False)
    np.testing.assert_allclose(_grad(lambda x: np.linalg.norm(x, "nuc"), a), u @ vh,
                               rtol=1e-11)
    np.testing.assert_allclose(_grad(lambda x: np.linalg.norm(x, 2), a),
                               np.outer(u[:, 0], vh[0]), rtol=1e-11, atol=1e-14)


# ---------------------------------------------------------------- where textbooks go wrong


def test_eigh_with_a_repeated_eigenvalue() -> None:
    a0 = np.diag([1.0, 1.0, 3.0])
    # a function of the tied eigenvalues that treats them alike: its gradient exists
    np.testing.assert_allclose(_grad(lambda x: np.sum(np.linalg.eigvalsh(x)), a0), np.eye(3))
    # the largest of the tied pair, or the eigenvectors: not differentiable, said so
    for f in (lambda x: np.linalg.eigvalsh(x)[1],
              lambda x: np.sum(np.linalg.eigh(x)[1][:, 0] * np.arange(3.0))):
        x = Variable(a0)
        with Tape() as tape:
            y = f(x)
        with pytest.raises(NotDifferentiable, match="repeated"):
            tape.gradient(y, x)


def test_eigh_with_an_eigenvalue_repeated_up_to_rounding() -> None:
    q, _ = np.linalg.qr(RNG.normal(size=(3, 3)))
    a0 = q @ np.diag([2.0, 2.0, -1.0]) @ q.T   # eigh gives 2 and 2 +- a few ulps
    x = Variable(a0)
    with Tape() as tape:  # the distinct eigenvalue (-1, first) and its eigenvector's square
        y = np.sum(np.linalg.eigh(x).eigenvectors[:, 0] ** 2 * np.arange(3.0))
    g = tape.gradient(y, x)
    assert np.all(np.isfinite(g.numpy()))
    with Tape() as tape:
        y = np.sum(np.linalg.eigh(x).eigenvectors[:, 2] * np.arange(3.0))
    with pytest.raises(NotDifferentiable):
        tape.gradient(y, x)


def test_svd_with_repeated_singular_values() -> None:
    a0 = np.eye(3)
    np.testing.assert_allclose(_grad(lambda x: np.linalg.norm(x, "nuc"), a0), np.eye(3))
    for f in (lambda x: np.linalg.svd(x, compute_uv=False)[0],
              lambda x: np.sum(np.linalg.svd(x).U[:, 0])):
        x = Variable(a0)
        with Tape() as tape:
            y = f(x)
        with pytest.raises(NotDifferentiable, match="repeated"):
            tape.gradient(y, x)


def test_svd_full_matrices_of_a_non_square_matrix() -> None:
    a0 = RNG.normal(size=(4, 2))
    x = Variable(a0)
    with Tape(persistent=True) as tape:
        u, s, vh = np.linalg.svd(x)
        fine = np.sum(s) + np.sum(u[:, :2] ** 2 * np.arange(4.0)[:, None])
        extra = np.sum(u[:, 2:] * np.arange(4.0)[:, None])
    assert np.all(np.isfinite(tape.gradient(fine, x).numpy()))
    with pytest.raises(NotDifferentiable, match="full_matrices"):
        tape.gradient(extra, x)
