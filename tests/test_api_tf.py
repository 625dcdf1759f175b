"""The Python API point by point against tf.GradientTape, tf.Variable and tf.Tensor (issue 16).

Expected numbers are the ones TensorFlow's documentation and guides print (tensorflow.org:
tf.GradientTape, "Introduction to gradients and automatic differentiation", "Advanced automatic
differentiation") or closed forms; where TensorFlow raises, gradcalc raises a TypeError or
ValueError that names the fix. The table "gradcalc next to TensorFlow" (docs/python-api.md)
cites these tests.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from gradcalc import Tape, Tensor, UnconnectedGradients, Variable, constant
from gradcalc.engine import functions as F

# ---------------------------------------------------------------- gradient(): targets and sources


def test_gradient_of_a_list_target_is_the_sum() -> None:
    # TF sums the gradients of the elements of a structured target
    x = Variable(2.0)
    with Tape() as tape:
        y1 = 3 * x
        y2 = 4 * x
    assert float(tape.gradient([y1, y2], x)) == 7.0


def test_gradient_of_a_dict_target_is_the_sum() -> None:
    # the autodiff guide: {'y0': x**2, 'y1': 1/x} at x = 2 gives 2x - 1/x^2 = 3.75
    x = Variable(2.0)
    with Tape() as tape:
        y0 = x ** 2
        y1 = 1 / x
    assert float(tape.gradient({"y0": y0, "y1": y1}, x)) == 3.75


def test_gradient_of_a_vector_target_is_the_sum() -> None:
    # the autodiff guide: y = x * [3., 4.] gives 7
    x = Variable(2.0)
    with Tape() as tape:
        y = x * np.array([3.0, 4.0])
    assert float(tape.gradient(y, x)) == 7.0


def test_list_target_sharing_nodes_and_repeated() -> None:
    # y depends on z: d(z + y + y)/dx with z = x^2, y = z * x = x^3: 2x + 2 * 3x^2 at x = 1.5
    x = Variable(1.5)
    with Tape() as tape:
        z = x * x
        y = z * x
    assert float(tape.gradient((z, y, y), x)) == pytest.approx(2 * 1.5 + 6 * 1.5 ** 2,
                                                                 rel=1e-15)


def test_list_target_with_output_gradients_per_target() -> None:
    x = Variable(2.0)
    with Tape() as tape:
        y1 = x * x                  # 2x = 4
        y2 = x * np.array([1.0, 2.0])
    g = tape.gradient([y1, y2], x, output_gradients=[3.0, np.array([1.0, 10.0])])
    assert float(g) == 3 * 4 + 1 + 20


def test_output_gradients_of_the_wrong_shape_are_refused() -> None:
    x = Variable(np.array([1.0, 2.0, 3.0]))
    with Tape(persistent=True) as tape:
        y = x * x
    with pytest.raises(ValueError, match=r"shape \(2,\).*shape \(3,\)"):
        tape.gradient(y, x, output_gradients=np.ones(2))
    with pytest.raises(ValueError, match="output_gradients"):
        tape.gradient(y, x, output_gradients=2.0)   # a scalar for a vector target
    with pytest.raises(ValueError, match="one per target"):
        tape.gradient([y, y], x, output_gradients=[np.ones(3)])
    # the right shape still works and the tape was not used up by the refusals
    np.testing.assert_array_equal(tape.gradient(y, x, output_gradients=np.ones(3)).numpy(),
                                  [2.0, 4.0, 6.0])


@pytest.mark.parametrize("source", ["x", 3.0, None, np.array([1.0])])
def test_a_source_that_is_not_a_tensor_is_a_type_error(source: object) -> None:
    x = Variable(2.0)
    with Tape() as tape:
        y = x * x
    with pytest.raises(TypeError, match="sources must be Tensors or Variables"):
        tape.gradient(y, source)
    with pytest.raises(TypeError, match="sources must be"):
        tape.gradient(y, [x, source])


def test_a_none_target_is_a_type_error() -> None:
    x = Variable(2.0)
    with Tape() as tape:
        x * x
    with pytest.raises(TypeError, match="target"):
        tape.gradient(None, x)


def test_nested_sources_keep_their_structure() -> None:
    a, b, c = Variable(1.0), Variable(2.0), Variable(3.0)
    with Tape() as tape:
        y = a * b * c
    g = tape.gradient(y, {"ab": [a, b], "c": (c,)})
    assert [float(t) for t in g["ab"]] == [6.0, 3.0] and isinstance(g["c"], tuple)
    assert float(g["c"][0]) == 2.0


# ---------------------------------------------------------------- higher derivatives


def test_gradient_inside_a_persistent_tape_is_recorded() -> None:
    # TF records a gradient() computed inside a persistent tape's block: d2/dx2 x^3 = 6x
    x = Variable(3.0)
    with Tape(persistent=True) as tape:
        y = x ** 3
        dy = tape.gradient(y, x)
    assert float(dy) == 27.0
    assert float(tape.gradient(dy, x)) == 18.0


def test_gradient_after_the_block_is_not_recorded() -> None:
    x = Variable(3.0)
    with Tape(persistent=True) as tape:
        y = x ** 3
    dy = tape.gradient(y, x)
    assert tape.node_of(dy) is None and tape.gradient(dy, x) is None


def test_nested_tapes_reduce_a_broadcast_gradient() -> None:
    # y = sum(sin(x * w)) with a scalar x and a vector w: the recorded gradient is the scalar
    # sum(w cos(x w)), and its derivative -sum(w^2 sin(x w))
    x = Variable(0.5)
    w = np.array([1.0, 2.0, 4.0])
    with Tape() as outer:
        with Tape() as inner:
            y = F.sum(F.sin(x * w))
        dy = inner.gradient(y, x)
    assert dy.shape == ()
    assert float(dy) == pytest.approx(sum(c * math.cos(0.5 * c) for c in w), rel=1e-15)
    assert float(outer.gradient(dy, x)) == pytest.approx(
        -sum(c * c * math.sin(0.5 * c) for c in w), rel=1e-15)


# ---------------------------------------------------------------- jacobian and batch_jacobian


def test_jacobian_doc_example() -> None:
    # tf.GradientTape.jacobian: x = [1, 2], y = x * x -> [[2, 0], [0, 4]]
    x = constant([1.0, 2.0])
    with Tape() as g:
        g.watch(x)
        y = x * x
    np.testing.assert_array_equal(g.jacobian(y, x).numpy(), [[2.0, 0.0], [0.0, 4.0]])


def test_jacobian_of_a_vector_wrt_a_scalar_and_unconnected() -> None:
    # the guide: y = sigmoid(x + delta), jacobian wrt the scalar delta is sigmoid'(x)
    x = np.linspace(-10.0, 10.0, 201)
    delta = Variable(0.0)
    other = Variable(1.0)
    with Tape(persistent=True) as tape:
        y = F.sigmoid(x + delta)
    j = tape.jacobian(y, delta)
    assert j.shape == (201,)
    # sigmoid'(x) = 1 / (4 cosh(x/2)^2), without the cancellation of s (1 - s); the tape's
    # rule s (1 - s) loses about 1e-12 relative at |x| = 10
    np.testing.assert_allclose(j.numpy(), 0.25 / np.cosh(x / 2) ** 2, rtol=1e-11)
    assert tape.jacobian(y, other) is None
    np.testing.assert_array_equal(
        tape.jacobian(y, other, unconnected_gradients="zero").numpy(), np.zeros(201))


def test_jacobian_shape_and_values_of_a_dense_layer() -> None:
    # the guide: relu(x @ W + b) with x (7, 5), W (5, 10): the jacobian wrt W is (7, 10, 5, 10),
    # J[i, j, k, l] = relu'(z[i, j]) * x[i, k] * (j == l)
    rng = np.random.default_rng(1)
    xv, wv, bv = rng.normal(size=(7, 5)), rng.normal(size=(5, 10)), rng.normal(size=10)
    w, b = Variable(wv), Variable(bv)
    with Tape(persistent=True) as tape:
        y = F.relu(xv @ w + b)
    j = tape.jacobian(y, w)
    assert j.shape == (7, 10, 5, 10)
    z = xv @ wv + bv
    want = np.einsum("ij,ik,jl->ijkl", (z > 0).astype(float), xv, np.eye(10))
    np.testing.assert_allclose(j.numpy(), want, rtol=1e-15, atol=0)
    jb = tape.jacobian(y, b)
    np.testing.assert_array_equal(jb.numpy(), np.einsum("ij,jl->ijl", (z > 0) * 1.0,
                                                        np.eye(10)))


def test_jacobian_of_a_gradient_is_the_hessian() -> None:
    # the guide's Hessian recipe: jacobian of a gradient on an outer tape.
    # f(x) = x0^2 x1 + sin(x0 x1): closed-form Hessian
    x = Variable(np.array([0.7, -1.3]))
    with Tape() as t2:
        with Tape() as t1:
            f = x[0] ** 2 * x[1] + F.sin(x[0] * x[1])
        g = t1.gradient(f, x)
    h = t2.jacobian(g, x)
    a, b = 0.7, -1.3
    want = [[2 * b - b * b * math.sin(a * b), 2 * a + math.cos(a * b) - a * b * math.sin(a * b)],
            [2 * a + math.cos(a * b) - a * b * math.sin(a * b), -a * a * math.sin(a * b)]]
    np.testing.assert_allclose(h.numpy(), want, rtol=1e-14)


def test_batch_jacobian_doc_example() -> None:
    # tf.GradientTape.batch_jacobian: x = [[1, 2], [3, 4]], y = x * x
    x = constant([[1.0, 2.0], [3.0, 4.0]])
    with Tape() as g:
        g.watch(x)
        y = x * x
    np.testing.assert_array_equal(g.batch_jacobian(y, x).numpy(),
                                  [[[2, 0], [0, 4]], [[6, 0], [0, 8]]])


def test_batch_jacobian_of_a_layer_matches_the_full_jacobian() -> None:
    # per-example jacobians of tanh(x @ W) (B=4, 3 -> 2) are the diagonal blocks of the full one
    rng = np.random.default_rng(2)
    wv = rng.normal(size=(3, 2))
    x = constant(rng.normal(size=(4, 3)))
    with Tape(persistent=True) as tape:
        tape.watch(x)
        y = F.tanh(x @ wv)
    jb = tape.batch_jacobian(y, x).numpy()
    assert jb.shape == (4, 2, 3)
    z = x.numpy() @ wv
    want = (1 - np.tanh(z) ** 2)[:, :, None] * wv.T[None, :, :]
    np.testing.assert_allclose(jb, want, rtol=1e-14)
    full = tape.jacobian(y, x).numpy()
    np.testing.assert_allclose(jb, np.stack([full[i, :, i, :] for i in range(4)]), rtol=0)


def test_batch_jacobian_refuses_mismatched_shapes() -> None:
    x = Variable(np.ones((3, 2)))
    with Tape(persistent=True) as tape:
        y = x * 2
        v = F.sum(x)
    with pytest.raises(ValueError, match="rank"):
        tape.batch_jacobian(v, x)
    with pytest.raises(ValueError, match="first dimension"):
        tape.batch_jacobian(y[:2], x)


def test_jacobian_uses_up_a_non_persistent_tape() -> None:
    x = Variable(np.array([1.0, 2.0]))
    with Tape() as tape:
        y = x * x
    tape.jacobian(y, x)
    with pytest.raises(RuntimeError, match="persistent"):
        tape.jacobian(y, x)


# ---------------------------------------------------------------- Variable


def test_variable_assign_add_sub() -> None:
    v = Variable(np.array([1.0, 2.0]))
    assert v.assign([3.0, 4.0]) is v
    np.testing.assert_array_equal(v.numpy(), [3.0, 4.0])
    v.assign_add(np.array([1.0, 1.0]))
    v.assign_sub([0.5, 2.0])
    np.testing.assert_array_equal(v.numpy(), [3.5, 3.0])
    with pytest.raises(ValueError, match=r"shape \(3,\).*shape \(2,\)"):
        v.assign([1.0, 2.0, 3.0])


def test_assign_add_keeps_the_variable_watched() -> None:
    # the guide's pitfall: x = x + 1 makes x a plain Tensor (None); x.assign_add(1) keeps it
    x = Variable(2.0)
    got = []
    for _ in range(2):
        with Tape() as tape:
            y = x + 1
        got.append(tape.gradient(y, x))
        x.assign_add(1)
    assert [float(g) for g in got] == [1.0, 1.0] and float(x) == 4.0
    x2 = Variable(2.0)
    for _ in range(2):
        with Tape() as tape:
            y = x2 + 1
        last = tape.gradient(y, x2)
        x2 = x2 + 1
    assert last is None and type(x2) is Tensor


def test_training_loop_with_assign_sub() -> None:
    # gradient descent on (w - 3)^2 from 0 with rate 0.25: w_k = 3 (1 - 0.5^k)
    w = Variable(0.0)
    for _ in range(10):
        with Tape() as tape:
            loss = (w - 3) ** 2
        w.assign_sub(0.25 * tape.gradient(loss, w))
    assert float(w) == pytest.approx(3 * (1 - 0.5 ** 10), rel=1e-15)


def test_a_recorded_variable_keeps_its_recorded_value() -> None:
    # the tape differentiates at the value the Variable had when it was used (TF reads it)
    x = Variable(3.0)
    with Tape(persistent=True) as tape:
        y = x * x
    x.assign(10.0)
    assert float(tape.gradient(y, x)) == 6.0
    with Tape() as outer:      # graph mode would read the Variable again: refused, not wrong
        with pytest.raises(RuntimeError, match="assign"):
            tape.gradient(y, x)
    del outer


def test_assign_inside_a_recording_tape_that_used_it_is_refused() -> None:
    x = Variable(3.0)
    with Tape() as tape:
        y = x * x
        with pytest.raises(RuntimeError, match="assign"):
            x.assign(1.0)
    assert float(tape.gradient(y, x)) == 6.0 and float(x) == 3.0


def test_non_trainable_variables_are_not_watched() -> None:
    # the guide's "Controlling what the tape watches": only x0 gets a gradient
    x0 = Variable(3.0, name="x0")
    x1 = Variable(3.0, name="x1", trainable=False)
    x2 = Variable(2.0, name="x2") + 1.0
    x3 = constant(3.0, name="x3")
    with Tape() as tape:
        y = x0 ** 2 + x1 ** 2 + x2 ** 2
    grads = tape.gradient(y, [x0, x1, x2, x3])
    assert float(grads[0]) == 6.0 and grads[1:] == [None, None, None]
    assert [v.name for v in tape.watched_variables()] == ["x0"]


# ---------------------------------------------------------------- Tensor protocol


def test_getting_numbers_out_of_a_tensor() -> None:
    t = Tensor(2.5)
    v = Tensor([1.0, 2.0])
    assert float(t) == 2.5 and int(Tensor(3.7)) == 3 and f"{t:.2f}" == "2.50"
    assert t.numpy() == 2.5 and isinstance(v.numpy(), np.ndarray)
    assert v.numpy().tolist() == [1.0, 2.0] and np.asarray(v).tolist() == [1.0, 2.0]
    assert t.dtype == np.float64 and v.ndim == 1 and v.shape == (2,)
    assert bool(Tensor(0.0)) is False and bool(t) is True
    with pytest.raises(ValueError, match="ambiguous"):
        bool(v)
    with pytest.raises(TypeError):
        float(v)


def test_indexing_len_and_iteration() -> None:
    x = Variable(np.array([1.0, 2.0, 3.0, 4.0]))
    with Tape() as tape:
        assert len(x) == 4
        parts = list(x)
        y = x[0] * x[-1] + F.sum(x[1:3] ** 2) + x[np.array([0, 0])] @ np.array([1.0, 1.0])
        y = y + parts[1]
    # d/dx of x0 x3 + x1^2 + x2^2 + 2 x0 + x1
    np.testing.assert_array_equal(tape.gradient(y, x).numpy(), [4 + 2, 2 * 2 + 1, 6, 1])
    with pytest.raises(TypeError, match="scalar"):
        len(Variable(1.0))
    with pytest.raises(TypeError, match="scalar"):
        iter(Variable(1.0))
    with pytest.raises(IndexError):
        x[4]


def test_indexing_by_a_mask() -> None:
    # a comparison of tensors is a float mask of 0 and 1: reading it as positions 0 and 1 would
    # select the wrong components, so it is refused; a boolean mask selects
    x = Variable(np.array([-1.0, 2.0, 3.0]))
    with pytest.raises(IndexError, match="mask"):
        x[x > 0]
    with Tape() as tape:
        y = F.sum(x[(x > 0) != 0] ** 2)
    assert float(y) == 13.0
    np.testing.assert_array_equal(tape.gradient(y, x).numpy(), [0.0, 4.0, 6.0])
    assert float(x[Tensor(2.0)]) == 3.0     # a whole number held by a tensor is an index


def test_indexing_a_matrix_and_second_derivatives() -> None:
    a = Variable(np.array([[1.0, 2.0], [3.0, 4.0]]))
    with Tape() as outer:
        with Tape() as inner:
            y = a[1, 0] ** 3 + F.sum(a[:, 1] * a[0])     # a10^3 + a01 a00 + a11 a01
        g = inner.gradient(y, a)
        s = g[1, 0] + g[0, 1]                           # 3 a10^2 + a00 + a11
    np.testing.assert_array_equal(g.numpy(), [[2.0, 1.0 + 4.0], [27.0, 2.0]])
    np.testing.assert_array_equal(outer.gradient(s, a).numpy(), [[1.0, 0.0], [18.0, 1.0]])


def test_matmul_vector_vector_and_matrix_vector() -> None:
    u, v = Variable(np.array([1.0, 2.0, 3.0])), Variable(np.array([4.0, 5.0, 6.0]))
    m = np.array([[1.0, 0.0, 2.0], [0.0, 3.0, -1.0]])
    with Tape(persistent=True) as tape:
        d = u @ v
        mv = m @ u                       # [7, 3]
        vm = np.array([1.0, -1.0]) @ (m * v)
    assert float(d) == 32.0
    np.testing.assert_array_equal(tape.gradient(d, [u, v])[0].numpy(), [4.0, 5.0, 6.0])
    np.testing.assert_array_equal(mv.numpy(), [7.0, 3.0])
    np.testing.assert_array_equal(tape.gradient(mv, u).numpy(), m.sum(axis=0))
    np.testing.assert_array_equal(tape.jacobian(mv, u).numpy(), m)
    np.testing.assert_array_equal(vm.numpy(), [4.0, -15.0, 18.0])
    np.testing.assert_array_equal(tape.gradient(vm, v).numpy(), [1.0, -3.0, 3.0])
    with pytest.raises(ValueError, match="shapes"):
        u @ Variable(np.ones(2))
    with pytest.raises(TypeError, match="scalar"):
        u @ 2.0


# ---------------------------------------------------------------- numpy functions


def test_np_dot_on_variables_is_the_dot_product() -> None:
    w, u = Variable(np.array([1.0, 2.0, 3.0])), Variable(np.array([4.0, 5.0, 6.0]))
    with Tape() as tape:
        y = np.dot(w, u)
    assert y.shape == () and float(y) == 32.0
    gw, gu = tape.gradient(y, [w, u])
    np.testing.assert_array_equal(gw.numpy(), [4.0, 5.0, 6.0])
    np.testing.assert_array_equal(gu.numpy(), [1.0, 2.0, 3.0])


def test_numpy_reductions_on_variables() -> None:
    x = Variable(np.array([[1.0, 2.0], [3.0, 4.0]]))
    with Tape(persistent=True) as tape:
        s, m, p = np.sum(x), np.mean(x), np.prod(x)
        hi, lo, n = np.max(x), np.min(x), np.linalg.norm(x)
    assert [float(t) for t in (s, m, p, hi, lo)] == [10.0, 2.5, 24.0, 4.0, 1.0]
    assert float(n) == pytest.approx(math.sqrt(30), rel=1e-15)
    grads = {k: tape.gradient(t, x).numpy().tolist()
             for k, t in {"s": s, "m": m, "p": p, "hi": hi, "lo": lo}.items()}
    assert grads == {"s": [[1, 1], [1, 1]], "m": [[0.25] * 2] * 2, "p": [[24, 12], [8, 6]],
                     "hi": [[0, 0], [0, 1]], "lo": [[1, 0], [0, 0]]}
    np.testing.assert_allclose(tape.gradient(n, x).numpy(), x.numpy() / math.sqrt(30),
                               rtol=1e-15)


def test_numpy_reductions_along_an_axis() -> None:
    # reduce_sum/mean are linear: their Jacobian columns are their values on unit arrays
    base = np.array([[1.0, 3.0, 3.0], [2.0, 0.0, 1.0]])
    x = Variable(base)
    calls = [lambda t: np.sum(t, axis=1), lambda t: np.mean(t, 0),
             lambda t: np.sum(t, axis=(0, 1), keepdims=True), lambda t: np.mean(t, axis=-1,
                                                                              keepdims=True)]
    for call in calls:
        with Tape() as tape:
            y = call(x)
        want = call(base)
        np.testing.assert_array_equal(y.numpy(), want)
        j = tape.jacobian(y, x).numpy().reshape(want.size, 6)
        for i in range(6):
            np.testing.assert_array_equal(j[:, i], np.ravel(call(np.eye(6)[i].reshape(2, 3))))
    # max along rows: the gradient is split between tied maxima (TensorFlow's reduce_max rule)
    with Tape(persistent=True) as tape:
        hi, lo = np.max(x, axis=1), np.min(x, axis=0, keepdims=True)
    assert hi.numpy().tolist() == [3.0, 2.0] and lo.numpy().tolist() == [[1.0, 0.0, 1.0]]
    np.testing.assert_array_equal(tape.gradient(hi, x).numpy(), [[0, 0.5, 0.5], [1, 0, 0]])
    np.testing.assert_array_equal(tape.gradient(lo, x).numpy(), [[1, 0, 0], [0, 1, 1]])


def test_softmax_along_rows_batch_jacobian_is_the_closed_form() -> None:
    # s = exp(z) / sum(exp(z), axis=1, keepdims=True): per row, ds/dz = diag(s) - s s^T
    z = Variable(np.array([[0.5, -1.0, 2.0], [1.0, 1.0, 0.0]]))
    with Tape() as tape:
        e = np.exp(z)
        s = e / np.sum(e, axis=1, keepdims=True)
    jb = tape.batch_jacobian(s, z).numpy()
    sv = np.exp(z.numpy()) / np.exp(z.numpy()).sum(axis=1, keepdims=True)
    want = np.stack([np.diag(r) - np.outer(r, r) for r in sv])
    np.testing.assert_allclose(jb, want, rtol=1e-14, atol=1e-16)


def test_np_where_is_differentiable_with_a_constant_mask() -> None:
    x = Variable(np.array([-2.0, -0.5, 0.5, 3.0]))
    with Tape() as tape:
        y = np.where(x > 0, x ** 2, -3 * x)
    assert isinstance(y, Tensor) and y.numpy().tolist() == [6.0, 1.5, 0.25, 9.0]
    np.testing.assert_array_equal(tape.gradient(y, x).numpy(), [-3.0, -3.0, 1.0, 6.0])


def test_np_where_does_not_leak_nan_from_the_branch_not_taken() -> None:
    # the safe-log pattern: the log of a negative number is never selected
    x = Variable(np.array([-1.0, 0.0, 2.0]))
    with Tape() as tape:
        y = np.where(x > 0, np.log(np.where(x > 0, x, 1.0)), 0.0)
    np.testing.assert_array_equal(y.numpy(), [0.0, 0.0, math.log(2.0)])
    np.testing.assert_array_equal(tape.gradient(y, x).numpy(), [0.0, 0.0, 0.5])


def test_np_stack_and_functions_where() -> None:
    a, b = Variable(2.0), Variable(3.0)
    with Tape() as tape:
        v = np.stack([a * b, a + b, F.where(a > b, a, b)])
    np.testing.assert_array_equal(v.numpy(), [6.0, 5.0, 3.0])
    np.testing.assert_array_equal(tape.jacobian(v, [a, b])[0].numpy(), [3.0, 1.0, 0.0])


@pytest.mark.parametrize("call", [
    lambda x: np.cumprod(x), lambda x: np.median(x), lambda x: np.linalg.eig(np.outer(x, x)),
    lambda x: np.sum(x, where=np.array([True, False])), lambda x: np.pad(x, 1, mode="mean"),
    lambda x: np.add.reduce(x), lambda x: np.linalg.norm(x, ord=0),
    lambda x: np.expm1(x, out=np.empty(2)), lambda x: np.sort(np.stack([x, x]), order="a"),
])
def test_numpy_functions_without_a_rule_are_refused(call) -> None:
    x = Variable(np.array([1.0, 2.0]))
    with Tape(), pytest.raises(TypeError, match=r"np\.|numpy"):
        call(x)


def test_value_only_numpy_functions_read_the_value() -> None:
    x = Variable(np.array([1.0, 2.0]))
    assert np.shape(x) == (2,) and np.ndim(x) == 1 and np.size(x) == 2
    assert np.allclose(x, [1.0, 2.0]) and np.isclose(x, [1.0, 3.0]).tolist() == [True, False]
    np.testing.assert_allclose(x, [1.0, 2.0])
    assert np.zeros_like(x).tolist() == [0.0, 0.0] and int(np.argmax(x)) == 1


# ---------------------------------------------------------------- the rest of the tape's API


def test_unconnected_gradients_enum_as_in_tensorflow() -> None:
    x, w = Variable(1.0), Variable(np.array([1.0, 2.0]))
    with Tape(persistent=True) as tape:
        y = x * 3
    assert tape.gradient(y, w, unconnected_gradients=UnconnectedGradients.NONE) is None
    np.testing.assert_array_equal(
        tape.gradient(y, w, unconnected_gradients=UnconnectedGradients.ZERO).numpy(), [0, 0])


def test_watch_a_list_and_reset() -> None:
    a, b = constant(2.0), constant(3.0)
    with Tape(persistent=True) as tape:
        tape.watch([a, b])
        y = a * b
        tape.reset()                 # forget y and the watches, as a new tape would
        tape.watch({"a": a})
        z = a * a + y * b
    assert tape.gradient(y, a) is None
    assert float(tape.gradient(z, a)) == 4.0 and tape.gradient(z, b) is None  # y: before
    with pytest.raises(TypeError, match="constant"):
        tape.watch(2.0)


def test_functions_dot_takes_two_vectors_of_one_length() -> None:
    # numpy broadcasting would turn these into a silently wrong sum
    u = Variable(np.array([1.0, 2.0, 3.0]))
    with pytest.raises(ValueError, match="one length"):
        F.dot(u, np.array([2.0]))
    with pytest.raises(TypeError, match="matmul"):
        F.dot(u, 2.0)
    with pytest.raises(TypeError, match="matmul"):
        F.dot(np.ones((3, 3)), u)
    assert float(F.dot(u, [1.0, 1.0, 1.0])) == 6.0


@pytest.mark.parametrize("key", [
    1, -1, slice(1, 3), slice(None, None, -2), (1, 2), (slice(None), 0), (Ellipsis, 1),
    np.array([0, 0, 2]), (np.array([True, False, True]),), (None, 1), ([0, 2], [1, 1]),
])
def test_indexing_jacobian_matches_numpy_on_unit_perturbations(key: object) -> None:
    # indexing is linear: column i of its Jacobian is numpy's x[key] of the i-th unit array,
    # an independent reference; repeated indices must accumulate
    base = np.arange(12.0).reshape(3, 4)
    x = Variable(base)
    with Tape(persistent=True) as tape:
        y = x[key]
    want_value = base[key]
    np.testing.assert_array_equal(y.numpy(), want_value)
    j = tape.jacobian(y, x).numpy().reshape(np.size(want_value), 12)
    for i in range(12):
        unit = np.zeros(12)
        unit[i] = 1.0
        np.testing.assert_array_equal(j[:, i], np.ravel(unit.reshape(3, 4)[key]))


# every array operation of the API is linear in its tensor argument: column i of its Jacobian
# is its value on the i-th unit array (an exact, independent reference), and the Jacobian of
# its recorded VJP (what nested tapes differentiate) is the transpose
LINEAR = {
    "getitem": lambda t: t[1:, ::-1],
    "getitem_repeated": lambda t: t[[0, 0, 2], 1],
    "stack": lambda t: F.stack([t, 2 * t], axis=1),
    "reshape": lambda t: F.reshape(t, (4, 3)),
    "where": lambda t: F.where(np.arange(12.0).reshape(3, 4) % 3 == 0, t, -t),
    "sum_axis": lambda t: np.sum(t, axis=0, keepdims=True),
    "mean_axis": lambda t: np.mean(t, axis=1),
    "matmul_left": lambda t: np.arange(6.0).reshape(2, 3) @ t,
    "matmul_right": lambda t: t @ np.arange(4.0),
    "broadcast": lambda t: t * np.ones((2, 3, 4)),
}


@pytest.mark.parametrize("name", sorted(LINEAR))
def test_array_operations_are_linear_and_their_recorded_vjp_is_the_transpose(name: str) -> None:
    f = LINEAR[name]
    base = np.arange(12.0).reshape(3, 4) - 5
    out = np.asarray(f(base))
    unit = np.stack([np.ravel(np.asarray(f(np.eye(12)[i].reshape(3, 4)))) for i in range(12)],
                    axis=1)                                    # (outputs, 12)
    x = Variable(base)
    c = Variable(np.linspace(-1.0, 2.0, out.size).reshape(out.shape))
    with Tape() as outer:
        with Tape() as inner:
            y = f(x)
            s = F.sum(c * y)
        g = inner.gradient(s, x)                               # J^T c, recorded on outer
    np.testing.assert_array_equal(y.numpy(), out)
    np.testing.assert_allclose(g.numpy().ravel(), unit.T @ c.numpy().ravel(), rtol=1e-15)
    jt = outer.jacobian(g, c).numpy().reshape(12, out.size)
    np.testing.assert_array_equal(jt, unit.T)


def test_a_used_non_persistent_tape_stops_recording_inside_its_block() -> None:
    # TensorFlow pops a non-persistent tape when gradient() is called inside its block, so the
    # optimizer step can be taken there
    w = Variable(1.0)
    with Tape() as tape:
        loss = (w - 3) ** 2
        g = tape.gradient(loss, w)          # 2 (w - 3) = -4
        w.assign_sub(0.25 * g)
        later = w * 2
    assert float(w) == 2.0 and tape.node_of(later) is None and tape.node_of(g) is None
