"""check_grad, assert_grad and --function/--grad: gradient code judged against the true
gradient. Every expected value is a closed form or mpmath (tests/reference_ops.py), never
gradcalc's own numbers."""

from __future__ import annotations

import doctest
import io
import json
import math
import sys
from pathlib import Path

import mpmath
import numpy as np
import pytest

import docpages
import gradcalc
from gradcalc import CheckGradError, check_grad, ops
from gradcalc.engine.tape import apply
from gradcalc.testing import assert_grad
from reference_ops import ELEMENTWISE, REDUCTIONS

# ---------------------------------------------------------------- the peers' cases
# (bench/peer_cases.py; bench/peers.py runs scipy's and torch's checkers on the same ones)

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "bench"))
from peer_cases import (  # noqa: E402
    A0,
    X_DATA,
    Y_DATA,
    cube_abs,
    cube_abs_grad_wrong_below_zero,
    half_square,
    half_square_grad_one_wrong,
    logdet,
    logdet_grad_no_transpose,
    logistic,
    logistic_grad,
    logistic_grad_no_label,
    sine,
    sine_grad_short_pi,
    steep,
    steep_grad,
)


def test_a_gradient_wrong_only_below_zero_is_found_by_the_search() -> None:
    x = np.array([0.5, 1.5, 2.0])
    report = check_grad(cube_abs, cube_abs_grad_wrong_below_zero, x)
    assert report.status == "mismatch" and not report
    assert all(v.status == "ok" for v in report.components)   # right at the given point
    c = report.counterexample
    assert c is not None and not c.given
    k = c.label.k
    assert c.at[0][k] < 0
    assert c.true == pytest.approx(3 * c.at[0][k] * abs(c.at[0][k]), rel=1e-12)
    off = check_grad(cube_abs, cube_abs_grad_wrong_below_zero, x, search=False)
    assert off.status == "ok" and off.searched == 0      # only the given point: no search


def test_one_wrong_component_of_a_100_vector_is_named() -> None:
    w = np.linspace(-2.0, 3.0, 100)
    report = check_grad(half_square, half_square_grad_one_wrong, w)
    assert report.status == "mismatch"
    bad = [v for v in report.components if v.status != "ok"]
    assert [str(v.label) for v in bad] == ["w[37]"]
    assert bad[0].true == w[37] and bad[0].certified
    assert report.worst(1)[0].label == "w[37]"


def test_pi_to_eight_digits_is_a_mismatch() -> None:
    report = check_grad(sine, sine_grad_short_pi, 0.3)
    (v,) = report.components
    assert v.status == "mismatch"
    with mpmath.workdps(50):   # np.pi, the float64 the function computes with
        true = float(mpmath.mpf(np.pi) * mpmath.cos(mpmath.mpf(np.pi) * mpmath.mpf(0.3)))
    assert v.true == pytest.approx(true, rel=1e-15)


def test_missing_transpose_in_the_gradient_of_logdet_is_a_mismatch() -> None:
    report = check_grad(logdet, logdet_grad_no_transpose, A0)
    true = np.linalg.inv(A0).T
    assert report.status == "mismatch"
    statuses = {v.label.k: v.status for v in report.components}
    for (i, j), status in statuses.items():
        assert status == ("ok" if i == j else "mismatch")
    for v in report.components:
        assert v.true == pytest.approx(true[v.label.k], rel=1e-12)
    right = check_grad(logdet, lambda A: np.linalg.inv(A).T, A0, points=3)
    assert right.status == "ok"


def test_logistic_regression_without_the_label_factor_is_a_mismatch() -> None:
    w = np.linspace(-0.5, 0.5, 10)
    assert check_grad(logistic, logistic_grad, w, points=3).status == "ok"
    report = check_grad(logistic, logistic_grad_no_label, w, points=3)
    assert report.status == "mismatch" and report.counterexample.given


def test_a_steep_but_correct_function_is_ok() -> None:
    report = check_grad(steep, steep_grad, 0.7)
    assert report.status == "ok", str(report)
    (v,) = report.components
    with mpmath.workdps(50):
        true = float(1e5 * mpmath.cos(1e5 * mpmath.mpf(0.7)))
    assert v.true == pytest.approx(true, rel=1e-14)


# ---------------------------------------------------------------- right and wrong, by shape


