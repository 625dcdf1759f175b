"""Issue 23 item 4's array bugs of the Python API, each written before its fix: a stack of
matrices through inv, arrays built from lists of tensors, and np.where's branch not taken.
References are closed forms and central differences of plain numpy, never gradcalc."""

from __future__ import annotations

import numpy as np
import pytest

from gradcalc import Tape, Variable
from gradcalc import functions as F

RNG = np.random.default_rng(23)


def central(f, x: np.ndarray, h: float = 1e-6) -> np.ndarray:
    """d sum(f(x)) / dx by central differences of plain numpy."""
    out = np.zeros_like(x)
    for k in np.ndindex(*x.shape):
        up, down = x.copy(), x.copy()
        up[k] += h
        down[k] -= h
        out[k] = (np.sum(f(up)) - np.sum(f(down))) / (2 * h)
    return out


@pytest.mark.parametrize("shape", [(4, 4, 4), (2, 3, 4, 4)])
def test_inv_of_a_stack_of_matrices_has_the_right_gradient(shape) -> None:
    # autograd's test_inv_3d: the value was right and the gradient off by up to 0.25
    a0 = RNG.normal(size=shape) + 5 * np.eye(shape[-1])
    w = RNG.normal(size=shape)
    a = Variable(a0)
    with Tape() as tape:
        y = F.sum(F.inv(a) * w)
    np.testing.assert_allclose(float(y), np.sum(np.linalg.inv(a0) * w), rtol=1e-12)
    # closed form (Cookbook (61)), matrix by matrix: -inv(A)^T W inv(A)^T
    ai = np.linalg.inv(a0)
    want = -np.swapaxes(ai, -1, -2) @ w @ np.swapaxes(ai, -1, -2)
    np.testing.assert_allclose(tape.gradient(y, a).numpy(), want, rtol=1e-10, atol=1e-13)
    np.testing.assert_allclose(want, central(lambda m: np.linalg.inv(m) * w, a0), rtol=1e-6,
                               atol=1e-8)


def test_np_array_of_recorded_tensors_is_refused_not_a_silent_none() -> None:
    x = Variable(1.5)
    with Tape(), pytest.raises(TypeError, match=r"np\.stack"):
        np.array([x, x * 1.0, x + 2.5])


def test_np_linalg_norm_of_a_list_of_tensors_is_refused_not_a_silent_none() -> None:
    x = Variable(0.0)
    with Tape(), pytest.raises(TypeError, match=r"np\.stack"):
        np.linalg.norm([x, x + 2])


def test_np_stack_gives_what_a_list_was_meant_to() -> None:
    # the supported spelling: d/dx sqrt(x^2 + (x+2)^2) at 0 is 2/2 = 1 (autograd's test)
    x = Variable(0.0)
    with Tape() as tape:
        y = np.linalg.norm(np.stack([x, x + 2]))
    assert float(tape.gradient(y, x)) == 1.0


def test_where_gives_the_branch_not_taken_no_gradient_not_even_a_nan() -> None:
    # sqrt(-1) is nan, and its derivative too; where never selects it, so d/dv is exactly 0
    v = Variable(-1.0)
    with Tape() as tape:
        y = np.where(v > 0, np.sqrt(v), 0.0)
    assert float(y) == 0.0
    g = tape.gradient(y, v)
    assert g is not None and float(g) == 0.0


def test_where_on_an_array_branch_not_taken_anywhere_gets_no_gradient() -> None:
    v = Variable(np.array([-1.0, -4.0]))
    with Tape() as tape:
        y = F.sum(np.where(v > 0, np.sqrt(v), v * 2))
    np.testing.assert_array_equal(tape.gradient(y, v).numpy(), [2.0, 2.0])


def test_prod_of_an_empty_vector_has_an_empty_gradient() -> None:
    # found by the random shapes of test_array_ops.py: the gradient had one component
    x = Variable(np.zeros(0))
    with Tape() as tape:
        y = F.prod(x)
    assert float(y) == 1.0
    assert tape.gradient(y, x).shape == (0,)


def test_explain_names_where_for_the_branch_not_taken() -> None:
    v = Variable(-1.0)
    with Tape(persistent=True) as tape:
        y = np.where(v > 0, np.sqrt(v), 0.0)
    assert float(tape.gradient(y, v)) == 0.0
    assert tape.explain(y, v).startswith("zero local derivative: where")