def test_several_arguments_take_a_tuple_of_gradients() -> None:
    def f(x, y):
        return x * np.sin(y) + np.exp(x / y)

    def right(x, y):
        return np.sin(y) + np.exp(x / y) / y, x * np.cos(y) - np.exp(x / y) * x / y ** 2

    def swapped(x, y):
        a, b = right(x, y)
        return b, a

    report = check_grad(f, right, 1.5, 0.7)
    assert report.status == "ok"
    assert [str(v.label) for v in report.components] == ["x", "y"]
    assert report.components[1].true == pytest.approx(
        1.5 * math.cos(0.7) - math.exp(1.5 / 0.7) * 1.5 / 0.49, rel=1e-14)
    assert check_grad(f, swapped, 1.5, 0.7).status == "mismatch"


def test_a_matrix_argument_and_argnums() -> None:
    def f(A, v):
        return np.sum((A @ v) ** 2)

    v = np.array([1.0, -2.0, 0.5])
    right = lambda A, v: 2 * np.outer(A @ v, v)   # noqa: E731
    report = check_grad(f, right, A0, v, argnums=0)
    assert report.status == "ok"
    assert [str(v.label) for v in report.components][:2] == ["A[0,0]", "A[0,1]"]
    expected = 2 * np.outer(A0 @ v, v)
    assert [c.true for c in report.components] == pytest.approx(expected.ravel(), rel=1e-14)
    wrong = lambda A, v: 2 * np.outer(v, A @ v)   # noqa: E731  (transposed)
    assert check_grad(f, wrong, A0, v, argnums=0).status == "mismatch"


def test_the_same_call_gives_the_same_report() -> None:
    x = np.array([0.5, 1.5, 2.0])
    first = str(check_grad(cube_abs, cube_abs_grad_wrong_below_zero, x))
    assert first == str(check_grad(cube_abs, cube_abs_grad_wrong_below_zero, x))
    assert "counterexample at x=" in first


def test_a_kink_at_the_given_point_is_undefined_not_ok() -> None:
    report = check_grad(lambda x: np.abs(x), lambda x: 0.0, 0.0, search=False)
    assert report.status == "undefined" and not report
    assert "one-sided" in report.components[0].reason


def test_outside_the_domain_at_the_given_point_is_undefined() -> None:
    report = check_grad(lambda x: np.log(x), lambda x: 1 / x, -1.0, points=5)
    assert report.status == "undefined"


def test_a_nan_in_your_gradient_is_a_mismatch_of_that_component() -> None:
    report = check_grad(half_square, lambda w: np.array([w[0], np.nan]), np.array([1.0, 2.0]))
    assert [v.status for v in report.components] == ["ok", "mismatch"]


def test_stop_gradient_is_read_as_the_function_it_computes() -> None:
    report = check_grad(lambda x: gradcalc.stop_gradient(x) * x, lambda x: 2 * x, 3.0)
    assert report.status == "ok"


def test_the_reference_does_not_use_the_tapes_vjps() -> None:
    # a primitive whose VJP is wrong and whose SymPy counterpart is right: the tape's own
    # gradient is wrong, the reference is not
    wrong = ops.Primitive("wrongsin", 1, np.sin, (lambda g, ans, x: g * 2 * np.cos(x),),
                          lambda sp, x: sp.sin(x))
    ops.register(wrong)
    try:
        def f(x):
            return apply(wrong, x)

        assert gradcalc.grad(f)(0.4) == pytest.approx(2 * math.cos(0.4))
        report = check_grad(f, lambda x: np.cos(x), 0.4)
        assert report.status == "ok"
        assert report.components[0].true == pytest.approx(math.cos(0.4), rel=1e-15)
    finally:
        ops.unregister("wrongsin")


# ---------------------------------------------------------------- over the op table


def _partials(fn, xs):
    with mpmath.workdps(40):
        out = []
        for k in range(len(xs)):
            order = [0] * len(xs)
            order[k] = 1
            out.append(float(mpmath.diff(fn, [mpmath.mpf(x) for x in xs], tuple(order))))
    return out


ELEMENTWISE_PRIMS = [p for p in ops.PRIMITIVES if not p.reduction and p.name in ELEMENTWISE
                     and p.name != "stop_gradient"]


@pytest.mark.parametrize("prim", ELEMENTWISE_PRIMS, ids=lambda p: p.name)
def test_every_elementwise_primitive_right_and_wrong(prim: ops.Primitive) -> None:
    rng = np.random.default_rng(len(prim.name))
    n = prim.arity or 2
    every = [float(rng.uniform(*prim.sample_interval(i))) for i in range(n)]
    # an argument the primitive has no derivative in (polygamma's order n) stays a constant
    fixed = {i: v for i, v in enumerate(every) if prim.vjps[min(i, len(prim.vjps) - 1)] is None}
    xs = [v for i, v in enumerate(every) if i not in fixed]
    n = len(xs)

    def whole(*a):
        it = iter(a)
        return [fixed[i] if i in fixed else next(it) for i in range(len(every))]

    truth = _partials(lambda *a: ELEMENTWISE[prim.name](*whole(*a)), xs)

    def f(*a):
        return apply(prim, *whole(*a))

    right = check_grad(f, lambda *a: truth[0] if n == 1 else tuple(truth), *xs,
                       search=False)
    assert right.status == "ok", str(right)
    bent = [t * (1 + 1e-6) + 1e-9 for t in truth]
    wrong = check_grad(f, lambda *a: bent[0] if n == 1 else tuple(bent), *xs, search=False)
    assert wrong.status == "mismatch", str(wrong)


REDUCTION_PRIMS = [p for p in ops.PRIMITIVES if p.name in REDUCTIONS and p.name != "index"]


@pytest.mark.parametrize("prim", REDUCTION_PRIMS, ids=lambda p: p.name)
def test_every_reduction_right_and_wrong(prim: ops.Primitive) -> None:
    rng = np.random.default_rng(len(prim.name))
    vecs = [rng.uniform(0.5, 2.0, 4) for _ in range(prim.arity or 1)]
    flat = np.concatenate(vecs)
    ref = REDUCTIONS[prim.name]

    def whole(*c):
        parts = [list(c[4 * k:4 * k + 4]) for k in range(len(vecs))]
        return ref(*parts)

    truth = np.array(_partials(whole, flat.tolist()))
    split = [truth[4 * k:4 * k + 4] for k in range(len(vecs))]

    def f(*a):
        return apply(prim, *a)

    right = check_grad(f, lambda *a: split[0] if len(split) == 1 else tuple(split), *vecs,
                       search=False)
    assert right.status == "ok", str(right)
    bent = [s * (1 + 1e-6) for s in split]
    wrong = check_grad(f, lambda *a: bent[0] if len(bent) == 1 else tuple(bent), *vecs,
                       search=False)
    assert wrong.status == "mismatch"


# ---------------------------------------------------------------- refusals


def test_python_control_flow_on_a_value_is_refused_naming_the_line() -> None:
    def f(x):
        if x > 0:
            return x * x
        return -x

    with pytest.raises(CheckGradError) as err:
        check_grad(f, lambda x: 2 * x, 1.0)
    assert "if x > 0:" in str(err.value) and "test_check_grad.py line" in str(err.value)


@pytest.mark.parametrize("body", [lambda x: x * float(x), lambda x: x * x.item(),
                                  lambda x: np.asarray(x) * x,
                                  lambda x: x * (1.0 if np.any(x > 0) else 2.0),
                                  lambda x: max(x, 2 * x)],
                         ids=["float", "item", "asarray", "np.any", "python-max"])
def test_reading_a_value_out_of_the_tape_is_refused(body) -> None:
    with pytest.raises(CheckGradError, match="reads the value of a recorded tensor"):
        check_grad(body, lambda x: 2 * x, 1.0)


def test_np_where_on_a_comparison_is_recorded_not_refused() -> None:
    def f(x):
        return np.sum(np.where(x > 0, x * x, -x))

    report = check_grad(f, lambda x: np.where(x > 0, 2 * x, -1.0), np.array([0.5, -2.0]))
    assert report.status == "ok", str(report)


def test_a_numpy_function_outside_the_surface_is_refused_naming_it() -> None:
    with pytest.raises(CheckGradError, match="np.convolve"):
        check_grad(lambda x: np.sum(np.convolve(x, x)), lambda x: np.ones(2),
                   np.array([1.0, 2.0]))


def test_complex_arguments_and_constants_are_refused() -> None:
    with pytest.raises(CheckGradError, match="complex"):
        check_grad(lambda x: x * x, lambda x: 2 * x, 1 + 2j)
    with pytest.raises(CheckGradError, match="complex values are not supported"):
        check_grad(lambda x: np.sum(np.abs(x * 1j)), lambda x: np.ones(2), np.ones(2))


def test_a_gradient_of_the_wrong_shape_names_the_argument_and_shapes() -> None:
    with pytest.raises(CheckGradError, match=r"gradient for w has shape \(3,\), but w has "
                                             r"shape \(2,\)"):
        check_grad(lambda w: np.sum(w), lambda w: np.ones(3), np.array([1.0, 2.0]))
    with pytest.raises(CheckGradError, match="tuple of 2 gradients"):
        check_grad(lambda x, y: x * y, lambda x, y: y, 1.0, 2.0)


def test_a_gradient_that_raises_is_a_mismatch_that_says_so() -> None:
    def grad_f(x):
        raise ZeroDivisionError("oops")

    report = check_grad(lambda x: x * x, grad_f, 1.0)
    assert report.status == "mismatch"
    assert "grad_f raised ZeroDivisionError: oops" in report.counterexample.reason


@pytest.mark.parametrize("f, match", [
    (lambda x: 1 / 0 * x, "raised ZeroDivisionError"),
    (lambda x: x * np.ones(2), "must return a scalar"),
    (lambda x: 3.0, "not a value computed from its arguments"),
    (lambda x: x * np.random.random(), "different program when called twice"),
], ids=["raises", "vector", "constant", "random"])
def test_functions_that_cannot_be_judged_are_errors(f, match) -> None:
    with pytest.raises(CheckGradError, match=match):
        check_grad(f, lambda x: 1.0, 1.0)


# ---------------------------------------------------------------- pytest's helper


def test_assert_grad_raises_with_the_table_and_passes_an_ok_one() -> None:
    assert assert_grad(sine, lambda x: np.pi * np.cos(np.pi * x), 0.3, points=3)
    with pytest.raises(AssertionError) as err:
        assert_grad(sine, sine_grad_short_pi, 0.3)
    text = str(err.value)
    assert "d/dx" in text and "mismatch" in text and "counterexample" in text


# ---------------------------------------------------------------- the shell


@pytest.fixture
def code_file(tmp_path):
    path = tmp_path / "model.py"
    path.write_text(
        "import numpy as np\n\n"
        "def loss(w, X, y):\n"
        "    return np.mean(np.log1p(np.exp(-y * (X @ w))))\n\n"
        "def grad_loss(w, X, y):\n"
        "    s = 1 / (1 + np.exp(y * (X @ w)))\n"
        "    return -(X.T @ (y * s)) / len(y)\n\n"
        "def grad_no_label(w, X, y):\n"
        "    s = 1 / (1 + np.exp(y * (X @ w)))\n"
        "    return -(X.T @ s) / len(y)\n\n"
        "def branchy(w, X, y):\n"
        "    if w[0] > 0:\n"
        "        return np.sum(w)\n"
        "    return np.sum(-w)\n\n"
        "NOT_A_FUNCTION = 3\n")
    np.save(tmp_path / "X.npy", X_DATA[:12, :3])
    np.save(tmp_path / "y.npy", Y_DATA[:12])
    return tmp_path


def _args(d, grad="grad_loss", *more):
    return ("--function", f"{d}/model.py:loss", "--grad", f"{d}/model.py:{grad}",
            "--at", "w=[0.5,-1,0.25]", "--at", f"X=@{d}/X.npy", "--at", f"y=@{d}/y.npy",
            "--wrt", "w", *more)


def test_cli_judges_a_gradient_function(gradcalc, code_file) -> None:
    r = gradcalc(*_args(code_file))
    assert r.status == 0, r.err
    assert "check: ok" in r.out and "d/dw[2]" in r.out
    r = gradcalc(*_args(code_file, "grad_no_label", "--format", "json"))
    assert r.status == 1
    doc = r.json()
    assert doc["check"]["status"] == "mismatch"
    assert len(doc["check"]["components"]["w"]) == 3
    assert doc["check"]["counterexample"]["given"] is True
    r = gradcalc(*_args(code_file, "grad_loss", "--format", "csv", "--search-points", "0"))
    assert r.status == 0 and r.out.splitlines()[0] == "component,yours,true,error,status"


@pytest.mark.parametrize("change, message", [
    (("--function", "nowhere.py:loss"), "cannot read nowhere.py: no such file"),
    (("--grad", "{d}/model.py:missing"), "has no 'missing'"),
    (("--grad", "{d}/model.py:NOT_A_FUNCTION"), "is a int, not a function"),
    (("--function", "{d}/model.py:branchy"), "if w[0] > 0:"),
    (("--at", "z=1"), "--at binds 'z', which is not a parameter"),
    (("--function", "{d}/model.py"), "needs FILE.py:NAME"),
], ids=["no-file", "no-name", "not-callable", "branch", "unknown-param", "no-name-part"])
def test_cli_errors_are_one_line_and_exit_2(gradcalc, code_file, change, message) -> None:
    args = list(_args(code_file))
    option, value = change
    value = value.format(d=code_file)
    if option == "--at":
        args += ["--at", value]
    else:
        args[args.index(option) + 1] = value
    r = gradcalc(*args)
    assert r.status == 2 and r.out == ""
    assert r.err.startswith("error: ") and message in r.err and "Traceback" not in r.err


def test_cli_refuses_an_expression_with_function(gradcalc, code_file) -> None:
    r = gradcalc("x^2", *_args(code_file))
    assert r.status == 2 and "give no EXPR" in r.err
    r = gradcalc("--function", f"{code_file}/model.py:loss", "--at", "w=1")
    assert r.status == 2 and "go together" in r.err


def test_the_peer_table_cases_by_json(gradcalc, code_file) -> None:
    r = gradcalc(*_args(code_file, "grad_loss", "--format", "jsonl"))
    assert r.status == 0 and json.loads(r.out)["check"]["search"]["judged"] == 20


# ---------------------------------------------------------------- the docs and the peers


def test_docs_check_grad_examples_run_as_shown() -> None:
    _, section = docpages.section("Checking gradient code")
    blocks = [c[len("python\n"):] for k, c in enumerate(section.split("```"))
              if k % 2 == 1 and c.startswith("python\n") and ">>>" in c]
    assert blocks
    parser, runner = doctest.DocTestParser(), doctest.DocTestRunner(
        optionflags=doctest.NORMALIZE_WHITESPACE)
    for block in blocks:
        out = io.StringIO()
        result = runner.run(parser.get_doctest(block, {}, "docs", "docs/claims.md", 0),
                            out=out.write)
        assert result.failed == 0, out.getvalue()


def test_scipys_check_grad_misses_what_gradcalc_names() -> None:
    # the peer table's scipy column: small numbers for wrong gradients, a large one for a
    # right gradient (bench/peers.py prints it)
    optimize = pytest.importorskip("scipy.optimize")
    w = np.linspace(-2.0, 3.0, 100)
    assert optimize.check_grad(half_square, half_square_grad_one_wrong, w) < 1e-4
    one = np.array([0.3])
    assert optimize.check_grad(lambda v: sine(v[0]), lambda v: np.array([
        sine_grad_short_pi(v[0])]), one) < 1e-6
    assert optimize.check_grad(lambda v: steep(v[0]), lambda v: np.array([
        steep_grad(v[0])]), np.array([0.7])) > 1.0
    assert check_grad(half_square, half_square_grad_one_wrong, w).status == "mismatch"
    assert check_grad(steep, steep_grad, 0.7).status == "ok"


def test_the_array_surface_indexing_reshape_axes_and_solve() -> None:
    # numpy's array functions on tensors are op records with SymPy counterparts: check_grad
    # judges code that uses them (closed forms from The Matrix Cookbook and by hand)
    b = np.array([1.0, -2.0, 0.5])

    def f(A, x):
        return np.sum(np.linalg.solve(A, b) * x[::-1]) + np.sum(A.reshape(-1)[:4] ** 2) \
            + np.max(A, axis=0).sum() + np.cumsum(x)[-1] * x[0]

    def grad_f(A, x):
        y = np.linalg.solve(A, b)
        u = np.linalg.solve(A.T, x[::-1])
        gA = -np.outer(u, y)                       # d/dA of u^T A^-1 b (Cookbook (61))
        flat = np.zeros(9)
        flat[:4] = 2 * A.reshape(-1)[:4]
        gA = gA + flat.reshape(3, 3)
        gA[np.argmax(A, axis=0), np.arange(3)] += 1
        gx = y[::-1] + x[0] * np.ones(3)
        gx[0] += np.sum(x)
        return gA, gx

    x = np.array([0.3, -1.2, 2.0])
    report = check_grad(f, grad_f, A0, x, points=5)
    assert report.status == "ok", str(report)
    wrong = lambda A, x: (grad_f(A, x)[0].T, grad_f(A, x)[1])   # noqa: E731
    assert check_grad(f, wrong, A0, x, search=False).status == "mismatch"


def test_an_argument_without_a_derivative_is_refused_by_name() -> None:
    # polygamma(n, x) has no derivative in its order n: the true gradient cannot be built
    with pytest.raises(CheckGradError, match="polygamma has no derivative in its argument 1"):
        check_grad(lambda n, x: apply(ops.POLYGAMMA, n, x), lambda n, x: (0.0, 1.0), 1.0, 2.0,
                   search=False)
